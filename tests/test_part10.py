"""``dicomnet.part10``: our Part-10 header writer and the header reader, checked against pydicom
(it reads what we write, byte for byte what it would write, and we read what it writes)."""

from __future__ import annotations

import contextlib
import io
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import UID

from dicomnet.dataset import decode_dataset, encode_dataset
from dicomnet.part10 import FileMeta, Part10Error, encode_file_meta, read_file_meta
from tests.golden import load_golden

CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
BIG = "1.2.840.10008.1.2.2"
IMPL = "1.2.826.0.1.3680043.9.1"


def _ct() -> bytes:
    return load_golden("ct_16x16_file")


uids = st.lists(st.integers(min_value=0, max_value=10**12).map(str), min_size=2, max_size=8).map(
    ".".join
)
ae_titles = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", min_size=1, max_size=16)
version_names = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.", min_size=1, max_size=16)


# --- our header ------------------------------------------------------------------------------


def test_header_layout() -> None:
    header = encode_file_meta(CT, "1.2.3.4", EXPLICIT, IMPL, "DICOMNET_010", "STORESCU")
    assert header[:128] == bytes(128)  # our own zeroed preamble
    assert header[128:132] == b"DICM"
    group, element, vr, length = struct.unpack("<HH2sH", header[132:140])
    assert (group, element, vr, length) == (2, 0, b"UL", 4)
    (group_length,) = struct.unpack("<I", header[140:144])
    assert group_length == len(header) - 144  # the whole rest of the meta group


def test_header_is_what_pydicom_would_write() -> None:
    meta = FileMetaDataset()
    meta.FileMetaInformationVersion = b"\x00\x01"
    meta.MediaStorageSOPClassUID = UID(CT)
    meta.MediaStorageSOPInstanceUID = UID("1.2.3.45")  # odd length: padded with NUL
    meta.TransferSyntaxUID = UID(EXPLICIT)
    meta.ImplementationClassUID = UID(IMPL)
    meta.ImplementationVersionName = "ABC"  # odd length: padded with space
    meta.SourceApplicationEntityTitle = "SRC"
    out = DicomBytesIO()
    out.is_little_endian, out.is_implicit_VR = True, False
    write_file_meta_info(out, meta, enforce_standard=True)
    ours = encode_file_meta(CT, "1.2.3.45", EXPLICIT, IMPL, "ABC", "SRC")
    assert ours[132:] == out.getvalue()


@settings(max_examples=60, deadline=None)
@given(
    sop_class=uids,
    instance=uids,
    syntax=st.sampled_from([EXPLICIT, IMPLICIT, DEFLATED, BIG, "1.2.840.10008.1.2.4.50"]),
    impl=uids,
    version=st.one_of(st.just(""), version_names),
    source=st.one_of(st.just(""), ae_titles),
)
def test_round_trip(
    sop_class: str, instance: str, syntax: str, impl: str, version: str, source: str
) -> None:
    header = encode_file_meta(sop_class, instance, syntax, impl, version, source)
    stream = io.BytesIO(header + b"\x08\x00\x16\x00")
    meta = read_file_meta(stream)
    assert meta == FileMeta(
        sop_class_uid=sop_class,
        sop_instance_uid=instance,
        transfer_syntax_uid=syntax,
        dataset_offset=len(header),
        implementation_class_uid=impl,
        source_ae_title=source,
    )
    assert stream.tell() == len(header)  # positioned at the data set


@pytest.mark.parametrize("syntax", [EXPLICIT, IMPLICIT, DEFLATED, BIG])
def test_pydicom_reads_our_header_and_the_data_set_behind_it(syntax: str) -> None:
    original = dcmread(io.BytesIO(_ct()))
    header = encode_file_meta(
        original.SOPClassUID, original.SOPInstanceUID, syntax, IMPL, "DICOMNET_010", "MYAE"
    )
    read = dcmread(io.BytesIO(header + encode_dataset(original, syntax)))
    meta = read.file_meta
    assert meta.FileMetaInformationVersion == b"\x00\x01"
    assert meta.FileMetaInformationGroupLength == len(header) - 144
    assert meta.MediaStorageSOPClassUID == original.SOPClassUID
    assert meta.MediaStorageSOPInstanceUID == original.SOPInstanceUID
    assert meta.TransferSyntaxUID == syntax
    assert meta.ImplementationClassUID == IMPL
    assert meta.ImplementationVersionName == "DICOMNET_010"
    assert meta.SourceApplicationEntityTitle == "MYAE"
    assert read.preamble == bytes(128)
    assert read == original


# --- reading files pydicom (and others) wrote --------------------------------------------------


def test_read_the_golden_file() -> None:
    data = _ct()
    stream = io.BytesIO(data)
    meta = read_file_meta(stream)
    reference = dcmread(io.BytesIO(data))
    assert meta.sop_class_uid == reference.file_meta.MediaStorageSOPClassUID
    assert meta.sop_instance_uid == reference.file_meta.MediaStorageSOPInstanceUID
    assert meta.transfer_syntax_uid == reference.file_meta.TransferSyntaxUID
    assert meta.implementation_class_uid == reference.file_meta.ImplementationClassUID
    assert decode_dataset(data[meta.dataset_offset :], meta.transfer_syntax_uid) == reference


@pytest.mark.parametrize("syntax", [EXPLICIT, IMPLICIT, DEFLATED, BIG])
def test_read_files_pydicom_writes_with_a_preamble(syntax: str) -> None:
    ds = dcmread(io.BytesIO(_ct()))
    ds.file_meta.TransferSyntaxUID = UID(syntax)
    ds.file_meta.SourceApplicationEntityTitle = "PYDICOM"
    ds.preamble = b"\x07" * 128  # someone else's preamble
    out = io.BytesIO()
    dcmwrite(out, ds, enforce_file_format=True)
    data = out.getvalue()
    assert data[128:132] == b"DICM"
    stream = io.BytesIO(data)
    meta = read_file_meta(stream)
    assert (meta.sop_class_uid, meta.sop_instance_uid) == (CT, ds.SOPInstanceUID)
    assert meta.transfer_syntax_uid == syntax
    assert meta.source_ae_title == "PYDICOM"
    assert stream.tell() == meta.dataset_offset
    decoded = decode_dataset(data[meta.dataset_offset :], syntax)
    assert decoded == dcmread(io.BytesIO(_ct()))


def test_read_files_pydicom_writes_without_a_preamble() -> None:
    ds = dcmread(io.BytesIO(_ct()))
    ds.preamble = None
    out = io.BytesIO()
    dcmwrite(out, ds)  # no preamble, no DICM: the meta group comes first
    data = out.getvalue()
    assert data[:4] == b"\x02\x00\x00\x00"
    meta = read_file_meta(io.BytesIO(data))
    assert meta.sop_instance_uid == ds.SOPInstanceUID
    assert meta.transfer_syntax_uid == EXPLICIT
    assert decode_dataset(data[meta.dataset_offset :], EXPLICIT) == ds


# --- not DICOM -------------------------------------------------------------------------------


NOT_DICOM = {
    "empty": b"",
    "text": b"hello, this is not a DICOM file\n" * 10,
    "png": b"\x89PNG\r\n\x1a\n" + bytes(300),
    "zeros": bytes(1000),
    "preamble only": bytes(128) + b"DICM",
    "raw data set": encode_dataset(dcmread(io.BytesIO(load_golden("ct_16x16_file"))), IMPLICIT),
    "truncated header": encode_file_meta(CT, "1.2.3", EXPLICIT, IMPL)[:150],
    "meta cut in an element header": encode_file_meta(CT, "1.2.3", EXPLICIT, IMPL)[:135],
    "huge element": bytes(128) + b"DICM" + struct.pack("<HH2s2xI", 2, 1, b"OB", 0x7FFFFFFF),
    "bad VR": bytes(128) + b"DICM" + struct.pack("<HH2sH", 2, 2, b"\x00\x01", 4) + b"1.2\x00",
    "no transfer syntax": bytes(128)
    + b"DICM"
    + struct.pack("<HH2sH", 2, 2, b"UI", 4)
    + b"1.2\x00"
    + struct.pack("<HH2sH", 2, 3, b"UI", 4)
    + b"1.3\x00",
}


@pytest.mark.parametrize("name", sorted(NOT_DICOM))
def test_non_dicom_bytes_raise_part10error(name: str) -> None:
    with pytest.raises(Part10Error):
        read_file_meta(io.BytesIO(NOT_DICOM[name]))


def test_part10error_is_a_valueerror_with_a_message() -> None:
    with pytest.raises(ValueError, match="DICM"):
        read_file_meta(io.BytesIO(b"not dicom at all" * 20))
    with pytest.raises(Part10Error, match=r"\(0002,0010\)"):
        read_file_meta(io.BytesIO(NOT_DICOM["no transfer syntax"]))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_garbage_gives_a_filemeta_or_part10error(data: bytes) -> None:
    try:
        meta = read_file_meta(io.BytesIO(data))
    except Part10Error:
        return
    assert 0 <= meta.dataset_offset <= len(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=64), st.integers(min_value=132, max_value=330))
def test_corrupted_headers_give_a_filemeta_or_part10error(noise: bytes, at: int) -> None:
    header = bytearray(encode_file_meta(CT, "1.2.3.4", EXPLICIT, IMPL, "V1", "AE"))
    header[at : at + len(noise)] = noise
    with contextlib.suppress(Part10Error):
        read_file_meta(io.BytesIO(bytes(header)))


# --- scan_top_level: naming fields without pydicom ---------------------------------------------

_NAMING = {
    0x00080060: "Modality",
    0x00100020: "PatientID",
    0x0020000D: "StudyInstanceUID",
    0x0020000E: "SeriesInstanceUID",
}


def _naming_dataset(with_sequence: bool) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = "1.2.3.4.5"
    ds.Modality = "CT"
    ds.PatientName = "Test^Patient"
    ds.PatientID = "PAT\\ID 7"
    ds.StudyInstanceUID = "1.2.3.100"
    ds.SeriesInstanceUID = "1.2.3.100.1"
    if with_sequence:
        item = Dataset()
        item.ReferencedSOPInstanceUID = "1.2.3.9"
        ds.ReferencedImageSequence = [item]  # (0008,1140): before the UIDs we want
    ds.add_new(0x7FE00010, "OB", b"\x00" * 64)
    return ds


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"])
@pytest.mark.parametrize("with_sequence", [False, True])
def test_scan_top_level_agrees_with_pydicom(syntax: str, with_sequence: bool) -> None:
    from dicomnet.dataset import decode_dataset, encode_dataset
    from dicomnet.part10 import scan_top_level

    ds = _naming_dataset(with_sequence)
    encoded = encode_dataset(ds, syntax)
    found = scan_top_level(io.BytesIO(encoded), syntax, set(_NAMING))
    reference = decode_dataset(encoded, syntax)
    if found is None:  # pydicom writes undefined-length sequences: the caller falls back
        assert with_sequence
        return
    for tag, keyword in _NAMING.items():
        text = found[tag].rstrip(b"\x00 ").decode("latin-1")
        assert text == str(reference.get(keyword)).replace("['PAT', 'ID 7']", "PAT\\ID 7")


def test_scan_top_level_skips_defined_length_sequences_and_stops_early() -> None:
    from dicomnet.part10 import scan_top_level

    def element(tag: int, value: bytes) -> bytes:
        return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(value)) + value

    item = element(0x00081155, b"1.2.3.9\x00")
    sequence = struct.pack("<HHI", 0xFFFE, 0xE000, len(item)) + item
    data = (
        element(0x00080060, b"MR")
        + element(0x00081140, sequence)
        + element(0x0020000D, b"1.2.3\x00")
        + b"\xff" * 16  # garbage after the last wanted tag is never read
    )
    found = scan_top_level(io.BytesIO(data), "1.2.840.10008.1.2", {0x00080060, 0x0020000D})
    assert found == {0x00080060: b"MR", 0x0020000D: b"1.2.3\x00"}


@pytest.mark.parametrize(
    ("syntax", "data"),
    [
        ("1.2.840.10008.1.2.2", b""),  # big endian: not scanned
        ("1.2.840.10008.1.2.1.99", b""),  # deflated: not scanned
        ("1.2.840.10008.1.2", b"\x08\x00\x40\x11\xff\xff\xff\xff"),  # undefined length
        ("1.2.840.10008.1.2", b"\x08\x00\x60\x00\x10\x00\x00\x00CT"),  # truncated value
        ("1.2.840.10008.1.2.1", b"\x08\x00\x60\x00\x01\x02\x02\x00CT"),  # no VR there
    ],
)
def test_scan_top_level_declines_what_it_cannot_read(syntax: str, data: bytes) -> None:
    from dicomnet.part10 import scan_top_level

    assert scan_top_level(io.BytesIO(data), syntax, {0x00080060, 0x0020000D}) is None
