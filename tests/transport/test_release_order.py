"""A-RELEASE in the blocking driver (PS3.8 7.2, Table 9-10 Sta6-Sta13): requests that arrived
before an A-RELEASE-RQ are answered before the A-RELEASE-RP, also while a request is still
being served, and release collisions (Sta9-Sta12) end cleanly on both sides.

Each test plays one side with a raw socket and checks the PDUs on the wire in order.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydicom.dataset import Dataset

from dicomnet import AE, evt
from dicomnet.dataset import encode_dataset
from dicomnet.dimse.command_codec import encode_command
from dicomnet.dimse.messages import C_ECHO_RQ, C_FIND_RQ, C_FIND_RSP
from dicomnet.sop_class import StudyRootQueryRetrieveInformationModelFind, Verification
from dicomnet.transport.server import AssociationServer
from dicomnet.ul.codec import encode_pdata_single, encode_pdu
from dicomnet.ul.framing import PDUReader
from dicomnet.ul.items import PresentationContextAC, UserInformation
from dicomnet.ul.pdu import PDU, Abort, AssociateAC, AssociateRQ, ReleaseRP, ReleaseRQ
from tests.transport.rawpeer import IMPLICIT_LE, VERIFICATION, RawPeer, associate_rq

HOST = "127.0.0.1"
FIND = str(StudyRootQueryRetrieveInformationModelFind)

StartServer = Callable[..., AssociationServer]


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    started: list[AssociationServer] = []

    def start(handlers: list[Any]) -> AssociationServer:
        ae = AE("RELEASE-SCP")
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 5.0
        ae.add_supported_context(Verification)
        ae.add_supported_context(FIND)
        server = ae.start_server((HOST, 0), block=False, evt_handlers=handlers)
        assert server is not None
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.shutdown()


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_release_waits_for_a_request_still_being_served(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A-RELEASE-RQ right behind a C-FIND-RQ: every C-FIND-RSP (the handler is still yielding
    when the release arrives), then the A-RELEASE-RP."""
    release_seen = threading.Event()

    def on_find(event: evt.Event) -> Iterator[tuple[int, Dataset | None]]:
        for index in range(3):
            if index == 1:  # the release is in the socket by now: it must wait for us
                release_seen.wait(5.0)
            match = Dataset()
            match.PatientID = f"P{index}"
            yield 0xFF00, match

    def on_pdu(event: evt.Event) -> None:
        if isinstance(event.pdu, ReleaseRQ):
            release_seen.set()

    server = start_server([(evt.EVT_C_FIND, on_find), (evt.EVT_PDU_RECV, on_pdu)])
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "PATIENT"
    identifier.PatientID = ""
    caplog.set_level(logging.WARNING)
    with RawPeer(HOST, server.server_address[1]) as peer:
        peer.associate(associate_rq(contexts=((1, FIND, (IMPLICIT_LE,)),)))
        peer.send_command(1, C_FIND_RQ(MessageID=5, AffectedSOPClassUID=FIND))
        peer.send(_pdata(1, encode_dataset(identifier, IMPLICIT_LE)) + encode_pdu(ReleaseRQ()))
        statuses = []
        while True:
            message = peer.read_message()
            assert isinstance(message, C_FIND_RSP)
            statuses.append(message.Status)
            if message.Status != 0xFF00:
                break
        assert statuses == [0xFF00, 0xFF00, 0xFF00, 0x0000]
        assert isinstance(peer.read_pdu(), ReleaseRP)
    assert _errors(caplog) == []


def _pdata(context_id: int, data: bytes) -> bytes:
    return encode_pdata_single(context_id, False, True, data)


# --- release collisions ----------------------------------------------------------------------


class RawAcceptor:
    """One connection accepted on a raw socket; ``script`` runs with it in a thread."""

    def __init__(self, script: Callable[[socket.socket, PDUReader], None]) -> None:
        self.listener = socket.create_server((HOST, 0))
        self.port = int(self.listener.getsockname()[1])
        self.error: BaseException | None = None
        self._script = script
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.listener.settimeout(5.0)
            conn, _ = self.listener.accept()
            with conn:
                conn.settimeout(5.0)
                self._script(conn, PDUReader(max_pdata_length=0))
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            self.listener.close()


def _next_pdu(conn: socket.socket, reader: PDUReader, queue: list[PDU]) -> PDU:
    while not queue:
        data = conn.recv(65536)
        if not data:
            raise EOFError("closed")
        queue.extend(reader.feed(data))
    return queue.pop(0)


def test_release_collision_requestor_side_sta9_sta11(caplog: pytest.LogCaptureFixture) -> None:
    """Our requestor releases; the acceptor's own A-RELEASE-RQ crosses it. We answer it with
    A-RELEASE-RP (AR-9, Sta11) and finish on the acceptor's A-RELEASE-RP (AR-3)."""
    seen: list[str] = []

    def script(conn: socket.socket, reader: PDUReader) -> None:
        queue: list[PDU] = []
        rq = _next_pdu(conn, reader, queue)
        assert isinstance(rq, AssociateRQ)
        conn.sendall(encode_pdu(_ac_for(rq)))
        release = _next_pdu(conn, reader, queue)
        seen.append(type(release).__name__)
        conn.sendall(encode_pdu(ReleaseRQ()))  # the collision: we release too (Sta10)
        answer = _next_pdu(conn, reader, queue)
        seen.append(type(answer).__name__)
        conn.sendall(encode_pdu(ReleaseRP()))  # AR-10 then AR-4 on this side
        try:
            _next_pdu(conn, reader, queue)
        except EOFError:
            seen.append("closed")

    peer = RawAcceptor(script)
    ae = AE("COLLIDER")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 5.0
    ae.add_requested_context(Verification)
    caplog.set_level(logging.WARNING)
    assoc = ae.associate(HOST, peer.port, ae_title="RAW")
    assert assoc.is_established, assoc.failure_reason
    assoc.release()
    peer.thread.join(10.0)
    assert peer.error is None, peer.error
    assert seen == ["ReleaseRQ", "ReleaseRP", "closed"]
    assert assoc.is_released and not assoc.is_aborted
    assert _errors(caplog) == []


def test_release_collision_acceptor_side_sta10_sta12(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Our acceptor releases (a handler calls ``release()``) while the requestor does too: we
    wait for its A-RELEASE-RP in Sta10 (no answer there: Evt14 is not allowed), then answer
    (Sta12, AR-4). It raised LocalProtocolError in Sta10."""
    released = threading.Event()

    def on_established(event: evt.Event) -> None:
        event.assoc.release()

    server = start_server(
        [(evt.EVT_ESTABLISHED, on_established), (evt.EVT_RELEASED, lambda e: released.set())]
    )
    caplog.set_level(logging.WARNING)
    with RawPeer(HOST, server.server_address[1]) as peer:
        peer.send_pdu(associate_rq(contexts=((1, VERIFICATION, (IMPLICIT_LE,)),)))
        assert isinstance(peer.read_pdu(), AssociateAC)
        peer.send_pdu(ReleaseRQ())  # crosses the acceptor's A-RELEASE-RQ
        assert isinstance(peer.read_pdu(), ReleaseRQ)  # we are the requestor: Sta9
        peer.send_pdu(ReleaseRP())  # AR-9 -> Sta11
        assert isinstance(peer.read_pdu(), ReleaseRP)  # AR-3 on our side of the test
    assert released.wait(5.0)
    assert _errors(caplog) == []


def _ac_for(rq: AssociateRQ) -> AssociateAC:
    return AssociateAC(
        called_ae_title=rq.called_ae_title,
        calling_ae_title=rq.calling_ae_title,
        presentation_contexts=tuple(
            PresentationContextAC(pc.context_id, 0, pc.transfer_syntaxes[0])
            for pc in rq.presentation_contexts
        ),
        user_information=UserInformation(16384, "1.2.826.0.1.3680043.9.7433.9"),
    )


def test_pdata_after_release_rq_is_an_unexpected_pdu(start_server: StartServer) -> None:
    """Sta8 takes no P-DATA-TF from the peer (Evt10 -> AA-8): A-ABORT, not a response."""
    server = start_server([])
    with RawPeer(HOST, server.server_address[1]) as peer:
        peer.associate(associate_rq(contexts=((1, VERIFICATION, (IMPLICIT_LE,)),)))
        echo = encode_pdata_single(1, True, True, encode_command(C_ECHO_RQ(MessageID=1)))
        peer.send(encode_pdu(ReleaseRQ()) + echo)
        answer = peer.read_pdu()
        assert isinstance(answer, Abort), answer
        assert (answer.source, answer.reason) == (2, 2)  # provider, unexpected PDU


def test_a_second_release_rq_aborts_without_answering_the_first(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Two A-RELEASE-RQs in one read (fuzz seeds 152, 227): the second is an unexpected PDU in
    Sta8 (AA-8), so the association is aborted and the first is never answered (it raised
    "Evt14 not allowed in Sta13" when the deferred A-RELEASE-RP was sent after the abort)."""
    server = start_server([])
    caplog.set_level(logging.WARNING)
    with RawPeer(HOST, server.server_address[1]) as peer:
        peer.associate(associate_rq(contexts=((1, VERIFICATION, (IMPLICIT_LE,)),)))
        peer.send(encode_pdu(ReleaseRQ()) * 2)
        answer = peer.read_pdu()
        assert isinstance(answer, Abort), answer
        assert (answer.source, answer.reason) == (2, 2)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
