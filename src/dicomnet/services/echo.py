"""Verification SCP: answer C-ECHO through the ``EVT_C_ECHO`` handler."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dicomnet import events as evt
from dicomnet.dimse.fragments import MessageComplete
from dicomnet.dimse.messages import C_ECHO_RQ, C_ECHO_RSP
from dicomnet.services._common import scp_context, send_response

if TYPE_CHECKING:
    from dicomnet.services.base import ServicePort

PROCESSING_FAILURE = evt.RAISED_STATUS[evt.EVT_C_ECHO]  # 0x0110
SOP_CLASS_NOT_SUPPORTED = 0x0122


def serve(assoc: ServicePort, done: MessageComplete[Any]) -> None:
    request = done.message
    assert isinstance(request, C_ECHO_RQ)
    context = scp_context(assoc, done.context_id, request.AffectedSOPClassUID)
    status, extra = SOP_CLASS_NOT_SUPPORTED, dict[str, Any]()
    if context is not None:
        _bound, status, extra = evt.call_for_status(
            assoc.handlers, assoc, evt.EVT_C_ECHO, 0x0000, request=request, context=context
        )
    response = C_ECHO_RSP(
        MessageIDBeingRespondedTo=request.MessageID,
        AffectedSOPClassUID=request.AffectedSOPClassUID,
        Status=status,
        **extra,
    )
    send_response(assoc, done.context_id, response)
