"""Clean shutdown and prompt aborts: ``AssociationServer.shutdown()`` and ``Association.abort()``
return well under a second, leave no dicomnet thread or listening socket behind, and an idle
server costs no CPU."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dicomnet import AE, evt
from dicomnet.dimse.messages import C_STORE_RQ
from dicomnet.sop_class import CTImageStorage, Verification
from dicomnet.transport.server import AssociationServer
from dicomnet.ul.pdu import Abort
from tests.transport.rawpeer import CT_IMAGE_STORAGE, PeerClosed, RawPeer

HOST = "127.0.0.1"
SCP_TITLE = "SHUTDOWN-SCP"
PROMPT = 0.5  # seconds: "well under a second"


def scp_ae(**settings: Any) -> AE:
    ae = AE(SCP_TITLE)
    # Long timeouts on purpose: shutdown and abort must not wait for any of them.
    ae.acse_timeout = 30.0
    ae.dimse_timeout = 30.0
    ae.network_timeout = 60.0
    ae.add_supported_context(Verification)
    ae.add_supported_context(CTImageStorage)
    for name, value in settings.items():
        setattr(ae, name, value)
    return ae


def scu_ae() -> AE:
    ae = AE("SHUTDOWN-SCU")
    ae.acse_timeout = 5.0
    ae.dimse_timeout = 30.0
    ae.network_timeout = 30.0
    ae.add_requested_context(Verification)
    return ae


def dicomnet_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("dicomnet-")}


def assert_port_closed(port: int) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((HOST, port), timeout=2).close()


class Started:
    """A server started by a test; shut down at teardown unless the test did it."""

    def __init__(self) -> None:
        self.servers: list[AssociationServer] = []

    def start(self, ae: AE, handlers: list[Any] | None = None) -> AssociationServer:
        server = ae.start_server((HOST, 0), block=False, evt_handlers=handlers or [])
        assert server is not None
        self.servers.append(server)
        return server


@pytest.fixture
def started() -> Iterator[Started]:
    holder = Started()
    try:
        yield holder
    finally:
        for server in holder.servers:
            server.shutdown()


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [f"{r.name}: {r.getMessage()}" for r in errors]


# --- AssociationServer.shutdown() -------------------------------------------------------


def test_shutdown_with_idle_established_association(
    started: Started, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    before = dicomnet_threads()
    aborted = threading.Event()
    server = started.start(scp_ae(), [(evt.EVT_ABORTED, lambda e: aborted.set())])
    port = server.server_address[1]
    with RawPeer(HOST, port) as peer:
        peer.associate()
        assert len(server.active_associations) == 1
        t0 = time.monotonic()
        server.shutdown()
        elapsed = time.monotonic() - t0
        assert elapsed < PROMPT, elapsed
        assert isinstance(peer.read_pdu(timeout=2), Abort)  # the peer is told
        assert peer.wait_closed(2)
    assert aborted.is_set()
    assert dicomnet_threads() - before == set()
    assert server.active_associations == []
    assert_port_closed(port)
    no_errors_logged(caplog)


def test_shutdown_with_connected_but_silent_peer(
    started: Started, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    before = dicomnet_threads()
    opened = threading.Event()
    server = started.start(scp_ae(), [(evt.EVT_CONN_OPEN, lambda e: opened.set())])
    port = server.server_address[1]
    with RawPeer(HOST, port) as peer:
        assert opened.wait(5)  # its thread is waiting (ARTIM 30 s) for an A-ASSOCIATE-RQ
        t0 = time.monotonic()
        server.shutdown()
        elapsed = time.monotonic() - t0
        assert elapsed < PROMPT, elapsed
        with pytest.raises(PeerClosed):
            peer.read_pdu(timeout=2)
    assert dicomnet_threads() - before == set()
    assert_port_closed(port)
    no_errors_logged(caplog)


def test_shutdown_with_many_peers_in_every_phase(
    started: Started, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Silent, established-idle and mid-data-set peers at once; the spool is emptied."""
    caplog.set_level(logging.INFO)
    spool = tmp_path / "spool"
    spool.mkdir()
    before = dicomnet_threads()
    opened = threading.Semaphore(0)
    data_seen = threading.Event()

    def on_pdu(event: evt.Event) -> None:
        pdvs = getattr(event.pdu, "pdvs", ())
        if any(not pdv.is_command for pdv in pdvs):
            data_seen.set()

    server = started.start(
        scp_ae(spool_directory=str(spool)),
        [(evt.EVT_CONN_OPEN, lambda e: opened.release()), (evt.EVT_PDU_RECV, on_pdu)],
    )
    port = server.server_address[1]
    peers = [RawPeer(HOST, port) for _ in range(6)]
    try:
        for _ in peers:
            assert opened.acquire(timeout=5)
        for peer in peers[2:]:
            peer.associate()
        mid = peers[-1]
        mid.send_command(
            3,
            C_STORE_RQ(
                MessageID=1, AffectedSOPClassUID=CT_IMAGE_STORAGE, AffectedSOPInstanceUID="1.2.3"
            ),
        )
        mid.send_data(3, b"\x00" * 8000, is_last=False)
        assert data_seen.wait(5)
        t0 = time.monotonic()
        server.shutdown()
        elapsed = time.monotonic() - t0
        assert elapsed < PROMPT, elapsed
        for peer in peers:
            assert peer.wait_closed(2)
    finally:
        for peer in peers:
            peer.close()
    assert dicomnet_threads() - before == set()
    assert list(spool.iterdir()) == []
    assert_port_closed(port)
    no_errors_logged(caplog)


def test_shutdown_of_idle_server_is_prompt(started: Started) -> None:
    before = dicomnet_threads()
    server = started.start(scp_ae())
    port = server.server_address[1]
    assert any(t.name == f"dicomnet-server-{port}" for t in dicomnet_threads())
    t0 = time.monotonic()
    server.shutdown()
    assert time.monotonic() - t0 < PROMPT
    assert dicomnet_threads() - before == set()
    assert_port_closed(port)
    server.shutdown()  # a second call is harmless


# --- Association.abort() from another thread ------------------------------------------


def test_abort_from_another_thread_unblocks_waiting_requestor(started: Started) -> None:
    entered = threading.Event()
    gate = threading.Event()
    server_aborted = threading.Event()

    def slow_echo(event: evt.Event) -> int:
        entered.set()
        gate.wait(10)
        return 0x0000

    server = started.start(
        scp_ae(),
        [(evt.EVT_C_ECHO, slow_echo), (evt.EVT_ABORTED, lambda e: server_aborted.set())],
    )
    port = server.server_address[1]
    assoc = scu_ae().associate(HOST, port, ae_title=SCP_TITLE)
    assert assoc.is_established
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(assoc.send_c_echo()))
    try:
        worker.start()
        assert entered.wait(5)  # the worker is now blocked reading the response
        t0 = time.monotonic()
        assoc.abort()
        abort_took = time.monotonic() - t0
        worker.join(2)
        unblocked_after = time.monotonic() - t0
        assert not worker.is_alive()
        assert abort_took < PROMPT, abort_took
        assert unblocked_after < 1.0, unblocked_after
        assert assoc.is_aborted
        assert not assoc.is_established
        assert len(results) == 1 and "Status" not in results[0]  # no response: empty Dataset
    finally:
        gate.set()
        worker.join(5)
    assert server_aborted.wait(5)  # the SCP got our A-ABORT
    # and it goes on serving
    again = scu_ae().associate(HOST, port, ae_title=SCP_TITLE)
    assert again.is_established
    assert again.send_c_echo().Status == 0x0000
    again.release()


def test_abort_is_idempotent_and_prompt_when_idle(started: Started) -> None:
    server = started.start(scp_ae())
    port = server.server_address[1]
    assoc = scu_ae().associate(HOST, port, ae_title=SCP_TITLE)
    assert assoc.is_established
    t0 = time.monotonic()
    assoc.abort()
    assoc.abort()
    assert time.monotonic() - t0 < PROMPT
    assert assoc.is_aborted


# --- an idle server costs nothing --------------------------------------------------------


def test_idle_association_costs_no_cpu(started: Started) -> None:
    server = started.start(scp_ae())
    port = server.server_address[1]
    assoc = scu_ae().associate(HOST, port, ae_title=SCP_TITLE)
    assert assoc.is_established
    try:
        with RawPeer(HOST, port) as silent:  # plus a connection still in Sta2
            window = threading.Event()
            cpu0, wall0 = time.process_time(), time.monotonic()
            window.wait(1.0)  # the measurement window: nothing is expected to happen
            cpu = time.process_time() - cpu0
            wall = time.monotonic() - wall0
            assert not silent.wait_closed(0)
        assert wall >= 0.9
        assert cpu < 0.05, f"{cpu:.3f} s of CPU in {wall:.2f} s idle"
        assert assoc.send_c_echo().Status == 0x0000  # still alive after the idle second
    finally:
        assoc.release()
