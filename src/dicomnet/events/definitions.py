"""Events and handlers: ``evt.EVT_*``, the :class:`Event` given to handlers, and the registry
(re-exported by :mod:`dicomnet.events`).

Names, attributes and handler return conventions follow pynetdicom's, so handlers written for it
run unchanged. Where dicomnet differs it is on purpose and documented here:

* Notification events call every bound handler in bind order; a handler that raises is logged
  once (with its traceback) and the others still run.
* An intervention event has one handler. Binding another replaces the first (a warning is
  logged). An exception in it gives the service's failure status (see :mod:`dicomnet.services`),
  is logged with its traceback, and the association carries on.
* Calling an intervention handler and reading what it returns (a status, ``(status,
  dataset)``, ``(is_verified, response)``, a generator) is done here once, for the services,
  the acceptor and the CLI: :func:`call_intervention`, :func:`read_status`,
  :func:`verify_user_identity`, :class:`HandlerRun`. :func:`compose` runs several handlers as
  one (a built-in one, then the user's ``--handler`` ones); its rules are documented with it.
* ``EVT_REQUESTED`` handlers may call :meth:`Event.reject` to answer an association request with
  an A-ASSOCIATE-RJ of their choosing (result, source, reason): the supported way to accept or
  reject an association in code.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

from dicomnet._log import get_logger
from dicomnet._record import record

if TYPE_CHECKING:
    from pathlib import Path  # annotations only: pathlib is not on echoscu's path

    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.tag import BaseTag

    from dicomnet.dataset import ReceivedDataset
    from dicomnet.presentation import PresentationContextTuple

LOGGER = get_logger("dicomnet.events")


@record(frozen=True, slots=True)
class EventType:
    """An event handlers can be bound to; ``is_intervention`` events take one handler whose
    return value is used, notification events any number whose return values are ignored."""

    name: str
    description: str
    is_intervention: bool

    @property
    def is_notification(self) -> bool:
        return not self.is_intervention

    def __str__(self) -> str:
        return self.name


def _i(name: str, description: str) -> EventType:
    return EventType(name, description, True)


def _n(name: str, description: str) -> EventType:
    return EventType(name, description, False)


# Intervention events
EVT_ASYNC_OPS = _i("EVT_ASYNC_OPS", "Asynchronous Operations Window negotiation")
EVT_SOP_COMMON = _i("EVT_SOP_COMMON", "SOP Class Common Extended negotiation")
EVT_SOP_EXTENDED = _i("EVT_SOP_EXTENDED", "SOP Class Extended negotiation")
EVT_USER_ID = _i("EVT_USER_ID", "User Identity negotiation")
EVT_C_ECHO = _i("EVT_C_ECHO", "C-ECHO request received")
EVT_C_FIND = _i("EVT_C_FIND", "C-FIND request received")
EVT_C_GET = _i("EVT_C_GET", "C-GET request received")
EVT_C_MOVE = _i("EVT_C_MOVE", "C-MOVE request received")
EVT_C_STORE = _i("EVT_C_STORE", "C-STORE request received")
EVT_N_ACTION = _i("EVT_N_ACTION", "N-ACTION request received")
EVT_N_CREATE = _i("EVT_N_CREATE", "N-CREATE request received")
EVT_N_DELETE = _i("EVT_N_DELETE", "N-DELETE request received")
EVT_N_EVENT_REPORT = _i("EVT_N_EVENT_REPORT", "N-EVENT-REPORT request received")
EVT_N_GET = _i("EVT_N_GET", "N-GET request received")
EVT_N_SET = _i("EVT_N_SET", "N-SET request received")

# Notification events
EVT_CONN_OPEN = _n("EVT_CONN_OPEN", "Connection with remote opened")
EVT_CONN_CLOSE = _n("EVT_CONN_CLOSE", "Connection with remote closed")
EVT_REQUESTED = _n("EVT_REQUESTED", "Association requested")
EVT_ACCEPTED = _n("EVT_ACCEPTED", "Association request accepted")
EVT_REJECTED = _n("EVT_REJECTED", "Association request rejected")
EVT_ESTABLISHED = _n("EVT_ESTABLISHED", "Association established")
EVT_RELEASED = _n("EVT_RELEASED", "Association released")
EVT_ABORTED = _n("EVT_ABORTED", "Association aborted")
EVT_PDU_RECV = _n("EVT_PDU_RECV", "PDU received")
EVT_PDU_SENT = _n("EVT_PDU_SENT", "PDU sent")
EVT_DATA_RECV = _n("EVT_DATA_RECV", "Data received")
EVT_DATA_SENT = _n("EVT_DATA_SENT", "Data sent")
EVT_ACSE_RECV = _n("EVT_ACSE_RECV", "ACSE primitive received from the DUL")
EVT_ACSE_SENT = _n("EVT_ACSE_SENT", "ACSE primitive sent to the DUL")
EVT_DIMSE_RECV = _n("EVT_DIMSE_RECV", "DIMSE message received")
EVT_DIMSE_SENT = _n("EVT_DIMSE_SENT", "DIMSE message sent")
EVT_FSM_TRANSITION = _n("EVT_FSM_TRANSITION", "State machine transitioning")

_ALL: tuple[EventType, ...] = tuple(v for v in list(globals().values()) if isinstance(v, EventType))
INTERVENTION_EVENTS: tuple[EventType, ...] = tuple(e for e in _ALL if e.is_intervention)
NOTIFICATION_EVENTS: tuple[EventType, ...] = tuple(e for e in _ALL if e.is_notification)
_BY_NAME: dict[str, EventType] = {e.name: e for e in _ALL}


def get_event(name: str) -> EventType:
    """Look an event up by name, with or without the ``EVT_`` prefix, any case (``c_store``)."""
    key = name.strip().upper().replace("-", "_")
    if not key.startswith("EVT_"):
        key = "EVT_" + key
    try:
        return _BY_NAME[key]
    except KeyError:
        raise KeyError(f"unknown event {name!r}") from None


Handler: TypeAlias = Callable[..., Any]
HandlerSpec: TypeAlias = tuple[EventType, Handler] | tuple[EventType, Handler, Sequence[Any]]


class Event:
    """What a handler receives. ``assoc``, ``event`` and ``timestamp`` are always set; the other
    attributes exist for the events that carry them and raise AttributeError otherwise."""

    __slots__ = (
        "_attrs",
        "_rejection",
        "assoc",
        "event",
        "timestamp",
    )

    def __init__(self, assoc: Any, event: EventType, **attrs: Any) -> None:
        #: The :class:`dicomnet.association.Association` (typed Any: events sit below the
        #: association layer, which imports them).
        self.assoc = assoc
        self.event = event
        self.timestamp = datetime.now()
        self._attrs = attrs
        self._rejection: tuple[int, int, int] | None = None

    def __getattr__(self, name: str) -> Any:
        # Only reached for names not in __slots__ and not properties below.
        try:
            return self._attrs[name]
        except KeyError:
            raise AttributeError(f"{self.event.name} events have no attribute {name!r}") from None

    def __repr__(self) -> str:
        return f"<Event {self.event.name} at {self.timestamp.isoformat()}>"

    # --- data-set access (C-STORE, C-FIND, C-GET, C-MOVE; DIMSE-N below) -------------------

    @property
    def received(self) -> ReceivedDataset:
        """The received data set as it arrived, undecoded (C-STORE): its header, transfer
        syntax and bytes (``open_dataset()``, ``save()``) — what the built-in storage and
        archive handlers read without decoding it."""
        received = self._attrs.get("_received")
        if received is None:
            raise AttributeError(f"{self.event.name} events carry no data set")
        return received  # type: ignore[no-any-return]

    @property
    def dataset(self) -> Dataset:
        """The received data set as a pydicom Dataset, decoded on first access (C-STORE)."""
        if self.event is not EVT_C_STORE:
            raise AttributeError("'dataset' is only available for EVT_C_STORE")
        return self.received.dataset

    @property
    def identifier(self) -> Dataset:
        """The request's Identifier as a pydicom Dataset (C-FIND, C-GET, C-MOVE)."""
        if self.event not in (EVT_C_FIND, EVT_C_GET, EVT_C_MOVE):
            raise AttributeError("'identifier' is only available for C-FIND, C-GET and C-MOVE")
        return self.received.dataset

    @property
    def file_meta(self) -> FileMetaDataset:
        """A File Meta Information dataset describing the received data set (C-STORE)."""
        if self.event is not EVT_C_STORE:
            raise AttributeError("'file_meta' is only available for EVT_C_STORE")
        return self.received.file_meta

    @property
    def dataset_path(self) -> Path:
        """A :class:`pathlib.Path` to a file holding the received data set bytes (C-STORE).

        The file is temporary: it is removed when the handler returns."""
        if self.event is not EVT_C_STORE:
            raise AttributeError("'dataset_path' is only available for EVT_C_STORE")
        return self.received.path()

    def encoded_dataset(self, include_meta: bool = True) -> bytes:
        """The received data set as bytes, by default as a whole Part-10 file (C-STORE)."""
        if self.event is not EVT_C_STORE:
            raise AttributeError("'encoded_dataset' is only available for EVT_C_STORE")
        return self.received.encoded(include_meta=include_meta)

    def save(
        self, destination: str | os.PathLike[str], *, overwrite: bool = True, sync: Any = None
    ) -> Path:
        """Write the received data set as a Part-10 file at ``destination`` (C-STORE).

        Atomic and durable: temporary file in the same directory, flush, fsync, rename, fsync
        the directory (a rename when the data set was spooled there). Raises OSError leaving
        no partial file, FileExistsError if ``overwrite`` is False and the file exists.
        ``sync``: a :class:`dicomnet.dataset.Sync` doing the fsyncs (default: each, here)."""
        if self.event is not EVT_C_STORE:
            raise AttributeError("'save' is only available for EVT_C_STORE")
        if sync is None:
            return self.received.save(destination, overwrite=overwrite)
        return self.received.save(destination, overwrite=overwrite, sync=sync)

    # --- DIMSE-N (N-EVENT-REPORT, N-GET, N-SET, N-ACTION, N-CREATE, N-DELETE) ---------------

    def _n_dataset(self, event: EventType, name: str) -> Dataset:
        if self.event is not event:
            raise AttributeError(f"{name!r} is only available for {event.name}")
        return self.received.dataset

    @property
    def action_information(self) -> Dataset:
        """The N-ACTION request's Action Information as a pydicom Dataset (empty if the
        request had none), decoded on first access."""
        return self._n_dataset(EVT_N_ACTION, "action_information")

    @property
    def attribute_list(self) -> Dataset:
        """The N-CREATE request's Attribute List as a pydicom Dataset (empty if none)."""
        return self._n_dataset(EVT_N_CREATE, "attribute_list")

    @property
    def event_information(self) -> Dataset:
        """The N-EVENT-REPORT request's Event Information as a pydicom Dataset (empty if
        none)."""
        return self._n_dataset(EVT_N_EVENT_REPORT, "event_information")

    @property
    def modification_list(self) -> Dataset:
        """The N-SET request's Modification List as a pydicom Dataset."""
        return self._n_dataset(EVT_N_SET, "modification_list")

    @property
    def attribute_identifiers(self) -> list[BaseTag]:
        """The N-GET request's Attribute Identifier List as pydicom Tags (empty: all)."""
        if self.event is not EVT_N_GET:
            raise AttributeError("'attribute_identifiers' is only available for EVT_N_GET")
        from pydicom.tag import Tag

        return [Tag(t) for t in self._attrs["request"].AttributeIdentifierList or ()]

    @property
    def action_type(self) -> int:
        """The N-ACTION request's Action Type ID."""
        if self.event is not EVT_N_ACTION:
            raise AttributeError("'action_type' is only available for EVT_N_ACTION")
        return int(self._attrs["request"].ActionTypeID)

    @property
    def event_type(self) -> int:
        """The N-EVENT-REPORT request's Event Type ID."""
        if self.event is not EVT_N_EVENT_REPORT:
            raise AttributeError("'event_type' is only available for EVT_N_EVENT_REPORT")
        return int(self._attrs["request"].EventTypeID)

    @property
    def message_id(self) -> int:
        request = self._attrs.get("request")
        if request is None:
            raise AttributeError(f"{self.event.name} events have no 'message_id'")
        return int(request.MessageID)

    @property
    def move_destination(self) -> str:
        if self.event is not EVT_C_MOVE:
            raise AttributeError("'move_destination' is only available for EVT_C_MOVE")
        return str(self._attrs["request"].MoveDestination)

    @property
    def is_cancelled(self) -> bool:
        """True once a C-CANCEL for this request has been received (C-FIND, C-GET, C-MOVE)."""
        check: Callable[[], bool] | None = self._attrs.get("_is_cancelled")
        if check is None:
            raise AttributeError("'is_cancelled' is only available for C-FIND, C-GET and C-MOVE")
        return check()

    @property
    def context(self) -> PresentationContextTuple:
        """The presentation context of the request, as pynetdicom gives it: a named tuple
        ``(context_id, abstract_syntax, transfer_syntax)``; ``transfer_syntax`` is the one
        UID in use."""
        from dicomnet.presentation import PresentationContext

        context = self._attrs.get("context")
        if context is None:
            raise AttributeError(f"{self.event.name} events have no 'context'")
        if isinstance(context, PresentationContext):
            return context.as_tuple
        return context  # type: ignore[no-any-return]

    # --- association acceptance ------------------------------------------------------------

    def reject(self, result: int = 1, source: int = 1, reason: int = 1) -> None:
        """From an ``EVT_REQUESTED`` handler: answer the request with A-ASSOCIATE-RJ.

        ``result`` 1 permanent / 2 transient; ``source`` 1 service user, 2 provider (ACSE),
        3 provider (presentation); ``reason`` as PS3.8 Table 9-21 for that source.
        """
        if self.event is not EVT_REQUESTED:
            raise AttributeError("reject() is only available for EVT_REQUESTED")
        valid = {1: {1, 2, 3, 7}, 2: {1, 2}, 3: {1, 2}}
        if result not in (1, 2) or reason not in valid.get(source, set()):
            raise ValueError(
                f"invalid A-ASSOCIATE-RJ result/source/reason {result}/{source}/{reason}"
            )
        self._rejection = (result, source, reason)

    @property
    def rejection(self) -> tuple[int, int, int] | None:
        return self._rejection


def _check_spec(spec: Any) -> tuple[EventType, Handler, list[Any]]:
    if not isinstance(spec, tuple) or len(spec) not in (2, 3):
        raise ValueError("evt_handlers items must be (event, handler) or (event, handler, args)")
    event, handler = spec[0], spec[1]
    if not isinstance(event, EventType):
        raise TypeError(f"{event!r} is not an event (use dicomnet.evt.EVT_*)")
    if not callable(handler):
        raise TypeError(f"the handler for {event.name} is not callable")
    extra = spec[2] if len(spec) == 3 else None
    if extra is not None and (isinstance(extra, str | bytes) or not isinstance(extra, Sequence)):
        raise TypeError(f"the extra arguments for {event.name} must be a list, not {extra!r}")
    args = list(extra) if extra is not None else []
    return event, handler, args


class HandlerRegistry:
    """Handlers bound to events, in bind order. Safe to read while another thread binds."""

    def __init__(self, specs: Iterable[Any] = ()) -> None:
        self._handlers: dict[EventType, list[tuple[Handler, list[Any]]]] = {}
        for spec in specs:
            self.bind(*_check_spec(spec))

    def copy(self) -> HandlerRegistry:
        new = HandlerRegistry()
        new._handlers = {k: list(v) for k, v in self._handlers.items()}
        return new

    def bind(self, event: EventType, handler: Handler, args: Sequence[Any] | None = None) -> None:
        event, handler, checked = _check_spec((event, handler, args))
        entry = (handler, checked)
        if event.is_intervention:
            old = self._handlers.get(event)
            if old and old[0][0] is not handler:
                LOGGER.debug("%s: handler %r replaces %r", event.name, handler, old[0][0])
            self._handlers = {**self._handlers, event: [entry]}
        else:
            current = [h for h in self._handlers.get(event, []) if h[0] is not handler]
            self._handlers = {**self._handlers, event: [*current, entry]}

    def unbind(self, event: EventType, handler: Handler) -> None:
        current = [h for h in self._handlers.get(event, []) if h[0] is not handler]
        handlers = dict(self._handlers)
        if current:
            handlers[event] = current
        else:
            handlers.pop(event, None)
        self._handlers = handlers

    def get(self, event: EventType) -> list[tuple[Handler, list[Any]]]:
        return self._handlers.get(event, [])

    def has(self, event: EventType) -> bool:
        return bool(self._handlers.get(event))

    def get_handlers(
        self, event: EventType
    ) -> list[tuple[Handler, list[Any]]] | tuple[Handler, list[Any]] | None:
        """pynetdicom's ``get_handlers``: the bound (handler, args) of an intervention event
        (None if unbound), every one of a notification event."""
        handlers = self.get(event)
        if event.is_intervention:
            return handlers[-1] if handlers else None
        return handlers

    def bound(self) -> dict[EventType, list[tuple[Handler, list[Any]]]]:
        return {k: list(v) for k, v in self._handlers.items()}


def notify(registry: HandlerRegistry, assoc: Any, event: EventType, **attrs: Any) -> Event | None:
    """Run every handler bound to a notification event; return the Event (None if unbound)."""
    handlers = registry.get(event)
    if not handlers:
        return None
    evt = Event(assoc, event, **attrs)
    for handler, args in handlers:
        try:
            handler(evt, *args)
        except Exception:
            LOGGER.exception("Exception in the %s handler %r", event.name, handler)
    return evt


def intervention_handler(
    registry: HandlerRegistry, event: EventType
) -> tuple[Handler, list[Any]] | None:
    """The one handler bound to an intervention event, if any."""
    handlers = registry.get(event)
    return handlers[-1] if handlers else None
