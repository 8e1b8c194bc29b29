"""Connections and associations are separate limits (issue 10, item 2).

Silent connections used to count against ``maximum_associations``: 11 of them locked every
requestor out, on the TLS port too, and every connection had a thread of its own without a
bound. Now a flood of silent connections is cut back to ``maximum_pending_connections`` (the
oldest go first) while real requestors, which send their A-ASSOCIATE-RQ at once, associate.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dicomnet import AE
from dicomnet.sop_class import Verification
from dicomnet.tls import client_context, server_context
from dicomnet.transport.server import AssociationServer
from dicomnet.ul.pdu import AssociateRJ
from tests.tls.certs import PKI, make_pki
from tests.transport.flood import Flood
from tests.transport.test_robustness import (
    HOST,
    SCP_TITLE,
    StartServer,
    scp_ae,
    scu_ae,
    start_server,
)

__all__ = ["start_server"]

FLOOD = 60  # silent connections: far more than maximum_associations (10) and the pending cap


def assoc_threads() -> int:
    return sum(t.name.startswith("dicomnet-assoc") for t in threading.enumerate())


def echo_within(port: int, seconds: float, ssl_context: ssl.SSLContext | None = None) -> float:
    """Associate, C-ECHO and release; returns how long associating took (must be < seconds)."""
    ae = scu_ae()
    started = time.monotonic()
    assoc = ae.associate(HOST, port, ae_title=SCP_TITLE, ssl_context=ssl_context)
    took = time.monotonic() - started
    try:
        assert assoc.is_established, assoc.failure_reason or assoc.rejection
        assert assoc.send_c_echo().Status == 0x0000
    finally:
        if assoc.is_established:
            assoc.release()
    assert took < seconds, took
    return took


def test_silent_connections_do_not_lock_out_requestors(start_server: StartServer) -> None:
    server = start_server(scp_ae(acse_timeout=2.0))
    port = server.server_address[1]
    with Flood(HOST, port, FLOOD) as flood:
        assert flood.wait_ready()
        for _ in range(10):
            echo_within(port, 2.0)
        assert assoc_threads() <= 10 + 2 * 32
        assert server.pending_count <= 32
    assert flood.closed_by_server >= FLOOD - 32  # the oldest silent ones were cut


def test_pending_cap_is_separate_from_association_limit(start_server: StartServer) -> None:
    """Ten established associations and a flood: an eleventh requestor is rejected (transient,
    local limit), not hung; once one is released a new requestor gets in."""
    server = start_server(scp_ae(acse_timeout=2.0, maximum_pending_connections=4))
    port = server.server_address[1]
    held = [scu_ae().associate(HOST, port, ae_title=SCP_TITLE) for _ in range(10)]
    try:
        assert all(a.is_established for a in held)
        with Flood(HOST, port, 20) as flood:
            assert flood.wait_ready()
            extra = scu_ae().associate(HOST, port, ae_title=SCP_TITLE)
            assert extra.is_rejected
            assert extra.rejection == AssociateRJ(2, 3, 2)  # transient, local limit exceeded
            held.pop().release()
            echo_within(port, 2.0)
            assert server.pending_count <= 4
    finally:
        for assoc in held:
            assoc.release()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def tls_server(pki: PKI) -> Iterator[AssociationServer]:
    ae = AE(SCP_TITLE)
    ae.acse_timeout = 2.0
    ae.add_supported_context(Verification)
    server = ae.start_server(
        (HOST, 0),
        block=False,
        ssl_context=server_context(pki.server_cert, pki.server_key, pki.ca),
    )
    assert server is not None
    try:
        yield server
    finally:
        server.shutdown()


def test_silent_connections_do_not_lock_out_tls_requestors(
    pki: PKI, tls_server: AssociationServer, tmp_path: Path
) -> None:
    port = tls_server.server_address[1]
    context = client_context(pki.ca, pki.client_cert, pki.client_key)
    with Flood(HOST, port, FLOOD) as flood:
        assert flood.wait_ready()
        for _ in range(5):
            echo_within(port, 2.0, context)
        assert assoc_threads() <= 10 + 2 * 32


# --- bounded threads and memory, measured in a separate server process -----------------------

SCP_SCRIPT = r"""
import sys
from dicomnet import AE
from dicomnet.sop_class import Verification
ae = AE("FLOODSCP")
ae.acse_timeout = 2.0
ae.add_supported_context(Verification)
server = ae.start_server(("127.0.0.1", 0), block=False)
print(server.server_address[1], flush=True)
sys.stdin.read()
server.shutdown()
"""


def proc_status(pid: int) -> tuple[int, int]:
    """(resident set size in bytes, thread count) of a process, from /proc."""
    rss = threads = 0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss, threads


@pytest.mark.slow
def test_flood_threads_bounded_and_memory_returns(tmp_path: Path) -> None:
    import subprocess
    import sys

    scp = subprocess.Popen(
        [sys.executable, "-c", SCP_SCRIPT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert scp.stdout is not None
        port = int(scp.stdout.readline())
        echo_within(port, 2.0)  # warm up: every module a connection needs is loaded
        before = proc_status(scp.pid)
        peak_rss, peak_threads = before
        with Flood(HOST, port, 300, limit=3000) as flood:
            assert flood.wait_ready(30)
            deadline = time.monotonic() + 5
            done = threading.Event()
            while time.monotonic() < deadline:
                rss, threads = proc_status(scp.pid)
                peak_rss, peak_threads = max(peak_rss, rss), max(peak_threads, threads)
                done.wait(0.1)  # sampling interval
            took = echo_within(port, 2.0)
        after = proc_status(scp.pid)
        end = time.monotonic() + 10
        while after[1] > before[1] and time.monotonic() < end:  # threads ending
            done.wait(0.1)
            after = proc_status(scp.pid)
        print(
            f"\nflood of {flood.opened} connections (300 at a time): "
            f"RSS {before[0] / 2**20:.1f} -> peak {peak_rss / 2**20:.1f} -> "
            f"{after[0] / 2**20:.1f} MiB; threads {before[1]} -> peak {peak_threads} -> "
            f"{after[1]}; echo during the flood associated in {took * 1000:.0f} ms"
        )
        assert peak_threads <= before[1] + 10 + 2 * 32
        assert after[1] <= before[1]
        assert after[0] - before[0] < 20 * 2**20
    finally:
        if scp.stdin is not None:
            scp.stdin.close()
        scp.wait(10)
        if scp.stdout is not None:
            scp.stdout.close()


def _tcp_pairs(count: int) -> list[tuple[socket.socket, socket.socket]]:
    """(server side, client side) of ``count`` loopback TCP connections."""
    with socket.create_server((HOST, 0)) as listener:
        pairs = []
        for _ in range(count):
            client = socket.create_connection(listener.getsockname())
            accepted, _addr = listener.accept()
            pairs.append((accepted, client))
    return pairs


def test_a_connection_with_its_request_waiting_is_not_the_one_cut(
    start_server: StartServer,
) -> None:
    """When the pending cap is reached, the connection cut is the oldest *silent* one: a
    requestor whose A-ASSOCIATE-RQ has arrived but not been read yet (a loaded server) keeps
    its connection, even when it is the oldest. Checked on the server's own choice, with three
    loopback connections standing in for pending ones from one address."""
    server = start_server(scp_ae(maximum_pending_connections=3))
    pairs = _tcp_pairs(3)
    try:
        oldest_with_request, silent, _newest = pairs
        oldest_with_request[1].sendall(b"\x01\x00\x00\x00\x00\xcd")  # an RQ's first bytes
        deadline = time.monotonic() + 5
        while not select.select([oldest_with_request[0]], [], [], 0.1)[0]:
            assert time.monotonic() < deadline, "the bytes never arrived"
        keys = [object(), object(), object()]
        with server._lock:
            for key, (ours, _peer) in zip(keys, pairs, strict=True):
                server._pending[key] = ours  # type: ignore[index]
            server._evict_one()
            left = list(server._pending)
            for key in left:
                del server._pending[key]
        assert left == [keys[0], keys[2]]  # the oldest silent one went
        silent[1].settimeout(5)
        assert silent[1].recv(1) == b""  # cut: its peer sees the end of the stream
    finally:
        for a, b in pairs:
            a.close()
            b.close()
