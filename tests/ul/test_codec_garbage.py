"""Defective input: each defect maps to its documented wire consequence, and garbage or mutated
PDUs (fed to the decoder and to the framer, whole and byte by byte) give only RemoteProtocolError.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet.ul.codec import decode_pdu, decode_pdu_body, encode_pdu
from dicomnet.ul.errors import AbortConsequence, RejectConsequence, RemoteProtocolError
from dicomnet.ul.framing import PDUReader
from dicomnet.ul.pdu import PDU
from tests.ul import strategies as s
from tests.ul.test_codec import (
    APP_CONTEXT,
    IMPLICIT_LE,
    VERIFICATION,
    ac_bytes,
    item,
    pc_rq_item,
    pdu_bytes,
    rq_bytes,
    user_info_item,
)

APP = item(0x10, APP_CONTEXT.encode())
PC = pc_rq_item()
UI = user_info_item()
ML = item(0x51, struct.pack(">I", 16384))
CLASS_UID = item(0x52, b"1.2.3.4")
TS = item(0x40, IMPLICIT_LE.encode())

VERSION = RejectConsequence(1, 2, 2)
CALLED = RejectConsequence(1, 1, 7)
CALLING = RejectConsequence(1, 1, 3)
APP_CTX = RejectConsequence(1, 1, 2)
RQ_OTHER = RejectConsequence(1, 2, 1)
INVALID = AbortConsequence(2, 6)
UNEXPECTED = AbortConsequence(2, 5)
UNRECOGNIZED = AbortConsequence(2, 1)


def rq_ui(*subs: bytes) -> bytes:
    return rq_bytes(APP, PC, item(0x50, b"".join(subs)))


def ac_pc(context_id: int, result: int, *subs: bytes) -> bytes:
    return item(0x21, bytes((context_id, 0, result, 0)) + b"".join(subs))


DEFECTS: dict[str, tuple[bytes, AbortConsequence | RejectConsequence]] = {
    # A-ASSOCIATE-RQ, well framed: answered with A-ASSOCIATE-RJ
    "rq version 0": (rq_bytes(version=0), VERSION),
    "rq version 2 only": (rq_bytes(version=2), VERSION),
    "rq called all spaces": (rq_bytes(called=b""), CALLED),
    "rq called backslash": (rq_bytes(called=b"A\\B"), CALLED),
    "rq called control char": (rq_bytes(called=b"A\x01B"), CALLED),
    "rq called non-ascii": (rq_bytes(called=b"\xc4RZTE"), CALLED),
    "rq calling all spaces": (rq_bytes(calling=b""), CALLING),
    "rq calling tab": (rq_bytes(calling=b"A\tB"), CALLING),
    "rq version wins over titles": (rq_bytes(called=b"", calling=b"", version=0), VERSION),
    "rq called wins over calling": (rq_bytes(called=b"", calling=b""), CALLED),
    "rq no app context": (rq_bytes(PC, UI), APP_CTX),
    "rq two app contexts": (rq_bytes(APP, APP, PC, UI), APP_CTX),
    "rq app context not a uid": (rq_bytes(item(0x10, b"1.2.x"), PC, UI), APP_CTX),
    "rq calling wins over app context": (rq_bytes(PC, UI, calling=b"\\"), CALLING),
    "rq context id even": (rq_bytes(APP, pc_rq_item(2), UI), RQ_OTHER),
    "rq context id 0": (rq_bytes(APP, pc_rq_item(0), UI), RQ_OTHER),
    "rq context id duplicate": (rq_bytes(APP, PC, pc_rq_item(1), UI), RQ_OTHER),
    "rq no context": (rq_bytes(APP, UI), RQ_OTHER),
    "rq context without abstract": (
        rq_bytes(APP, item(0x20, bytes(4) + TS), UI),
        RQ_OTHER,
    ),
    "rq context two abstracts": (
        rq_bytes(APP, item(0x20, b"\x01\0\0\0" + item(0x30, b"1.2") * 2 + TS), UI),
        RQ_OTHER,
    ),
    "rq context without transfer syntax": (
        rq_bytes(APP, item(0x20, b"\x01\0\0\0" + item(0x30, b"1.2")), UI),
        RQ_OTHER,
    ),
    "rq abstract leading zero": (rq_bytes(APP, pc_rq_item(1, b"1.02"), UI), RQ_OTHER),
    "rq abstract empty component": (rq_bytes(APP, pc_rq_item(1, b"1..2"), UI), RQ_OTHER),
    "rq abstract letters": (rq_bytes(APP, pc_rq_item(1, b"1.2.a"), UI), RQ_OTHER),
    "rq abstract 65 chars": (rq_bytes(APP, pc_rq_item(1, b"1." + b"9" * 63), UI), RQ_OTHER),
    "rq abstract empty": (rq_bytes(APP, pc_rq_item(1, b""), UI), RQ_OTHER),
    "rq transfer syntax invalid": (rq_bytes(APP, pc_rq_item(1, b"1.2", b"1.2.\xff"), UI), RQ_OTHER),
    "rq no user information": (rq_bytes(APP, PC), RQ_OTHER),
    "rq two user information": (rq_bytes(APP, PC, UI, UI), RQ_OTHER),
    "rq no max length": (rq_ui(CLASS_UID), RQ_OTHER),
    "rq two max lengths": (rq_ui(ML, ML, CLASS_UID), RQ_OTHER),
    "rq no implementation class uid": (rq_ui(ML), RQ_OTHER),
    "rq bad implementation class uid": (rq_ui(ML, item(0x52, b"1.2.03")), RQ_OTHER),
    "rq two async windows": (rq_ui(ML, CLASS_UID, item(0x53, bytes(4)) * 2), RQ_OTHER),
    "rq two version names": (rq_ui(ML, CLASS_UID, item(0x55, b"A"), item(0x55, b"B")), RQ_OTHER),
    "rq two identities": (
        rq_ui(ML, CLASS_UID, item(0x58, b"\x01\x00\x00\x01a\x00\x00") * 2),
        RQ_OTHER,
    ),
    "rq duplicate role sop class": (
        rq_ui(ML, CLASS_UID, item(0x54, b"\x00\x031.2\x01\x01") * 2),
        RQ_OTHER,
    ),
    "rq ac context item": (rq_bytes(APP, PC, ac_pc(3, 0, TS), UI), RQ_OTHER),
    # A-ASSOCIATE-RQ, badly framed: A-ABORT even when values are bad too
    "rq body below 68 bytes": (pdu_bytes(0x01, bytes(67)), INVALID),
    "rq app item overruns": (rq_bytes(item(0x10, b"1.2")[:-1], called=b""), INVALID),
    "rq truncated item header": (rq_bytes(APP, PC, UI, b"\x60\x00\x00"), INVALID),
    "rq context item shorter than 4": (rq_bytes(APP, item(0x20, b"\x01\0\0"), UI), INVALID),
    "rq sub-item overruns context": (
        rq_bytes(APP, item(0x20, b"\x01\0\0\0" + item(0x30, b"1.2")[:-1]), UI),
        INVALID,
    ),
    "rq max length sub-item length 3": (rq_ui(item(0x51, b"\0\0\1"), CLASS_UID), INVALID),
    "rq async sub-item length 5": (rq_ui(ML, CLASS_UID, item(0x53, bytes(5))), INVALID),
    "rq role uid length overruns": (
        rq_ui(ML, CLASS_UID, item(0x54, b"\x00\x091.2\x01\x01")),
        INVALID,
    ),
    "rq role trailing byte": (
        rq_ui(ML, CLASS_UID, item(0x54, b"\x00\x031.2\x01\x01\x00")),
        INVALID,
    ),
    "rq extended uid length field cut": (rq_ui(ML, CLASS_UID, item(0x56, b"\x00")), INVALID),
    "rq common extended related overrun": (
        rq_ui(ML, CLASS_UID, item(0x57, b"\x00\x011\x00\x011\x00\x09\x00\x011")),
        INVALID,
    ),
    "rq identity trailing byte": (
        rq_ui(ML, CLASS_UID, item(0x58, b"\x01\x00\x00\x01a\x00\x00!")),
        INVALID,
    ),
    "rq identity secondary overrun": (
        rq_ui(ML, CLASS_UID, item(0x58, b"\x02\x00\x00\x01a\x00\x05pw")),
        INVALID,
    ),
    "rq identity shorter than 2": (rq_ui(ML, CLASS_UID, item(0x58, b"\x01")), INVALID),
    "rq bad called and bad framing": (rq_bytes(APP, PC, UI[:-1], called=b"\\"), INVALID),
    # A-ASSOCIATE-AC: every defect is an A-ABORT
    "ac version 0": (pdu_bytes(0x02, bytes(2) + ac_bytes()[8:]), INVALID),
    "ac context id even": (ac_bytes(APP, ac_pc(2, 0, TS), UI), INVALID),
    "ac context id duplicate": (ac_bytes(APP, ac_pc(1, 0, TS), ac_pc(1, 3, TS), UI), INVALID),
    "ac no context": (ac_bytes(APP, UI), INVALID),
    "ac result 5": (ac_bytes(APP, ac_pc(1, 5, TS), UI), INVALID),
    "ac accepted without transfer syntax": (ac_bytes(APP, ac_pc(1, 0), UI), INVALID),
    "ac accepted two transfer syntaxes": (ac_bytes(APP, ac_pc(1, 0, TS, TS), UI), INVALID),
    "ac accepted bad transfer syntax": (ac_bytes(APP, ac_pc(1, 0, item(0x40, b"x")), UI), INVALID),
    "ac no implementation class uid": (ac_bytes(APP, ac_pc(1, 0, TS), item(0x50, ML)), INVALID),
    "ac rq context item": (ac_bytes(APP, ac_pc(1, 0, TS), PC, UI), UNEXPECTED),
    "ac app context not a uid": (ac_bytes(item(0x10, b"nope"), ac_pc(1, 0, TS), UI), INVALID),
    # P-DATA-TF
    "pdata empty": (pdu_bytes(0x04, b""), INVALID),
    "pdata pdv length 1": (pdu_bytes(0x04, bytes.fromhex("00000001 01 03")), INVALID),
    "pdata pdv length 0": (pdu_bytes(0x04, bytes.fromhex("00000000 01 03")), INVALID),
    "pdata pdv overruns": (pdu_bytes(0x04, bytes.fromhex("00000005 01 03 0000")), INVALID),
    "pdata context id even": (pdu_bytes(0x04, bytes.fromhex("00000002 02 03")), INVALID),
    "pdata context id 0": (pdu_bytes(0x04, bytes.fromhex("00000002 00 03")), INVALID),
    "pdata trailing bytes": (
        pdu_bytes(0x04, bytes.fromhex("00000002 01 03 0000000201")),
        INVALID,
    ),
    # Headers and fixed-length PDUs
    "unknown type 0x08": (pdu_bytes(0x08, bytes(4)), UNRECOGNIZED),
    "unknown type 0x00": (pdu_bytes(0x00, b""), UNRECOGNIZED),
    "unknown type 0xFF": (pdu_bytes(0xFF, bytes(100)), UNRECOGNIZED),
    "rj length 5": (pdu_bytes(0x03, bytes(5)), INVALID),
    "release rq length 3": (pdu_bytes(0x05, bytes(3)), INVALID),
    "release rp length 0": (pdu_bytes(0x06, b""), INVALID),
    "abort length 6": (pdu_bytes(0x07, bytes(6)), INVALID),
    "header truncated": (b"\x07\x00\x00", INVALID),
    "pdu-length too large": (b"\x07\x00\x00\x00\x00\x05" + bytes(4), INVALID),
    "pdu-length too small": (b"\x07\x00\x00\x00\x00\x04" + bytes(5), INVALID),
}


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_defect_maps_to_documented_consequence(name: str) -> None:
    raw, consequence = DEFECTS[name]
    with pytest.raises(RemoteProtocolError) as caught:
        decode_pdu(raw)
    assert caught.value.consequence == consequence
    assert "unchecked" not in str(caught.value)


def test_decode_pdu_body_rejects_unknown_type_with_reason_1() -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        decode_pdu_body(0x09, bytes(4))
    assert caught.value.consequence == UNRECOGNIZED


def test_defective_rq_is_valid_after_fixing_the_defect() -> None:
    # Guards the table above: the baseline RQ that the defects are built from decodes.
    assert decode_pdu(rq_bytes()) is not None
    assert decode_pdu(rq_ui(ML, CLASS_UID)) is not None
    assert decode_pdu(rq_bytes(APP, pc_rq_item(1, VERIFICATION.encode()), UI)) is not None
    assert decode_pdu(ac_bytes()) is not None


# ------------------------------------------------------------------------------------------
# Garbage in, only RemoteProtocolError out


@dataclass(frozen=True)
class ReaderOutcome:
    """What a PDUReader made of a byte stream."""

    error: AbortConsequence | RejectConsequence | None
    pdus: tuple[PDU, ...] = ()
    in_progress: bool = False


def decode_outcome(raw: bytes) -> PDU | RemoteProtocolError:
    try:
        return decode_pdu(raw)
    except RemoteProtocolError as exc:
        assert "unchecked" not in str(exc), exc  # every defect has an explicit check
        return exc


def reader_outcome(raw: bytes, chunk_sizes: list[int] | None = None) -> ReaderOutcome:
    """Feed ``raw`` whole (None) or in chunks of the given sizes, cycling."""
    reader = PDUReader(max_pdata_length=0)
    got: list[PDU] = []
    sizes = chunk_sizes or [max(len(raw), 1)]
    pos = 0
    count = 0
    try:
        while pos < len(raw):
            size = sizes[count % len(sizes)]
            got.extend(reader.feed(raw[pos : pos + size]))
            pos += size
            count += 1
    except RemoteProtocolError as exc:
        assert "unchecked" not in str(exc), exc
        return ReaderOutcome(exc.consequence)
    return ReaderOutcome(None, tuple(got), reader.in_progress)


def check_everywhere(raw: bytes) -> None:
    """decode_pdu and PDUReader (whole, byte by byte) agree and raise only our error."""
    decoded = decode_outcome(raw)
    whole = reader_outcome(raw)
    assert reader_outcome(raw, [1]) == whole
    if not isinstance(decoded, RemoteProtocolError):
        assert whole == ReaderOutcome(None, (decoded,), False)
    elif whole.error is None and not whole.in_progress:
        # The reader ended cleanly on bytes decode_pdu refused: they cannot be exactly one PDU.
        assert len(whole.pdus) != 1


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes(raw: bytes) -> None:
    check_everywhere(raw)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 8), st.binary(max_size=200))
def test_arbitrary_body_behind_a_consistent_header(pdu_type: int, body: bytes) -> None:
    check_everywhere(struct.pack(">BBI", pdu_type, 0, len(body)) + body)
    try:
        decode_pdu_body(pdu_type, body)
    except RemoteProtocolError as exc:
        assert "unchecked" not in str(exc)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=0, max_size=200))
def test_arbitrary_items_behind_a_valid_rq_fixed_part(tail: bytes) -> None:
    check_everywhere(rq_bytes(tail))


def length_fields(raw: bytes) -> list[tuple[int, int]]:
    """(offset, width) of every length field in a valid encoded PDU (PS3.8 9.3 layouts)."""
    fields = [(2, 4)]

    def walk(start: int, end: int) -> list[tuple[int, int, int]]:
        out = []
        pos = start
        while pos < end:
            size = int.from_bytes(raw[pos + 2 : pos + 4], "big")
            fields.append((pos + 2, 2))
            out.append((raw[pos], pos + 4, pos + 4 + size))
            pos += 4 + size
        return out

    def prefixed(pos: int) -> int:
        fields.append((pos, 2))
        return pos + 2 + int.from_bytes(raw[pos : pos + 2], "big")

    if raw[0] == 0x04:
        pos = 6
        while pos < len(raw):
            fields.append((pos, 4))
            pos += 4 + int.from_bytes(raw[pos : pos + 4], "big")
    elif raw[0] in (0x01, 0x02):
        for item_type, start, end in walk(74, len(raw)):
            if item_type in (0x20, 0x21):
                walk(start + 4, end)
            elif item_type == 0x50:
                for sub_type, s_start, _ in walk(start, end):
                    if sub_type in (0x54, 0x56, 0x59):
                        prefixed(s_start)
                    elif sub_type == 0x57:
                        list_start = prefixed(prefixed(s_start)) + 2
                        list_end = prefixed(list_start - 2)
                        while list_start < list_end:
                            list_start = prefixed(list_start)
                    elif sub_type == 0x58:
                        prefixed(prefixed(s_start + 2))
    return fields


_MUTATION_SOURCES = st.one_of(
    s.associate_rq(), s.associate_ac(), s.associate_rq(), s.associate_ac(), s.pdus()
)


@st.composite
def mutated_pdus(draw: st.DrawFn) -> bytes:
    """A valid PDU with one defect: a length field set to 0, 1, ..., max or off by one, a
    truncation, a flipped byte, inserted or deleted bytes. Mostly the PDU-length is then made
    consistent again so that the defect is met deeper inside."""
    raw = bytearray(encode_pdu(draw(_MUTATION_SOURCES)))
    kind = draw(st.sampled_from(["length", "length", "truncate", "flip", "insert", "delete"]))
    if kind == "length":
        offset, width = draw(st.sampled_from(length_fields(bytes(raw))))
        original = int.from_bytes(raw[offset : offset + width], "big")
        top = (1 << (8 * width)) - 1
        value = draw(st.sampled_from([0, 1, 2, 3, 4, 5, top, original - 1, original + 1]))
        raw[offset : offset + width] = (value & top).to_bytes(width, "big")
        return bytes(raw)
    if kind == "truncate":
        del raw[draw(st.integers(0, len(raw) - 1)) :]
    elif kind == "flip":
        at = draw(st.integers(0, len(raw) - 1))
        raw[at] ^= draw(st.integers(1, 255))
    elif kind == "insert":
        at = draw(st.integers(0, len(raw)))
        raw[at:at] = draw(st.binary(min_size=1, max_size=4))
    else:
        del raw[draw(st.integers(0, len(raw) - 1))]
    if len(raw) >= 6 and draw(st.integers(0, 3)) > 0:
        raw[2:6] = struct.pack(">I", len(raw) - 6)
    return bytes(raw)


@settings(max_examples=300, deadline=None)
@given(mutated_pdus())
def test_mutated_valid_pdus(raw: bytes) -> None:
    check_everywhere(raw)


@settings(max_examples=100, deadline=None)
@given(st.lists(mutated_pdus(), min_size=1, max_size=3), st.lists(st.integers(1, 50), min_size=1))
def test_mutated_streams_give_same_outcome_for_any_chunking(
    blobs: list[bytes], chunk_sizes: list[int]
) -> None:
    stream = b"".join(blobs)
    assert reader_outcome(stream, chunk_sizes) == reader_outcome(stream)


@settings(max_examples=50, deadline=None)
@given(s.pdus())
def test_length_walker_finds_the_pdu_length(pdu: PDU) -> None:
    # Keeps the mutation helper honest: every field it names holds a plausible length.
    raw = encode_pdu(pdu)
    for offset, width in length_fields(raw):
        assert int.from_bytes(raw[offset : offset + width], "big") <= len(raw) - offset - width
