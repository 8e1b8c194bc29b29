"""Slow links carry large instances; trickling peers are still cut (issue 10, item 3).

Idle and DIMSE timeouts count from the last byte received, never for a whole message. These
tests run the traffic through a throttled proxy on loopback: a transfer lasting several times
the timeouts succeeds as long as bytes keep flowing. (The full figure of the issue, 100 MiB at
1.5 MiB/s with default settings, takes 70 s; it was measured by hand, see the issue note.)
"""

from __future__ import annotations

import time
from typing import Any

from pydicom.dataset import Dataset

from dicomnet import evt
from dicomnet.ul.codec import encode_pdata_single
from tests.transport.rawpeer import RawPeer
from tests.transport.test_robustness import (
    HOST,
    SCP_TITLE,
    Signals,
    StartServer,
    ct_dataset,
    echo_ok,
    recorder,
    scp_ae,
    scu_ae,
    start_server,
)
from tests.transport.throttle import ThrottledProxy

__all__ = ["start_server"]

MiB = 1024 * 1024


def big_ct(size: int) -> Dataset:
    """The small golden CT with a private OB element of ``size`` bytes after Pixel Data."""
    ds = ct_dataset()
    ds.add_new(0x7FE10010, "LO", "DICOMNET SLOW LINK TEST")
    ds.add_new(0x7FE11010, "OB", bytes(range(256)) * (size // 256))
    return ds


def test_store_slower_than_the_timeouts_succeeds(start_server: StartServer) -> None:
    """3 MiB at 1 MiB/s against idle and DIMSE timeouts of 1 s: the store lasts about three
    times as long as either timeout and succeeds (it used to be aborted at 1 s)."""
    received: list[bytes] = []

    def on_store(event: evt.Event) -> int:
        received.append(event.encoded_dataset(include_meta=False))
        return 0x0000

    server = start_server(
        scp_ae(network_timeout=1.0, dimse_timeout=1.0), [(evt.EVT_C_STORE, on_store)]
    )
    ds = big_ct(3 * MiB)
    with ThrottledProxy(server.server_address[1], up=1 * MiB, down=None) as proxy:
        assoc = scu_ae().associate(HOST, proxy.port, ae_title=SCP_TITLE)
        assert assoc.is_established, assoc.failure_reason
        started = time.monotonic()
        try:
            status = assoc.send_c_store(ds)
            took = time.monotonic() - started
        finally:
            if assoc.is_established:
                assoc.release()
    assert status.Status == 0x0000, assoc.failure_reason
    assert took > 2.0, took  # longer than the old whole-message deadline of 1 s
    [stored] = received
    assert len(stored) > 3 * MiB
    assert stored.endswith(bytes(range(256)) * 4)


def test_max_transfer_time_bounds_a_whole_message(start_server: StartServer) -> None:
    signals = Signals()
    calls: list[object] = []
    server = start_server(
        scp_ae(network_timeout=5.0, dimse_timeout=5.0, max_transfer_time=0.5),
        [*signals.handlers(), (evt.EVT_C_STORE, recorder(calls))],
    )
    with ThrottledProxy(server.server_address[1], up=1 * MiB, down=None) as proxy:
        assoc = scu_ae().associate(HOST, proxy.port, ae_title=SCP_TITLE)
        assert assoc.is_established
        status = assoc.send_c_store(big_ct(3 * MiB))
        assert "Status" not in status  # no response: the SCP aborted
        assert not assoc.is_established
    assert signals.aborted.wait(5)
    assert calls == []
    echo_ok(server.server_address[1])


def test_trickle_below_the_minimum_rate_is_cut(start_server: StartServer) -> None:
    """A byte every 0.2 s inside a P-DATA-TF never stalls for dimse_timeout (5 s), but brings
    5 bytes/s where 100 are required over each 1 s window: cut after the first window."""
    signals = Signals()
    server = start_server(
        scp_ae(dimse_timeout=5.0, minimum_transfer_rate=100, transfer_rate_window=1.0),
        signals.handlers(),
    )
    port = server.server_address[1]
    pdu = encode_pdata_single(3, True, True, b"\x00" * 200)
    with RawPeer(HOST, port) as peer:
        peer.associate()
        started = time.monotonic()
        cut_off = False
        for i in range(len(pdu)):
            try:
                peer.send(pdu[i : i + 1])
            except OSError:
                cut_off = True
                break
            if peer.wait_closed(0.2):  # paces the trickle and watches for the close
                cut_off = True
                break
        elapsed = time.monotonic() - started
        assert cut_off or peer.wait_closed(2)
    assert i < 20
    assert 0.9 <= elapsed < 2.5, elapsed
    assert signals.aborted.wait(5)
    echo_ok(port)


def test_default_slowloris_defence(start_server: StartServer) -> None:
    """The defaults documented in AE: at least 512 bytes/s over each 30 s window."""
    server = start_server(scp_ae())
    ae: Any = server.ae
    assert (ae.minimum_transfer_rate, ae.transfer_rate_window, ae.max_transfer_time) == (
        512.0,
        30.0,
        None,
    )


def test_steady_peer_within_the_rate_is_not_cut_at_a_window(start_server: StartServer) -> None:
    """A message arriving slowly but above the minimum rate crosses several rate windows."""
    received: list[int] = []

    def on_store(event: evt.Event) -> int:
        received.append(len(event.encoded_dataset(include_meta=False)))
        return 0x0000

    server = start_server(
        scp_ae(minimum_transfer_rate=1000, transfer_rate_window=0.5),
        [(evt.EVT_C_STORE, on_store)],
    )
    with ThrottledProxy(server.server_address[1], up=256 * 1024, down=None) as proxy:
        assoc = scu_ae().associate(HOST, proxy.port, ae_title=SCP_TITLE)
        try:
            assert assoc.send_c_store(big_ct(512 * 1024)).Status == 0x0000
        finally:
            assoc.release()
    [size] = received
    assert size > 512 * 1024
