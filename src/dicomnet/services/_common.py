"""Shared helpers of the SCP services: calling the intervention handler, reading its status."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dicomnet import events as evt
from dicomnet.dimse.command_codec import make_encodable

if TYPE_CHECKING:
    from dicomnet.dimse.messages import Message
    from dicomnet.presentation import PresentationContext
    from dicomnet.services.base import HandlerHost, ServicePort

LOGGER = logging.getLogger("dicomnet.services")

STATUS_FIELDS = ("ErrorComment", "ErrorID", "OffendingElement")


class HandlerFailed(Exception):
    """The handler raised or returned something unusable (already logged)."""

    def __init__(self, comment: str) -> None:
        super().__init__(comment)
        self.comment = comment


def call_handler(
    assoc: HandlerHost, event_type: evt.EventType, default: Any, **attrs: Any
) -> tuple[bool, Any]:
    """Call the one handler bound to ``event_type``; (False, default) when none is bound.

    Raises :class:`HandlerFailed` if it raises (logged with its traceback)."""
    bound = evt.intervention_handler(assoc.handlers, event_type)
    if bound is None:
        return False, default
    handler, args = bound
    event = evt.Event(assoc, event_type, **attrs)
    try:
        return True, handler(event, *args)
    except Exception as exc:
        LOGGER.exception("Exception in the %s handler %r", event_type.name, handler)
        raise HandlerFailed(f"handler raised {type(exc).__name__}: {exc}"[:64]) from exc


def read_status(value: Any) -> tuple[int, dict[str, Any]]:
    """A handler's status: an int, or a Dataset with Status (and optional status fields).

    Raises ValueError for anything else."""
    if isinstance(value, bool):
        raise ValueError(f"invalid status {value!r}")
    if isinstance(value, int):
        if not 0 <= value <= 0xFFFF:
            raise ValueError(f"status 0x{value:X} is out of range")
        return value, {}
    status = getattr(value, "Status", None)
    if isinstance(status, int) and not isinstance(status, bool) and 0 <= status <= 0xFFFF:
        extra: dict[str, Any] = {}
        for name in STATUS_FIELDS:
            field = getattr(value, name, None)
            if field is not None:
                extra[name] = tuple(field) if name == "OffendingElement" else field
        return int(status), extra
    raise ValueError(f"invalid status {value!r}: return an int or a Dataset with Status")


def scp_context(assoc: ServicePort, context_id: int, sop_class: str) -> PresentationContext | None:
    """The accepted context a request came on, if we act as SCP there for ``sop_class``."""
    return assoc.session.scp_context(context_id, sop_class)


def handler_status(
    assoc: ServicePort,
    event_type: evt.EventType,
    default: Any,
    failure: int,
    invalid_comment: str | None = None,
    **attrs: Any,
) -> tuple[bool, int, dict[str, Any]]:
    """(bound, status, status fields) from the intervention handler of a single-response
    service: ``failure`` when it raises (with its comment) or returns no usable status."""
    try:
        bound, value = call_handler(assoc, event_type, default, **attrs)
        status, extra = read_status(value)
    except HandlerFailed as exc:
        return True, failure, {"ErrorComment": exc.comment}
    except ValueError as exc:
        LOGGER.error("%s handler: %s", event_type.name, exc)
        return True, failure, {"ErrorComment": invalid_comment} if invalid_comment else {}
    return bound, status, extra


def send_response(assoc: ServicePort, context_id: int, response: Message, data: Any = None) -> None:
    """Send a response we built. Its values come partly from the peer's request (echoed UIDs)
    and from handlers (status fields): those the command set cannot carry are left out, as
    PS3.7 allows for every optional field, and an ErrorComment is cut down to LO (see
    :func:`dicomnet.dimse.command_codec.make_encodable`), so encoding never fails."""
    dropped = make_encodable(response)
    if dropped:
        LOGGER.debug("%s: left out %s (cannot be encoded)", type(response).__name__, dropped)
    assoc.send_message(context_id, response, data)
