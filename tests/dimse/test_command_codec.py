"""Command-set codec: round trips, bytes as DCMTK sends them, tolerance, and every defect."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet.dimse.command_codec import DIMSEError, decode_command, encode_command
from dicomnet.dimse.messages import (
    C_CANCEL_RQ,
    C_ECHO_RQ,
    C_ECHO_RSP,
    C_FIND_RSP,
    C_GET_RSP,
    C_MOVE_RQ,
    C_MOVE_RSP,
    C_STORE_RQ,
    C_STORE_RSP,
    MESSAGE_TYPES,
    Message,
)
from dicomnet.ul.errors import AbortConsequence, RemoteProtocolError
from tests.dimse import strategies
from tests.dimse.test_messages import sample

CT = "1.2.840.10008.5.1.4.1.1.2"
CT_INSTANCE = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"

# Golden command sets captured on loopback from DCMTK 3.6.7 (the PDV fragment after the 6-byte
# PDU header and the 6-byte PDV header): echoscu and storescu sending to a pynetdicom SCP, and
# storescp answering a pynetdicom SCU (C-STORE of pydicom's CT_small.dcm, Message ID 1).
DCMTK_ECHO_RQ = bytes.fromhex(
    "0000000004000000380000000000020012000000312e322e3834302e31303030382e312e3100"
    "000000010200000030000000100102000000010000000008020000000101"
)
DCMTK_ECHO_RSP = bytes.fromhex(
    "0000000004000000420000000000020012000000312e322e3834302e31303030382e312e3100"
    "00000001020000003080000020010200000001000000000802000000010100000009020000000000"
)
DCMTK_STORE_RQ = bytes.fromhex(
    "000000000400000082000000000002001a000000312e322e3834302e31303030382e352e312e342e312e312e32"
    "00000000010200000001000000100102000000010000000007020000000000000000080200000001000000"
    "001030000000312e332e362e312e342e312e353936322e312e312e312e312e312e3230303430313139303732"
    "3733302e313233323200"
)
DCMTK_STORE_RSP = bytes.fromhex(
    "000000000400000082000000000002001a000000312e322e3834302e31303030382e352e312e342e312e312e32"
    "00000000010200000001800000200102000000010000000008020000000101000000090200000000000000"
    "001030000000312e332e362e312e342e312e353936322e312e312e312e312e312e3230303430313139303732"
    "3733302e313233323200"
)


def element(elem: int, value: bytes) -> bytes:
    return struct.pack("<HHI", 0x0000, elem, len(value)) + value


def us(elem: int, value: int) -> bytes:
    return element(elem, struct.pack("<H", value))


def with_group_length(body: bytes) -> bytes:
    return element(0x0000, struct.pack("<I", len(body))) + body


def walk(data: bytes) -> list[tuple[int, int, bytes]]:
    """Independent parser: (group, element, value) for each element."""
    out = []
    offset = 0
    while offset < len(data):
        group, elem, length = struct.unpack_from("<HHI", data, offset)
        out.append((group, elem, data[offset + 8 : offset + 8 + length]))
        offset += 8 + length
    assert offset == len(data)
    return out


# -- round trips and structure ------------------------------------------------------------


@settings(max_examples=200)
@given(strategies.messages)
def test_round_trip_every_message_type(msg: Message) -> None:
    assert decode_command(encode_command(msg)) == msg


@settings(max_examples=200)
@given(strategies.messages)
def test_encoding_layout(msg: Message) -> None:
    data = encode_command(msg)
    elements = walk(data)
    group, first, value = elements[0]
    assert (group, first, len(value)) == (0, 0x0000, 4)
    assert struct.unpack("<I", value)[0] == len(data) - 12
    tags = [e for _, e, _ in elements]
    assert tags == sorted(set(tags))
    assert all(g == 0 and len(v) % 2 == 0 for g, _, v in elements)
    values = {e: v for _, e, v in elements}
    assert values[0x0100] == struct.pack("<H", msg.command_field)
    assert values[0x0800] == struct.pack("<H", msg.CommandDataSetType)


@pytest.mark.parametrize("cls", MESSAGE_TYPES, ids=lambda c: c.__name__)
def test_round_trip_minimal_message_of_each_type(cls: type[Message]) -> None:
    msg = sample(cls)
    assert decode_command(encode_command(msg)) == msg


def test_echo_rq_bytes_built_by_hand() -> None:
    uid = b"1.2.840.10008.1.1\x00"  # 17 characters, NUL padded to 18
    body = element(0x0002, uid) + us(0x0100, 0x0030) + us(0x0110, 1) + us(0x0800, 0x0101)
    expected = struct.pack("<HHII", 0, 0, 4, 56) + body
    assert len(body) == 56
    assert encode_command(C_ECHO_RQ(MessageID=1)) == expected
    assert expected == DCMTK_ECHO_RQ


@pytest.mark.parametrize(
    ("golden", "msg"),
    [
        (DCMTK_ECHO_RQ, C_ECHO_RQ(MessageID=1)),
        (
            DCMTK_ECHO_RSP,
            C_ECHO_RSP(
                AffectedSOPClassUID="1.2.840.10008.1.1", MessageIDBeingRespondedTo=1, Status=0
            ),
        ),
        (
            DCMTK_STORE_RQ,
            C_STORE_RQ(AffectedSOPClassUID=CT, MessageID=1, AffectedSOPInstanceUID=CT_INSTANCE),
        ),
        (
            DCMTK_STORE_RSP,
            C_STORE_RSP(
                AffectedSOPClassUID=CT,
                MessageIDBeingRespondedTo=1,
                Status=0,
                AffectedSOPInstanceUID=CT_INSTANCE,
            ),
        ),
    ],
    ids=["echo-rq", "echo-rsp", "store-rq", "store-rsp"],
)
def test_dcmtk_golden_bytes(golden: bytes, msg: Message) -> None:
    assert decode_command(golden) == msg
    assert decode_command(memoryview(golden)) == msg
    assert encode_command(msg) == golden


def test_padding_of_each_string_vr() -> None:
    msg = C_MOVE_RQ(AffectedSOPClassUID="1.2.3", MessageID=5, MoveDestination="ABC")
    values = {e: v for _, e, v in walk(encode_command(msg))}
    assert values[0x0002] == b"1.2.3\x00"
    assert values[0x0600] == b"ABC "
    rsp = C_STORE_RSP(
        MessageIDBeingRespondedTo=1,
        Status=0xC000,
        ErrorComment="odd",
        OffendingElement=(0x00100020, 0x7FE00010),
    )
    values = {e: v for _, e, v in walk(encode_command(rsp))}
    assert values[0x0902] == b"odd "
    assert values[0x0901] == bytes.fromhex("10002000 e07f1000")
    assert 0x0002 not in values and 0x1000 not in values  # None: not written


def test_only_fields_of_the_message_type_are_written() -> None:
    data = encode_command(C_CANCEL_RQ(MessageIDBeingRespondedTo=9))
    assert [e for _, e, _ in walk(data)] == [0x0000, 0x0100, 0x0120, 0x0800]


# -- tolerant decoding ------------------------------------------------------------------


def test_decode_ignores_retired_unknown_and_disallowed_elements() -> None:
    body = (
        element(0x0001, struct.pack("<I", 999))  # Command Length to End (retired)
        + element(0x0002, b"1.2.840.10008.1.1 ")  # space padded UID
        + us(0x0100, 0x8030)
        + us(0x0110, 77)  # Message ID in a response: retired, ignored
        + us(0x0120, 3)
        + element(0x0200, b"OLD ")  # Initiator (retired)
        + element(0x0600, b"NOTHERE ")  # Move Destination not in C-ECHO-RSP
        + us(0x0800, 0x0101)
        + us(0x0850, 4)  # Number of Matches (retired)
        + us(0x0900, 0)
        + element(0x0902, b"  why \x00\x00")
        + element(0x5010, b"xx")  # old print field
    )
    got = decode_command(body)  # no group length at all: tolerated
    assert got == C_ECHO_RSP(
        AffectedSOPClassUID="1.2.840.10008.1.1",
        MessageIDBeingRespondedTo=3,
        Status=0,
        ErrorComment="why",
    )


def test_wrong_group_length_value_is_ignored() -> None:
    data = bytearray(encode_command(C_ECHO_RQ(MessageID=2)))
    data[8:12] = struct.pack("<I", 12345)
    assert decode_command(bytes(data)) == C_ECHO_RQ(MessageID=2)


def test_zero_length_optional_element_counts_as_absent() -> None:
    body = with_group_length(
        us(0x0100, 0x8021)
        + us(0x0120, 1)
        + us(0x0800, 0x0101)
        + us(0x0900, 0)
        + element(0x0902, b"")
        + element(0x1020, b"")
        + us(0x1021, 4)
    )
    assert decode_command(body) == C_MOVE_RSP(
        MessageIDBeingRespondedTo=1, Status=0, NumberOfCompletedSuboperations=4
    )


def test_ae_titles_are_stripped_of_padding() -> None:
    msg = C_MOVE_RQ(AffectedSOPClassUID="1.2", MessageID=1, MoveDestination="STORESCP")
    body = (
        element(0x0002, b"1.2\x00")
        + us(0x0100, 0x0021)
        + us(0x0110, 1)
        + element(0x0600, b" STORESCP     \x00\x00")
        + us(0x0700, 0)
        + us(0x0800, 1)
    )
    assert decode_command(with_group_length(body)) == msg


# -- rejected defects -------------------------------------------------------------------

ECHO_BODY = [
    element(0x0002, b"1.2.840.10008.1.1\x00"),
    us(0x0100, 0x0030),
    us(0x0110, 1),
    us(0x0800, 0x0101),
]


def echo_with(*parts: bytes) -> bytes:
    return with_group_length(b"".join(parts))


DEFECTS = {
    "odd value length": echo_with(element(0x0002, b"1.2.840.10008.1.1"), *ECHO_BODY[1:]),
    "truncated header": echo_with(*ECHO_BODY) + b"\x00\x00\x00\x09",
    "truncated value": echo_with(*ECHO_BODY)[:-1] + b"",
    "value longer than data": echo_with(*ECHO_BODY) + struct.pack("<HHI", 0, 0x0902, 100) + b"ab",
    "group not 0000": echo_with(*ECHO_BODY) + struct.pack("<HHI", 0x0008, 0x0018, 2) + b"1\x00",
    "tags descending": echo_with(ECHO_BODY[1], ECHO_BODY[0], *ECHO_BODY[2:]),
    "tag repeated": echo_with(*ECHO_BODY[:3], us(0x0110, 2), ECHO_BODY[3]),
    "group length repeated": echo_with(*ECHO_BODY)[:12] + echo_with(*ECHO_BODY),
    "no command field": echo_with(ECHO_BODY[0], *ECHO_BODY[2:]),
    "empty command field": echo_with(ECHO_BODY[0], element(0x0100, b""), *ECHO_BODY[2:]),
    "unknown command field": echo_with(ECHO_BODY[0], us(0x0100, 0x1234), *ECHO_BODY[2:]),
    "N-EVENT-REPORT without instance": echo_with(ECHO_BODY[0], us(0x0100, 0x0100), *ECHO_BODY[2:]),
    "command field past N-DELETE": echo_with(ECHO_BODY[0], us(0x0100, 0x0160), *ECHO_BODY[2:]),
    "US of 4 bytes": echo_with(*ECHO_BODY[:2], element(0x0110, b"\x01\x00\x00\x00"), ECHO_BODY[3]),
    "group length of 2 bytes": element(0x0000, b"\x00\x00") + b"".join(ECHO_BODY),
    "AT not a multiple of 4": with_group_length(
        us(0x0100, 0x8030)
        + us(0x0120, 1)
        + us(0x0800, 0x0101)
        + us(0x0900, 0)
        + element(0x0901, b"\x10\x00\x20\x00\x01\x00")
    ),
    "empty input": b"",
}


DEFECT_REASONS = {
    "odd value length": "odd length 17",
    "truncated header": "header needs 8",
    "truncated value": r"\(0000,0800\) claims 2 bytes, only 1 remain",
    "value longer than data": "claims 100 bytes",
    "group not 0000": r"\(0008,0018\) .* not in command group",
    "tags descending": "out of ascending order",
    "tag repeated": r"\(0000,0110\) is repeated",
    "group length repeated": r"\(0000,0000\) is repeated",
    "no command field": "no Command Field",
    "empty command field": "no Command Field",
    "unknown command field": "unsupported Command Field 0x1234",
    "N-EVENT-REPORT without instance": "N_EVENT_REPORT_RQ lacks mandatory AffectedSOPInstanceUID",
    "command field past N-DELETE": "unsupported Command Field 0x0160",
    "US of 4 bytes": r"MessageID \(US\) has length 4",
    "group length of 2 bytes": r"CommandGroupLength \(UL\) has length 2",
    "AT not a multiple of 4": r"OffendingElement \(AT\) has length 6",
    "empty input": "no Command Field",
}


@pytest.mark.parametrize("name", DEFECTS)
def test_defect_raises_dimse_error(name: str) -> None:
    with pytest.raises(DIMSEError, match=DEFECT_REASONS[name]) as info:
        decode_command(DEFECTS[name])
    assert isinstance(info.value, RemoteProtocolError)
    assert info.value.consequence == AbortConsequence(source=2, reason=6)


def _mandatory_cases() -> list[tuple[str, bytes, int]]:
    cases = []
    for cls in MESSAGE_TYPES:
        data = encode_command(sample(cls))
        for _, elem, _ in walk(data):
            if elem in (0x0000, 0x0100):
                continue
            cases.append((cls.__name__, data, elem))
    return cases


@pytest.mark.parametrize(("name", "data", "elem"), _mandatory_cases())
def test_missing_mandatory_field_raises(name: str, data: bytes, elem: int) -> None:
    body = b"".join(element(e, v) for _, e, v in walk(data)[1:] if e != elem)
    with pytest.raises(DIMSEError, match=name):
        decode_command(with_group_length(body))


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_garbage_raises_only_dimse_error(data: bytes) -> None:
    with contextlib.suppress(DIMSEError):
        decode_command(data)


@settings(max_examples=200)
@given(strategies.messages, st.data())
def test_corrupted_encodings_raise_only_dimse_error(msg: Message, data: st.DataObject) -> None:
    raw = bytearray(encode_command(msg))
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    try:
        decoded = decode_command(bytes(raw[:cut]))
    except DIMSEError:
        return
    assert type(decoded).command_field in {c.command_field for c in MESSAGE_TYPES}


# -- encoder input checks ----------------------------------------------------------------


@pytest.mark.parametrize(
    "msg",
    [
        C_MOVE_RQ(AffectedSOPClassUID="1.2", MessageID=1, MoveDestination="X" * 17),
        C_ECHO_RQ(MessageID=0x10000),
        C_ECHO_RQ(MessageID=-1),
        C_ECHO_RQ(AffectedSOPClassUID="1." * 33, MessageID=1),
        C_STORE_RSP(MessageIDBeingRespondedTo=1, Status=0, ErrorComment="x" * 65),
        C_STORE_RSP(MessageIDBeingRespondedTo=1, Status=0, OffendingElement=(1 << 32,)),
        C_FIND_RSP(MessageIDBeingRespondedTo=1, Status=0, ErrorComment="\u20ac"),
    ],
    ids=["ae-17", "us-big", "us-neg", "uid-66", "lo-65", "at-big", "non-latin1"],
)
def test_encode_rejects_bad_values(msg: Message) -> None:
    with pytest.raises(ValueError):
        encode_command(msg)


def test_encode_rejects_missing_mandatory_value() -> None:
    msg = C_GET_RSP(MessageIDBeingRespondedTo=1, Status=0)
    msg.Status = None  # type: ignore[assignment]
    with pytest.raises(ValueError, match="Status"):
        encode_command(msg)


def test_encode_rejects_non_messages() -> None:
    with pytest.raises(TypeError):
        encode_command(object())  # type: ignore[arg-type]
