"""Upper Layer PDU codec: round-trips, byte layouts per PS3.8 9.3, tolerance, validation helpers."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings

from dicomnet.ul.codec import (
    decode_pdu,
    decode_pdu_body,
    encode_pdata_single,
    encode_pdu,
    is_valid_uid,
    validate_ae_title,
)
from dicomnet.ul.errors import LocalProtocolError
from dicomnet.ul.items import (
    AsyncOpsWindow,
    PresentationContextAC,
    PresentationContextRQ,
    RoleSelection,
    SOPClassCommonExtended,
    SOPClassExtended,
    UnknownSubItem,
    UserIdentityAC,
    UserIdentityRQ,
    UserInformation,
)
from dicomnet.ul.pdu import (
    PDU,
    PDV,
    Abort,
    AssociateAC,
    AssociateRJ,
    AssociateRQ,
    PDataTF,
    ReleaseRP,
    ReleaseRQ,
)
from tests.ul import strategies as s

VERIFICATION = "1.2.840.10008.1.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
APP_CONTEXT = "1.2.840.10008.3.1.1.1"

# ------------------------------------------------------------------------------------------
# Hand byte builders (independent of the encoder; shared with test_codec_garbage)


def item(item_type: int, value: bytes, byte1: int = 0) -> bytes:
    """An item or sub-item with the common 4-byte header."""
    return struct.pack(">BBH", item_type, byte1, len(value)) + value


def pdu_bytes(pdu_type: int, body: bytes) -> bytes:
    return struct.pack(">BBI", pdu_type, 0, len(body)) + body


def fixed_part(called: bytes = b"ANY-SCP", calling: bytes = b"ECHOSCU", version: int = 1) -> bytes:
    """Offsets 6-73 of A-ASSOCIATE-RQ/AC: version, reserved, AE titles, 32 reserved bytes."""
    return struct.pack(">HH", version, 0) + called.ljust(16) + calling.ljust(16) + bytes(32)


def user_info_item(*extra: bytes, max_length: int = 16384, class_uid: bytes = b"1.2.3.4") -> bytes:
    subs = item(0x51, struct.pack(">I", max_length)) + item(0x52, class_uid)
    return item(0x50, subs + b"".join(extra))


def pc_rq_item(context_id: int = 1, abstract: bytes = VERIFICATION.encode(), *ts: bytes) -> bytes:
    subs = item(0x30, abstract) + b"".join(item(0x40, t) for t in (ts or (IMPLICIT_LE.encode(),)))
    return item(0x20, bytes((context_id, 0, 0, 0)) + subs)


def rq_bytes(
    *items: bytes,
    called: bytes = b"ANY-SCP",
    calling: bytes = b"ECHOSCU",
    version: int = 1,
) -> bytes:
    """A whole A-ASSOCIATE-RQ; without items: app context, one context, minimal user info."""
    body = items or (item(0x10, APP_CONTEXT.encode()), pc_rq_item(), user_info_item())
    return pdu_bytes(0x01, fixed_part(called, calling, version) + b"".join(body))


def ac_bytes(*items: bytes) -> bytes:
    default = (
        item(0x10, APP_CONTEXT.encode()),
        item(0x21, bytes((1, 0, 0, 0)) + item(0x40, IMPLICIT_LE.encode())),
        user_info_item(),
    )
    return pdu_bytes(0x02, fixed_part() + b"".join(items or default))


def minimal_user_info(**kwargs: object) -> UserInformation:
    return UserInformation(max_length=16384, implementation_class_uid="1.2.3.4", **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------
# Round-trips


@settings(max_examples=200, deadline=None)
@given(s.pdus())
def test_every_pdu_round_trips(pdu: PDU) -> None:
    assert decode_pdu(encode_pdu(pdu)) == pdu


@settings(max_examples=100, deadline=None)
@given(s.associate_rq())
def test_associate_rq_round_trips(pdu: AssociateRQ) -> None:
    encoded = encode_pdu(pdu)
    assert encoded[0] == 0x01
    assert decode_pdu(encoded) == pdu


@settings(max_examples=100, deadline=None)
@given(s.associate_ac())
def test_associate_ac_round_trips(pdu: AssociateAC) -> None:
    assert decode_pdu(encode_pdu(pdu)) == pdu


@settings(max_examples=100, deadline=None)
@given(s.user_information_rq(), s.user_information_ac())
def test_user_information_round_trips_in_both_pdus(
    rq_ui: UserInformation, ac_ui: UserInformation
) -> None:
    ctx = (PresentationContextRQ(1, VERIFICATION, (IMPLICIT_LE,)),)
    rq = AssociateRQ("A", "B", ctx, rq_ui)
    ac = AssociateAC("A", "B", (PresentationContextAC(1, 0, IMPLICIT_LE),), ac_ui)
    assert decode_pdu(encode_pdu(rq)) == rq
    assert decode_pdu(encode_pdu(ac)) == ac


@settings(max_examples=100, deadline=None)
@given(s.p_data_tf(max_pdvs=6, max_data=300))
def test_p_data_round_trips_and_body_decoder_agrees(pdu: PDataTF) -> None:
    encoded = encode_pdu(pdu)
    assert decode_pdu(encoded) == pdu
    assert decode_pdu_body(0x04, memoryview(encoded)[6:]) == pdu
    assert struct.unpack_from(">I", encoded, 2)[0] == len(encoded) - 6


@settings(max_examples=100, deadline=None)
@given(s.pdvs(max_data=200))
def test_encode_pdata_single_matches_general_encoder(pdv: PDV) -> None:
    expected = encode_pdu(PDataTF((pdv,)))
    args = (pdv.context_id, pdv.is_command, pdv.is_last)
    assert encode_pdata_single(*args, pdv.data) == expected
    assert encode_pdata_single(*args, memoryview(pdv.data)) == expected


@settings(max_examples=100, deadline=None)
@given(s.uids())
def test_generated_uids_are_valid(uid: str) -> None:
    assert is_valid_uid(uid)


@settings(max_examples=100, deadline=None)
@given(s.ae_titles())
def test_generated_ae_titles_are_valid(title: str) -> None:
    assert validate_ae_title(title) == title


# ------------------------------------------------------------------------------------------
# Byte layouts (PS3.8 Tables 9-11 to 9-26, offsets as in pdu-formats.md)

ECHO_RQ = AssociateRQ(
    called_ae_title="ANY-SCP",
    calling_ae_title="ECHOSCU",
    presentation_contexts=(PresentationContextRQ(1, VERIFICATION, (IMPLICIT_LE,)),),
    user_information=UserInformation(
        max_length=16384, implementation_class_uid="1.2.3.4", implementation_version_name="DN_010"
    ),
)
ECHO_RQ_BYTES = (
    bytes.fromhex("01 00 000000B0")  # type, reserved, PDU-length 176
    + bytes.fromhex("0001 0000")  # protocol version 1, reserved
    + b"ANY-SCP         "  # called AE, offset 10
    + b"ECHOSCU         "  # calling AE, offset 26
    + bytes(32)  # reserved, offset 42
    + bytes.fromhex("10 00 0015")  # application context, offset 74
    + b"1.2.840.10008.3.1.1.1"
    + bytes.fromhex("20 00 002E 01 00 00 00")  # presentation context 1
    + bytes.fromhex("30 00 0011")
    + b"1.2.840.10008.1.1"
    + bytes.fromhex("40 00 0011")
    + b"1.2.840.10008.1.2"
    + bytes.fromhex("50 00 001D")  # user information
    + bytes.fromhex("51 00 0004 00004000")
    + bytes.fromhex("52 00 0007")
    + b"1.2.3.4"
    + bytes.fromhex("55 00 0006")
    + b"DN_010"
)


def test_associate_rq_layout() -> None:
    assert len(ECHO_RQ_BYTES) == 6 + 0xB0
    assert encode_pdu(ECHO_RQ) == ECHO_RQ_BYTES
    assert decode_pdu(ECHO_RQ_BYTES) == ECHO_RQ


def test_associate_ac_layout_with_rejected_context() -> None:
    ac = AssociateAC(
        called_ae_title="ANY-SCP",
        calling_ae_title="ECHOSCU",
        presentation_contexts=(
            PresentationContextAC(1, 0, IMPLICIT_LE),
            PresentationContextAC(3, 3, ""),
        ),
        user_information=UserInformation(max_length=0, implementation_class_uid="1.2.3.4"),
    )
    expected = (
        bytes.fromhex("02 00 0000009D 0001 0000")
        + b"ANY-SCP         ECHOSCU         "  # reserved: copy of the RQ titles
        + bytes(32)
        + bytes.fromhex("10 00 0015")
        + b"1.2.840.10008.3.1.1.1"
        + bytes.fromhex("21 00 0019 01 00 00 00 40 00 0011")  # result at item offset 6
        + b"1.2.840.10008.1.2"
        + bytes.fromhex("21 00 0008 03 00 03 00 40 00 0000")  # rejected: empty transfer syntax
        + bytes.fromhex("50 00 0013 51 00 0004 00000000 52 00 0007")
        + b"1.2.3.4"
    )
    assert encode_pdu(ac) == expected
    assert decode_pdu(expected) == ac


@pytest.mark.parametrize(
    ("pdu", "expected"),
    [
        (AssociateRJ(1, 1, 7), "03 00 00000004 00 01 01 07"),
        (AssociateRJ(2, 3, 2), "03 00 00000004 00 02 03 02"),
        (ReleaseRQ(), "05 00 00000004 00000000"),
        (ReleaseRP(), "06 00 00000004 00000000"),
        (Abort(0, 0), "07 00 00000004 00 00 00 00"),
        (Abort(2, 6), "07 00 00000004 00 00 02 06"),
    ],
)
def test_fixed_length_pdu_layouts(pdu: PDU, expected: str) -> None:
    assert encode_pdu(pdu) == bytes.fromhex(expected)
    assert decode_pdu(bytes.fromhex(expected)) == pdu


def test_fixed_length_pdus_ignore_reserved_bytes() -> None:
    assert decode_pdu(bytes.fromhex("03 FF 00000004 FF 01 02 02")) == AssociateRJ(1, 2, 2)
    assert decode_pdu(bytes.fromhex("05 FF 00000004 FFFFFFFF")) == ReleaseRQ()
    assert decode_pdu(bytes.fromhex("07 00 00000004 AA BB 00 09")) == Abort(0, 9)


def test_p_data_layout_and_control_header_bits() -> None:
    pdu = PDataTF(
        (
            PDV(1, is_command=True, is_last=True, data=b"\x01\x02"),
            PDV(3, is_command=False, is_last=False, data=b"abcd"),
            PDV(5, is_command=False, is_last=True, data=b""),
            PDV(7, is_command=True, is_last=False, data=b"zz"),
        )
    )
    expected = (
        bytes.fromhex("04 00 00000020")
        + bytes.fromhex("00000004 01 03 0102")
        + bytes.fromhex("00000006 03 00 61626364")
        + bytes.fromhex("00000002 05 02")
        + bytes.fromhex("00000004 07 01 7A7A")
    )
    assert encode_pdu(pdu) == expected
    assert decode_pdu(expected) == pdu


def test_pdv_control_header_ignores_bits_2_to_7() -> None:
    decoded = decode_pdu(bytes.fromhex("04 00 00000008 00000004 01 FF 0000"))
    assert decoded == PDataTF((PDV(1, True, True, b"\x00\x00"),))


def test_encode_pdata_single_layout() -> None:
    assert encode_pdata_single(5, False, True, b"\xaa\xbb") == bytes.fromhex(
        "04 00 00000008 00000004 05 02 AABB"
    )


def test_user_information_sub_item_layouts_and_ascending_order() -> None:
    ui = UserInformation(
        max_length=0x10000,
        implementation_class_uid="1.2.3",
        implementation_version_name="V1",
        async_ops=AsyncOpsWindow(3, 0),
        roles=(RoleSelection("1.2", scu_role=False, scp_role=True),),
        sop_class_extended=(SOPClassExtended("1.3", b"\x01\x00"),),
        sop_class_common_extended=(SOPClassCommonExtended("1.4", "1.5", ("1.6", "1.7")),),
        user_identity_rq=UserIdentityRQ(2, True, b"bob", b"pw"),
        user_identity_ac=UserIdentityAC(b"ok"),
        unknown=(UnknownSubItem(0x5A, b"?"), UnknownSubItem(0xF0, b"")),
    )
    expected_subs = bytes.fromhex(
        "51 00 0004 00010000"
        "52 00 0005 312E322E33"
        "53 00 0004 0003 0000"
        "54 00 0007 0003 312E32 00 01"  # UID length, UID, SCU role, then SCP role
        "55 00 0002 5631"
        "56 00 0007 0003 312E33 0100"
        "57 00 0016 0003 312E34 0003 312E35 000A 0003 312E36 0003 312E37"
        "58 00 000B 02 01 0003 626F62 0002 7077"
        "59 00 0004 0002 6F6B"
        "5A 00 0001 3F"
        "F0 00 0000"
    )
    rq = AssociateRQ("A", "B", (PresentationContextRQ(1, "1.2", ("1.2.840.10008.1.2",)),), ui)
    encoded = encode_pdu(rq)
    assert encoded.endswith(item(0x50, expected_subs))
    assert decode_pdu(encoded) == rq


def test_sub_item_0x57_carries_version_at_offset_1() -> None:
    ui = minimal_user_info(sop_class_common_extended=(SOPClassCommonExtended("1.4", "1.5"),))
    encoded = encode_pdu(AssociateRQ("A", "B", (PresentationContextRQ(1, "1.2", ("1.2",)),), ui))
    assert bytes.fromhex("57 00 000C 0003 312E34 0003 312E35 0000") in encoded


# ------------------------------------------------------------------------------------------
# Tolerant decoding


def test_sub_items_in_any_order_dcmtk_style() -> None:
    # DCMTK sends 0x55 right after 0x52; a receiver must not assume an order.
    subs = (
        item(0x52, b"1.2.3.4")
        + item(0x55, b"OFFIS_DCMTK_368")
        + item(0x51, struct.pack(">I", 16384))
    )
    decoded = decode_pdu(rq_bytes(item(0x10, APP_CONTEXT.encode()), pc_rq_item(), item(0x50, subs)))
    assert isinstance(decoded, AssociateRQ)
    assert decoded.user_information == minimal_user_info(
        implementation_version_name="OFFIS_DCMTK_368"
    )


def test_trailing_nul_and_space_stripped_from_uids_and_titles() -> None:
    raw = rq_bytes(
        item(0x10, APP_CONTEXT.encode() + b"\x00"),
        pc_rq_item(1, VERIFICATION.encode() + b"\x00", IMPLICIT_LE.encode() + b" "),
        user_info_item(class_uid=b"1.2.3.4\x00"),
        called=b"  ANY-SCP\x00\x00",
    )
    decoded = decode_pdu(raw)
    assert isinstance(decoded, AssociateRQ)
    assert decoded.called_ae_title == "ANY-SCP"
    assert decoded.application_context == APP_CONTEXT
    assert decoded.presentation_contexts == (
        PresentationContextRQ(1, VERIFICATION, (IMPLICIT_LE,)),
    )
    assert decoded.user_information.implementation_class_uid == "1.2.3.4"


def test_unknown_items_are_skipped_and_unknown_sub_items_kept() -> None:
    raw = rq_bytes(
        item(0x10, APP_CONTEXT.encode()),
        item(0x33, b"junk"),
        item(
            0x20, bytes((1, 9, 9, 9)) + item(0x30, b"1.2") + item(0x77, b"x") + item(0x40, b"1.2")
        ),
        user_info_item(item(0x99, b"\x01\x02"), item(0x00, b"")),
        item(0xFE, b""),
    )
    decoded = decode_pdu(raw)
    assert isinstance(decoded, AssociateRQ)
    assert decoded.presentation_contexts == (PresentationContextRQ(1, "1.2", ("1.2",)),)
    assert decoded.user_information.unknown == (
        UnknownSubItem(0x99, b"\x01\x02"),
        UnknownSubItem(0x00, b""),
    )


def test_ac_rejected_context_transfer_syntax_is_not_tested() -> None:
    raw = ac_bytes(
        item(0x10, APP_CONTEXT.encode()),
        item(0x21, bytes((1, 0, 4, 0))),  # no transfer syntax sub-item at all
        item(0x21, bytes((3, 0, 1, 0)) + item(0x40, b"not a uid")),
        item(0x21, bytes((5, 0, 0, 0)) + item(0x40, b"1.2.840.10008.1.2.1")),
        user_info_item(),
    )
    decoded = decode_pdu(raw)
    assert isinstance(decoded, AssociateAC)
    assert decoded.presentation_contexts == (
        PresentationContextAC(1, 4, ""),
        PresentationContextAC(3, 1, "not a uid"),
        PresentationContextAC(5, 0, "1.2.840.10008.1.2.1"),
    )


def test_ac_reserved_title_fields_are_not_tested() -> None:
    raw = pdu_bytes(0x02, bytes.fromhex("0001 0000") + bytes(64) + ac_bytes()[74:])
    decoded = decode_pdu(raw)
    assert isinstance(decoded, AssociateAC)
    assert (decoded.called_ae_title, decoded.calling_ae_title) == ("", "")


def test_protocol_version_tests_bit_0_only() -> None:
    decoded = decode_pdu(rq_bytes(version=0xFF03))
    assert isinstance(decoded, AssociateRQ)
    assert decoded.protocol_version == 0xFF03


def test_empty_version_name_reads_as_none_and_roles_nonzero_is_true() -> None:
    role = item(0x54, struct.pack(">H", 3) + b"1.2" + b"\x07\x00")
    decoded = decode_pdu(
        rq_bytes(
            item(0x10, APP_CONTEXT.encode()), pc_rq_item(), user_info_item(role, item(0x55, b""))
        )
    )
    assert isinstance(decoded, AssociateRQ)
    assert decoded.user_information.implementation_version_name is None
    assert decoded.user_information.roles == (RoleSelection("1.2", True, False),)


def test_decoded_values_do_not_alias_the_input_buffer() -> None:
    buffer = bytearray(encode_pdu(PDataTF((PDV(1, False, True, b"abcd"),))))
    decoded = decode_pdu(buffer)
    buffer[-4:] = b"XXXX"
    buffer.extend(b"more")  # the buffer is not locked by an export either
    assert decoded == PDataTF((PDV(1, False, True, b"abcd"),))


# ------------------------------------------------------------------------------------------
# Validation helpers and encoder errors


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("ANY-SCP", "ANY-SCP"),
        ("  PACS  ", "PACS"),
        ("A B", "A B"),
        ("X" * 16, "X" * 16),
        ("~!", "~!"),
    ],
)
def test_validate_ae_title_accepts(title: str, expected: str) -> None:
    assert validate_ae_title(title) == expected


@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("", "empty"),
        ("    ", "empty"),
        ("X" * 17, "longer than 16"),
        ("A\\B", "backslash"),
        ("A\tB", "control"),
        ("A\x00", "control"),
        ("ÄRZTE", "non-ASCII"),
        ("A\x7f", "control"),
    ],
)
def test_validate_ae_title_rejects_with_clear_message(title: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_ae_title(title)


@pytest.mark.parametrize("uid", ["0", "1.2", "1.2.840.10008.1.2.1", "1.0.0", "1." + "9" * 62])
def test_is_valid_uid_accepts(uid: str) -> None:
    assert is_valid_uid(uid)


@pytest.mark.parametrize(
    "uid",
    [
        "",
        "1..2",
        ".1",
        "1.",
        "1.02",
        "01.2",
        "1.2a",
        "1 2",
        "1.2\x00",
        "1." + "9" * 63,
        "\u0661.\u0662",
    ],
)
def test_is_valid_uid_rejects(uid: str) -> None:
    assert not is_valid_uid(uid)


_CTX = (PresentationContextRQ(1, VERIFICATION, (IMPLICIT_LE,)),)


@pytest.mark.parametrize(
    "pdu",
    [
        AssociateRQ("", "B", _CTX, minimal_user_info()),
        AssociateRQ("A\\B", "B", _CTX, minimal_user_info()),
        AssociateRQ("A", "B", (), minimal_user_info()),
        AssociateRQ(
            "A", "B", (PresentationContextRQ(2, VERIFICATION, (IMPLICIT_LE,)),), minimal_user_info()
        ),
        AssociateRQ("A", "B", _CTX * 2, minimal_user_info()),
        AssociateRQ("A", "B", (PresentationContextRQ(1, VERIFICATION, ()),), minimal_user_info()),
        AssociateRQ(
            "A", "B", (PresentationContextRQ(1, "1.02", (IMPLICIT_LE,)),), minimal_user_info()
        ),
        AssociateRQ("A", "B", _CTX, minimal_user_info(), application_context="x"),
        AssociateRQ("A", "B", _CTX, UserInformation(2**32, "1.2")),
        AssociateRQ("A", "B", _CTX, minimal_user_info(implementation_version_name="X" * 17)),
        AssociateRQ("A", "B", _CTX, minimal_user_info(unknown=(UnknownSubItem(0x51, b""),))),
        AssociateAC(
            "X" * 17, "B", (PresentationContextAC(1, 0, IMPLICIT_LE),), minimal_user_info()
        ),
        AssociateAC("A", "B", (PresentationContextAC(1, 0, ""),), minimal_user_info()),
        PDataTF(()),
        PDataTF((PDV(2, True, True, b""),)),
        PDataTF((PDV(257, True, True, b""),)),
        Abort(2, 256),
    ],
)
def test_encoder_refuses_values_that_cannot_go_on_the_wire(pdu: PDU) -> None:
    with pytest.raises(LocalProtocolError):
        encode_pdu(pdu)


def test_encode_pdata_single_refuses_even_context_id() -> None:
    with pytest.raises(LocalProtocolError):
        encode_pdata_single(2, True, True, b"")
