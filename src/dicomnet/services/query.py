"""Query SCP: answer C-FIND through the ``EVT_C_FIND`` handler, and the helpers the retrieve
service shares (identifier decoding, C-CANCEL checks); the handler generator is stepped by
:class:`dicomnet.events.HandlerRun`.

The handler follows pynetdicom's convention: a generator yielding ``(status, identifier)``.
Pending statuses (0xFF00, 0xFF01) carry the matching identifier (a pydicom Dataset, or
``bytes`` already encoded in ``event.context.transfer_syntax``); the first other status ends
the operation and is sent without an identifier (PS3.7 C1); when the generator ends, the final
response is Success. Between yields the service reads, without blocking, whatever the peer
sent: a C-CANCEL-RQ for this request sets ``event.is_cancelled`` and the operation ends with
0xFE00 (Cancel) before the next match is sent. ``event.is_cancelled`` is also True once the
association has gone (aborted, connection lost), so a long handler can stop early.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dicomnet import events as evt
from dicomnet.dataset import MemorySink, decode_dataset, encode_dataset
from dicomnet.dimse.fragments import MessageComplete
from dicomnet.dimse.messages import C_FIND_RQ, C_FIND_RSP, DATASET_PRESENT
from dicomnet.dimse.status import CANCEL, SUCCESS, status_category
from dicomnet.events import HandlerFailed, HandlerRun, InvalidYield, yielded_pair
from dicomnet.services._common import LOGGER, send_response

if TYPE_CHECKING:
    from dicomnet.presentation import PresentationContext
    from dicomnet.services.base import ServicePort

SOP_CLASS_NOT_SUPPORTED = 0x0122
#: The identifier could not be decoded.
FIND_CANNOT_DECODE = 0xC310
#: The handler raised.
FIND_HANDLER_FAILED = evt.RAISED_STATUS[evt.EVT_C_FIND]  # 0xC311
#: The handler yielded something unusable (not a pair, bad status, Pending without an
#: identifier, an identifier that cannot be encoded).
FIND_INVALID_YIELD = evt.INVALID_STATUS[evt.EVT_C_FIND]  # 0xC312


class ReceivedIdentifier:
    """A request's identifier, decoded once; what ``event.identifier`` returns."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset


def gone(assoc: ServicePort) -> bool:
    """True when nothing can be sent on ``assoc`` any more (aborted, closed, released)."""
    return not assoc.can_send


def scp_context(
    assoc: ServicePort, done: MessageComplete[Any], sop_class: str
) -> PresentationContext | None:
    """The accepted context of ``done`` if we are its SCP and it is ``sop_class``'s."""
    return assoc.session.scp_context(done.context_id, sop_class)


def decode_identifier(done: MessageComplete[Any], context: PresentationContext) -> Any:
    """The request's identifier as a pydicom Dataset, or None (logged) if it cannot be read."""
    sink = done.dataset
    data = bytes(sink.buffer) if isinstance(sink, MemorySink) else b""
    try:
        dataset = decode_dataset(data, context.transfer_syntax[0])
        for _element in dataset:  # parse every element now, not inside the handler
            pass
    except Exception as exc:
        LOGGER.error("cannot decode the identifier of %s: %s", type(done.message).__name__, exc)
        return None
    return dataset


def serve(assoc: ServicePort, done: MessageComplete[Any]) -> None:
    """Serve one C-FIND-RQ to its final response."""
    request = done.message
    assert isinstance(request, C_FIND_RQ)
    message_id = request.MessageID

    def reply(status: int, extra: dict[str, Any] | None = None, data: bytes | None = None) -> bool:
        if gone(assoc):
            return False
        response = C_FIND_RSP(
            MessageIDBeingRespondedTo=message_id,
            AffectedSOPClassUID=request.AffectedSOPClassUID,
            Status=status,
            **(extra or {}),
        )
        if data is not None:
            response.CommandDataSetType = DATASET_PRESENT
        send_response(assoc, done.context_id, response, data)
        return True

    context = scp_context(assoc, done, request.AffectedSOPClassUID)
    if context is None:
        reply(SOP_CLASS_NOT_SUPPORTED, {"ErrorComment": "SOP class not supported on this context"})
        return
    identifier = decode_identifier(done, context)
    if identifier is None:
        reply(FIND_CANNOT_DECODE, {"ErrorComment": "cannot decode the identifier"})
        return
    bound = evt.intervention_handler(assoc.handlers, evt.EVT_C_FIND)
    if bound is None:
        reply(SOP_CLASS_NOT_SUPPORTED, {"ErrorComment": "no C-FIND handler is bound"})
        return
    handler, args = bound
    syntax = context.transfer_syntax[0]
    assoc.session.watch_cancel(message_id)
    event = evt.Event(
        assoc,
        evt.EVT_C_FIND,
        request=request,
        context=context,
        _received=ReceivedIdentifier(identifier),
        _is_cancelled=lambda: assoc.is_cancelled(message_id),
    )
    run: HandlerRun | None = None
    try:
        run = HandlerRun(handler, args, event)
        while True:
            more, item = run.next()
            if not more:
                reply(SUCCESS)
                return
            if assoc.is_cancelled(message_id):
                reply(CANCEL)
                return
            status, extra, match = yielded_pair(item, evt.EVT_C_FIND)
            if status_category(status) != "Pending":
                reply(status, extra)  # final: no identifier (C1)
                return
            if match is None:
                LOGGER.error("the EVT_C_FIND handler yielded a Pending status without identifier")
                raise InvalidYield("Pending status without an identifier")
            try:
                # bytes: an identifier the handler encoded itself in the context's transfer
                # syntax (the archive does, for speed); else a pydicom Dataset
                data = bytes(match) if isinstance(match, bytes) else encode_dataset(match, syntax)
            except Exception as exc:
                LOGGER.error("cannot encode an EVT_C_FIND identifier: %s", exc)
                raise InvalidYield("cannot encode the identifier") from None
            if not reply(status, extra, data):
                return
    except HandlerFailed as exc:
        reply(FIND_HANDLER_FAILED, {"ErrorComment": exc.comment})
    except InvalidYield as exc:
        reply(FIND_INVALID_YIELD, {"ErrorComment": str(exc)[:64]})
    finally:
        if run is not None:
            run.close()
        assoc.session.unwatch_cancel(message_id)
