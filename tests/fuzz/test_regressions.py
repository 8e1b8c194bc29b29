"""Regression tests for what live fuzzing of ``storescp`` found (issue 16), and for every seed
of our own fuzzer that ever failed (``SEEDS`` below).

Each test plays bytes at our real ``storescp`` over a socket and checks what a sender sees
(the PDUs and statuses, in order), what lands in the output directory, and the server's stderr.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydicom import dcmread

from tests.fuzz import fuzzer, wire
from tests.fuzz.cases import build_case
from tests.fuzz.harness import (
    Server,
    echo_ok,
    play,
    rq_stream,
    store_pdus,
    stored_files,
    stray_files,
    tracebacks,
)

UID = wire.UID_ROOT + ".100"

#: Seeds of tests/fuzz/cases.py that found a bug (kept as they were when found).
SEEDS = {
    152: "A-RELEASE-RQ then another PDU in one read: the deferred A-RELEASE-RP was sent in Sta13",
    227: "the same, chunked delivery",
    245: "a repeated PDU after the A-RELEASE-RQ, peer maximum length 1",
    1002291: "SOP Instance UID with VR US in an Explicit VR data set: stored with Success",
    1008294: "C-STORE-RQ with Command Data Set Type 0x0101 (no data set): traceback, abort",
}


def _assert_clean(server: Server, since: int) -> None:
    assert server.alive
    assert tracebacks(server.stderr(since)) == []
    assert stray_files(server) == []
    echo_ok(server.port)


def _files_for(server: Server, uid: str) -> list[str]:
    return [
        str(path)
        for path in stored_files(server)
        if dcmread(path, stop_before_pixels=True).SOPInstanceUID == uid
    ]


# --- requests are answered in arrival order, also around A-RELEASE-RQ ----------------------


@pytest.mark.parametrize("debug", [False, True], ids=["default", "debug"])
def test_last_data_pdu_and_release_in_one_send(
    debug: bool, storescp_server: Server, fresh_server: Callable[..., Server]
) -> None:
    """C-STORE-RSP first, then A-RELEASE-RP, and the file: the release must not overtake the
    request that arrived before it (it did: RP first, then "Evt9 not allowed in Sta13")."""
    server = fresh_server("-d") if debug else storescp_server
    since = server.stderr_size()
    uid = f"{UID}.1.{int(debug)}"
    command, data = store_pdus(7, uid)
    reply = play(
        server.port,
        [rq_stream().encode(), command, data + wire.release_rq()],
        wait_after=(0,),
    )
    assert reply.sequence() == ["AC", "C-STORE-RSP 0x0000", "RP"], reply
    assert reply.responses[0].message_id == 7
    assert reply.successes == [uid]
    assert len(_files_for(server, uid)) == 1
    _assert_clean(server, since)


def test_two_requests_and_release_in_one_send_are_answered_in_order(
    storescp_server: Server,
) -> None:
    server = storescp_server
    since = server.stderr_size()
    first, second = f"{UID}.2.1", f"{UID}.2.2"
    echo = wire.pdata(wire.pdv(1, 0x03, wire.encode_elements(wire.c_echo_rq(2))))
    stream = b"".join([*store_pdus(1, first), echo, *store_pdus(3, second, context_id=5)])
    reply = play(server.port, [rq_stream().encode(), stream + wire.release_rq()], wait_after=(0,))
    assert reply.sequence() == [
        "AC",
        "C-STORE-RSP 0x0000",
        "C-ECHO-RSP 0x0000",
        "C-STORE-RSP 0x0000",
        "RP",
    ], reply
    assert [r.message_id for r in reply.responses] == [1, 2, 3]
    assert len(_files_for(server, first)) == len(_files_for(server, second)) == 1
    _assert_clean(server, since)


# --- no byte read is thrown away ------------------------------------------------------------


@pytest.mark.parametrize("split", ["one-send", "byte-at-the-end"])
def test_pdus_arriving_with_the_associate_rq_are_served(
    split: str, storescp_server: Server
) -> None:
    """A pipelining client (no wait for the A-ASSOCIATE-AC): what came in the same read as the
    A-ASSOCIATE-RQ is served once the association is established (it was dropped)."""
    server = storescp_server
    since = server.stderr_size()
    uid = f"{UID}.3.{len(split)}"
    stream = rq_stream().encode() + b"".join(store_pdus(1, uid)) + wire.release_rq()
    chunks = [stream] if split == "one-send" else [stream[:-1], stream[-1:]]
    reply = play(server.port, chunks)
    assert reply.sequence() == ["AC", "C-STORE-RSP 0x0000", "RP"], reply
    assert reply.closed
    assert len(_files_for(server, uid)) == 1
    _assert_clean(server, since)


def test_pdus_arriving_with_a_rejected_rq_are_ignored(
    fresh_server: Callable[..., Server],
) -> None:
    """Rejected: the rest is handled by the state machine (Sta13, AA-6: ignored)."""
    server = fresh_server("--require-called-aet", "-aet", "STORESCP")
    since = server.stderr_size()
    uid = f"{UID}.4"
    rq = rq_stream(wire.AssociateRQ(called="SOMEONE"))
    stream = rq.encode() + b"".join(store_pdus(1, uid)) + wire.release_rq()
    reply = play(server.port, [stream])
    assert reply.sequence() == ["RJ"], reply
    assert reply.closed
    assert stored_files(server) == []
    assert tracebacks(server.stderr(since)) == []


# --- every response we build can be encoded --------------------------------------------------


def test_overlong_sop_instance_uid_is_refused_without_echoing_it(
    storescp_server: Server,
) -> None:
    """0x0117, and the response leaves out the 70-character UID it cannot carry (it raised
    ValueError: the sender got an A-ABORT, the log a traceback)."""
    server = storescp_server
    since = server.stderr_size()
    uid = "1.2." + "3" * 66
    reply = play(
        server.port,
        [rq_stream().encode(), b"".join(store_pdus(1, uid)), wire.release_rq()],
        wait_after=(0, 1),
    )
    assert reply.sequence() == ["AC", "C-STORE-RSP 0x0117", "RP"], reply
    response = reply.responses[0]
    assert 0x1000 not in response.raw
    assert response.raw[0x0002].rstrip(b"\x00") == wire.CT_IMAGE_STORAGE.encode()
    assert _files_for(server, uid) == []
    _assert_clean(server, since)


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI:UserWarning")  # building the data set
@pytest.mark.parametrize(
    "uid",
    ["1.2\x00.3", "1.2\\3", "1.2.\x1b[31m3", "1.2.3\xe9"],
    ids=["nul", "backslash", "escape", "latin1"],
)
def test_error_comment_is_sanitised_to_lo(uid: str, storescp_server: Server) -> None:
    """The ErrorComment naming a bad UID holds no backslash or control character and fits LO
    (a backslash made pydicom split it into a multi-value that could not be encoded)."""
    server = storescp_server
    since = server.stderr_size()
    reply = play(
        server.port,
        [rq_stream().encode(), b"".join(store_pdus(1, uid)), wire.release_rq()],
        wait_after=(0, 1),
    )
    assert reply.sequence() == ["AC", "C-STORE-RSP 0x0117", "RP"], reply
    comment = reply.responses[0].error_comment
    assert comment is not None
    assert len(comment) <= 64
    assert all(0x20 <= byte <= 0x7E and byte != 0x5C for byte in comment), comment
    assert 0x1000 not in reply.responses[0].raw
    _assert_clean(server, since)


# --- a peer maximum PDU length below the smallest usable one ----------------------------------


@pytest.mark.parametrize("max_length", [1, 7, 8, 100, 1023])
def test_tiny_peer_max_pdu_is_clamped(max_length: int, storescp_server: Server) -> None:
    """Maximum Length 1-7 could not carry a PDV (every response raised ValueError after the
    file was written); below 1024 we send as if the peer had said 1024 (documented in
    dicomnet.ul.negotiation.MIN_PEER_MAX_LENGTH)."""
    server = storescp_server
    since = server.stderr_size()
    uid = f"{UID}.5.{max_length}"
    rq = rq_stream(wire.AssociateRQ(max_length=max_length))
    echo = wire.pdata(wire.pdv(1, 0x03, wire.encode_elements(wire.c_echo_rq(2))))
    reply = play(
        server.port,
        [rq.encode(), b"".join(store_pdus(1, uid)), echo, wire.release_rq()],
        wait_after=(0, 1, 2),
    )
    assert reply.sequence() == ["AC", "C-STORE-RSP 0x0000", "C-ECHO-RSP 0x0000", "RP"], reply
    assert reply.successes == [uid]
    assert len(_files_for(server, uid)) == 1
    _assert_clean(server, since)


def test_server_still_checks_our_own_maximum(storescp_server: Server) -> None:
    """Clamping is about what we send: a P-DATA-TF over the maximum we advertised still gets
    A-ABORT (and nothing is stored)."""
    server = storescp_server
    since = server.stderr_size()
    uid = f"{UID}.6"
    big = wire.pdata(wire.pdv(3, 0x00, bytes(20000)))
    reply = play(
        server.port,
        [rq_stream().encode(), store_pdus(1, uid)[0] + big],
        wait_after=(0,),
    )
    assert reply.sequence() == ["AC", "ABORT"], reply
    assert _files_for(server, uid) == []
    _assert_clean(server, since)


# --- seeds of our own fuzzer -------------------------------------------------------------------


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_fuzz_seed(seed: int, fresh_server: Callable[..., Server]) -> None:
    report = fuzzer.run(fresh_server(), [seed])
    assert report.unexpected == [], f"{build_case(seed).describe()}\n{report.summary()}"
