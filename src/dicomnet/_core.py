"""The engine of an association: the sans-IO core (state machine, framer, assembler) driven over one
:class:`~dicomnet.transport.connection.Connection`.

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
import logging
import select
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from dicomnet import events as evt
from dicomnet.dimse.command_codec import encode_command
from dicomnet.dimse.fragments import MessageAssembler, MessageComplete, fragment_message
from dicomnet.dimse.messages import C_CANCEL_RQ, C_STORE_RQ, Message
from dicomnet.events import HandlerRegistry, notify
from dicomnet.presentation import PresentationContext
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
    AssociateRQ,
    PDataTF,
)

if TYPE_CHECKING:
    from dicomnet.ae import AE
    from dicomnet.transport.server import AssociationServer

LOGGER = logging.getLogger("dicomnet.assoc")

_DATA_STATES = (State.STA6, State.STA7)  # where a received P-DATA-TF is delivered
_SEND_STATES = (State.STA6, State.STA8)  # where we may send P-DATA-TF
_DRAIN_LIMIT = 0.5  # most seconds we wait for the peer to close after our A-ABORT


class TransportLost(Exception):
    """The connection failed while we were sending."""


class ServiceUser:
    """One side of an association: its AE title, address and negotiated parameters."""

    def __init__(self, ae_title: str = "", address: str = "", port: int = 0) -> None:
        self.ae_title = ae_title
        self.address = address
        self.port = port
        self.maximum_length = 0
        self.implementation_class_uid = ""
        self.implementation_version_name: str | None = None
        self.primitive: PDU | None = None
        self.user_identity: Any = None
        self.sop_class_common_extended: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<ServiceUser {self.ae_title!r} {self.address}:{self.port}>"


class AssociationCore:
    """The machinery of an association; :class:`dicomnet.association.Association` adds the
    service-user API on top."""

    def __init__(
        self,
        ae: AE,
        mode: str,
        handlers: HandlerRegistry,
        server: AssociationServer | None = None,
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
        self.local_max_pdu = ae.maximum_pdu_size
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
        self._message_id = 0
        self.acse_timeout: float | None = ae.acse_timeout
        self.dimse_timeout: float | None = ae.dimse_timeout
        self.network_timeout: float | None = ae.network_timeout
        self.requestor = ServiceUser()
        self.acceptor = ServiceUser()
        self._contexts: list[PresentationContext] = []
        self._accepted_by_id: dict[int, PresentationContext] = {}
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
        self._rq_roles: tuple[Any, ...] = ()
        # C-FIND/GET/MOVE requests we serve, by Message ID: True once a C-CANCEL arrived.
        self._cancel_watch: dict[int, bool] = {}

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

    def bind(self, event: evt.EventType, handler: Any, args: Any = None) -> None:
        """Bind ``handler`` to ``event`` on this association (replacing an intervention one)."""
        self._handlers.bind(event, handler, args)

    def unbind(self, event: evt.EventType, handler: Any) -> None:
        self._handlers.unbind(event, handler)

    def get_handlers(self, event: evt.EventType) -> Any:
        handlers = self._handlers.get(event)
        if event.is_intervention:
            return handlers[-1] if handlers else None
        return handlers

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

    def _execute(self, transition: Transition, effects: list[Effect]) -> list[Indicate]:
        if self._handlers.has(evt.EVT_FSM_TRANSITION):
            self._notify(
                evt.EVT_FSM_TRANSITION,
                current_state=f"Sta{transition.from_state.value}",
                fsm_event=f"Evt{transition.event.value}",
                action=transition.action.name.replace("_", "-"),
                next_state=f"Sta{transition.to_state.value}",
            )
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
        return self._contexts

    @contexts.setter
    def contexts(self, value: list[PresentationContext]) -> None:
        self._contexts = list(value)
        self._accepted_by_id = {
            cx.context_id: cx for cx in self._contexts if cx.accepted and cx.context_id is not None
        }

    def _context_by_id(self, context_id: int) -> PresentationContext | None:
        """The accepted context with this ID (a dict lookup: it runs for every PDV)."""
        return self._accepted_by_id.get(context_id)

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
            data = conn.recv(self._deadline(wait))
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
        self._notify(evt.EVT_DATA_RECV, data=data)
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
            if self._fsm.state in _DATA_STATES and not self._handlers.has(evt.EVT_FSM_TRANSITION):
                self._receive_pdata(pdu)
                return
            indications = self._step(Event.EVT10, pdu)
            if any(i.kind is Indication.P_DATA_IND for i in indications):
                self._receive_pdata(pdu)
            self._after(indications)
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
                    # may still be sent in Sta8): _next_message answers it when none is left.
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

    def _next_message_id(self) -> int:
        self._message_id = self._message_id % 0xFFFF + 1
        return self._message_id

    def _send_message(self, context_id: int, message: Message, dataset: Any = None) -> None:
        """Send one DIMSE message (the data set as bytes or a binary file object)."""
        command = encode_command(message)
        self._notify(evt.EVT_DIMSE_SENT, message=message)
        slow = (
            self._handlers.has(evt.EVT_FSM_TRANSITION)
            or self._handlers.has(evt.EVT_PDU_SENT)
            or self._handlers.has(evt.EVT_DATA_SENT)
        )
        conn = self._conn
        if conn is None or conn.closed:  # e.g. a handler aborted the association
            raise TransportLost("not connected")
        # already at least ul.negotiation.MIN_PEER_MAX_LENGTH (peer_max_pdu_for_sending)
        for data in fragment_message(context_id, command, dataset, self._peer_max_pdu):
            if slow:
                pdu = decode_pdu(data)
                assert isinstance(pdu, PDataTF)
                self._step(Event.EVT9, pdu)
                continue
            if self._fsm.state not in _SEND_STATES:
                raise LocalProtocolError(f"cannot send P-DATA in {self._fsm.state.name}")
            try:
                conn.sendall(data, deadline_in(self.dimse_timeout), progress=self.dimse_timeout)
            except (OSError, Deadline) as exc:
                raise TransportLost(str(exc)) from exc

    def _next_message(self, wait_seconds: float | None) -> MessageComplete[Any] | None:
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

    # --- C-CANCEL (SCP side of C-FIND, C-GET, C-MOVE) ------------------------------------------

    def _watch_cancel(self, message_id: int) -> None:
        """Start noting C-CANCELs for the request ``message_id`` we are serving."""
        self._cancel_watch[message_id] = False

    def _unwatch_cancel(self, message_id: int) -> None:
        self._cancel_watch.pop(message_id, None)

    def _note_cancel(self, message_id: int) -> None:
        """A C-CANCEL-RQ arrived; it counts only for a request still being served (a late one,
        after the final response, is dropped so that a reused Message ID is not cancelled)."""
        if message_id in self._cancel_watch:
            self._cancel_watch[message_id] = True
        else:
            LOGGER.debug("C-CANCEL for message %d, which is not in progress", message_id)

    def _poll_cancel(self, message_id: int) -> bool:
        """True once the request ``message_id`` has been cancelled.

        Reads whatever has already arrived without blocking (a C-CANCEL may sit in the socket
        while a handler generator runs), notes C-CANCELs and keeps other messages queued for
        the main loop. Also True when the association has ended: nobody is listening."""
        conn = self._conn
        for _ in range(64):  # bounded: a peer streaming data cannot keep us here
            if conn is None or conn.closed or self._ended() or not _readable(conn):
                break
            if not self._pump(deadline_in(self.dimse_timeout)):
                break
        if self._pending:
            kept: deque[MessageComplete[Any]] = deque()
            for done in self._pending:
                if isinstance(done.message, C_CANCEL_RQ):
                    self._note_cancel(done.message.MessageIDBeingRespondedTo)
                else:
                    kept.append(done)
            self._pending = kept
        return self._cancel_watch.get(message_id, False) or self._ended() or self.is_aborted

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

    # --- acceptor side --------------------------------------------------------------------

    def _run_acceptor(self, conn: Connection) -> None:
        """Serve one incoming connection to its end (the server's per-connection thread)."""
        from dicomnet._acceptor import negotiate_incoming
        from dicomnet.services import dispatch

        self._conn = conn
        self.requestor.address, self.requestor.port = conn.peer
        self.acceptor.address, self.acceptor.port = conn.local
        try:
            self._notify(evt.EVT_CONN_OPEN, address=conn.peer)
            self._step(Event.EVT5)
            if self.server is not None and self.server._stopping.is_set():
                return  # shutdown began before its abort() could see this connection
            rq = self._read_associate_rq()
            if rq is None:
                return
            if not negotiate_incoming(self, rq):
                return
            conn.expect_bulk()
            idle = self.network_timeout
            while True:
                message = self._next_message(idle)
                if message is None:
                    break
                dispatch(self, message)
        except TransportLost:
            self._on_connection_closed()
        except Exception:
            LOGGER.exception("unexpected error serving %s; aborting", conn.peer)
            self._local_abort(Abort(source=ABORT_SOURCE_PROVIDER, reason=0))
        finally:
            self._fail_pending()
            self._close_transport()

    def _read_associate_rq(self) -> AssociateRQ | None:
        """Sta2: wait (ARTIM) for the A-ASSOCIATE-RQ and move to Sta3 with it."""
        from dicomnet._acceptor import reject_malformed

        conn = self._conn
        assert conn is not None
        while self._fsm.state is State.STA2:
            try:
                data = conn.recv(self._artim)
            except Deadline:
                LOGGER.info("no A-ASSOCIATE-RQ from %s in time (ARTIM)", conn.peer)
                self._step(Event.EVT18)
                return None
            except OSError:
                data = b""
            if not data:
                # (already Sta1 if abort() - e.g. server shutdown - interrupted the read)
                with contextlib.suppress(LocalProtocolError):
                    self._step(Event.EVT17)
                self._close_transport()
                return None
            self._notify(evt.EVT_DATA_RECV, data=data)
            try:
                pdus = self._reader.feed(data)
            except RemoteProtocolError as exc:
                reject_malformed(self, exc)
                return None
            for index, pdu in enumerate(pdus):
                self._notify(evt.EVT_PDU_RECV, pdu=pdu)
                if isinstance(pdu, AssociateRQ):
                    self._notify(evt.EVT_ACSE_RECV, primitive=pdu)
                    self._step(Event.EVT6, pdu)
                    # What came with it (a pipelining peer) is handled once we have answered.
                    self._inbox.extend(pdus[index + 1 :])
                    return pdu
                # anything else in Sta2: AA-1 / AA-2 per the table, then we are done
                self._after(self._step(event_for_pdu(pdu), pdu))
                self._finish_after_abort()
                return None
        return None


def _readable(conn: Connection) -> bool:
    """True when a read on ``conn`` would not block (bytes, end of stream or an error)."""
    sock = conn.sock
    try:
        pending = getattr(sock, "pending", None)  # a TLS socket may hold decrypted bytes
        if pending is not None and pending():
            return True
        ready, _w, _x = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True  # closed under us: let the read report it
    return bool(ready)
