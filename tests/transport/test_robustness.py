"""Robustness of our SCP: failing handlers, broken and hostile peers, limits and deadlines.

Every case checks the documented outcome on the wire (statuses, A-ASSOCIATE-RJ fields, A-ABORT,
the connection closing) and then proves the server goes on serving: a fresh association from
our own SCU gets C-ECHO status 0x0000.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from dicomnet import AE, evt
from dicomnet.dimse.messages import C_STORE_RQ, C_STORE_RSP
from dicomnet.sop_class import CTImageStorage, Verification
from dicomnet.transport.server import AssociationServer
from dicomnet.ul.codec import encode_pdata_single, encode_pdu
from dicomnet.ul.pdu import Abort, AssociateRJ, PDataTF, ReleaseRP, ReleaseRQ
from tests.golden import load_golden
from tests.helpers import sized_dataset
from tests.transport.rawpeer import (
    CT_IMAGE_STORAGE,
    PeerClosed,
    RawPeer,
    associate_rq,
)

SCP_TITLE = "ROBUST-SCP"
HOST = "127.0.0.1"

# Bigger than dicomnet.dataset.SPOOL_THRESHOLD (4 MiB): such a data set spills to the spool.
SPILL_CHUNK = 16000
SPILL_CHUNKS = 400

StartServer = Callable[..., AssociationServer]


# --- helpers ------------------------------------------------------------------------------


def scp_ae(**settings: Any) -> AE:
    """Our SCP's AE: Verification and CT Image Storage, short timeouts, ``settings`` applied."""
    ae = AE(SCP_TITLE)
    ae.acse_timeout = 2.0
    ae.dimse_timeout = 5.0
    ae.network_timeout = 10.0
    ae.add_supported_context(Verification)
    ae.add_supported_context(CTImageStorage)
    for name, value in settings.items():
        assert hasattr(ae, name), name
        setattr(ae, name, value)
    return ae


def scu_ae(title: str = "ROBUST-SCU") -> AE:
    ae = AE(title)
    ae.acse_timeout = 5.0
    ae.dimse_timeout = 5.0
    ae.network_timeout = 5.0
    ae.add_requested_context(Verification)
    ae.add_requested_context(CTImageStorage)
    return ae


def echo_ok(port: int, called: str = SCP_TITLE, calling: str = "ROBUST-SCU") -> None:
    """A fresh association from our SCU: C-ECHO answered with 0x0000, then released."""
    assoc = scu_ae(calling).associate(HOST, port, ae_title=called)
    try:
        assert assoc.is_established, assoc.failure_reason
        status = assoc.send_c_echo()
        assert status.Status == 0x0000
    finally:
        if assoc.is_established:
            assoc.release()
        else:
            assoc.abort()
    assert assoc.is_released


def ct_dataset() -> Dataset:
    """The small golden CT (Explicit VR LE) with a fresh SOP Instance UID."""
    ds = dcmread(io.BytesIO(load_golden("ct_16x16_file")))
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds


def store_request(message_id: int = 1) -> C_STORE_RQ:
    return C_STORE_RQ(
        MessageID=message_id,
        AffectedSOPClassUID=CT_IMAGE_STORAGE,
        AffectedSOPInstanceUID=generate_uid(),
    )


def recorder(calls: list[object]) -> Callable[[evt.Event], int]:
    """A C-STORE handler that records its events and answers 0x0000."""

    def on_store(event: evt.Event) -> int:
        calls.append(event)
        return 0x0000

    return on_store


def join_association_threads(server: AssociationServer, timeout: float = 5.0) -> None:
    """Wait until every association the server is running has ended."""
    for assoc in server.active_associations:
        if assoc.thread is not None:
            assoc.thread.join(timeout)
            assert not assoc.thread.is_alive()


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """``start_server(ae, handlers)``: our server on a free port, shut down afterwards."""
    started: list[AssociationServer] = []

    def start(ae: AE, handlers: list[Any] | None = None) -> AssociationServer:
        server = ae.start_server((HOST, 0), block=False, evt_handlers=handlers or [])
        assert server is not None
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.shutdown()


class Signals:
    """Notification handlers turned into threading.Events and counters."""

    def __init__(self) -> None:
        self.aborted = threading.Event()
        self.aborted_count = 0
        self.pdata_count = 0
        self.pdata_target = -1
        self.pdata_reached = threading.Event()
        self.conn_closed = threading.Event()

    def on_aborted(self, event: evt.Event) -> None:
        self.aborted_count += 1
        self.aborted.set()

    def on_pdu(self, event: evt.Event) -> None:
        if isinstance(event.pdu, PDataTF):
            self.pdata_count += 1
            if self.pdata_count == self.pdata_target:
                self.pdata_reached.set()

    def on_close(self, event: evt.Event) -> None:
        self.conn_closed.set()

    def handlers(self) -> list[Any]:
        return [
            (evt.EVT_ABORTED, self.on_aborted),
            (evt.EVT_PDU_RECV, self.on_pdu),
            (evt.EVT_CONN_CLOSE, self.on_close),
        ]


# --- 1. a C-STORE handler that raises -------------------------------------------------------


class StoreBoom(RuntimeError):
    pass


def test_store_handler_raising_gives_c211_logs_once_and_association_goes_on(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    calls: list[str] = []

    def on_store(event: evt.Event) -> int:
        calls.append(event.request.AffectedSOPInstanceUID)
        if len(calls) == 1:
            raise StoreBoom("disk on fire")
        return 0xB007  # a warning status: the second result must come from the handler

    server = start_server(scp_ae(), [(evt.EVT_C_STORE, on_store)])
    port = server.server_address[1]
    first, second = ct_dataset(), ct_dataset()
    assoc = scu_ae().associate(HOST, port, ae_title=SCP_TITLE)
    assert assoc.is_established
    try:
        failed = assoc.send_c_store(first)
        assert failed.Status == 0xC211
        assert "StoreBoom" in failed.ErrorComment
        assert "disk on fire" in failed.ErrorComment
        assert len(failed.ErrorComment) <= 64
        assert assoc.is_established  # the association carries on

        warned = assoc.send_c_store(second)
        assert warned.Status == 0xB007
    finally:
        assoc.release()
    assert calls == [first.SOPInstanceUID, second.SOPInstanceUID]

    mentions = [
        r
        for r in caplog.records
        if (r.exc_info and isinstance(r.exc_info[1], StoreBoom)) or "disk on fire" in r.getMessage()
    ]
    assert len(mentions) == 1, [r.getMessage() for r in mentions]
    record = mentions[0]
    assert record.levelno >= logging.ERROR
    assert record.exc_info is not None and record.exc_info[2] is not None  # with traceback
    assert "EVT_C_STORE" in record.getMessage()
    echo_ok(port)


@pytest.mark.parametrize("result", [None, "x", -1, 0x10000, True, object()])
def test_store_handler_returning_garbage_gives_c211(
    start_server: StartServer, result: object
) -> None:
    server = start_server(scp_ae(), [(evt.EVT_C_STORE, lambda event: result)])
    port = server.server_address[1]
    assoc = scu_ae().associate(HOST, port, ae_title=SCP_TITLE)
    try:
        status = assoc.send_c_store(ct_dataset())
        assert status.Status == 0xC211
        assert status.ErrorComment
    finally:
        assoc.release()
    echo_ok(port)


def test_spooled_dataset_removed_when_handler_raises_or_returns(
    start_server: StartServer, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    seen: list[tuple[bool, int, Path]] = []

    def on_store(event: evt.Event) -> int:
        path = Path(event.dataset_path)
        seen.append((path.parent == spool, path.stat().st_size, path))
        if len(seen) == 1:
            raise StoreBoom("after looking at the file")
        return 0x0000

    server = start_server(scp_ae(spool_directory=str(spool)), [(evt.EVT_C_STORE, on_store)])
    port = server.server_address[1]
    big = ct_dataset()
    big.add_new(0x00091010, "LO", "ROBUST")  # private creator
    big.add_new(0x00091011, "OB", b"\x5a" * (5 * 1024 * 1024))
    assoc = scu_ae().associate(HOST, port, ae_title=SCP_TITLE)
    try:
        assert assoc.send_c_store(big).Status == 0xC211
        assert assoc.send_c_store(big).Status == 0x0000
    finally:
        assoc.release()
    # The server handles the release only after the data set of the last request was dropped.
    assert len(seen) == 2
    for in_spool, size, path in seen:
        assert in_spool
        assert size > 5 * 1024 * 1024
        assert not path.exists()
    assert list(spool.iterdir()) == []
    echo_ok(port)


# --- 2. a C-ECHO handler that raises or returns garbage -------------------------------------


def test_echo_handler_failures_give_0110(start_server: StartServer) -> None:
    outcomes: list[object] = [StoreBoom("echo broke"), None, "x", 3.5]

    def on_echo(event: evt.Event) -> Any:
        if not outcomes:
            return 0x0000
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    server = start_server(scp_ae(), [(evt.EVT_C_ECHO, on_echo)])
    port = server.server_address[1]
    assoc = scu_ae().associate(HOST, port, ae_title=SCP_TITLE)
    try:
        raised = assoc.send_c_echo()
        assert raised.Status == 0x0110
        assert "echo broke" in raised.ErrorComment
        for _ in range(3):  # None, "x", 3.5
            assert assoc.send_c_echo().Status == 0x0110
        assert assoc.send_c_echo().Status == 0x0000  # same association, handler healthy again
    finally:
        assoc.release()
    assert outcomes == []
    echo_ok(port)


# --- 3. a peer that aborts (or vanishes) in the middle of a data set ----------------------


@pytest.mark.parametrize("ending", ["a-abort", "tcp-close"])
def test_peer_gone_mid_dataset_removes_spool_and_skips_handler(
    start_server: StartServer, tmp_path: Path, ending: str
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    signals = Signals()
    signals.pdata_target = 1 + SPILL_CHUNKS  # the command PDU and every data PDU we send
    handled: list[object] = []
    server = start_server(
        scp_ae(spool_directory=str(spool)),
        [*signals.handlers(), (evt.EVT_C_STORE, recorder(handled))],
    )
    port = server.server_address[1]
    with RawPeer(HOST, port) as peer:
        peer.associate()
        peer.send_command(3, store_request())
        chunk = b"\x00" * SPILL_CHUNK
        for _ in range(SPILL_CHUNKS):  # 6.4 MB of a data set, never the last fragment
            peer.send_data(3, chunk, is_last=False)
        assert signals.pdata_reached.wait(10)
        spilled = list(spool.iterdir())
        assert len(spilled) == 1  # the data set went to a temporary file in the spool
        assert spilled[0].stat().st_size > 4 * 1024 * 1024
        if ending == "a-abort":
            peer.send_pdu(Abort(source=0, reason=0))
        else:
            peer.close()
        assert signals.aborted.wait(5)
        if ending == "a-abort":
            assert peer.wait_closed(5)  # AA-3: the server closes the transport
    assert signals.conn_closed.wait(5)
    assert signals.aborted_count == 1
    assert handled == []
    assert list(spool.iterdir()) == []
    echo_ok(port)


# --- 4. a peer that connects and sends nothing (ARTIM) -------------------------------------


def test_silent_peer_closed_after_artim(start_server: StartServer) -> None:
    artim = 0.5
    server = start_server(scp_ae(acse_timeout=artim))
    port = server.server_address[1]
    with RawPeer(HOST, port) as peer:
        started = time.monotonic()
        assert peer.wait_closed(5)
        elapsed = time.monotonic() - started
        with pytest.raises(PeerClosed):  # AA-2: nothing was sent, the connection just closed
            peer.read_pdu(timeout=0.1)
        assert peer.reader.buffered == 0
    assert artim - 0.1 <= elapsed < artim + 1.0, elapsed
    echo_ok(port)


def test_trickled_associate_rq_bounded_by_total_artim(start_server: StartServer) -> None:
    """ARTIM is a total deadline: a byte every 50 ms does not keep the connection open."""
    artim = 0.5
    server = start_server(scp_ae(acse_timeout=artim))
    port = server.server_address[1]
    rq = encode_pdu(associate_rq(called=SCP_TITLE))
    with RawPeer(HOST, port) as peer:
        started = time.monotonic()
        closed = False
        for i in range(len(rq)):
            try:
                peer.send(rq[i : i + 1])
            except OSError:
                closed = True
                break
            if peer.wait_closed(0.05):  # paces the trickle and watches for the close
                closed = True
                break
        elapsed = time.monotonic() - started
        assert closed or peer.wait_closed(2)
        assert i < len(rq) - 1  # cut off before the request was complete
    assert elapsed < artim + 1.0, elapsed
    echo_ok(port)


# --- 5. a P-DATA-TF larger than our maximum PDU -------------------------------------------


def test_pdata_over_our_maximum_is_aborted(start_server: StartServer, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    signals = Signals()
    handled: list[object] = []
    ae = scp_ae(maximum_pdu_size=4096, spool_directory=str(spool))
    server = start_server(ae, [*signals.handlers(), (evt.EVT_C_STORE, recorder(handled))])
    port = server.server_address[1]
    with RawPeer(HOST, port) as peer:
        ac = peer.associate()
        assert ac.user_information.max_length == 4096
        peer.send_command(3, store_request())
        peer.send(encode_pdata_single(3, False, True, b"\x00" * 4092))  # PDU-length 4098
        answer = peer.read_pdu()
        assert answer == Abort(source=2, reason=6)  # provider, invalid PDU parameter value
        assert peer.wait_closed(5)
    assert signals.aborted.wait(5)
    assert handled == []
    assert list(spool.iterdir()) == []
    echo_ok(port)


def test_pdata_of_exactly_our_maximum_is_accepted(start_server: StartServer) -> None:
    handled: list[int] = []

    def on_store(event: evt.Event) -> int:
        handled.append(len(event.encoded_dataset(include_meta=False)))
        return 0x0000

    server = start_server(scp_ae(maximum_pdu_size=4096), [(evt.EVT_C_STORE, on_store)])
    port = server.server_address[1]
    with RawPeer(HOST, port) as peer:
        ac = peer.associate()
        request = store_request()
        syntax = next(c.transfer_syntax for c in ac.presentation_contexts if c.context_id == 3)
        data = sized_dataset(CT_IMAGE_STORAGE, request.AffectedSOPInstanceUID, 4090, syntax)
        peer.send_command(3, request)
        peer.send(encode_pdata_single(3, False, True, data))  # PDU-length 4096
        response = peer.read_message()
        assert isinstance(response, C_STORE_RSP)
        assert response.Status == 0x0000
        peer.send_pdu(ReleaseRQ())
        assert peer.read_pdu() == ReleaseRP()
    assert handled == [4090]
    echo_ok(port)


# --- 6. garbage, unexpected PDUs and malformed A-ASSOCIATE-RQ as the first PDU -------------


def _rq_bytes() -> bytes:
    return encode_pdu(associate_rq(called=SCP_TITLE))


def _with_called(title: bytes) -> bytes:
    rq = _rq_bytes()
    return rq[:10] + title.ljust(16) + rq[26:]


def _with_calling(title: bytes) -> bytes:
    rq = _rq_bytes()
    return rq[:26] + title.ljust(16) + rq[42:]


def _with_version(version: int) -> bytes:
    rq = _rq_bytes()
    return rq[:6] + struct.pack(">H", version) + rq[8:]


def _with_overrunning_item() -> bytes:
    rq = bytearray(_rq_bytes())
    # The first item (application context, at 6 + 68) claims more bytes than the PDU holds.
    struct.pack_into(">H", rq, 6 + 68 + 2, 0xFFF0)
    return bytes(rq)


# Per PS3.8 Table 9-10 in Sta2: an unrecognised/invalid PDU (Evt19), A-RELEASE-RQ (Evt12) and
# P-DATA-TF (Evt10) all lead to AA-1: A-ABORT with service-user source, then the close.
ABORTED_FIRST_PDUS = {
    "http-request": b"GET / HTTP/1.1\r\nHost: pacs\r\n\r\n",
    "unknown-pdu-type-0x09": bytes([0x09, 0, 0, 0, 0, 4, 0, 0, 0, 0]),
    "release-rq-in-sta2": encode_pdu(ReleaseRQ()),
    "p-data-in-sta2": encode_pdata_single(1, True, True, b"\x00\x00"),
    "rq-item-overruns-pdu": _with_overrunning_item(),
    "rq-over-64k-cap": bytes([0x01, 0]) + struct.pack(">I", 1 << 20) + b"\x00" * 64,
    "rq-shorter-than-fixed-part": bytes([0x01, 0]) + struct.pack(">I", 10) + b"\x00" * 10,
}


@pytest.mark.parametrize("name", sorted(ABORTED_FIRST_PDUS))
def test_bad_first_pdu_is_aborted(start_server: StartServer, name: str) -> None:
    server = start_server(scp_ae())
    port = server.server_address[1]
    with RawPeer(HOST, port) as peer:
        peer.send(ABORTED_FIRST_PDUS[name])
        answer = peer.read_pdu()
        assert answer == Abort(source=0, reason=0)  # AA-1
        assert peer.wait_closed(5)
    echo_ok(port)


def test_abort_as_first_pdu_just_closes(start_server: StartServer) -> None:
    """Sta2 + Evt16 (A-ABORT received) is AA-2: close the transport, send nothing."""
    server = start_server(scp_ae())
    port = server.server_address[1]
    with RawPeer(HOST, port) as peer:
        peer.send_pdu(Abort(source=0, reason=0))
        with pytest.raises(PeerClosed):
            peer.read_pdu()
    echo_ok(port)


REJECTED_REQUESTS = {
    "protocol-version-2": (_with_version(2), AssociateRJ(1, 2, 2)),
    "called-ae-backslash": (_with_called(b"BAD\\TITLE"), AssociateRJ(1, 1, 7)),
    "called-ae-blank": (_with_called(b""), AssociateRJ(1, 1, 7)),
    "calling-ae-control-char": (_with_calling(b"\x01BAD"), AssociateRJ(1, 1, 3)),
    "version-beats-called-ae": (
        _with_version(2)[:10] + b"BAD\\TITLE".ljust(16) + _with_version(2)[26:],
        AssociateRJ(1, 2, 2),
    ),
}


@pytest.mark.parametrize("name", sorted(REJECTED_REQUESTS))
def test_malformed_associate_rq_is_rejected(start_server: StartServer, name: str) -> None:
    data, expected = REJECTED_REQUESTS[name]
    server = start_server(scp_ae())
    port = server.server_address[1]
    with RawPeer(HOST, port) as peer:
        peer.send(data)
        assert peer.read_pdu() == expected
        assert peer.wait_closed(5)
    echo_ok(port)


# --- 7. maximum_associations --------------------------------------------------------------


def test_over_maximum_associations_is_rejected_transient(start_server: StartServer) -> None:
    rejected = threading.Event()
    server = start_server(
        scp_ae(maximum_associations=1), [(evt.EVT_REJECTED, lambda e: rejected.set())]
    )
    port = server.server_address[1]
    first = scu_ae().associate(HOST, port, ae_title=SCP_TITLE)
    assert first.is_established
    try:
        second = scu_ae().associate(HOST, port, ae_title=SCP_TITLE)
        assert not second.is_established
        assert second.is_rejected
        # transient, service provider (presentation), local limit exceeded
        assert second.rejection == AssociateRJ(2, 3, 2)
        assert rejected.wait(5)
        assert first.send_c_echo().Status == 0x0000  # the first one is untouched
    finally:
        first.release()
    join_association_threads(server)
    echo_ok(port)


def test_maximum_associations_rejection_seen_by_raw_peer(start_server: StartServer) -> None:
    server = start_server(scp_ae(maximum_associations=1, acse_timeout=0.5))
    port = server.server_address[1]
    with RawPeer(HOST, port) as first:
        # Connect the second only once the first is established: a connection counts against
        # the limit from the moment it is accepted, as in pynetdicom.
        first.associate(associate_rq(called=SCP_TITLE))
        with RawPeer(HOST, port) as second:
            second.send_pdu(associate_rq(called=SCP_TITLE))
            assert second.read_pdu() == AssociateRJ(2, 3, 2)
            assert second.wait_closed(5)  # we linger; the server closes when ARTIM expires
        first.send_pdu(ReleaseRQ())
        assert first.read_pdu() == ReleaseRP()
    join_association_threads(server)
    echo_ok(port)


# --- 8. AE title policies and EVT_REQUESTED rejections ------------------------------------


def test_require_called_aet_rejects_wrong_called_title(start_server: StartServer) -> None:
    server = start_server(scp_ae(require_called_aet=True))
    port = server.server_address[1]
    assoc = scu_ae().associate(HOST, port, ae_title="SOMEONE-ELSE")
    assert assoc.is_rejected
    assert assoc.rejection == AssociateRJ(1, 1, 7)  # permanent, user, called AE not recognised
    echo_ok(port, called=SCP_TITLE)


def test_require_calling_aet_rejects_unknown_caller(start_server: StartServer) -> None:
    server = start_server(scp_ae(require_calling_aet=["FRIEND"]))
    port = server.server_address[1]
    assoc = scu_ae("STRANGER").associate(HOST, port, ae_title=SCP_TITLE)
    assert assoc.is_rejected
    assert assoc.rejection == AssociateRJ(1, 1, 3)  # permanent, user, calling AE not recognised
    echo_ok(port, calling="FRIEND")


def test_requested_handler_can_reject(start_server: StartServer) -> None:
    def on_requested(event: evt.Event) -> None:
        if event.assoc.requestor.ae_title == "BLOCKED":
            event.reject(2, 1, 1)

    server = start_server(scp_ae(), [(evt.EVT_REQUESTED, on_requested)])
    port = server.server_address[1]
    assoc = scu_ae("BLOCKED").associate(HOST, port, ae_title=SCP_TITLE)
    assert assoc.is_rejected
    assert assoc.rejection == AssociateRJ(2, 1, 1)
    with RawPeer(HOST, port) as peer:  # the same answer on the wire
        peer.send_pdu(associate_rq(called=SCP_TITLE, calling="BLOCKED"))
        assert peer.read_pdu() == AssociateRJ(2, 1, 1)
    echo_ok(port)


# --- 9. deadlines on an established association -----------------------------------------


def test_idle_association_is_aborted_after_network_timeout(start_server: StartServer) -> None:
    idle = 0.5
    signals = Signals()
    server = start_server(scp_ae(network_timeout=idle), signals.handlers())
    port = server.server_address[1]
    with RawPeer(HOST, port) as peer:
        peer.associate()
        started = time.monotonic()
        answer = peer.read_pdu(timeout=5)
        elapsed = time.monotonic() - started
        assert isinstance(answer, Abort)
        assert peer.wait_closed(5)
    assert idle - 0.1 <= elapsed < idle + 1.0, elapsed
    assert signals.aborted.wait(5)
    echo_ok(port)


def test_stalled_pdu_is_aborted_after_dimse_timeout(start_server: StartServer) -> None:
    """A P-DATA-TF that starts and then stops must go on within dimse_timeout of its last
    byte. (A trickle is the rate window's business: tests/transport/test_slow_links.py.)"""
    progress = 0.5
    signals = Signals()
    server = start_server(scp_ae(dimse_timeout=progress, network_timeout=10.0), signals.handlers())
    port = server.server_address[1]
    pdu = encode_pdata_single(3, True, True, b"\x00" * 200)
    with RawPeer(HOST, port) as peer:
        peer.associate()
        peer.send(pdu[:50])
        started = time.monotonic()
        answer = peer.read_pdu(timeout=5)
        elapsed = time.monotonic() - started
        assert isinstance(answer, Abort)
        assert peer.wait_closed(2)
    assert progress - 0.1 <= elapsed < progress + 1.0, elapsed
    assert signals.aborted.wait(5)
    echo_ok(port)


def test_spool_directory_empty_after_normal_store(
    start_server: StartServer, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    sizes: list[int] = []

    def on_store(event: evt.Event) -> int:
        sizes.append(os.path.getsize(event.dataset_path))
        return 0x0000

    server = start_server(scp_ae(spool_directory=str(spool)), [(evt.EVT_C_STORE, on_store)])
    port = server.server_address[1]
    assoc = scu_ae().associate(HOST, port, ae_title=SCP_TITLE)
    try:
        assert assoc.send_c_store(ct_dataset()).Status == 0x0000
    finally:
        assoc.release()
    assert len(sizes) == 1 and sizes[0] > 128
    assert list(spool.iterdir()) == []
