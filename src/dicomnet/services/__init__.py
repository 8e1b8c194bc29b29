"""SCP services: turn a received request (and the bound handler's answer) into responses.

Handler failures give these statuses (documented; pynetdicom users will recognise them):

=============  ===========================================  ==================================
service        handler raised / returned something invalid  no handler bound
=============  ===========================================  ==================================
C-ECHO         0x0110 (Processing failure)                  0x0000 (Success)
C-STORE        0xC211 (Cannot understand) with a comment    0x0122 (SOP class not supported)
=============  ===========================================  ==================================

Requests for a SOP class we do not play SCP for, or that do not match their presentation
context, get 0x0122. Every exception is logged once with its traceback; the association goes on.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dicomnet.dimse.fragments import MessageComplete
from dicomnet.dimse.messages import C_CANCEL_RQ, C_ECHO_RQ, C_STORE_RQ

if TYPE_CHECKING:
    from dicomnet._core import AssociationCore as Association

LOGGER = logging.getLogger("dicomnet.services")


def dispatch(assoc: Association, done: MessageComplete[Any]) -> None:
    """Serve one complete request message; always releases its data set afterwards."""
    from dicomnet.services import echo, storage

    message = done.message
    try:
        if isinstance(message, C_ECHO_RQ):
            echo.serve(assoc, done)
        elif isinstance(message, C_STORE_RQ):
            storage.serve(assoc, done)
        elif isinstance(message, C_CANCEL_RQ):
            LOGGER.debug("C-CANCEL for message %s with nothing in progress", message)
        else:
            from dicomnet.services import query

            query.serve(assoc, done)
    finally:
        sink = done.dataset
        if sink is not None and hasattr(sink, "close"):
            sink.close()
