"""Calling intervention handlers and reading what they return, and composing several
handlers into one: the one implementation the services, the acceptor and the CLI's
``--handler`` use (re-exported by :mod:`dicomnet.events`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from dicomnet._log import get_logger
from dicomnet.dimse.status import status_category

if TYPE_CHECKING:
    pass

from dicomnet.events.definitions import (
    EVT_ASYNC_OPS,
    EVT_C_ECHO,
    EVT_C_FIND,
    EVT_C_GET,
    EVT_C_MOVE,
    EVT_C_STORE,
    EVT_N_ACTION,
    EVT_N_CREATE,
    EVT_N_DELETE,
    EVT_N_EVENT_REPORT,
    EVT_N_GET,
    EVT_N_SET,
    EVT_USER_ID,
    Event,
    EventType,
    Handler,
    HandlerRegistry,
    intervention_handler,
)

LOGGER = get_logger("dicomnet.events")


# --- calling intervention handlers and reading what they return ------------------------------
#
# The one implementation the services, the acceptor (EVT_USER_ID and the extended negotiation
# events) and the CLI's ``--handler`` composition use. Handler shapes, per event:
#
# * C-ECHO, C-STORE, N-DELETE: a status (an int, or a Dataset with Status and optional
#   ErrorComment, ErrorID, OffendingElement);
# * N-EVENT-REPORT, N-GET, N-SET, N-ACTION, N-CREATE: ``(status, dataset_or_None)``;
# * C-FIND: an iterable (usually a generator) of ``(status, identifier)`` pairs; C-GET: the
#   number of sub-operations, then ``(status, dataset)`` pairs; C-MOVE: the destination, then
#   the number, then the pairs;
# * EVT_USER_ID: ``(is_verified, response)``;
# * EVT_ASYNC_OPS: ``(max invoked, max performed)``; EVT_SOP_EXTENDED, EVT_SOP_COMMON: a dict.

#: The status a service answers when its handler raises (see :mod:`dicomnet.services`).
RAISED_STATUS: dict[EventType, int] = {
    EVT_C_ECHO: 0x0110,
    EVT_C_STORE: 0xC211,
    EVT_C_FIND: 0xC311,
    EVT_C_GET: 0xC411,
    EVT_C_MOVE: 0xC511,
    EVT_N_EVENT_REPORT: 0x0110,
    EVT_N_GET: 0x0110,
    EVT_N_SET: 0x0110,
    EVT_N_ACTION: 0x0110,
    EVT_N_CREATE: 0x0110,
    EVT_N_DELETE: 0x0110,
}
#: The status a service answers when its handler returns (or yields) something unusable.
INVALID_STATUS: dict[EventType, int] = {
    **RAISED_STATUS,
    EVT_C_FIND: 0xC312,
    EVT_C_GET: 0xC412,
    EVT_C_MOVE: 0xC512,
}
#: The ErrorComment sent with :data:`INVALID_STATUS` (C-ECHO sends none, as it always has).
_INVALID_COMMENT: dict[EventType, str] = {EVT_C_STORE: "invalid handler status"}

STATUS_FIELDS = ("ErrorComment", "ErrorID", "OffendingElement")

_SINGLE_STATUS_EVENTS = (EVT_C_ECHO, EVT_C_STORE, EVT_N_DELETE)
_STATUS_AND_DATASET_EVENTS = (EVT_N_EVENT_REPORT, EVT_N_GET, EVT_N_SET, EVT_N_ACTION, EVT_N_CREATE)
GENERATOR_EVENTS = (EVT_C_FIND, EVT_C_GET, EVT_C_MOVE)


class HandlerFailed(Exception):
    """The handler raised (already logged with its traceback); ``comment`` says what."""

    def __init__(self, comment: str) -> None:
        super().__init__(comment)
        self.comment = comment


class InvalidYield(ValueError):
    """A generator handler yielded something unusable, or is not iterable (already logged)."""


def run_handler(handler: Handler, args: Sequence[Any], event: Event) -> Any:
    """``handler(event, *args)``. Raises :class:`HandlerFailed` if it raises (logged once,
    with its traceback)."""
    try:
        return handler(event, *args)
    except Exception as exc:
        raise _failed(event.event, handler, exc) from exc


def _failed(event_type: EventType, handler: Handler, exc: Exception) -> HandlerFailed:
    LOGGER.exception("Exception in the %s handler %r", event_type.name, handler)
    return HandlerFailed(f"handler raised {type(exc).__name__}: {exc}"[:64])


def call_intervention(
    registry: HandlerRegistry, assoc: Any, event_type: EventType, **attrs: Any
) -> tuple[bool, Any]:
    """Call the handler bound to ``event_type`` with an :class:`Event` of ``attrs`` (and the
    handler's extra arguments): ``(True, its return value)``, ``(False, None)`` if none is
    bound. Raises :class:`HandlerFailed` if it raises."""
    bound = intervention_handler(registry, event_type)
    if bound is None:
        return False, None
    handler, args = bound
    return True, run_handler(handler, args, Event(assoc, event_type, **attrs))


def read_status(value: Any) -> tuple[int, dict[str, Any]]:
    """(status, status fields) from a handler's status: an int, or a Dataset with Status (and
    optional ErrorComment, ErrorID, OffendingElement). Raises ValueError for anything else."""
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
                if name == "OffendingElement":  # one tag (VM 1) or several
                    several = hasattr(field, "__iter__") and not isinstance(field, str | bytes)
                    field = tuple(field) if several else (field,)
                extra[name] = field
        return int(status), extra
    raise ValueError(f"invalid status {value!r}: return an int or a Dataset with Status")


def read_status_pair(value: Any) -> tuple[int, dict[str, Any], Any]:
    """(status, status fields, second item) from a ``(status, x)`` pair (a DIMSE-N handler's
    return, a C-FIND/C-GET/C-MOVE yield). Raises ValueError for anything else."""
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise ValueError(f"{value!r} is not a (status, ...) pair")
    status, extra = read_status(value[0])
    return status, extra, value[1]


def read_user_identity(value: Any) -> tuple[bool, Any]:
    """(is_verified, response) from an EVT_USER_ID handler. Raises ValueError unless it is a
    pair."""
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise ValueError(f"{value!r} is not (is_verified, response)")
    return bool(value[0]), value[1]


def status_dataset(status: int, comment: str | None = None) -> Any:
    """A Dataset with Status (and ErrorComment): a status as a handler returns it."""
    from pydicom.dataset import Dataset

    value = Dataset()
    value.Status = status
    if comment:
        value.ErrorComment = comment[:64]
    return value


def call_for_status(
    registry: HandlerRegistry, assoc: Any, event_type: EventType, default: int, **attrs: Any
) -> tuple[bool, int, dict[str, Any]]:
    """(bound, status, status fields) from the handler of a one-response service (C-ECHO,
    C-STORE): ``default`` when none is bound, :data:`RAISED_STATUS` with the exception in an
    ErrorComment when it raises, :data:`INVALID_STATUS` when it returns no usable status."""
    try:
        bound, value = call_intervention(registry, assoc, event_type, **attrs)
        if not bound:
            return False, default, {}
        status, extra = read_status(value)
    except HandlerFailed as exc:
        return True, RAISED_STATUS[event_type], {"ErrorComment": exc.comment}
    except ValueError as exc:
        LOGGER.error("%s handler: %s", event_type.name, exc)
        comment = _INVALID_COMMENT.get(event_type)
        return True, INVALID_STATUS[event_type], {"ErrorComment": comment} if comment else {}
    return True, status, extra


def verify_user_identity(registry: HandlerRegistry, assoc: Any, **attrs: Any) -> tuple[bool, Any]:
    """(verified, response) from the EVT_USER_ID handler: (True, None) when none is bound;
    (False, None) when it refuses, raises or returns something other than
    ``(is_verified, response)`` (logged)."""
    try:
        bound, value = call_intervention(registry, assoc, EVT_USER_ID, **attrs)
    except HandlerFailed:
        LOGGER.error("rejecting the association: the EVT_USER_ID handler raised")
        return False, None
    if not bound:
        return True, None
    try:
        verified, response = read_user_identity(value)
    except ValueError:
        LOGGER.error("EVT_USER_ID handler must return (is_verified, response); rejecting")
        return False, None
    return (True, response) if verified else (False, None)


class HandlerRun:
    """A generator handler (C-FIND, C-GET, C-MOVE), stepped one item at a time with its
    failures classified: :class:`HandlerFailed` when it raises, :class:`InvalidYield` when it
    returns something not iterable."""

    def __init__(self, handler: Handler, args: Sequence[Any], event: Event) -> None:
        self._event_type = event.event
        self._handler = handler
        self._iterator = _iterate(run_handler(handler, args, event), self._event_type)
        self._closed = False

    def next(self) -> tuple[bool, Any]:
        """(True, item), or (False, None) once the generator is exhausted."""
        try:
            return True, next(self._iterator)
        except StopIteration:
            return False, None
        except InvalidYield:  # a composed handler's part that is not iterable (logged)
            raise
        except Exception as exc:
            raise _failed(self._event_type, self._handler, exc) from exc

    def close(self) -> None:
        """Close the generator (its ``finally`` blocks run); errors there are logged."""
        if self._closed:
            return
        self._closed = True
        close = getattr(self._iterator, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                LOGGER.exception("Exception while closing the %s handler", self._event_type.name)


def _iterate(result: Any, event_type: EventType) -> Iterator[Any]:
    if isinstance(result, str | bytes) or not hasattr(result, "__iter__"):
        LOGGER.error("the %s handler must yield (status, ...) items", event_type.name)
        raise InvalidYield(f"the {event_type.name} handler is not a generator")
    return iter(result)


def yielded_pair(item: Any, event_type: EventType) -> tuple[int, dict[str, Any], Any]:
    """(status, status fields, second item) from a generator handler's ``(status, x)`` yield.
    Raises :class:`InvalidYield` (logged) for anything else."""
    if not isinstance(item, tuple | list) or len(item) != 2:
        LOGGER.error("the %s handler yielded %r, not a (status, ...) pair", event_type.name, item)
        raise InvalidYield("handler yielded something other than a (status, ...) pair")
    try:
        return read_status_pair(item)
    except ValueError as exc:
        LOGGER.error("the %s handler yielded an invalid status: %s", event_type.name, exc)
        raise InvalidYield("handler yielded an invalid status") from None


# --- composing handlers ----------------------------------------------------------------------


Chain: TypeAlias = Sequence[tuple[Handler, Sequence[Any]]]


def compose(event_type: EventType, chain: Chain) -> Handler:
    """One intervention handler running ``chain`` (``(handler, extra args)`` in order).

    What ``--handler`` binds when a command has a built-in handler for the event too (it comes
    first, then the user's), or the user gives several. The rules, per event:

    * C-ECHO, C-STORE, N-DELETE, and the DIMSE-N events returning ``(status, dataset)``: every
      handler runs; the most severe status wins (Failure, then Cancel, then Warning, then
      Success), the first of equals. A handler that raises or returns no usable status counts
      as a failure (:data:`RAISED_STATUS` / :data:`INVALID_STATUS`, with an ErrorComment) and the
      others still run. DIMSE-N: the winning handler's data set goes with its status.
    * C-FIND, C-GET, C-MOVE (generators): the first handler's responses, then the next one's,
      and so on. A handler's final Success only ends its own part; its final Warning ends its part
      too and is sent at the very end, the first one, if nothing failed; its first Failure or
      Cancel ends the whole operation (later handlers are not run). A handler that raises ends
      it with :data:`RAISED_STATUS`; an unusable yield goes to the service as it is (which ends
      it with :data:`INVALID_STATUS`). When every part ended with Success, the service gives
      the final status itself (C-FIND Success; C-GET/C-MOVE from the sub-operation counts).
      C-GET/C-MOVE need their leading yields before any pair, so every handler is started at
      once: the number of sub-operations is the sum of the handlers' numbers (the first invalid
      number is passed on instead, to be refused). C-MOVE has one destination: the first
      handler's that names one, and every handler's sub-operations go there. A handler that
      answers ``(None, None)`` (it does not know the Move Destination) defers to it: it may go
      on yielding its number and pairs, or end (nothing to add). A handler whose destination is
      invalid, or that yields none, is left out (logged). When no handler names a destination,
      the first handler's answer is passed on (0xA801 or 0xC514, as for a single handler).
    * EVT_USER_ID: every handler must verify; the first refusal (or exception, or a return that
      is not ``(is_verified, response)``) refuses and the later ones are not called. The
      response sent is the last one a handler gave.
    * EVT_SOP_EXTENDED, EVT_SOP_COMMON: the dicts are merged, the first answer for a SOP class
      kept; EVT_ASYNC_OPS: the first handler's answer that is a pair. A handler that raises or
      returns something else is logged and left out.
    """
    if not event_type.is_intervention:
        raise ValueError(f"{event_type.name} is a notification event: bind each handler")
    handlers = [(handler, list(args)) for handler, args in chain]
    if event_type in _SINGLE_STATUS_EVENTS or event_type in _STATUS_AND_DATASET_EVENTS:
        composed = _compose_statuses(event_type, handlers)
    elif event_type in GENERATOR_EVENTS:
        composed = _compose_generators(event_type, handlers)
    elif event_type is EVT_USER_ID:
        composed = _compose_user_id(handlers)
    else:
        composed = _compose_negotiation(event_type, handlers)
    # What the logs show for it ("Exception in the EVT_C_FIND handler <function compose[...]>").
    names = ", ".join(getattr(handler, "__qualname__", repr(handler)) for handler, _ in handlers)
    composed.__qualname__ = composed.__name__ = f"compose[{names}]"
    return composed


def _severity(code: int) -> int:
    return {"Failure": 0, "Cancel": 1, "Warning": 2}.get(status_category(code), 3)


def _compose_statuses(event_type: EventType, chain: Chain) -> Handler:
    with_dataset = event_type in _STATUS_AND_DATASET_EVENTS

    def composed(event: Event) -> Any:
        best: tuple[int, Any] | None = None
        for handler, args in chain:
            try:
                value = run_handler(handler, args, event)
                code = read_status_pair(value)[0] if with_dataset else read_status(value)[0]
            except HandlerFailed as exc:
                code = RAISED_STATUS[event_type]
                value = status_dataset(code, exc.comment)
                value = (value, None) if with_dataset else value
            except ValueError as exc:
                LOGGER.error("the %s handler %r: %s", event_type.name, handler, exc)
                code = INVALID_STATUS[event_type]
                value = status_dataset(code, "invalid handler status")
                value = (value, None) if with_dataset else value
            if best is None or _severity(code) < best[0]:
                best = (_severity(code), value)
        if best is None:
            return (0x0000, None) if with_dataset else 0x0000
        return best[1]

    return composed


def _final_status(item: Any) -> int | None:
    """The status of a yielded pair when it ends a part (not Pending); None for Pending and for
    items the service is to judge (not a pair, an invalid status)."""
    try:
        code = read_status_pair(item)[0]
    except ValueError:
        return None
    return None if status_category(code) == "Pending" else code


def _destination_known(item: Any) -> bool:
    """A C-MOVE destination the service would use: ``(address, port[, options])``."""
    return (
        isinstance(item, tuple | list)
        and len(item) in (2, 3)
        and item[0] is not None
        and isinstance(item[1], int)
        and not isinstance(item[1], bool)
        and (len(item) == 2 or item[2] is None or isinstance(item[2], dict))
    )


def _destination_unknown(item: Any) -> bool:
    """``(None, None)``: a C-MOVE handler that does not know the Move Destination."""
    return (
        isinstance(item, tuple | list)
        and len(item) in (2, 3)
        and (item[0] is None or item[1] is None)
    )


def _count_valid(count: Any) -> bool:
    return isinstance(count, int) and not isinstance(count, bool) and count >= 0


_END = object()


def _compose_generators(event_type: EventType, chain: Chain) -> Handler:
    def composed(event: Event) -> Iterator[Any]:
        started: list[Iterator[Any]] = []

        def start(handler: Handler, args: Sequence[Any]) -> Iterator[Any]:
            iterator = _iterate(handler(event, *args), event_type)
            started.append(iterator)
            return iterator

        try:
            sources: Iterator[Iterator[Any]]
            if event_type is EVT_C_FIND:
                sources = (start(handler, args) for handler, args in chain)  # one at a time
            else:
                parts = [start(handler, args) for handler, args in chain]
                deferring: set[int] = set()
                if event_type is EVT_C_MOVE:
                    answers: list[Any] = [next(part, _END) for part in parts]
                    known = [i for i, answer in enumerate(answers) if _destination_known(answer)]
                    if not known:
                        if answers and answers[0] is not _END:
                            yield answers[0]  # as for one handler: 0xA801 or 0xC514
                        return
                    chosen = answers[known[0]]
                    kept: list[Iterator[Any]] = []
                    for i, answer in enumerate(answers):
                        if i in known or _destination_unknown(answer):
                            if i not in known:
                                deferring.add(len(kept))
                            elif tuple(answer[:2]) != tuple(chosen[:2]):
                                LOGGER.warning(
                                    "EVT_C_MOVE: handler %r's destination %r is not used (%r is)",
                                    chain[i][0],
                                    answer,
                                    chosen,
                                )
                            kept.append(parts[i])
                        else:
                            LOGGER.warning(
                                "EVT_C_MOVE: handler %r gave no usable destination (%r): left out",
                                chain[i][0],
                                None if answer is _END else answer,
                            )
                            _close(parts[i], event_type)
                    parts = kept
                    yield chosen
                total = 0
                for index, part in enumerate(parts):
                    count: Any = next(part, _END)
                    if count is _END and index in deferring:
                        count = 0  # it did not know the destination and ended: nothing to add
                    if not _count_valid(count):
                        yield None if count is _END else count
                        return
                    total += count
                yield total
                sources = iter(parts)
            warning: Any = None
            for part in sources:
                for item in part:
                    code = _final_status(item)
                    if code is None:
                        yield item
                        continue
                    severity = _severity(code)
                    if severity == 2 and warning is None:
                        warning = item
                    if severity >= 2:
                        break  # Success or Warning: this part is done
                    yield item  # Failure or Cancel: the operation is done
                    return
                _close(part, event_type)  # its finally blocks run before the next part
            if warning is not None:
                yield warning
        finally:
            for iterator in started:
                _close(iterator, event_type)

    return composed


def _close(iterator: Iterator[Any], event_type: EventType) -> None:
    """Close a handler's generator (its ``finally`` blocks run; again is harmless)."""
    close = getattr(iterator, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            LOGGER.exception("Exception while closing a %s handler", event_type.name)


def _compose_user_id(chain: Chain) -> Handler:
    def composed(event: Event) -> tuple[bool, Any]:
        response = None
        for handler, args in chain:
            try:
                verified, answer = read_user_identity(run_handler(handler, args, event))
            except HandlerFailed:
                return False, None
            except ValueError as exc:
                LOGGER.error("the EVT_USER_ID handler %r: %s; refusing", handler, exc)
                return False, None
            if not verified:
                return False, None
            if answer is not None:
                response = answer
        return True, response

    return composed


def _compose_negotiation(event_type: EventType, chain: Chain) -> Handler:
    def composed(event: Event) -> Any:
        merged: dict[Any, Any] = {}
        for handler, args in chain:
            try:
                value = run_handler(handler, args, event)
            except HandlerFailed:
                continue
            if event_type is EVT_ASYNC_OPS:
                if isinstance(value, tuple | list) and len(value) == 2:
                    return value
                LOGGER.error("the EVT_ASYNC_OPS handler %r returned %r: left out", handler, value)
                continue
            if value is None:
                continue
            try:
                answers = dict(value)
            except (TypeError, ValueError):
                LOGGER.error(
                    "the %s handler %r returned %r: left out", event_type.name, handler, value
                )
                continue
            for key, answer in answers.items():
                merged.setdefault(key, answer)
        return None if event_type is EVT_ASYNC_OPS else merged

    return composed
