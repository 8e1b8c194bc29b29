"""Our PDU and DIMSE command codecs against bytes captured from DCMTK 3.6.7 and pynetdicom.

The fixtures were written by ``capture.py`` (see README.md); the expected values below were read
from the peers' own debug output (``storescu -d``) and the standard, not from our decoder.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet.dimse.command_codec import decode_command, encode_command
from dicomnet.dimse.messages import C_ECHO_RQ, C_ECHO_RSP, C_STORE_RQ, C_STORE_RSP
from dicomnet.ul.codec import decode_pdu, encode_pdu
from dicomnet.ul.errors import RemoteProtocolError
from dicomnet.ul.items import (
    APPLICATION_CONTEXT_NAME,
    PC_ACCEPTANCE,
    PresentationContextAC,
    PresentationContextRQ,
    UserInformation,
)
from dicomnet.ul.pdu import (
    PDU,
    Abort,
    AssociateAC,
    AssociateRJ,
    AssociateRQ,
    PDataTF,
    ReleaseRP,
    ReleaseRQ,
)
from tests.golden import golden_header, golden_names, load_golden

VERIFICATION = "1.2.840.10008.1.1"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
DEFLATED_LE = "1.2.840.10008.1.2.1.99"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
CT_SOP_INSTANCE_UID = "2.25.98765432109876543210987654321000001"

DCMTK_USER_INFO = UserInformation(
    max_length=16384,
    implementation_class_uid="1.2.276.0.7230010.3.0.3.6.7",
    implementation_version_name="OFFIS_DCMTK_367",
)
PYNETDICOM_USER_INFO = UserInformation(
    max_length=16382,
    implementation_class_uid="1.2.826.0.1.3680043.9.3811.3.0.4",
    implementation_version_name="PYNETDICOM_304",
)
STORESCU_CONTEXTS = 128
"""storescu proposes each of its 64 storage SOP classes twice (ids 1..255)."""
STORESCU_CT_CONTEXT_ID = 41
"""The context storescu used for the CT instance (Explicit VR LE, like the file)."""

PDU_NAMES = golden_names(kind="PDU")
PDU_TYPES = (AssociateRQ, AssociateAC, AssociateRJ, PDataTF, ReleaseRQ, ReleaseRP, Abort)


def pdu(name: str) -> PDU:
    return decode_pdu(load_golden(name))


def pdata(name: str) -> PDataTF:
    decoded = pdu(name)
    assert isinstance(decoded, PDataTF)
    return decoded


def zero_pc_rq_reserved(data: bytes) -> bytes:
    """``data`` (an A-ASSOCIATE-RQ) with byte 6 of every 0x20 item set to 0x00.

    DCMTK sends 0xFF in that reserved byte (the AC's result position); we send 0x00.
    """
    out = bytearray(data)
    offset = 74
    while offset < len(out):
        item_type = out[offset]
        (length,) = struct.unpack_from(">H", out, offset + 2)
        if item_type == 0x20:
            out[offset + 6] = 0x00
        offset += 4 + length
    return bytes(out)


# --------------------------------------------------------------------------------------------
# The fixtures themselves


def test_fixture_set_is_complete() -> None:
    assert golden_names() == sorted(
        [
            "ct_16x16_file",
            "dcmtk_dcmqrscp_associate_rj_called_aet",
            "dcmtk_echoscu_associate_rq",
            "dcmtk_echoscu_c_echo_rq",
            "dcmtk_echoscu_release_rq",
            "dcmtk_storescp_associate_ac_echo",
            "dcmtk_storescp_associate_ac_store",
            "dcmtk_storescp_associate_rj_refuse",
            "dcmtk_storescp_c_echo_rsp",
            "dcmtk_storescp_c_store_rsp",
            "dcmtk_storescp_release_rp",
            "dcmtk_storescu_associate_rq",
            "dcmtk_storescu_c_store_rq_1",
            "dcmtk_storescu_c_store_rq_2",
            "pynetdicom_scp_associate_ac",
            "pynetdicom_scp_associate_rj_called_aet",
            "pynetdicom_scp_c_echo_rsp",
            "pynetdicom_scu_associate_rq",
            "pynetdicom_scu_c_echo_rq",
        ]
    )


@pytest.mark.parametrize("name", PDU_NAMES)
def test_header_matches_bytes(name: str) -> None:
    data = load_golden(name)
    header = golden_header(name)
    assert header["Golden fixture"] == name
    assert header["Length"] == f"{len(data)} bytes"
    assert header["PDU type"].startswith(f"0x{data[0]:02X} ")
    assert struct.unpack_from(">I", data, 2)[0] == len(data) - 6
    for key in ("Sender", "Receiver", "Direction", "Command", "Captured"):
        assert header[key]


# --------------------------------------------------------------------------------------------
# Association PDUs decode to the values the peers meant


def test_dcmtk_echoscu_associate_rq() -> None:
    assert pdu("dcmtk_echoscu_associate_rq") == AssociateRQ(
        called_ae_title="ANY-SCP",
        calling_ae_title="ECHOSCU",
        presentation_contexts=(PresentationContextRQ(1, VERIFICATION, (IMPLICIT_LE,)),),
        user_information=DCMTK_USER_INFO,
        application_context=APPLICATION_CONTEXT_NAME,
        protocol_version=1,
    )


def test_dcmtk_storescp_associate_ac_echo() -> None:
    assert pdu("dcmtk_storescp_associate_ac_echo") == AssociateAC(
        called_ae_title="ANY-SCP",
        calling_ae_title="ECHOSCU",
        presentation_contexts=(PresentationContextAC(1, PC_ACCEPTANCE, IMPLICIT_LE),),
        user_information=DCMTK_USER_INFO,
    )


def test_dcmtk_storescu_associate_rq() -> None:
    rq = pdu("dcmtk_storescu_associate_rq")
    assert isinstance(rq, AssociateRQ)
    assert (rq.called_ae_title, rq.calling_ae_title) == ("ANY-SCP", "STORESCU")
    assert rq.application_context == APPLICATION_CONTEXT_NAME
    assert rq.user_information == DCMTK_USER_INFO
    contexts = rq.presentation_contexts
    assert [pc.context_id for pc in contexts] == list(range(1, 2 * STORESCU_CONTEXTS, 2))
    # Each SOP class twice: the file's transfer syntax alone, then the other uncompressed ones.
    for first, second in zip(contexts[::2], contexts[1::2], strict=True):
        assert first.abstract_syntax == second.abstract_syntax
        assert first.transfer_syntaxes == (EXPLICIT_LE,)
        assert second.transfer_syntaxes == (EXPLICIT_BE, IMPLICIT_LE)
    assert len({pc.abstract_syntax for pc in contexts}) == STORESCU_CONTEXTS // 2
    assert contexts[0].abstract_syntax == "1.2.840.10008.5.1.4.1.1.9.1.3"  # Ambulatory ECG
    ct = contexts[(STORESCU_CT_CONTEXT_ID - 1) // 2]
    assert ct == PresentationContextRQ(STORESCU_CT_CONTEXT_ID, CT_IMAGE_STORAGE, (EXPLICIT_LE,))


def test_dcmtk_storescp_associate_ac_store() -> None:
    ac = pdu("dcmtk_storescp_associate_ac_store")
    assert isinstance(ac, AssociateAC)
    assert ac.user_information == DCMTK_USER_INFO
    # storescp accepts everything, preferring explicit VR: LE where offered alone, else BE.
    assert ac.presentation_contexts == tuple(
        PresentationContextAC(cid, PC_ACCEPTANCE, EXPLICIT_LE if cid % 4 == 1 else EXPLICIT_BE)
        for cid in range(1, 2 * STORESCU_CONTEXTS, 2)
    )


def test_pynetdicom_scu_associate_rq() -> None:
    assert pdu("pynetdicom_scu_associate_rq") == AssociateRQ(
        called_ae_title="ANY-SCP",
        calling_ae_title="PYNETDICOM",
        presentation_contexts=(
            PresentationContextRQ(
                1, VERIFICATION, (IMPLICIT_LE, EXPLICIT_LE, DEFLATED_LE, EXPLICIT_BE)
            ),
        ),
        user_information=PYNETDICOM_USER_INFO,
    )


def test_pynetdicom_scp_associate_ac() -> None:
    assert pdu("pynetdicom_scp_associate_ac") == AssociateAC(
        called_ae_title="ANY-SCP",
        calling_ae_title="ECHOSCU",
        presentation_contexts=(PresentationContextAC(1, PC_ACCEPTANCE, IMPLICIT_LE),),
        user_information=PYNETDICOM_USER_INFO,
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # storescp --refuse: rejected-permanent, service user, no-reason-given
        ("dcmtk_storescp_associate_rj_refuse", AssociateRJ(result=1, source=1, reason=1)),
        # unknown called AE title: rejected-permanent, service user, called-AE-not-recognized
        ("dcmtk_dcmqrscp_associate_rj_called_aet", AssociateRJ(result=1, source=1, reason=7)),
        ("pynetdicom_scp_associate_rj_called_aet", AssociateRJ(result=1, source=1, reason=7)),
    ],
)
def test_associate_rj(name: str, expected: AssociateRJ) -> None:
    assert pdu(name) == expected


def test_release() -> None:
    assert pdu("dcmtk_echoscu_release_rq") == ReleaseRQ()
    assert pdu("dcmtk_storescp_release_rp") == ReleaseRP()


# --------------------------------------------------------------------------------------------
# P-DATA-TF: PDV framing and the DIMSE commands inside


@pytest.mark.parametrize("name", ["dcmtk_echoscu_c_echo_rq", "pynetdicom_scu_c_echo_rq"])
def test_c_echo_rq(name: str) -> None:
    (pdv,) = pdata(name).pdvs
    assert (pdv.context_id, pdv.is_command, pdv.is_last) == (1, True, True)
    msg = decode_command(pdv.data)
    assert isinstance(msg, C_ECHO_RQ)
    assert msg == C_ECHO_RQ(
        MessageID=1, AffectedSOPClassUID=VERIFICATION, CommandDataSetType=0x0101
    )


@pytest.mark.parametrize("name", ["dcmtk_storescp_c_echo_rsp", "pynetdicom_scp_c_echo_rsp"])
def test_c_echo_rsp(name: str) -> None:
    (pdv,) = pdata(name).pdvs
    assert (pdv.context_id, pdv.is_command, pdv.is_last) == (1, True, True)
    msg = decode_command(pdv.data)
    assert isinstance(msg, C_ECHO_RSP)
    assert msg == C_ECHO_RSP(
        AffectedSOPClassUID=VERIFICATION,
        MessageIDBeingRespondedTo=1,
        CommandDataSetType=0x0101,
        Status=0x0000,
    )


def test_c_store_rq_command() -> None:
    (pdv,) = pdata("dcmtk_storescu_c_store_rq_1").pdvs
    assert (pdv.context_id, pdv.is_command, pdv.is_last) == (STORESCU_CT_CONTEXT_ID, True, True)
    msg = decode_command(pdv.data)
    assert isinstance(msg, C_STORE_RQ)
    assert msg.has_dataset
    # DCMTK 3.6.7 storescu sends Command Data Set Type 0x0001 and Priority MEDIUM (0).
    assert msg == C_STORE_RQ(
        AffectedSOPClassUID=CT_IMAGE_STORAGE,
        MessageID=1,
        Priority=0x0000,
        CommandDataSetType=0x0001,
        AffectedSOPInstanceUID=CT_SOP_INSTANCE_UID,
    )


def test_c_store_rsp() -> None:
    (pdv,) = pdata("dcmtk_storescp_c_store_rsp").pdvs
    assert (pdv.context_id, pdv.is_command, pdv.is_last) == (STORESCU_CT_CONTEXT_ID, True, True)
    msg = decode_command(pdv.data)
    assert isinstance(msg, C_STORE_RSP)
    assert msg == C_STORE_RSP(
        AffectedSOPClassUID=CT_IMAGE_STORAGE,
        MessageIDBeingRespondedTo=1,
        CommandDataSetType=0x0101,
        Status=0x0000,
        AffectedSOPInstanceUID=CT_SOP_INSTANCE_UID,
    )


def part10_dataset_bytes(file_bytes: bytes) -> tuple[str, bytes]:
    """(transfer syntax UID, data set bytes) of a Part-10 file: after preamble and file meta."""
    assert file_bytes[128:132] == b"DICM"
    # (0002,0000) UL, explicit VR LE: tag 4 + VR 2 + length 2 + value 4.
    assert file_bytes[132:138] == b"\x02\x00\x00\x00UL"
    (meta_length,) = struct.unpack_from("<I", file_bytes, 140)
    meta = file_bytes[144 : 144 + meta_length]
    offset = 0
    transfer_syntax = ""
    while offset < len(meta):
        group, elem = struct.unpack_from("<HH", meta, offset)
        vr = meta[offset + 4 : offset + 6]
        if vr in (b"OB", b"OW", b"UN", b"SQ", b"UT", b"UC", b"UR"):
            (length,) = struct.unpack_from("<I", meta, offset + 8)
            start = offset + 12
        else:
            (length,) = struct.unpack_from("<H", meta, offset + 6)
            start = offset + 8
        if (group, elem) == (0x0002, 0x0010):
            transfer_syntax = meta[start : start + length].decode("ascii").rstrip("\x00 ")
        offset = start + length
    return transfer_syntax, file_bytes[144 + meta_length :]


def test_c_store_data_pdvs_carry_the_file_data_set() -> None:
    rq = pdu("dcmtk_storescu_associate_rq")
    ac = pdu("dcmtk_storescp_associate_ac_store")
    assert isinstance(rq, AssociateRQ)
    assert isinstance(ac, AssociateAC)
    pdvs = [
        pdv
        for name in ("dcmtk_storescu_c_store_rq_1", "dcmtk_storescu_c_store_rq_2")
        for pdv in pdata(name).pdvs
    ]
    data_pdvs = [pdv for pdv in pdvs if not pdv.is_command]
    assert data_pdvs, "the C-STORE-RQ carried no data set"
    assert all(pdv.context_id == STORESCU_CT_CONTEXT_ID for pdv in pdvs)
    assert [pdv.is_last for pdv in data_pdvs] == [False] * (len(data_pdvs) - 1) + [True]
    # The command PDVs all come before the first data PDV (PS3.8 Annex E).
    first_data = pdvs.index(data_pdvs[0])
    assert all(pdv.is_command for pdv in pdvs[:first_data])

    # The negotiated context: CT Image Storage, accepted with the file's transfer syntax.
    proposed = {pc.context_id: pc for pc in rq.presentation_contexts}
    accepted = {pc.context_id: pc for pc in ac.presentation_contexts}
    assert proposed[STORESCU_CT_CONTEXT_ID].abstract_syntax == CT_IMAGE_STORAGE
    assert accepted[STORESCU_CT_CONTEXT_ID].result == PC_ACCEPTANCE
    file_syntax, file_dataset = part10_dataset_bytes(load_golden("ct_16x16_file"))
    assert accepted[STORESCU_CT_CONTEXT_ID].transfer_syntax == file_syntax == EXPLICIT_LE

    assert b"".join(pdv.data for pdv in data_pdvs) == file_dataset


# --------------------------------------------------------------------------------------------
# Re-encoding gives back the peers' bytes

DCMTK_RQ_WITH_FF_RESERVED = ("dcmtk_echoscu_associate_rq", "dcmtk_storescu_associate_rq")


@pytest.mark.parametrize("name", [n for n in PDU_NAMES if n not in DCMTK_RQ_WITH_FF_RESERVED])
def test_reencode_is_byte_identical(name: str) -> None:
    original = load_golden(name)
    assert encode_pdu(decode_pdu(original)) == original


@pytest.mark.parametrize("name", DCMTK_RQ_WITH_FF_RESERVED)
def test_reencode_dcmtk_rq_differs_only_in_reserved_byte(name: str) -> None:
    # DCMTK writes 0xFF into the reserved byte at offset 6 of each presentation context item
    # (0x20) of its A-ASSOCIATE-RQ; PS3.8 Table 9-13 says send 0x00, do not test on receipt.
    # We send 0x00, so that byte, and only that byte, differs.
    original = load_golden(name)
    expected = zero_pc_rq_reserved(original)
    changed = [i for i, (a, b) in enumerate(zip(original, expected, strict=True)) if a != b]
    rq = decode_pdu(original)
    assert isinstance(rq, AssociateRQ)
    assert len(changed) == len(rq.presentation_contexts)
    assert all(original[i] == 0xFF for i in changed)
    assert encode_pdu(rq) == expected


@pytest.mark.parametrize(
    "name",
    [
        "dcmtk_echoscu_c_echo_rq",
        "dcmtk_storescp_c_echo_rsp",
        "dcmtk_storescu_c_store_rq_1",
        "dcmtk_storescp_c_store_rsp",
        "pynetdicom_scu_c_echo_rq",
        "pynetdicom_scp_c_echo_rsp",
    ],
)
def test_command_reencode_is_byte_identical(name: str) -> None:
    (pdv,) = pdata(name).pdvs
    assert encode_command(decode_command(pdv.data)) == pdv.data


# --------------------------------------------------------------------------------------------
# Real bytes, damaged: only our protocol error escapes


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(PDU_NAMES),
    position=st.integers(min_value=0),
    value=st.integers(min_value=0, max_value=255),
)
def test_one_damaged_byte_decodes_or_raises_remote_error(
    name: str, position: int, value: int
) -> None:
    data = bytearray(load_golden(name))
    data[position % len(data)] = value
    try:
        decoded = decode_pdu(bytes(data))
    except RemoteProtocolError:
        return
    assert isinstance(decoded, PDU_TYPES)


@pytest.mark.parametrize("name", PDU_NAMES)
def test_every_truncation_raises_remote_error(name: str) -> None:
    data = load_golden(name)
    for end in range(len(data)):
        with pytest.raises(RemoteProtocolError):
            decode_pdu(data[:end])
