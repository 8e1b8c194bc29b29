"""The minor points of issue 10 (item 8): no fixed wait after an abort, a floor for the peer's
maximum PDU when we send, distinct folder names for distinct IDs, rejected peers logged with
their address at the default level, and a busy handler whose client has gone frees its slot."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from dicomnet import evt
from dicomnet.cli._storage import escape_name
from dicomnet.dimse.messages import C_ECHO_RQ
from dicomnet.ul.framing import PDUReader
from dicomnet.ul.pdu import Abort, PDataTF
from tests.transport.rawpeer import RawPeer, associate_rq
from tests.transport.test_robustness import (
    HOST,
    SCP_TITLE,
    StartServer,
    ct_dataset,
    echo_ok,
    scp_ae,
    scu_ae,
    start_server,
)

__all__ = ["start_server"]


def test_no_fixed_wait_after_an_abort(start_server: StartServer) -> None:
    """The idle timeout aborts a silent peer; one that does not close its end is dropped after
    a short bounded wait (it used to be held 2 s more)."""
    times: dict[str, float] = {}
    closed = threading.Event()

    def on_aborted(event: evt.Event) -> None:
        times["aborted"] = time.monotonic()

    def on_close(event: evt.Event) -> None:
        times["closed"] = time.monotonic()
        closed.set()

    server = start_server(
        scp_ae(network_timeout=0.3),
        [(evt.EVT_ABORTED, on_aborted), (evt.EVT_CONN_CLOSE, on_close)],
    )
    with RawPeer(HOST, server.server_address[1]) as peer:
        peer.associate()
        assert isinstance(peer.read_pdu(timeout=5), Abort)
        assert closed.wait(5)  # while our end stays open
    waited = times["closed"] - times["aborted"]
    assert waited < 0.8, waited


def test_tiny_peer_max_pdu_is_raised_to_1024_when_sending(start_server: StartServer) -> None:
    """A peer advertising an 8-byte maximum PDU gets 1024-byte PDUs, not 8-byte ones (64 KiB
    used to take 32,768 PDUs)."""
    sizes: list[int] = []

    def on_accepted(event: evt.Event) -> None:
        # This SCP advertises 8 bytes but reads anything: we look at what the sender does.
        event.assoc._reader = PDUReader(max_pdata_length=0)

    def on_pdu(event: evt.Event) -> None:
        if isinstance(event.pdu, PDataTF):
            sizes.append(sum(len(p.data) + 6 for p in event.pdu.pdvs))

    scp = scp_ae()
    scp._maximum_pdu_size = 8  # below what AE accepts: a misbehaving peer's advertisement
    server = start_server(scp, [(evt.EVT_ACCEPTED, on_accepted), (evt.EVT_PDU_RECV, on_pdu)])
    ds = ct_dataset()
    ds.add_new(0x7FE10010, "LO", "DICOMNET")
    ds.add_new(0x7FE11010, "OB", bytes(64 * 1024))
    assoc = scu_ae().associate(HOST, server.server_address[1], ae_title=SCP_TITLE)
    try:
        assert assoc.send_c_store(ds).Status in (0x0000, 0x0122)
    finally:
        assoc.release()
    assert max(sizes) == 1024
    assert len(sizes) < 80, len(sizes)


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("A/B", "A%2FB"),
        ("A_B", "A_B"),
        ("A?B", "A%3FB"),
        ("..", "%2E%2E"),
        (".hidden", "%2Ehidden"),
        ("", "UNKNOWN"),
        ("UNKNOWN", "%55NKNOWN"),
        ("Ä 1", "%C3%84%201"),
        ("CT", "CT"),
    ],
)
def test_folder_names_escape_and_never_collapse(value: str, name: str) -> None:
    assert escape_name(value) == name


def test_distinct_ids_give_distinct_names() -> None:
    ids = ["A/B", "A_B", "A?B", "A%2FB", "A B", "A.B", "", "UNKNOWN", "x" * 300, "x" * 301]
    names = [escape_name(i) for i in ids]
    assert len(set(names)) == len(ids)
    assert all(len(n) <= 200 and "/" not in n and not n.startswith(".") for n in names)


def test_rejected_peer_logged_with_its_address_at_default_level(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_server(scp_ae(require_called_aet=True))
    with caplog.at_level(logging.WARNING, logger="dicomnet"):
        assoc = scu_ae("WHOEVER").associate(HOST, server.server_address[1], ae_title="NOT-IT")
        assert assoc.is_rejected
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("'WHOEVER' at 127.0.0.1:" in line for line in lines), lines


def test_busy_handler_whose_client_has_gone_frees_its_slot(start_server: StartServer) -> None:
    release = threading.Event()
    entered = threading.Event()

    def stuck(event: evt.Event) -> int:
        entered.set()
        release.wait(30)  # a handler blocked on something else
        return 0x0000

    server = start_server(scp_ae(maximum_associations=1), [(evt.EVT_C_ECHO, stuck)])
    port = server.server_address[1]
    try:
        with RawPeer(HOST, port) as peer:
            peer.associate(associate_rq(called=SCP_TITLE))
            peer.send_command(1, C_ECHO_RQ(MessageID=1, AffectedSOPClassUID="1.2.840.10008.1.1"))
            assert entered.wait(5)
        # the client has gone; its handler is still blocked: a new requestor gets the slot
        assoc = scu_ae().associate(HOST, port, ae_title=SCP_TITLE)
        assert assoc.is_established, assoc.rejection
        assoc.abort()
    finally:
        release.set()
    echo_ok(port)
