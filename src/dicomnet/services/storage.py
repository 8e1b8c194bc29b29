"""Storage SCP: answer C-STORE through the ``EVT_C_STORE`` handler.

The data set has been streamed into a :class:`~dicomnet.dataset.ReceivedDataset` (memory, then
a temporary file) while it arrived; the handler reads it through ``event.dataset``,
``event.dataset_path`` or ``event.encoded_dataset()``. The temporary file is removed after the
response whatever the handler did (see :func:`dicomnet.services.dispatch`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dicomnet import events as evt
from dicomnet.dimse.fragments import MessageComplete
from dicomnet.dimse.messages import C_STORE_RQ, C_STORE_RSP
from dicomnet.services._common import handler_status, scp_context, send_response

if TYPE_CHECKING:
    from dicomnet._core import AssociationCore as Association

LOGGER = logging.getLogger("dicomnet.services")

CANNOT_UNDERSTAND = 0xC211
OUT_OF_RESOURCES = 0xA700
SOP_CLASS_NOT_SUPPORTED = 0x0122


def serve(assoc: Association, done: MessageComplete[Any]) -> None:
    request = done.message
    assert isinstance(request, C_STORE_RQ)
    context = scp_context(assoc, done.context_id, request.AffectedSOPClassUID)
    refusal = getattr(done.dataset, "refusal", None)  # over a size or inflate limit
    if context is None:
        status = SOP_CLASS_NOT_SUPPORTED
        extra: dict[str, Any] = {"ErrorComment": "SOP class not supported on this context"}
    elif refusal is not None:
        LOGGER.warning(
            "refusing %s from %s: %s", request.AffectedSOPInstanceUID, assoc.peer.address, refusal
        )
        status, extra = OUT_OF_RESOURCES, {"ErrorComment": refusal}
    else:
        bound, status, extra = handler_status(
            assoc,
            evt.EVT_C_STORE,
            SOP_CLASS_NOT_SUPPORTED,
            CANNOT_UNDERSTAND,
            "invalid handler status",
            request=request,
            context=context,
            _received=done.dataset,
        )
        if not bound:
            extra = {"ErrorComment": "no storage handler is bound"}
    response = C_STORE_RSP(
        MessageIDBeingRespondedTo=request.MessageID,
        AffectedSOPClassUID=request.AffectedSOPClassUID,
        AffectedSOPInstanceUID=request.AffectedSOPInstanceUID,
        Status=status,
        **extra,
    )
    send_response(assoc, done.context_id, response)
