"""The acceptor's side of the driver: serve one incoming connection — wait (ARTIM) for the
A-ASSOCIATE-RQ, put the answer of :func:`dicomnet.services.acceptance.answer_request` on the
wire (AC, or RJ then wait for the requestor to close), then serve requests until the end.
The server (:mod:`dicomnet.transport.server`) runs :meth:`AcceptorCore.run_acceptor` on the
connection's own thread."""

from __future__ import annotations

import contextlib

from dicomnet import events as evt
from dicomnet._log import get_logger
from dicomnet.errors import TransportLost
from dicomnet.services import dispatch
from dicomnet.services.acceptance import UNDECODABLE_RQ, answer_request, rejection_for
from dicomnet.transport.connection import Connection, Deadline
from dicomnet.transport.driver import AssociationCore
from dicomnet.ul.errors import (
    ABORT_SOURCE_PROVIDER,
    LocalProtocolError,
    RemoteProtocolError,
    describe_rejection,
)
from dicomnet.ul.fsm import Event, State, event_for_pdu
from dicomnet.ul.negotiation import peer_max_pdu_for_sending
from dicomnet.ul.pdu import Abort, AssociateRJ, AssociateRQ

LOGGER = get_logger("dicomnet.assoc")


class AcceptorCore(AssociationCore):
    """The driver, able to serve an incoming connection as the acceptor."""

    def run_acceptor(self, conn: Connection) -> None:
        """Serve one incoming connection to its end (the server's per-connection thread)."""
        self._conn = conn
        self.requestor.address, self.requestor.port = conn.peer
        self.acceptor.address, self.acceptor.port = conn.local
        try:
            self._notify(evt.EVT_CONN_OPEN, address=conn.peer)
            self._step(Event.EVT5)
            if self.server is not None and self.server.stopping:
                return  # shutdown began before its abort() could see this connection
            rq = self._read_associate_rq()
            if rq is None:
                return
            if not self._answer(rq):
                return
            conn.expect_bulk()
            idle = self.network_timeout
            while True:
                message = self.next_message(idle)
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

    def _answer(self, rq: AssociateRQ) -> bool:
        """Sta3: decide on ``rq`` (:func:`dicomnet.services.acceptance.answer_request`) and send
        the AC (True) or RJ (False)."""
        server = self.server
        conn = self._conn
        encrypted = conn is not None and getattr(conn.sock, "cipher", None) is not None
        answer = answer_request(
            self,
            rq,
            self.ae,
            local_max_pdu=self.local_max_pdu,
            encrypted=encrypted,
            claim_slot=lambda: server is None or server.claim_slot(self),
        )
        if answer.rj is not None:
            if answer.close_now:
                self._step(Event.EVT8, answer.rj)
                self._finish_after_abort()
            else:
                self._send_reject(answer.rj)
            return False
        assert answer.ac is not None
        self.contexts = list(answer.contexts)
        self._peer_max_pdu = peer_max_pdu_for_sending(rq.user_information.max_length)
        self._step(Event.EVT7, answer.ac)
        self.is_established = True
        self._notify(evt.EVT_ACCEPTED)
        self._notify(evt.EVT_ESTABLISHED)
        return True

    def _send_reject(self, rj: AssociateRJ) -> None:
        if self.server is not None:
            self.server.release_slot(self)
        requestor = self.requestor
        LOGGER.warning(
            "rejected association from %r at %s:%s: %s",
            requestor.ae_title,
            requestor.address,
            requestor.port,
            describe_rejection(rj),
        )
        self.rejection = rj
        self.is_rejected = True
        self._step(Event.EVT8, rj)
        self._notify(evt.EVT_REJECTED)
        # Sta13: wait (ARTIM) for the requestor to close the connection.
        while self._pump(self._artim):
            pass
        self._close_transport()

    def _reject_malformed(self, exc: RemoteProtocolError) -> None:
        """Sta2: the first PDU was bad. Answer an undecodable RQ with A-ASSOCIATE-RJ when the
        decoder says so, otherwise A-ABORT (AA-1) per Table 9-10."""
        LOGGER.warning("bad association request from %s: %s", self.requestor.address, exc)
        self.failure_reason = f"protocol error: {exc}"
        rj = rejection_for(exc)
        if rj is not None:
            self._step(Event.EVT6, UNDECODABLE_RQ, reject_reason=rj)
            self.rejection = rj
            self.is_rejected = True
        else:
            self._step(Event.EVT19)
        self._finish_after_abort()

    def _read_associate_rq(self) -> AssociateRQ | None:
        """Sta2: wait (ARTIM) for the A-ASSOCIATE-RQ and move to Sta3 with it."""
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
                self._reject_malformed(exc)
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
