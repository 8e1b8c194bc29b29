"""Storage SCP: answer C-STORE through the ``EVT_C_STORE`` handler.

The data set has been streamed into a :class:`~dicomnet.dataset.ReceivedDataset` (memory, then
a temporary file) while it arrived; the handler reads it through ``event.dataset``,
``event.dataset_path`` or ``event.encoded_dataset()``. The temporary file is removed after the
response whatever the handler did (see :func:`dicomnet.services.dispatch`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dicomnet import events as evt
from dicomnet.dimse.fragments import MessageComplete
from dicomnet.dimse.messages import C_STORE_RQ, C_STORE_RSP
from dicomnet.services._common import LOGGER, HandlerFailed, call_handler, read_status

if TYPE_CHECKING:
    from dicomnet._core import AssociationCore as Association

CANNOT_UNDERSTAND = 0xC211
SOP_CLASS_NOT_SUPPORTED = 0x0122


def serve(assoc: Association, done: MessageComplete[Any]) -> None:
    request = done.message
    assert isinstance(request, C_STORE_RQ)
    context = assoc._context_by_id(done.context_id)
    status, extra = 0x0000, dict[str, Any]()
    if (
        context is None
        or not context.as_scp
        or context.abstract_syntax != request.AffectedSOPClassUID
    ):
        status = SOP_CLASS_NOT_SUPPORTED
        extra = {"ErrorComment": "SOP class not supported on this context"}
    else:
        try:
            bound, value = call_handler(
                assoc,
                evt.EVT_C_STORE,
                SOP_CLASS_NOT_SUPPORTED,
                request=request,
                context=context,
                _received=done.dataset,
            )
            status, extra = read_status(value)
            if not bound:
                extra = {"ErrorComment": "no storage handler is bound"}
        except HandlerFailed as exc:
            status, extra = CANNOT_UNDERSTAND, {"ErrorComment": exc.comment}
        except ValueError as exc:
            LOGGER.error("EVT_C_STORE handler: %s", exc)
            status, extra = CANNOT_UNDERSTAND, {"ErrorComment": "invalid handler status"}
    comment = extra.get("ErrorComment")
    if isinstance(comment, str):
        extra["ErrorComment"] = comment[:64]
    response = C_STORE_RSP(
        MessageIDBeingRespondedTo=request.MessageID,
        AffectedSOPClassUID=request.AffectedSOPClassUID,
        AffectedSOPInstanceUID=request.AffectedSOPInstanceUID,
        Status=status,
        **extra,
    )
    assoc._send_message(done.context_id, response)
