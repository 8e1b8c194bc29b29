"""SCP services: turn a received request (and the bound handler's answer) into responses.

Handler failures give these statuses (documented; pynetdicom users will recognise them):

=============  ===========================================  ==================================
service        handler raised / returned something invalid  no handler bound
=============  ===========================================  ==================================
C-ECHO         0x0110 (Processing failure)                  0x0000 (Success)
C-STORE        0xC211 (Cannot understand) with a comment    0x0122 (SOP class not supported)
C-FIND         0xC311 raised; 0xC312 invalid yield          0x0122 (SOP class not supported)
C-GET          0xC411 raised; 0xC412 invalid yield;         0x0122 (SOP class not supported)
               0xC413 invalid number of sub-operations
C-MOVE         0xC511 raised; 0xC512 invalid yield;         0x0122 (SOP class not supported)
               0xC513 invalid number of sub-operations;
               0xC514 invalid destination
N-EVENT-REP.,  0x0110 (Processing failure) with a comment   0x0110 (Processing failure), as
N-GET, N-SET,  (raised, not the documented return shape,    pynetdicom, with the comment "no
N-ACTION,      or a data set that cannot be encoded)        EVT_N_... handler is bound"
N-CREATE,
N-DELETE
=============  ===========================================  ==================================

Query/Retrieve, further: an identifier that cannot be decoded gets 0xC310 / 0xC410 / 0xC510
(the handler is not called); an invalid yield is anything but a ``(status, x)`` pair with a
valid status, or a Pending status without its identifier / data set. C-MOVE: a destination of
``(None, None)`` gets 0xA801 (Move Destination unknown), as does a destination we cannot
associate with; sub-operations: 0x0000 all succeeded, 0xB000 some failed (C-GET: or warned),
0xA702 all failed, 0xFE00 after a C-CANCEL (see :mod:`dicomnet.services.retrieve`). A handler
that raises mid-way gets its service's "raised" status, with the counts so far.

C-STORE, before any handler: a data set that cannot be kept exactly as sent is refused and the
handler is not called — 0xA700 when it could not be spooled (disk full, file size limit),
0xC220 when it is not structurally valid in the negotiated transfer syntax (ErrorComment
``malformed at offset N: ...``), 0xC221 when it has no SOP Class/Instance UID of its own, 0xA900
when those differ from the command's Affected SOP Class/Instance UID (see
:mod:`dicomnet.services.storage`).

Requests for a SOP class we do not play SCP for, or that do not match their presentation
context, get 0x0122 (DIMSE-N: only a context that was not accepted; see
:mod:`dicomnet.services.nservices`). Every exception is logged once with its traceback; the
association goes on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dicomnet._log import get_logger
from dicomnet.dimse.fragments import MessageComplete
from dicomnet.dimse.messages import (
    C_CANCEL_RQ,
    C_ECHO_RQ,
    C_FIND_RQ,
    C_GET_RQ,
    C_MOVE_RQ,
    C_STORE_RQ,
    N_ACTION_RQ,
    N_CREATE_RQ,
    N_DELETE_RQ,
    N_EVENT_REPORT_RQ,
    N_GET_RQ,
    N_SET_RQ,
)

if TYPE_CHECKING:
    from dicomnet.services.base import ServicePort

LOGGER = get_logger("dicomnet.services")


def dispatch(assoc: ServicePort, done: MessageComplete[Any]) -> None:
    """Serve one complete request message; always releases its data set afterwards."""
    from dicomnet.services import echo, storage

    message = done.message
    try:
        if isinstance(message, C_ECHO_RQ):
            echo.serve(assoc, done)
        elif isinstance(message, C_STORE_RQ):
            storage.serve(assoc, done)
        elif isinstance(message, C_CANCEL_RQ):
            # Arrives here while we wait for something else (a C-STORE-RSP of a C-GET
            # sub-operation); otherwise ServicePort._poll_cancel picks it up.
            assoc.session.note_cancel(message.MessageIDBeingRespondedTo)
        elif isinstance(message, C_FIND_RQ):
            from dicomnet.services import query

            query.serve(assoc, done)
        elif isinstance(message, C_GET_RQ | C_MOVE_RQ):
            from dicomnet.services import retrieve

            retrieve.serve(assoc, done)
        elif isinstance(
            message,
            N_EVENT_REPORT_RQ | N_GET_RQ | N_SET_RQ | N_ACTION_RQ | N_CREATE_RQ | N_DELETE_RQ,
        ):
            from dicomnet.services import nservices

            nservices.serve(assoc, done)
        else:
            LOGGER.warning("ignoring an unexpected %s", type(message).__name__)
    finally:
        sink = done.dataset
        if sink is not None and hasattr(sink, "close"):
            sink.close()
