"""The narrow port through which the SCP services see their association.

A service turns a received request (and its handler's answer) into responses. All it needs
from the association is below: the handler registry, the DIMSE session (contexts, C-CANCEL
notes), a way to send a message, and — for C-GET and C-MOVE sub-operations — a way to send a
C-STORE and to open an association to a move destination. :class:`dicomnet.association.
Association` implements it; tests implement it with a list of sent messages, no socket.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from dicomnet.dimse.messages import C_STORE_RSP, Message
    from dicomnet.dimse.session import DimseSession
    from dicomnet.events import HandlerRegistry
    from dicomnet.presentation import PresentationContext
    from dicomnet.service_user import ServiceUser
    from dicomnet.ul.pdu import AssociateRJ


class HandlerHost(Protocol):
    """Anything with event handlers: what calling a handler needs (the object itself becomes
    ``event.assoc``)."""

    @property
    def handlers(self) -> HandlerRegistry:
        """The association's event handlers."""
        ...


class StoreTarget(Protocol):
    """Where C-STORE sub-operations go: the requesting association (C-GET) or one we opened
    to a move destination (C-MOVE)."""

    @property
    def is_established(self) -> bool: ...

    @property
    def failure_reason(self) -> str: ...

    @property
    def rejection(self) -> AssociateRJ | None: ...

    def store_instance(
        self,
        source: Any,
        *,
        originator_aet: str | None = None,
        originator_id: int | None = None,
        priority: int = 0,
    ) -> C_STORE_RSP | None:
        """Send one instance (a path or a pydicom Dataset); its response, None if none came."""
        ...

    def release(self) -> None: ...

    def abort(self) -> None: ...


class ServicePort(HandlerHost, StoreTarget, Protocol):
    """What a service may use of the association it serves."""

    @property
    def session(self) -> DimseSession:
        """Message IDs, accepted contexts, C-CANCEL notes."""
        ...

    @property
    def requestor(self) -> ServiceUser: ...

    @property
    def peer(self) -> ServiceUser: ...

    @property
    def can_send(self) -> bool:
        """False once nothing can be sent any more (aborted, closed, released)."""
        ...

    def send_message(self, context_id: int, message: Message, dataset: Any = None) -> None:
        """Send one DIMSE message; raises :class:`dicomnet.errors.TransportLost`."""
        ...

    def is_cancelled(self, message_id: int) -> bool:
        """True once the request ``message_id`` we serve has been cancelled (reads what has
        already arrived, without blocking), or nobody is listening any more."""
        ...

    def connection_lost(self) -> None:
        """The connection failed under a service: end the association."""
        ...

    def open_association(
        self,
        address: str,
        port: int,
        contexts: Sequence[PresentationContext],
        options: dict[str, Any],
    ) -> StoreTarget:
        """Request an association (for C-MOVE sub-operations) with this association's AE;
        ``options`` are ``AE.associate`` keyword arguments (from the C-MOVE handler)."""
        ...


__all__ = ["HandlerHost", "ServicePort", "StoreTarget"]
