"""Shared helpers of the SCP services: their presentation context, sending a response.

Calling a handler and reading what it returns is :mod:`dicomnet.events`' (one implementation
for the services, the acceptor and the CLI's composition)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dicomnet.dimse.command_codec import make_encodable

if TYPE_CHECKING:
    from dicomnet.dimse.messages import Message
    from dicomnet.presentation import PresentationContext
    from dicomnet.services.base import ServicePort

LOGGER = logging.getLogger("dicomnet.services")


def scp_context(assoc: ServicePort, context_id: int, sop_class: str) -> PresentationContext | None:
    """The accepted context a request came on, if we act as SCP there for ``sop_class``."""
    return assoc.session.scp_context(context_id, sop_class)


def send_response(assoc: ServicePort, context_id: int, response: Message, data: Any = None) -> None:
    """Send a response we built. Its values come partly from the peer's request (echoed UIDs)
    and from handlers (status fields): those the command set cannot carry are left out, as
    PS3.7 allows for every optional field, and an ErrorComment is cut down to LO (see
    :func:`dicomnet.dimse.command_codec.make_encodable`), so encoding never fails."""
    dropped = make_encodable(response)
    if dropped:
        LOGGER.debug("%s: left out %s (cannot be encoded)", type(response).__name__, dropped)
    assoc.send_message(context_id, response, data)
