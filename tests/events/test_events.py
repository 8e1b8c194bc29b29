"""Every event of DESIGN.md section 1.2 fires at the point its name implies, with its attributes,
when our SCU talks to our SCP on loopback. Recorders are bound on both sides."""

from __future__ import annotations

import copy
import io
import itertools
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from dicomnet import evt
from dicomnet.association import Association
from dicomnet.dataset import encode_dataset
from dicomnet.dimse.messages import C_ECHO_RQ, C_ECHO_RSP, C_STORE_RQ, C_STORE_RSP
from dicomnet.sop_class import CTImageStorage, UncompressedTransferSyntaxes, Verification
from dicomnet.ul.codec import encode_pdu
from dicomnet.ul.pdu import (
    Abort,
    AssociateAC,
    AssociateRJ,
    AssociateRQ,
    PDataTF,
    ReleaseRP,
    ReleaseRQ,
)
from tests.events import (
    HOST,
    WAIT,
    Recorder,
    ct_dataset,
    running_server,
    scp_ae,
    scu_ae,
)
from tests.golden import load_golden

MAIN = (
    evt.EVT_CONN_OPEN,
    evt.EVT_REQUESTED,
    evt.EVT_ACCEPTED,
    evt.EVT_REJECTED,
    evt.EVT_ESTABLISHED,
    evt.EVT_RELEASED,
    evt.EVT_ABORTED,
    evt.EVT_CONN_CLOSE,
)


@dataclass
class StoreSeen:
    """What the C-STORE handler saw while it ran (checked by the tests afterwards)."""

    path: Path | None = None
    path_existed: bool = False
    path_bytes: bytes = b""
    encoded: bytes = b""
    encoded_no_meta: bytes = b""
    dataset: Dataset | None = None
    file_meta: Any = None
    request: Any = None
    context: Any = None
    message_id: int = 0
    event_names: list[str] = field(default_factory=list)


@dataclass
class Conversation:
    """One association: C-ECHO (message ID 7) then a C-STORE of the golden CT file, released."""

    client: Recorder
    server: Recorder
    assoc: Association
    port: int
    spool: Path
    file_bytes: bytes
    echo_events: list[evt.Event]
    echo_status: int
    store_status: int
    store: StoreSeen
    spool_after: list[str]


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory) -> Conversation:
    spool = tmp_path_factory.mktemp("spool")
    source = tmp_path_factory.mktemp("src") / "ct.dcm"
    file_bytes = load_golden("ct_16x16_file")
    source.write_bytes(file_bytes)

    client, server_rec = Recorder(), Recorder()
    echo_events: list[evt.Event] = []
    seen = StoreSeen()

    def on_echo(event: evt.Event) -> int:
        echo_events.append(event)
        return 0x0000

    def on_store(event: evt.Event) -> int:
        seen.path = event.dataset_path
        seen.path_existed = seen.path.is_file()
        seen.path_bytes = seen.path.read_bytes()
        seen.encoded = event.encoded_dataset()
        seen.encoded_no_meta = event.encoded_dataset(include_meta=False)
        seen.dataset = event.dataset
        seen.file_meta = event.file_meta
        seen.request = event.request
        seen.context = event.context
        seen.message_id = event.message_id
        return 0x0000

    ae = scp_ae()
    ae.spool_directory = str(spool)
    handlers = [
        *server_rec.handlers(),
        (evt.EVT_C_ECHO, on_echo),
        (evt.EVT_C_STORE, on_store),
    ]
    with running_server(ae, handlers) as server:
        port = server.server_address[1]
        assoc = scu_ae().associate(HOST, port, ae_title="EVTSCP", evt_handlers=client.handlers())
        assert assoc.is_established
        echo_status = assoc.send_c_echo(msg_id=7).Status
        store_status = assoc.send_c_store(source).Status
        assoc.release()
        assert server_rec.closed.wait(WAIT), "the server never saw the connection close"
        spool_after = sorted(p.name for p in spool.iterdir())
    return Conversation(
        client,
        server_rec,
        assoc,
        port,
        spool,
        file_bytes,
        echo_events,
        echo_status,
        store_status,
        seen,
        spool_after,
    )


# --- the lifecycle events -------------------------------------------------------------------


def test_statuses_and_end_state(talk: Conversation) -> None:
    assert talk.echo_status == 0x0000
    assert talk.store_status == 0x0000
    assert talk.assoc.is_released and not talk.assoc.is_established
    assert not talk.assoc.is_aborted


def test_requestor_main_events_in_order(talk: Conversation) -> None:
    assert talk.client.names(MAIN) == [
        "EVT_CONN_OPEN",
        "EVT_REQUESTED",
        "EVT_ACCEPTED",
        "EVT_ESTABLISHED",
        "EVT_RELEASED",
        "EVT_CONN_CLOSE",
    ]


def test_acceptor_main_events_in_order(talk: Conversation) -> None:
    assert talk.server.names(MAIN) == [
        "EVT_CONN_OPEN",
        "EVT_REQUESTED",
        "EVT_ACCEPTED",
        "EVT_ESTABLISHED",
        "EVT_RELEASED",
        "EVT_CONN_CLOSE",
    ]


def test_conn_open_and_close_carry_the_peer_address(talk: Conversation) -> None:
    client_local = (talk.assoc.requestor.address, talk.assoc.requestor.port)
    for side, peer in ((talk.client, (HOST, talk.port)), (talk.server, client_local)):
        (opened,) = side.of(evt.EVT_CONN_OPEN)
        (closed,) = side.of(evt.EVT_CONN_CLOSE)
        assert tuple(opened.address) == peer
        assert tuple(closed.address) == peer


def test_requestor_events_fire_where_their_names_imply(talk: Conversation) -> None:
    c = talk.client

    def is_(kind: type) -> Any:
        return lambda e: isinstance(e.primitive, kind)

    # REQUESTED once the A-ASSOCIATE-RQ has gone out; ACCEPTED/ESTABLISHED once the AC is in.
    assert c.index("EVT_ACSE_SENT", is_(AssociateRQ)) < c.index("EVT_REQUESTED")
    assert c.index("EVT_REQUESTED") < c.index("EVT_ACSE_RECV", is_(AssociateAC))
    assert c.index("EVT_ACSE_RECV", is_(AssociateAC)) < c.index("EVT_ACCEPTED")
    # No DIMSE traffic before the association is established, none after the release.
    assert c.index("EVT_ESTABLISHED") < c.index("EVT_DIMSE_SENT")
    last_dimse = max(i for i, e in enumerate(c.events) if e.event is evt.EVT_DIMSE_RECV)
    assert last_dimse < c.index("EVT_ACSE_SENT", is_(ReleaseRQ))
    # RELEASED once the A-RELEASE-RP has arrived.
    assert c.index("EVT_ACSE_RECV", is_(ReleaseRP)) < c.index("EVT_RELEASED")


def test_acceptor_events_fire_where_their_names_imply(talk: Conversation) -> None:
    s = talk.server

    def is_(kind: type) -> Any:
        return lambda e: isinstance(e.primitive, kind)

    # REQUESTED when the RQ has arrived and before it is answered; ACCEPTED after the AC.
    assert s.index("EVT_ACSE_RECV", is_(AssociateRQ)) < s.index("EVT_REQUESTED")
    assert s.index("EVT_REQUESTED") < s.index("EVT_ACSE_SENT", is_(AssociateAC))
    assert s.index("EVT_ACSE_SENT", is_(AssociateAC)) < s.index("EVT_ACCEPTED")
    # RELEASED once the A-RELEASE-RQ has been answered.
    assert s.index("EVT_ACSE_RECV", is_(ReleaseRQ)) < s.index("EVT_ACSE_SENT", is_(ReleaseRP))
    assert s.index("EVT_ACSE_SENT", is_(ReleaseRP)) < s.index("EVT_RELEASED")


def test_every_event_has_assoc_event_and_timestamp(talk: Conversation) -> None:
    for side, mode in ((talk.client, "requestor"), (talk.server, "acceptor")):
        assert side.events
        stamps = []
        for e in side.events:
            assert isinstance(e.assoc, Association)
            assert e.assoc.mode == mode
            assert isinstance(e.event, evt.EventType)
            assert e.event.is_notification and not e.event.is_intervention
            assert e.event.name.startswith("EVT_")
            assert isinstance(e.timestamp, datetime)
            stamps.append(e.timestamp)
        assert stamps == sorted(stamps)
    # The requestor's events carry the very Association associate() returned.
    assert all(e.assoc is talk.assoc for e in talk.client.events)
    # The acceptor's events all carry one Association (the server's for this connection).
    assert len({id(e.assoc) for e in talk.server.events}) == 1


def test_events_lack_attributes_they_do_not_carry(talk: Conversation) -> None:
    (opened,) = talk.client.of(evt.EVT_CONN_OPEN)
    for name in ("pdu", "data", "dataset", "request", "context", "message_id", "message"):
        with pytest.raises(AttributeError):
            getattr(opened, name)


# --- PDUs, bytes, ACSE primitives -----------------------------------------------------------


def test_pdu_events_carry_the_pdus(talk: Conversation) -> None:
    sent = [type(e.pdu) for e in talk.client.of(evt.EVT_PDU_SENT)]
    received = [type(e.pdu) for e in talk.server.of(evt.EVT_PDU_RECV)]
    assert sent[0] is AssociateRQ and sent[-1] is ReleaseRQ
    assert PDataTF in sent
    assert received == sent  # what one side sent, in order, the other received
    answered = [type(e.pdu) for e in talk.server.of(evt.EVT_PDU_SENT)]
    assert answered[0] is AssociateAC and answered[-1] is ReleaseRP
    assert [type(e.pdu) for e in talk.client.of(evt.EVT_PDU_RECV)] == answered


def test_data_events_carry_the_bytes_on_the_wire(talk: Conversation) -> None:
    for sender, receiver in ((talk.client, talk.server), (talk.client, talk.server)[::-1]):
        sent = [e.data for e in sender.of(evt.EVT_DATA_SENT)]
        assert all(isinstance(d, bytes) for d in sent)
        # The TCP stream one side wrote is the stream the other side read.
        assert b"".join(sent) == b"".join(e.data for e in receiver.of(evt.EVT_DATA_RECV))
        # Each DATA_SENT is the encoding of the PDU of the PDU_SENT before it.
        pdus = [e.pdu for e in sender.of(evt.EVT_PDU_SENT)]
        assert sent == [encode_pdu(p) for p in pdus]
    first = talk.client.of(evt.EVT_DATA_SENT)[0].data
    assert first[0] == 0x01  # A-ASSOCIATE-RQ PDU type


def test_acse_events_carry_the_primitives(talk: Conversation) -> None:
    def kinds(rec: Recorder, event_type: evt.EventType) -> list[type]:
        return [type(e.primitive) for e in rec.of(event_type)]

    assert kinds(talk.client, evt.EVT_ACSE_SENT) == [AssociateRQ, ReleaseRQ]
    assert kinds(talk.client, evt.EVT_ACSE_RECV) == [AssociateAC, ReleaseRP]
    assert kinds(talk.server, evt.EVT_ACSE_RECV) == [AssociateRQ, ReleaseRQ]
    assert kinds(talk.server, evt.EVT_ACSE_SENT) == [AssociateAC, ReleaseRP]
    rq = talk.server.of(evt.EVT_ACSE_RECV)[0].primitive
    assert rq.calling_ae_title.strip() == "EVTSCU"
    assert rq.called_ae_title.strip() == "EVTSCP"


# --- DIMSE messages ---------------------------------------------------------------------------


def test_dimse_events_carry_messages_with_keyword_attributes(talk: Conversation) -> None:
    def msgs(rec: Recorder, event_type: evt.EventType) -> list[Any]:
        return [e.message for e in rec.of(event_type)]

    echo_rq, store_rq = msgs(talk.client, evt.EVT_DIMSE_SENT)
    assert isinstance(echo_rq, C_ECHO_RQ) and isinstance(store_rq, C_STORE_RQ)
    assert echo_rq.MessageID == 7
    assert echo_rq.AffectedSOPClassUID == Verification
    assert store_rq.AffectedSOPClassUID == CTImageStorage
    assert store_rq.AffectedSOPInstanceUID == ct_dataset().SOPInstanceUID
    assert msgs(talk.server, evt.EVT_DIMSE_RECV) == [echo_rq, store_rq]

    echo_rsp, store_rsp = msgs(talk.server, evt.EVT_DIMSE_SENT)
    assert isinstance(echo_rsp, C_ECHO_RSP) and isinstance(store_rsp, C_STORE_RSP)
    assert echo_rsp.MessageIDBeingRespondedTo == 7 and echo_rsp.Status == 0
    assert store_rsp.MessageIDBeingRespondedTo == store_rq.MessageID
    assert store_rsp.Status == 0
    assert msgs(talk.client, evt.EVT_DIMSE_RECV) == [echo_rsp, store_rsp]


# --- the state machine ------------------------------------------------------------------------


def _transitions(rec: Recorder) -> list[tuple[str, str, str, str]]:
    return [
        (e.current_state, e.fsm_event, e.action, e.next_state)
        for e in rec.of(evt.EVT_FSM_TRANSITION)
    ]


def test_fsm_transitions_of_the_requestor(talk: Conversation) -> None:
    steps = _transitions(talk.client)
    assert steps[:3] == [
        ("Sta1", "Evt1", "AE-1", "Sta4"),  # A-ASSOCIATE request: connect
        ("Sta4", "Evt2", "AE-2", "Sta5"),  # connected: send A-ASSOCIATE-RQ
        ("Sta5", "Evt3", "AE-3", "Sta6"),  # A-ASSOCIATE-AC received
    ]
    assert steps[-2:] == [
        ("Sta6", "Evt11", "AR-1", "Sta7"),  # A-RELEASE request: send RQ
        ("Sta7", "Evt13", "AR-3", "Sta1"),  # A-RELEASE-RP received: close
    ]
    middle = set(steps[3:-2])
    assert middle == {("Sta6", "Evt9", "DT-1", "Sta6"), ("Sta6", "Evt10", "DT-2", "Sta6")}


def test_fsm_transitions_of_the_acceptor(talk: Conversation) -> None:
    steps = _transitions(talk.server)
    assert steps[:3] == [
        ("Sta1", "Evt5", "AE-5", "Sta2"),  # connection accepted
        ("Sta2", "Evt6", "AE-6", "Sta3"),  # A-ASSOCIATE-RQ received
        ("Sta3", "Evt7", "AE-7", "Sta6"),  # accepted: send AC
    ]
    assert steps[-3:] == [
        ("Sta6", "Evt12", "AR-2", "Sta8"),  # A-RELEASE-RQ received
        ("Sta8", "Evt14", "AR-4", "Sta13"),  # A-RELEASE response: send RP
        ("Sta13", "Evt17", "AR-5", "Sta1"),  # the requestor closed the connection
    ]


def test_fsm_transitions_chain(talk: Conversation) -> None:
    for rec in (talk.client, talk.server):
        steps = _transitions(rec)
        assert steps[0][0] == "Sta1" and steps[-1][3] == "Sta1"
        for before, after in itertools.pairwise(steps):
            assert before[3] == after[0]
        assert all(isinstance(part, str) for step in steps for part in step)


# --- the intervention events -----------------------------------------------------------------


def test_c_echo_event(talk: Conversation) -> None:
    (echo,) = talk.echo_events
    assert echo.event is evt.EVT_C_ECHO
    assert echo.event.is_intervention and not echo.event.is_notification
    assert isinstance(echo.request, C_ECHO_RQ)
    assert echo.message_id == 7 == echo.request.MessageID
    assert echo.context.abstract_syntax == Verification
    assert echo.context.transfer_syntax in UncompressedTransferSyntaxes
    assert isinstance(echo.timestamp, datetime)
    assert echo.assoc.is_acceptor
    assert echo.assoc.requestor.ae_title.strip() == "EVTSCU"


def test_c_store_event_request_and_context(talk: Conversation) -> None:
    seen = talk.store
    assert isinstance(seen.request, C_STORE_RQ)
    assert seen.message_id == seen.request.MessageID == 8
    assert seen.context.abstract_syntax == CTImageStorage
    assert seen.context.transfer_syntax == "1.2.840.10008.1.2.1"
    assert seen.context == (seen.context.context_id, CTImageStorage, "1.2.840.10008.1.2.1")


def test_c_store_dataset_equals_what_was_sent(talk: Conversation) -> None:
    original = ct_dataset()
    assert seen_dataset(talk) == original
    assert seen_dataset(talk).PatientName == original.PatientName
    assert seen_dataset(talk).PixelData == original.PixelData


def seen_dataset(talk: Conversation) -> Dataset:
    assert talk.store.dataset is not None
    return talk.store.dataset


def test_c_store_file_meta(talk: Conversation) -> None:
    meta = talk.store.file_meta
    original = ct_dataset()
    assert meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert meta.MediaStorageSOPClassUID == CTImageStorage
    assert meta.MediaStorageSOPInstanceUID == original.SOPInstanceUID


def test_c_store_encoded_dataset_is_a_part10_file(talk: Conversation) -> None:
    encoded = talk.store.encoded
    assert encoded[:128] == bytes(128) and encoded[128:132] == b"DICM"
    read = dcmread(io.BytesIO(encoded))
    original = ct_dataset()
    assert read == original
    assert read.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert read.file_meta.MediaStorageSOPInstanceUID == original.SOPInstanceUID
    # The data set bytes are exactly those of the file that was sent (streamed undecoded).
    sent_dataset_bytes = talk.file_bytes[len(talk.file_bytes) - len(talk.store.encoded_no_meta) :]
    assert talk.store.encoded_no_meta == sent_dataset_bytes
    assert encoded.endswith(talk.store.encoded_no_meta)


def test_c_store_dataset_path_lives_only_during_the_handler(talk: Conversation) -> None:
    seen = talk.store
    assert seen.path is not None
    assert seen.path_existed
    assert seen.path.parent == talk.spool  # spooled where the AE said
    assert seen.path_bytes == seen.encoded
    assert not seen.path.exists()
    assert talk.spool_after == []


# --- rejection and abort ---------------------------------------------------------------------


def test_rejected_fires_on_both_sides() -> None:
    client, server_rec = Recorder(), Recorder()
    ae = scp_ae()
    ae.require_called_aet = True
    with running_server(ae, server_rec.handlers(MAIN)) as server:
        assoc = scu_ae().associate(
            HOST, server.server_address[1], ae_title="NOT-THE-SCP", evt_handlers=client.handlers()
        )
        assert server_rec.closed.wait(WAIT)
    assert assoc.is_rejected and not assoc.is_established
    assert assoc.rejection == AssociateRJ(1, 1, 7)  # permanent, service user, called AE
    assert client.names(MAIN) == [
        "EVT_CONN_OPEN",
        "EVT_REQUESTED",
        "EVT_REJECTED",
        "EVT_CONN_CLOSE",
    ]
    assert server_rec.names(MAIN) == [
        "EVT_CONN_OPEN",
        "EVT_REQUESTED",
        "EVT_REJECTED",
        "EVT_CONN_CLOSE",
    ]
    (rj,) = [e.primitive for e in client.of(evt.EVT_ACSE_RECV)]
    assert rj == AssociateRJ(1, 1, 7)


def test_aborted_when_the_requestor_aborts() -> None:
    client, server_rec = Recorder(), Recorder()
    with running_server(scp_ae(), server_rec.handlers()) as server:
        assoc = scu_ae().associate(HOST, server.server_address[1], evt_handlers=client.handlers())
        assert assoc.is_established
        assoc.abort()
        assert server_rec.closed.wait(WAIT)
    assert assoc.is_aborted
    expected = ["EVT_CONN_OPEN", "EVT_REQUESTED", "EVT_ACCEPTED", "EVT_ESTABLISHED"]
    assert client.names(MAIN) == [*expected, "EVT_ABORTED", "EVT_CONN_CLOSE"]
    assert server_rec.names(MAIN) == [*expected, "EVT_ABORTED", "EVT_CONN_CLOSE"]
    assert [type(e.primitive) for e in client.of(evt.EVT_ACSE_SENT)][-1] is Abort
    assert [type(e.primitive) for e in server_rec.of(evt.EVT_ACSE_RECV)][-1] is Abort
    assert ("Sta6", "Evt16", "AA-3", "Sta1") in _transitions(server_rec)


def test_aborted_when_the_acceptor_aborts_from_a_handler(caplog: pytest.LogCaptureFixture) -> None:
    client, server_rec = Recorder(), Recorder()
    handler_done = threading.Event()

    def abort_it(event: evt.Event) -> int:
        event.assoc.abort()
        handler_done.set()
        return 0

    handlers = [*server_rec.handlers(MAIN), (evt.EVT_C_ECHO, abort_it)]
    with running_server(scp_ae(), handlers) as server:
        assoc = scu_ae().associate(HOST, server.server_address[1], evt_handlers=client.handlers())
        status = assoc.send_c_echo()
        assert server_rec.closed.wait(WAIT)
    assert handler_done.is_set()
    assert "Status" not in status  # no response: the association was aborted
    assert assoc.is_aborted and not assoc.is_established
    assert assoc.abort_pdu is not None and assoc.abort_pdu.source == 0  # service user
    assert client.names(MAIN)[-2:] == ["EVT_ABORTED", "EVT_CONN_CLOSE"]
    assert server_rec.names(MAIN)[-2:] == ["EVT_ABORTED", "EVT_CONN_CLOSE"]
    assert ("Sta6", "Evt16", "AA-3", "Sta1") in _transitions(client)
    # Aborting from a handler is a normal thing to do, not an internal error.
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


# --- C-STORE in every uncompressed transfer syntax --------------------------------------------


@pytest.mark.parametrize("syntax", [str(s) for s in UncompressedTransferSyntaxes])
def test_c_store_event_in_each_uncompressed_syntax(syntax: str, tmp_path: Path) -> None:
    original = ct_dataset()
    got: dict[str, Any] = {}

    def on_store(event: evt.Event) -> int:
        got["dataset"] = event.dataset
        got["meta"] = event.file_meta
        got["file"] = event.encoded_dataset()
        got["raw"] = event.encoded_dataset(include_meta=False)
        return 0x0000

    ae = scp_ae()
    ae.spool_directory = str(tmp_path)
    with running_server(ae, [(evt.EVT_C_STORE, on_store)]) as server:
        assoc = scu_ae(syntaxes=[syntax]).associate(HOST, server.server_address[1])
        assert assoc.is_established
        assert assoc.send_c_store(original).Status == 0x0000
        assoc.release()
    assert got["meta"].TransferSyntaxUID == syntax
    expected = original
    if syntax == "1.2.840.10008.1.2.2":
        # Big endian: the OW pixel data arrives with each 16-bit value's bytes swapped (pydicom
        # keeps raw OW bytes as encoded); the other values decode the same.
        expected = copy.deepcopy(original)
        pixels = original.PixelData
        expected.PixelData = bytes(
            b for i in range(0, len(pixels), 2) for b in (pixels[i + 1], pixels[i])
        )
        assert got["raw"] != encode_dataset(original, syntax)  # the old, unswapped encoding
    else:
        assert got["raw"] == encode_dataset(original, syntax)  # bytes as sent
    assert got["dataset"] == expected
    read = dcmread(io.BytesIO(got["file"]))
    assert read.file_meta.TransferSyntaxUID == syntax
    assert read == expected


def test_c_store_dataset_is_decoded_only_when_asked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import dicomnet.dataset as dataset_module

    decodes: list[str] = []
    real = dataset_module.decode_dataset

    def counting(stream: Any, syntax: str, **limits: Any) -> Any:
        decodes.append(syntax)
        return real(stream, syntax, **limits)

    monkeypatch.setattr(dataset_module, "decode_dataset", counting)
    calls: list[int] = []

    def lazy(event: evt.Event) -> int:
        calls.append(len(decodes))
        _ = event.dataset_path, event.file_meta, event.encoded_dataset()
        calls.append(len(decodes))
        first = event.dataset
        assert event.dataset is first  # decoded once, then cached
        calls.append(len(decodes))
        return 0x0000

    ae = scp_ae()
    ae.spool_directory = str(tmp_path)
    with running_server(ae, [(evt.EVT_C_STORE, lazy)]) as server:
        assoc = scu_ae().associate(HOST, server.server_address[1])
        assert assoc.send_c_store(ct_dataset()).Status == 0x0000
        assoc.release()
    assert calls == [0, 0, 1]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_abort_closes_the_requestor_socket() -> None:
    def open_fds() -> int:
        return len(list(Path("/proc/self/fd").iterdir()))

    closed = threading.Event()
    before = open_fds()
    with running_server(scp_ae(), [(evt.EVT_CONN_CLOSE, lambda e: closed.set())]) as server:
        assoc = scu_ae().associate(HOST, server.server_address[1])
        assert assoc.is_established
        assoc.abort()
        assert closed.wait(WAIT)
    assert assoc.is_aborted
    assert open_fds() == before  # server shut down; ``assoc`` still referenced
