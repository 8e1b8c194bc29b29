"""Query/Retrieve SCP (C-FIND, C-GET, C-MOVE): not served yet; such requests are refused with
0x0122 (SOP class not supported) so the peer gets an answer rather than a hang."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dicomnet.dimse.fragments import MessageComplete
from dicomnet.dimse.messages import (
    C_FIND_RQ,
    C_FIND_RSP,
    C_GET_RQ,
    C_GET_RSP,
    C_MOVE_RQ,
    C_MOVE_RSP,
)
from dicomnet.services._common import LOGGER

if TYPE_CHECKING:
    from dicomnet._core import AssociationCore as Association


def serve(assoc: Association, done: MessageComplete[Any]) -> None:
    request = done.message
    responses = {C_FIND_RQ: C_FIND_RSP, C_GET_RQ: C_GET_RSP, C_MOVE_RQ: C_MOVE_RSP}
    response_type = responses.get(type(request))
    if response_type is None:
        LOGGER.warning("ignoring an unexpected %s", type(request).__name__)
        return
    response = response_type(
        MessageIDBeingRespondedTo=request.MessageID,  # type: ignore[union-attr]
        AffectedSOPClassUID=request.AffectedSOPClassUID,  # type: ignore[union-attr]
        Status=0x0122,
    )
    assoc._send_message(done.context_id, response)
