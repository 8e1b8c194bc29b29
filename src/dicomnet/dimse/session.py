"""Per-association DIMSE state, sans-IO: Message IDs, the accepted presentation contexts (by ID
and by abstract syntax), our requests awaiting their final response, and the C-CANCELs noted
for the requests we serve.

One instance per association (``assoc.session``); nothing here reads or writes a socket, so
every rule is testable on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from dicomnet._log import get_logger

if TYPE_CHECKING:
    from dicomnet.presentation import PresentationContext

LOGGER = get_logger("dicomnet.assoc")

MAX_MESSAGE_ID = 0xFFFF


class DimseSession:
    """DIMSE bookkeeping of one association."""

    def __init__(self) -> None:
        self._message_id = 0
        self._contexts: list[PresentationContext] = []
        self._by_id: dict[int, PresentationContext] = {}
        # Our requests awaiting their final response: Message ID -> presentation context ID.
        self.outstanding: dict[int, int] = {}
        # Requests we serve (C-FIND/GET/MOVE), by Message ID: True once a C-CANCEL arrived.
        self._cancel_watch: dict[int, bool] = {}

    # --- Message IDs --------------------------------------------------------------------------

    def next_message_id(self, requested: int | None = None) -> int:
        """The Message ID of our next request: ``requested`` (1..65535) if given, else one more
        than the last (wrapping to 1 after 65535). ValueError for an invalid ``requested``."""
        if requested is not None:
            if isinstance(requested, bool) or not isinstance(requested, int):
                raise ValueError(f"msg_id must be an int in 1..65535, not {requested!r}")
            if not 1 <= requested <= MAX_MESSAGE_ID:
                raise ValueError(f"msg_id must be an int in 1..65535, not {requested!r}")
            self._message_id = requested
            return requested
        self._message_id = self._message_id % MAX_MESSAGE_ID + 1
        return self._message_id

    # --- presentation contexts ----------------------------------------------------------------

    @property
    def contexts(self) -> list[PresentationContext]:
        """Every negotiated presentation context, accepted or not."""
        return self._contexts

    @contexts.setter
    def contexts(self, value: Iterable[PresentationContext]) -> None:
        self._contexts = list(value)
        self._by_id = {
            cx.context_id: cx for cx in self._contexts if cx.accepted and cx.context_id is not None
        }

    def context_by_id(self, context_id: int) -> PresentationContext | None:
        """The accepted context with this ID (a dict lookup: it runs for every PDV)."""
        return self._by_id.get(context_id)

    def scu_context(
        self, abstract_syntax: str, transfer_syntax: str | None = None
    ) -> PresentationContext | None:
        """The first accepted context for ``abstract_syntax`` where we may act as SCU (and, if
        given, whose transfer syntax is ``transfer_syntax``)."""
        for cx in self._contexts:
            if not cx.accepted or cx.abstract_syntax != abstract_syntax or not cx.as_scu:
                continue
            if transfer_syntax is None or cx.transfer_syntax[0] == transfer_syntax:
                return cx
        return None

    def scp_context(self, context_id: int, sop_class: str) -> PresentationContext | None:
        """The accepted context ``context_id`` if we act as SCP there for ``sop_class``."""
        cx = self._by_id.get(context_id)
        if cx is None or not cx.as_scp or cx.abstract_syntax != sop_class:
            return None
        return cx

    # --- our requests -------------------------------------------------------------------------

    def request_sent(self, message_id: int, context_id: int) -> None:
        """A request of ours (C-FIND/GET/MOVE) awaits its final response."""
        self.outstanding[message_id] = context_id

    def request_done(self, message_id: int) -> None:
        self.outstanding.pop(message_id, None)

    # --- C-CANCEL of requests we serve ----------------------------------------------------------

    def watch_cancel(self, message_id: int) -> None:
        """Start noting C-CANCELs for the request ``message_id`` we are serving."""
        self._cancel_watch[message_id] = False

    def unwatch_cancel(self, message_id: int) -> None:
        self._cancel_watch.pop(message_id, None)

    def note_cancel(self, message_id: int) -> None:
        """A C-CANCEL-RQ arrived; it counts only for a request still being served (a late one,
        after the final response, is dropped so that a reused Message ID is not cancelled)."""
        if message_id in self._cancel_watch:
            self._cancel_watch[message_id] = True
        else:
            LOGGER.debug("C-CANCEL for message %d, which is not in progress", message_id)

    def cancelled(self, message_id: int) -> bool:
        """True once a C-CANCEL for the request ``message_id`` we serve has been noted."""
        return self._cancel_watch.get(message_id, False)


__all__ = ["DimseSession"]
