"""Fragmenting messages into P-DATA-TF PDUs and reassembling them (PS3.8 Annex E)."""

from __future__ import annotations

import io
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet.dimse.command_codec import DIMSEError, encode_command
from dicomnet.dimse.fragments import (
    MessageAssembler,
    MessageComplete,
    fragment_message,
    max_fragment_size,
)
from dicomnet.dimse.messages import (
    C_ECHO_RQ,
    C_FIND_RSP,
    C_STORE_RQ,
    C_STORE_RSP,
    Message,
)
from dicomnet.ul.codec import decode_pdu
from dicomnet.ul.pdu import PDV, PDataTF
from tests.dimse import strategies

STORE = C_STORE_RQ(
    AffectedSOPClassUID="1.2.840.10008.5.1.4.1.1.2", MessageID=1, AffectedSOPInstanceUID="1.2.3.4"
)
STORE_COMMAND = encode_command(STORE)
ECHO_COMMAND = encode_command(C_ECHO_RQ(MessageID=2))


def parse_pdata(pdu: bytes) -> PDV:
    """Tiny independent P-DATA-TF parser: exactly one PDV per PDU."""
    pdu_type, reserved, pdu_length = struct.unpack_from(">BBI", pdu, 0)
    assert (pdu_type, reserved) == (0x04, 0x00)
    assert pdu_length == len(pdu) - 6
    item_length, context_id, control = struct.unpack_from(">IBB", pdu, 6)
    assert item_length == pdu_length - 4
    assert control & ~0x03 == 0
    return PDV(context_id, bool(control & 1), bool(control & 2), pdu[12:])


class Recorder:
    """File-like source that records each read size."""

    def __init__(self, data: bytes, short_reads: int = 0) -> None:
        self._buffer = io.BytesIO(data)
        self.sizes: list[int] = []
        self._short = short_reads

    def read(self, size: int = -1, /) -> bytes:
        self.sizes.append(size)
        if self._short and size > self._short:
            size = self._short  # a pipe-like source that returns less than asked
        return self._buffer.read(size)


class Sinks:
    """sink_factory that records its calls and hands out BytesIO sinks."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, Message]] = []

    def __call__(self, context_id: int, message: Message) -> io.BytesIO:
        self.calls.append((context_id, message))
        return io.BytesIO()


def reassemble(pdus: list[bytes], sinks: Sinks | None = None) -> MessageComplete[io.BytesIO]:
    assembler = MessageAssembler(sinks or Sinks())
    events = [e for pdu in pdus if (e := assembler.receive_pdv(parse_pdata(pdu))) is not None]
    assert len(events) == 1
    assert not assembler.in_progress
    assert assembler.pending_message is None
    return events[0]


# -- max_fragment_size --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer_max", "expected"),
    [
        (0, (1 << 20) - 6),
        (16382, 16376),
        (16383, 16376),
        (16384, 16378),
        (8, 2),
        (9, 2),
        (10, 4),
        (2**32 - 1, (1 << 20) - 6),
    ],
)
def test_max_fragment_size(peer_max: int, expected: int) -> None:
    assert max_fragment_size(peer_max) == expected


def test_max_fragment_size_with_own_cap() -> None:
    assert max_fragment_size(0, send_cap=1001) == 994
    assert max_fragment_size(500, send_cap=1001) == 494


@pytest.mark.parametrize("peer_max", [1, 6, 7, -1])
def test_max_fragment_size_rejects_tiny_maxima(peer_max: int) -> None:
    with pytest.raises(ValueError, match=r"too small|negative"):
        max_fragment_size(peer_max)


# -- fragment_message -> MessageAssembler round trips ------------------------------------

peer_maxima = st.one_of(
    st.sampled_from([0, 8, 9, 10, 11, 13, 100, 101, 16382, 16383]),
    st.integers(8, 3000),
)


@settings(max_examples=200)
@given(
    msg=strategies.messages,
    dataset=st.none() | st.binary(max_size=4000).map(lambda b: b[: len(b) & ~1]),
    peer_max=peer_maxima,
    context_id=st.integers(0, 127).map(lambda n: 2 * n + 1),
    as_file=st.booleans(),
)
def test_round_trip(
    msg: Message, dataset: bytes | None, peer_max: int, context_id: int, as_file: bool
) -> None:
    # The message's own flag decides whether the receiver expects a data set.
    msg.CommandDataSetType = 0x0101 if dataset is None else 0x0001
    command = encode_command(msg)
    source = io.BytesIO(dataset) if as_file and dataset is not None else dataset
    pdus = list(fragment_message(context_id, command, source, peer_max))

    limit = max_fragment_size(peer_max)
    pdvs = [parse_pdata(p) for p in pdus]
    for pdv in pdvs:
        assert pdv.context_id == context_id
        assert len(pdv.data) % 2 == 0
        assert len(pdv.data) <= limit
        if peer_max:
            assert len(pdv.data) + 6 <= peer_max
    kinds = [p.is_command for p in pdvs]
    assert kinds == sorted(kinds, reverse=True)  # every command PDV before any data PDV
    commands = [p for p in pdvs if p.is_command]
    data = [p for p in pdvs if not p.is_command]
    assert [p.is_last for p in commands] == [False] * (len(commands) - 1) + [True]
    assert b"".join(p.data for p in commands) == command
    if dataset is None:
        assert data == []
    else:
        assert [p.is_last for p in data] == [False] * (len(data) - 1) + [True]
        assert all(len(p.data) == limit for p in data[:-1])

    sinks = Sinks()
    done = reassemble(pdus, sinks)
    assert done.context_id == context_id
    assert done.message == msg
    if dataset is None:
        assert done.dataset is None
        assert sinks.calls == []
    else:
        assert done.dataset is not None
        assert done.dataset.getvalue() == dataset
        assert sinks.calls == [(context_id, msg)]


def test_small_peer_max_gives_two_byte_fragments() -> None:
    pdus = list(fragment_message(1, ECHO_COMMAND, None, 8))
    assert len(pdus) == len(ECHO_COMMAND) // 2
    assert all(len(p) == 14 for p in pdus)
    assert reassemble(pdus).message == C_ECHO_RQ(MessageID=2)


def test_pdu_bytes_of_a_single_fragment() -> None:
    (pdu,) = fragment_message(3, ECHO_COMMAND, None, 0)
    n = len(ECHO_COMMAND)
    assert pdu == bytes([0x04, 0x00]) + struct.pack(">IIBB", n + 6, n + 2, 3, 0x03) + ECHO_COMMAND


def test_file_source_is_read_in_fragment_sized_chunks() -> None:
    dataset = bytes(range(256)) * 40  # 10240 bytes
    source = Recorder(dataset)
    pdus = fragment_message(1, STORE_COMMAND, source, 1006)  # fragments of 1000
    first = next(pdus)
    assert source.sizes == []  # nothing read while the command goes out
    rest = list(pdus)
    assert source.sizes[:10] == [1000] * 10  # never more than one fragment per read
    assert all(0 < size <= 1000 for size in source.sizes)
    assert len(source.sizes) <= 13  # 11 fragments, the rest of a short one, the end
    done = reassemble([first, *rest])
    assert done.dataset is not None and done.dataset.getvalue() == dataset


def test_short_reads_still_give_full_even_fragments() -> None:
    dataset = bytes(range(200)) * 5  # 1000 bytes
    source = Recorder(dataset, short_reads=3)
    pdvs = [parse_pdata(p) for p in fragment_message(1, STORE_COMMAND, source, 106)]
    data = [p for p in pdvs if not p.is_command]
    assert [len(p.data) for p in data] == [100] * 10
    assert data[-1].is_last and not any(p.is_last for p in data[:-1])
    assert max(source.sizes) <= 100


@pytest.mark.parametrize("source", [b"", io.BytesIO(b"")], ids=["bytes", "file"])
def test_empty_dataset_is_one_empty_last_pdv(source: bytes | io.BytesIO) -> None:
    pdus = list(fragment_message(1, STORE_COMMAND, source, 16382))
    last = parse_pdata(pdus[-1])
    assert (last.is_command, last.is_last, last.data) == (False, True, b"")
    done = reassemble(pdus)
    assert done.dataset is not None and done.dataset.getvalue() == b""


def test_dataset_size_a_multiple_of_the_fragment() -> None:
    pdvs = [parse_pdata(p) for p in fragment_message(1, STORE_COMMAND, io.BytesIO(b"ab" * 50), 106)]
    data = [p for p in pdvs if not p.is_command]
    assert [(len(p.data), p.is_last) for p in data] == [(100, True)]


@pytest.mark.parametrize("dataset", [bytearray(b"abcd"), memoryview(b"abcdef")])
def test_bytes_like_datasets(dataset: bytearray | memoryview) -> None:
    done = reassemble(list(fragment_message(1, STORE_COMMAND, dataset, 10)))
    assert done.dataset is not None and done.dataset.getvalue() == bytes(dataset)


def test_odd_dataset_is_rejected_before_anything_is_sent() -> None:
    with pytest.raises(ValueError, match="odd"):
        fragment_message(1, STORE_COMMAND, b"abc", 16382)


def test_odd_file_dataset_is_rejected_at_its_end() -> None:
    pdus = fragment_message(1, STORE_COMMAND, io.BytesIO(b"abc"), 16382)
    next(pdus)  # the command
    with pytest.raises(ValueError, match="odd"):
        next(pdus)


@pytest.mark.parametrize(
    ("context_id", "command", "peer_max"),
    [
        (0, ECHO_COMMAND, 0),
        (2, ECHO_COMMAND, 0),
        (257, ECHO_COMMAND, 0),
        (1, b"", 0),
        (1, b"abc", 0),
        (1, ECHO_COMMAND, 7),
    ],
)
def test_bad_arguments(context_id: int, command: bytes, peer_max: int) -> None:
    with pytest.raises(ValueError):
        fragment_message(context_id, command, None, peer_max)


# -- MessageAssembler -------------------------------------------------------------------


def command_pdvs(command: bytes, context_id: int = 1, size: int = 10) -> list[PDV]:
    chunks = [command[i : i + size] for i in range(0, len(command), size)]
    return [PDV(context_id, True, i == len(chunks) - 1, c) for i, c in enumerate(chunks)]


def test_command_is_visible_before_the_data_arrives() -> None:
    sinks = Sinks()
    assembler = MessageAssembler(sinks)
    for pdv in command_pdvs(STORE_COMMAND, 5):
        assert assembler.receive_pdv(pdv) is None
    assert assembler.pending_message == STORE
    assert assembler.in_progress and assembler.context_id == 5
    assert sinks.calls == [(5, STORE)]
    assert assembler.receive_pdv(PDV(5, False, False, b"ab")) is None
    assert assembler.receive_pdv(PDV(5, False, False, b"")) is None
    done = assembler.receive_pdv(PDV(5, False, True, b"cd"))
    assert done is not None and done.dataset is not None
    assert done.dataset.getvalue() == b"abcd"
    assert assembler.pending_message is None and assembler.context_id is None


def test_data_is_written_as_it_arrives() -> None:
    written: list[bytes] = []

    class ListSink:
        def write(self, data: bytes, /) -> int:
            written.append(data)
            return len(data)

    assembler = MessageAssembler(lambda cid, msg: ListSink())
    assembler.receive_pdvs(command_pdvs(STORE_COMMAND))
    assembler.receive_pdv(PDV(1, False, False, b"1234"))
    assert written == [b"1234"]
    assembler.receive_pdv(PDV(1, False, False, b"56"))
    assert written == [b"1234", b"56"]


def test_empty_pdvs_are_accepted() -> None:
    assembler = MessageAssembler(Sinks())
    pdvs = [PDV(1, True, False, b""), *command_pdvs(STORE_COMMAND)]
    pdvs[-1:] = [PDV(1, True, False, pdvs[-1].data), PDV(1, True, True, b"")]
    pdvs += [PDV(1, False, False, b""), PDV(1, False, True, b"")]
    done = assembler.receive_pdvs(pdvs)
    assert len(done) == 1 and done[0].message == STORE
    assert done[0].dataset is not None and done[0].dataset.getvalue() == b""


def test_consecutive_messages_on_different_contexts() -> None:
    assembler = MessageAssembler(Sinks())
    first = assembler.receive_pdvs(command_pdvs(ECHO_COMMAND, 1))
    second = assembler.receive_pdvs([*command_pdvs(STORE_COMMAND, 3), PDV(3, False, True, b"xy")])
    assert [(e.context_id, e.message, e.dataset) for e in first] == [
        (1, C_ECHO_RQ(MessageID=2), None)
    ]
    assert [(e.context_id, e.message) for e in second] == [(3, STORE)]


def test_find_response_with_identifier() -> None:
    rsp = C_FIND_RSP(MessageIDBeingRespondedTo=1, Status=0xFF00, CommandDataSetType=0x0000)
    pdus = list(fragment_message(1, encode_command(rsp), b"\x08\x00\x52\x00", 100))
    done = reassemble(pdus)
    assert done.message == rsp and done.dataset is not None


def violation(pdvs: list[PDV], match: str, max_command_size: int = 64 * 1024) -> None:
    assembler = MessageAssembler(Sinks(), max_command_size)
    with pytest.raises(DIMSEError, match=match):
        assembler.receive_pdvs(pdvs)


def test_data_before_any_command() -> None:
    violation([PDV(1, False, True, b"ab")], "before any command set")


def test_data_before_the_command_is_complete() -> None:
    violation(
        [command_pdvs(STORE_COMMAND)[0], PDV(1, False, True, b"ab")],
        "before the command set was complete",
    )


def test_data_for_a_message_without_a_data_set() -> None:
    violation([*command_pdvs(ECHO_COMMAND), PDV(1, False, True, b"ab")], "0x0101")


def test_command_while_data_is_pending() -> None:
    violation(
        [*command_pdvs(STORE_COMMAND), PDV(1, False, False, b"ab"), *command_pdvs(ECHO_COMMAND)],
        "interleave",
    )


def test_command_right_after_a_command_announcing_data() -> None:
    violation([*command_pdvs(STORE_COMMAND), *command_pdvs(ECHO_COMMAND)], "interleave")


def test_context_change_within_the_command() -> None:
    pdvs = command_pdvs(STORE_COMMAND)
    pdvs[1] = PDV(3, True, pdvs[1].is_last, pdvs[1].data)
    violation(pdvs, "context 3 inside a message on context 1")


def test_context_change_within_the_data_set() -> None:
    violation(
        [*command_pdvs(STORE_COMMAND), PDV(1, False, False, b"ab"), PDV(3, False, True, b"cd")],
        "context 3 inside a message on context 1",
    )


def test_command_set_over_the_limit() -> None:
    violation(
        command_pdvs(STORE_COMMAND, size=len(STORE_COMMAND)),
        "exceeds 100 bytes",
        max_command_size=100,
    )
    # exactly at the limit is fine
    assembler = MessageAssembler(Sinks(), len(STORE_COMMAND))
    assembler.receive_pdvs(command_pdvs(STORE_COMMAND))
    assert assembler.pending_message == STORE


def test_command_that_does_not_decode() -> None:
    violation([PDV(1, True, True, b"\x00\x00\x00\x00\x04\x00")], "truncated")


def test_assembler_is_reusable_after_a_response_without_data() -> None:
    rsp = C_STORE_RSP(MessageIDBeingRespondedTo=1, Status=0)
    assembler = MessageAssembler(Sinks())
    for _ in range(3):
        (done,) = assembler.receive_pdvs(command_pdvs(encode_command(rsp)))
        assert done.message == rsp and done.dataset is None


def test_pdus_decode_with_the_ul_codec() -> None:
    pdus = list(fragment_message(7, STORE_COMMAND, b"\x00" * 300, 120))
    for pdu in pdus:
        assert decode_pdu(pdu) == PDataTF((parse_pdata(pdu),))


pdv_streams = st.lists(
    st.builds(
        PDV,
        context_id=st.sampled_from([1, 3]),
        is_command=st.booleans(),
        is_last=st.booleans(),
        data=st.one_of(
            st.binary(max_size=40),
            st.sampled_from([ECHO_COMMAND, STORE_COMMAND, ECHO_COMMAND[:20], STORE_COMMAND[20:]]),
        ),
    ),
    max_size=12,
)


@settings(max_examples=200)
@given(pdv_streams)
def test_any_pdv_sequence_gives_messages_or_dimse_error(pdvs: list[PDV]) -> None:
    assembler = MessageAssembler(Sinks(), max_command_size=200)
    try:
        for pdv in pdvs:
            event = assembler.receive_pdv(pdv)
            assert event is None or event.context_id == pdv.context_id
    except DIMSEError:
        pass
