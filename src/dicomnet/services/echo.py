"""Verification SCP: answer C-ECHO through the ``EVT_C_ECHO`` handler."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dicomnet import events as evt
from dicomnet.dimse.fragments import MessageComplete
from dicomnet.dimse.messages import C_ECHO_RQ, C_ECHO_RSP
from dicomnet.services._common import LOGGER, HandlerFailed, call_handler, read_status

if TYPE_CHECKING:
    from dicomnet._core import AssociationCore as Association

PROCESSING_FAILURE = 0x0110
SOP_CLASS_NOT_SUPPORTED = 0x0122


def serve(assoc: Association, done: MessageComplete[Any]) -> None:
    request = done.message
    assert isinstance(request, C_ECHO_RQ)
    context = assoc._context_by_id(done.context_id)
    status, extra = 0x0000, dict[str, Any]()
    if (
        context is None
        or not context.as_scp
        or context.abstract_syntax != request.AffectedSOPClassUID
    ):
        status = SOP_CLASS_NOT_SUPPORTED
    else:
        try:
            _bound, value = call_handler(
                assoc, evt.EVT_C_ECHO, 0x0000, request=request, context=context
            )
            status, extra = read_status(value)
        except HandlerFailed as exc:
            status, extra = PROCESSING_FAILURE, {"ErrorComment": exc.comment}
        except ValueError as exc:
            LOGGER.error("EVT_C_ECHO handler: %s", exc)
            status, extra = PROCESSING_FAILURE, {}
    response = C_ECHO_RSP(
        MessageIDBeingRespondedTo=request.MessageID,
        AffectedSOPClassUID=request.AffectedSOPClassUID,
        Status=status,
        **extra,
    )
    assoc._send_message(done.context_id, response)
