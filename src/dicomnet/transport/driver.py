"""The blocking driver of an association: the sans-IO core (state machine, framer, assembler,
DIMSE session) driven over one :class:`~dicomnet.transport.connection.Connection`. The only code
that blocks; every SCU service waits for its responses through :meth:`AssociationCore.
wait_response`.

One thread drives an association: the user's thread for a requestor (each ``send_*`` call sends
and reads until its response arrives), the server's per-connection thread for an acceptor. Only
:meth:`Association.abort` may be called from another thread: it sends A-ABORT and interrupts the
blocked read, so nothing ever polls or sleeps.

Timeouts: ``acse_timeout`` is a total deadline for the association and release phases (ARTIM).
Once associated, timeouts are about progress, never about a whole message, so that slow links
carry large instances: ``network_timeout`` (an acceptor's idle timeout) and ``dimse_timeout``
(waiting for a response) count from the last byte received; while a message is arriving the
peer must send something at least every ``dimse_timeout`` seconds. Against a peer trickling
bytes (slowloris), a message in progress must bring at least ``minimum_transfer_rate`` bytes
per second over each ``transfer_rate_window`` seconds, and ``max_transfer_time`` (None by
default) optionally bounds a whole message. Each send must make progress within
``dimse_timeout``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from dicomnet import events as evt
from dicomnet._log import get_logger
from dicomnet.dimse.command_codec import encode_command
from dicomnet.dimse.fragments import MessageAssembler, MessageComplete, fragment_message
from dicomnet.dimse.messages import (
    C_CANCEL_RQ,
    C_STORE_RQ,
    C_STORE_RSP,
    Message,
    is_request,
    is_response,
)
from dicomnet.dimse.session import DimseSession
from dicomnet.errors import TransportLost
from dicomnet.events import HandlerRegistry, notify
from dicomnet.presentation import PresentationContext
from dicomnet.service_user import ServiceUser
from dicomnet.services import dispatch
from dicomnet.services.acceptance import AcceptorSettings
from dicomnet.transport.connection import Connection, Deadline, deadline_in
from dicomnet.transport.progress import TransferClock
from dicomnet.ul.codec import decode_pdu, encode_pdu
from dicomnet.ul.errors import (
    ABORT_SOURCE_PROVIDER,
    ABORT_SOURCE_USER,
    LocalProtocolError,
    RemoteProtocolError,
)
from dicomnet.ul.framing import PDUReader
from dicomnet.ul.fsm import (
    CloseTransport,
    Effect,
    Event,
    Indicate,
    Indication,
    SendPDU,
    StartARTIM,
    State,
    StateMachine,
    StopARTIM,
    Transition,
    event_for_pdu,
)
from dicomnet.ul.pdu import (
    PDU,
    Abort,
    AssociateAC,
    AssociateRJ,
    PDataTF,
)

if TYPE_CHECKING:
    from dicomnet.services.base import StoreTarget

LOGGER = get_logger("dicomnet.assoc")

_SEND_STATES = (State.STA6, State.STA8)  # where we may send P-DATA-TF
SEND_BATCH = 64 * 1024  # P-DATA-TF bytes gathered into one send (see send_message)
_DRAIN_LIMIT = 0.5  # most seconds we wait for the peer to close after our A-ABORT


class DriverSettings(AcceptorSettings, Protocol):
    """What the driver reads of its AE (:class:`dicomnet.ae.AE` has all of it)."""

    maximum_pdu_size: int
    max_transfer_time: float | None
    minimum_transfer_rate: float
    transfer_rate_window: float
    acse_timeout: float | None
    dimse_timeout: float | None
    network_timeout: float | None
    spool_directory: str | None
    maximum_dataset_size: int | None
    maximum_inflated_size: int | None
    maximum_deflate_ratio: float | None


class SlotKeeper(Protocol):
    """The server side of an acceptor: association slots (see :class:`~dicomnet.transport.
    server.AssociationServer`)."""

    @property
    def stopping(self) -> bool: ...

    def claim_slot(self, assoc: AssociationCore) -> bool: ...

    def release_slot(self, assoc: AssociationCore) -> None: ...


class AssociationCore:
    """The machinery of an association; :class:`dicomnet.association.Association` adds the
    service-user API on top."""

    def __init__(
        self,
        ae: DriverSettings,
        mode: str,
        handlers: HandlerRegistry,
        server: SlotKeeper | None = None,
        *,
        max_pdu: int | None = None,
    ) -> None:
        if mode not in ("requestor", "acceptor"):
            raise ValueError("mode must be 'requestor' or 'acceptor'")
        self.ae = ae
        self.mode = mode
        self.server = server
        self._handlers = handlers
        self._fsm = StateMachine(requestor=mode == "requestor")
        self._lock = threading.RLock()
        self._conn: Connection | None = None
        #: Message IDs, accepted contexts, outstanding requests, C-CANCEL notes.
        self.session = DimseSession()
        self.local_max_pdu = ae.maximum_pdu_size if max_pdu is None else max_pdu
        self._reader = PDUReader(max_pdata_length=self.local_max_pdu)
        self._assembler: MessageAssembler[Any] = MessageAssembler(self._sink_for)
        self._pending: deque[MessageComplete[Any]] = deque()
        # PDUs read but not yet handed to the state machine (those that came with the
        # A-ASSOCIATE-RQ wait here for the association to be established): no byte read is lost.
        self._inbox: deque[PDU] = deque()
        # An A-RELEASE-RQ received (Sta8) is answered once every request before it is.
        self._release_requested = False
        self._artim: float | None = None
        self._clock = TransferClock(
            ae.max_transfer_time, ae.minimum_transfer_rate, ae.transfer_rate_window
        )
        self._peer_max_pdu = 0
        self.acse_timeout: float | None = ae.acse_timeout
        self.dimse_timeout: float | None = ae.dimse_timeout
        self.network_timeout: float | None = ae.network_timeout
        self.requestor = ServiceUser()
        self.acceptor = ServiceUser()
        self.is_established = False
        self.is_rejected = False
        self.is_aborted = False
        self.is_released = False
        self.rejection: AssociateRJ | None = None
        self.abort_pdu: Abort | None = None
        self.connect_error: OSError | None = None
        self.failure_reason = ""
        self.spool_directory: str | None = ae.spool_directory
        self.thread: threading.Thread | None = None
        self._closed_notified = False
        self._close_notice_deferred = False
        self._rq_contexts: tuple[Any, ...] = ()
        #: The SCP/SCU role selections we proposed (requestor).
        self.requested_roles: tuple[Any, ...] = ()

    # --- public state -------------------------------------------------------------------------

    @property
    def is_requestor(self) -> bool:
        return self.mode == "requestor"

    @property
    def is_acceptor(self) -> bool:
        return self.mode == "acceptor"

    @property
    def accepted_contexts(self) -> list[PresentationContext]:
        return [cx for cx in self.contexts if cx.accepted]

    @property
    def rejected_contexts(self) -> list[PresentationContext]:
        return [cx for cx in self.contexts if not cx.accepted]

    @property
    def state(self) -> State:
        return self._fsm.state

    def _ended(self) -> bool:
        """True in Sta1: no association and no connection (before or after)."""
        return self._fsm.state is State.STA1

    @property
    def is_alive(self) -> bool:
        return not self._ended() or self._conn is None

    @property
    def peer(self) -> ServiceUser:
        return self.acceptor if self.is_requestor else self.requestor

    @property
    def local(self) -> ServiceUser:
        return self.requestor if self.is_requestor else self.acceptor

    @property
    def handlers(self) -> HandlerRegistry:
        """This association's event handlers."""
        return self._handlers

    @property
    def connection(self) -> Connection | None:
        """The transport connection (None before connecting)."""
        return self._conn

    @property
    def can_send(self) -> bool:
        """False once nothing can be sent any more (aborted, closed, released)."""
        return self._fsm.state in _SEND_STATES and not self.is_aborted

    def bind(self, event: evt.EventType, handler: Any, args: Any = None) -> None:
        """Bind ``handler`` to ``event`` on this association (replacing an intervention one)."""
        self._handlers.bind(event, handler, args)

    def unbind(self, event: evt.EventType, handler: Any) -> None:
        self._handlers.unbind(event, handler)

    def get_handlers(self, event: evt.EventType) -> Any:
        return self._handlers.get_handlers(event)

    def _notify(self, event: evt.EventType, **attrs: Any) -> evt.Event | None:
        return notify(self._handlers, self, event, **attrs)

    def __repr__(self) -> str:
        ends = f"{self.local.ae_title!r}->{self.peer.ae_title!r}"
        return f"<Association {self.mode} {ends} {self.state.name}>"

    # --- the state machine and the wire -------------------------------------------------------

    def _step(self, event: Event, pdu: PDU | None = None, **kwargs: Any) -> list[Indicate]:
        with self._lock:
            transition, effects = self._fsm.handle(event, pdu, **kwargs)
            return self._execute(transition, effects)

    def _notify_transition(self, transition: Transition) -> None:
        if self._handlers.has(evt.EVT_FSM_TRANSITION):
            self._notify(
                evt.EVT_FSM_TRANSITION,
                current_state=f"Sta{transition.from_state.value}",
                fsm_event=f"Evt{transition.event.value}",
                action=transition.action.name.replace("_", "-"),
                next_state=f"Sta{transition.to_state.value}",
            )

    def _execute(self, transition: Transition, effects: list[Effect]) -> list[Indicate]:
        self._notify_transition(transition)
        indications: list[Indicate] = []
        for effect in effects:
            if isinstance(effect, SendPDU):
                self._write_pdu(effect.pdu)
            elif isinstance(effect, StartARTIM):
                self._artim = deadline_in(self.acse_timeout)
            elif isinstance(effect, StopARTIM):
                self._artim = None
            elif isinstance(effect, CloseTransport):
                if indications:
                    # AE-4/AR-3/AA-3 issue their primitive, then close: close the socket now
                    # but notify EVT_CONN_CLOSE after REJECTED/RELEASED/ABORTED (in _after).
                    if self._conn is not None and not self._conn.closed:
                        self._conn.close()
                    self._close_notice_deferred = True
                else:
                    self._close_transport()
            elif isinstance(effect, Indicate):
                indications.append(effect)
        return indications

    def _write_pdu(self, pdu: PDU) -> None:
        conn = self._conn
        if conn is None or conn.closed:
            raise TransportLost("the connection is closed")
        data = encode_pdu(pdu)
        try:
            conn.sendall(data, deadline_in(self.dimse_timeout), progress=self.dimse_timeout)
        except (OSError, Deadline) as exc:
            raise TransportLost(str(exc)) from exc
        self._notify(evt.EVT_PDU_SENT, pdu=pdu)
        self._notify(evt.EVT_DATA_SENT, data=data)
        if not isinstance(pdu, PDataTF):
            self._notify(evt.EVT_ACSE_SENT, primitive=pdu)

    def _close_transport(self) -> None:
        conn = self._conn
        if conn is not None and not conn.closed:
            conn.close()
        if conn is not None and not self._closed_notified:
            self._closed_notified = True
            self._notify(evt.EVT_CONN_CLOSE, address=conn.peer)

    def _sink_for(self, context_id: int, message: Message) -> Any:
        from dicomnet.dataset import MemorySink, ReceivedDataset  # not needed by C-ECHO

        if isinstance(message, C_STORE_RQ):
            cx = self._context_by_id(context_id)
            syntax = cx.transfer_syntax[0] if cx is not None else ""
            return ReceivedDataset(
                message.AffectedSOPClassUID,
                message.AffectedSOPInstanceUID,
                syntax,
                self.ae.implementation_class_uid,
                self.ae.implementation_version_name or "",
                self.peer.ae_title,
                directory=self.spool_directory,
                max_size=self.ae.maximum_dataset_size,
                max_inflated=self.ae.maximum_inflated_size,
                max_ratio=self.ae.maximum_deflate_ratio,
            )
        return MemorySink()

    @property
    def contexts(self) -> list[PresentationContext]:
        """Every negotiated presentation context, accepted or not."""
        return self.session.contexts

    @contexts.setter
    def contexts(self, value: list[PresentationContext]) -> None:
        self.session.contexts = value

    def _context_by_id(self, context_id: int) -> PresentationContext | None:
        return self.session.context_by_id(context_id)

    # --- reading ------------------------------------------------------------------------------

    def _deadline(self, wait: float | None) -> float | None:
        """The deadline of the next read: ARTIM in Sta2/Sta13, else progress-based (see
        :class:`~dicomnet.transport.progress.TransferClock`)."""
        if self._fsm.state in (State.STA2, State.STA13) and self._artim is not None:
            return self._artim
        in_progress = self._reader.in_progress or self._assembler.in_progress
        return self._clock.deadline(wait, in_progress, self.dimse_timeout)

    def _too_slow(self, reason: str) -> None:
        LOGGER.warning("%s: %s; aborting", self.peer.address or "peer", reason)
        self.failure_reason = reason
        self._local_abort(Abort(source=ABORT_SOURCE_USER))

    def _pump(self, wait: float | None) -> bool:
        """Process the PDUs already read, or read once and process what arrived. False once the
        association has ended."""
        conn = self._conn
        if conn is None or self._ended():
            return False
        if not self._inbox and not self._read(conn, wait):
            return not self._ended()
        try:
            while self._inbox:
                self._on_pdu(self._inbox.popleft())
                if self._ended():
                    break
        except RemoteProtocolError as exc:
            self._on_bad_pdu(exc)
            return False
        except TransportLost:
            self._on_connection_closed()
            return False
        return not self._ended()

    def _read(self, conn: Connection, wait: float | None) -> bool:
        """Read once into the inbox; False when nothing is to be processed (a timeout, the
        connection closed or a framing error, each already dealt with)."""
        try:
            # a view of the connection's buffer: every PDU decoded from it is a copy
            data: bytes | memoryview = conn.recv_view(self._deadline(wait))
        except Deadline:
            reason = self._clock.verdict()
            if reason is not None:
                self._too_slow(reason)
                return False
            later = self._deadline(wait)
            if later is not None and later > time.monotonic():
                return True  # only a rate window ended, with enough bytes
            self._on_timeout()
            return False
        except OSError as exc:
            LOGGER.debug("connection failed: %s", exc)
            # e.g. a TLS alert: the server refused our certificate (TLS 1.3 reports it late)
            self.failure_reason = self.failure_reason or f"connection failed: {exc}"
            data = b""
        if not data:
            self._on_connection_closed()
            return False
        self._clock.received(len(data))
        reason = self._clock.verdict()
        if reason is not None:
            self._too_slow(reason)
            return False
        if self._handlers.has(evt.EVT_DATA_RECV):
            self._notify(evt.EVT_DATA_RECV, data=bytes(data))
        try:
            pdus = self._reader.feed(data)
        except RemoteProtocolError as exc:
            self._on_bad_pdu(exc)
            return False
        self._inbox.extend(pdus)
        return True

    def _on_pdu(self, pdu: PDU) -> None:
        self._notify(evt.EVT_PDU_RECV, pdu=pdu)
        if isinstance(pdu, PDataTF):
            # DT-2 / AR-6 (P-DATA indication, no state change) in Sta6/Sta7, looked up in the
            # table without building effects; any other cell (AA-8 ...) runs in full.
            transition = self._fsm.data_transfer(Event.EVT10)
            if transition is None:
                self._after(self._step(Event.EVT10, pdu))
                return
            self._notify_transition(transition)
            self._receive_pdata(pdu)
            return
        self._notify(evt.EVT_ACSE_RECV, primitive=pdu)
        self._after(self._step(event_for_pdu(pdu), pdu))

    def _receive_pdata(self, pdu: PDataTF) -> None:
        for pdv in pdu.pdvs:
            if self._context_by_id(pdv.context_id) is None:
                raise RemoteProtocolError(
                    f"P-DATA for presentation context {pdv.context_id}, which was not accepted"
                )
            done = self._assembler.receive_pdv(pdv)
            if done is not None:
                self._notify(evt.EVT_DIMSE_RECV, message=done.message)
                self._pending.append(done)

    def _after(self, indications: list[Indicate]) -> None:
        """React to what the state machine told us (release answers are automatic: DICOM
        does not allow refusing a release)."""
        for ind in indications:
            kind = ind.kind
            if kind is Indication.RELEASE_IND:
                if self._fsm.state is State.STA8:
                    # Requests that arrived before the A-RELEASE-RQ are answered first (P-DATA
                    # may still be sent in Sta8): next_message answers it when none is left.
                    self._release_requested = True
                elif self._fsm.state is State.STA9:  # collision, requestor: AR-9, then Sta11
                    self._after(self._step(Event.EVT14))
                # Sta10 (collision, acceptor): we answer after the peer's A-RELEASE-RP (Sta12).
            elif kind is Indication.RELEASE_CONF:
                if self._fsm.state is State.STA12:
                    self._after(self._step(Event.EVT14))
                self._released()
            elif kind in (Indication.ABORT_IND, Indication.P_ABORT_IND):
                if isinstance(ind.pdu, Abort):
                    self.abort_pdu = ind.pdu
                self._aborted()
            elif kind is Indication.ASSOCIATE_ACCEPT_CONF:
                assert isinstance(ind.pdu, AssociateAC)
                self._on_accepted(ind.pdu)
            elif kind is Indication.ASSOCIATE_REJECT_CONF:
                assert isinstance(ind.pdu, AssociateRJ)
                self.is_rejected = True
                self.rejection = ind.pdu
                self._notify(evt.EVT_REJECTED)
        if self._close_notice_deferred:
            self._close_notice_deferred = False
            self._close_transport()

    def _on_accepted(self, ac: AssociateAC) -> None:
        """Requestor: the A-ASSOCIATE-AC arrived (see Association)."""

    def _released(self) -> None:
        if not self.is_released:
            self.is_released = True
            self.is_established = False
            self._notify(evt.EVT_RELEASED)

    def _aborted(self) -> None:
        self._fail_pending()
        if not self.is_aborted:
            self.is_aborted = True
            self.is_established = False
            self._notify(evt.EVT_ABORTED)

    def _fail_pending(self) -> None:
        """Drop a partly received message (its temporary file goes with it)."""
        sink = getattr(self._assembler, "_sink", None)
        if sink is not None and hasattr(sink, "close"):
            with contextlib.suppress(Exception):
                sink.close()
        while self._pending:
            dataset = self._pending.popleft().dataset
            if dataset is not None and hasattr(dataset, "close"):
                dataset.close()

    def _on_timeout(self) -> None:
        state = self._fsm.state
        if state in (State.STA2, State.STA13):
            self._step(Event.EVT18)  # ARTIM expired: close
            if state is State.STA13 and not (
                self.is_aborted or self.is_released or self.is_rejected
            ):
                self._aborted()
            return
        LOGGER.warning(
            "%s: timed out: no data from the peer in time; aborting",
            self.peer.address or self.peer.ae_title or "peer",
        )
        self.failure_reason = "timed out waiting for the peer"
        self._local_abort(Abort(source=ABORT_SOURCE_USER))

    def _on_connection_closed(self) -> None:
        state = self._fsm.state
        if state is State.STA1:
            return
        with contextlib.suppress(LocalProtocolError):
            self._after(self._step(Event.EVT17))
        self._close_transport()
        if state not in (State.STA13, State.STA2) and not self.is_released:
            if not self.failure_reason:
                self.failure_reason = "the peer closed the connection"
            self._aborted()

    def _on_bad_pdu(self, exc: RemoteProtocolError) -> None:
        LOGGER.warning("protocol error from %s: %s", self.peer.address or "peer", exc)
        self.failure_reason = f"protocol error: {exc}"
        consequence = exc.consequence
        reason = getattr(consequence, "reason", 0)
        abort = Abort(source=ABORT_SOURCE_PROVIDER, reason=reason if reason in range(7) else 0)
        with contextlib.suppress(LocalProtocolError, TransportLost):
            self._after(self._step(Event.EVT19, abort=abort))
        self._finish_after_abort()
        self._aborted()

    def _local_abort(self, abort: Abort) -> None:
        state = self._fsm.state
        try:
            if state is State.STA2:
                self._step(Event.EVT18)
            elif state not in (State.STA1, State.STA13):
                self._step(Event.EVT15, abort)
        except (LocalProtocolError, TransportLost):
            pass
        self._aborted()  # before EVT_CONN_CLOSE, as when the peer aborts
        self._finish_after_abort()

    def _finish_after_abort(self) -> None:
        """After sending A-ABORT: let the peer read it, wait briefly for it to close, close."""
        conn = self._conn
        if conn is not None and not conn.closed:
            conn.shutdown_write()
            deadline = time.monotonic() + min(self.acse_timeout or _DRAIN_LIMIT, _DRAIN_LIMIT)
            with contextlib.suppress(OSError, Deadline):
                while conn.recv(deadline):
                    pass
        self._close_transport()
        with contextlib.suppress(LocalProtocolError):
            if self._fsm.state is State.STA13:
                self._step(Event.EVT17)
        if not self._ended():
            with contextlib.suppress(LocalProtocolError):
                self._step(Event.EVT18)

    # --- DIMSE messages -----------------------------------------------------------------------

    def send_message(self, context_id: int, message: Message, dataset: Any = None) -> None:
        """Send one DIMSE message (the data set as bytes or a binary file object)."""
        command = encode_command(message)
        self._notify(evt.EVT_DIMSE_SENT, message=message)
        pdu_sent = self._handlers.has(evt.EVT_PDU_SENT)
        data_sent = self._handlers.has(evt.EVT_DATA_SENT)
        conn = self._conn
        if conn is None or conn.closed:  # e.g. a handler aborted the association
            raise TransportLost("not connected")
        # Without PDU-level handlers, P-DATA-TFs go out SEND_BATCH bytes at a time (small PDUs,
        # such as a peer's 16 KiB maximum, then cost one system call per batch, not per PDU);
        # with them, each is sent before its event, as it always was.
        batch = not (pdu_sent or data_sent)
        held: list[bytes] = []
        held_size = 0
        # already at least ul.negotiation.MIN_PEER_MAX_LENGTH (peer_max_pdu_for_sending)
        for data in fragment_message(context_id, command, dataset, self._peer_max_pdu):
            # DT-1 / AR-7 in Sta6/Sta8; the table has no other cell for sending P-DATA
            transition = self._fsm.data_transfer(Event.EVT9)
            if transition is None:
                raise LocalProtocolError(f"cannot send P-DATA in {self._fsm.state.name}")
            self._notify_transition(transition)
            if batch:
                held.append(data)
                held_size += len(data)
                if held_size < SEND_BATCH:
                    continue
                data = b"".join(held)
                held.clear()
                held_size = 0
            self._send_data(conn, data)
            if pdu_sent:  # decoded only for the handlers that asked for the PDU object
                self._notify(evt.EVT_PDU_SENT, pdu=decode_pdu(data))
            if data_sent:
                self._notify(evt.EVT_DATA_SENT, data=data)
        if held:
            self._send_data(conn, b"".join(held))

    def _send_data(self, conn: Any, data: bytes) -> None:
        try:
            conn.sendall(data, deadline_in(self.dimse_timeout), progress=self.dimse_timeout)
        except (OSError, Deadline) as exc:
            raise TransportLost(str(exc)) from exc

    def next_message(self, wait_seconds: float | None) -> MessageComplete[Any] | None:
        """The next complete DIMSE message, or None when the association ended or
        ``wait_seconds`` passed with nothing (the association is then aborted)."""
        started = time.monotonic()
        while not self._pending:
            if self._release_requested:
                self._answer_release()
            # "no bytes for wait_seconds": counted from the last byte received
            wait = None
            if wait_seconds is not None:
                wait = max(started, self._clock.last_recv) + wait_seconds
            if not self._pump(wait):
                return self._pending.popleft() if self._pending else None
        return self._pending.popleft()

    def _answer_release(self) -> None:
        """Sta8, every earlier request answered: send the A-RELEASE-RP (AR-4, Sta13). Nothing
        if the association was aborted meanwhile (e.g. a PDU after the A-RELEASE-RQ: AA-8)."""
        self._release_requested = False
        if self._fsm.state is not State.STA8:
            return
        try:
            self._after(self._step(Event.EVT14))
        except TransportLost:
            self._on_connection_closed()
            return
        self._released()

    # --- requests and responses ---------------------------------------------------------------

    def require_established(self) -> None:
        if not self.is_established:
            raise RuntimeError("the association is not established")

    def send_request(self, context_id: int, request: Message, data: Any = None) -> bool:
        """Send a request; False if the connection failed meanwhile (e.g. the peer aborted
        mid-data-set): the association is then over (``is_aborted``), no exception escapes."""
        try:
            self.send_message(context_id, request, data)
        except TransportLost as exc:
            LOGGER.warning("connection lost while sending %s: %s", type(request).__name__, exc)
            self.failure_reason = self.failure_reason or f"connection lost while sending: {exc}"
            self._on_connection_closed()
            return False
        return True

    def wait_response(
        self, message_id: int, response_type: type[Message]
    ) -> MessageComplete[Any] | None:
        """Read until the response to our request ``message_id`` arrives (with its data set
        sink); serve the requests the peer sends meanwhile (C-STORE sub-operations of a C-GET).
        None if the association ends or times out first (``failure_reason`` says why), or the
        peer answers with a response of another type (logged). The one wait loop of every SCU
        service."""
        name = response_type.__name__
        while True:
            done = self.next_message(self.dimse_timeout)
            if done is None:
                return None
            message = done.message
            # Only a response answers us: a C-CANCEL-RQ also carries MessageIDBeingRespondedTo
            # (the peer's own request's ID, which may equal ours), and is a request to serve.
            if is_response(message) and message.MessageIDBeingRespondedTo == message_id:
                if isinstance(message, response_type):
                    return done
                LOGGER.error("expected a %s, got a %s", name, type(message).__name__)
                _close_sink(done)
                return None
            if is_request(message):
                try:
                    dispatch(self, done)
                except TransportLost:  # e.g. a handler aborted the association
                    self._on_connection_closed()
                    return None
                continue
            LOGGER.warning("ignoring an unexpected %s", type(message).__name__)
            _close_sink(done)

    # --- C-CANCEL (SCP side of C-FIND, C-GET, C-MOVE) ------------------------------------------

    def is_cancelled(self, message_id: int) -> bool:
        """True once the request ``message_id`` we serve has been cancelled.

        Reads whatever has already arrived without blocking (a C-CANCEL may sit in the socket
        while a handler generator runs), notes C-CANCELs and keeps other messages queued for
        the main loop. Also True when the association has ended: nobody is listening."""
        conn = self._conn
        for _ in range(64):  # bounded: a peer streaming data cannot keep us here
            if conn is None or conn.closed or self._ended() or not conn.readable():
                break
            if not self._pump(deadline_in(self.dimse_timeout)):
                break
        if self._pending:
            kept: deque[MessageComplete[Any]] = deque()
            for done in self._pending:
                if isinstance(done.message, C_CANCEL_RQ):
                    self.session.note_cancel(done.message.MessageIDBeingRespondedTo)
                else:
                    kept.append(done)
            self._pending = kept
        return self.session.cancelled(message_id) or self._ended() or self.is_aborted

    def connection_lost(self) -> None:
        """The connection failed under us (a send raised TransportLost): end the association."""
        self._on_connection_closed()

    # --- provided by the facade (dicomnet.association.Association) -----------------------------

    def store_instance(
        self,
        source: Any,
        *,
        originator_aet: str | None = None,
        originator_id: int | None = None,
        priority: int = 0,
        msg_id: int | None = None,
    ) -> C_STORE_RSP | None:
        """Send one instance and wait for its response (the C-STORE SCU)."""
        raise NotImplementedError("the association facade sends C-STOREs")

    def open_association(
        self,
        address: str,
        port: int,
        contexts: Sequence[PresentationContext],
        options: dict[str, Any],
    ) -> StoreTarget:
        """Request another association with this one's AE (C-MOVE sub-operations)."""
        raise NotImplementedError("the association facade opens associations")

    # --- ending -------------------------------------------------------------------------------

    def release(self) -> None:
        """Release the association (A-RELEASE), waiting up to ``acse_timeout`` for the reply."""
        if not self.is_established or self._fsm.state is not State.STA6:
            return
        try:
            self._step(Event.EVT11)
        except TransportLost:
            self._on_connection_closed()
            return
        deadline = deadline_in(self.acse_timeout)
        while not self._ended():
            if not self._pump(deadline):
                break
            while self._pending:  # data arriving during release is not for us any more
                dataset = self._pending.popleft().dataset
                if dataset is not None and hasattr(dataset, "close"):
                    dataset.close()
        self.is_established = False
        self._close_transport()

    def abort(self) -> None:
        """Abort the association (A-ABORT, service user). Safe from any thread; returns
        promptly."""
        with self._lock:
            state = self._fsm.state
            if state in (State.STA1,) or self._conn is None:
                return
            self.failure_reason = self.failure_reason or "aborted by the local user"
            try:
                if state not in (State.STA13, State.STA2):
                    self._step(Event.EVT15, Abort(source=ABORT_SOURCE_USER))
            except (LocalProtocolError, TransportLost):
                pass
            conn = self._conn
            conn.interrupt()
            conn.close()
            with contextlib.suppress(LocalProtocolError):
                self._step(Event.EVT17)
            if not self._ended():
                with contextlib.suppress(LocalProtocolError):
                    self._step(Event.EVT18)
        self._aborted()
        self._close_transport()  # EVT_CONN_CLOSE after EVT_ABORTED


def _close_sink(done: MessageComplete[Any]) -> None:
    sink = done.dataset
    if sink is not None and hasattr(sink, "close"):
        sink.close()
