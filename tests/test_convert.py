"""dicomnet.dataset.encode_converted: uncompressed <-> uncompressed conversion is exact for every
VR (values in the target byte order, Pixel Data by Bits Allocated) or refused.

Each data set is written in Explicit VR Big Endian with the values packed here with ``struct``
(big endian), read back with pydicom as a file would be, converted, and decoded again: the
values must be the ones packed, in every target syntax, and back."""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filereader import read_dataset
from pydicom.uid import UID

from dicomnet.convert import ConversionError, encode_converted
from tests.helpers import pydicom_test_file

IMPLICIT = "1.2.840.10008.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
DEFLATED = "1.2.840.10008.1.2.1.99"
BIG = "1.2.840.10008.1.2.2"

#: (keyword or tag, VR, struct format, values) for the elements pydicom keeps as raw bytes.
RAW = [
    (0x00091001, "OW", "H", (1, 0x1234, 0xFFFE)),
    (0x00091002, "OF", "f", (1.5, -2.25)),
    (0x00091003, "OD", "d", (3.141592653589793, -1e300)),
    (0x00091004, "OL", "I", (7, 0x89ABCDEF)),
    (0x00091005, "OV", "Q", (1, 0x0102030405060708)),
    (0x00091006, "OB", "B", (1, 2, 3, 4)),
]
#: (keyword, VR, values) for the numeric VRs pydicom decodes.
NUMERIC: list[tuple[str, str, Any]] = [
    ("AcquisitionMatrix", "US", [0, 512, 256, 0]),
    ("TagAngleSecondAxis", "SS", -2000),
    ("SimpleFrameList", "UL", [1, 70000]),
    ("ReferencePixelX0", "SL", -70000),
    ("ExaminedBodyThickness", "FL", 12.5),
    ("RealWorldValueLUTData", "FD", [0.5, -7.25]),
    ("FrameIncrementPointer", "AT", 0x00181063),
]


def big_endian_dataset(
    bits: int = 16,
) -> tuple[Dataset, list[tuple[int, str, str, tuple[Any, ...]]]]:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = "1.2.3.4"
    for keyword, vr, value in NUMERIC:
        ds.add_new(keyword, vr, value)
    ds.add_new(0x00091000, "LO", "dicomnet test")
    for tag, vr, fmt, values in RAW:
        ds.add_new(tag, vr, struct.pack(f">{len(values)}{fmt}", *values))
    ds.add_new(0x00720082, "SV", [-(2**40), 5])
    ds.add_new(0x00720083, "UV", [2**40, 6])
    ds.Rows, ds.Columns, ds.SamplesPerPixel = 2, 3, 1
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    fmt = {8: "B", 16: "H", 32: "I"}[bits]
    pixels = tuple(range(5, 80, 13)) if bits == 8 else tuple(range(905, 905 + 6 * 113, 113))
    ds.add_new("PixelData", "OB" if bits == 8 else "OW", struct.pack(f">6{fmt}", *pixels))
    return ds, [*RAW, (0x7FE00010, "OW", fmt, pixels)]


def as_read_from_a_file(ds: Dataset, syntax: str) -> Dataset:
    """Write ``ds`` in ``syntax`` and read it back as pydicom reads a file."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = UID(syntax)
    ds.file_meta = meta
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return dcmread(io.BytesIO(out.getvalue()))


def decode(data: bytes, syntax: str) -> Dataset:
    return read_dataset(io.BytesIO(data), syntax == IMPLICIT, syntax != BIG)


def raw_values(ds: Dataset, tag: int, fmt: str, count: int, syntax: str) -> tuple[Any, ...]:
    order = ">" if syntax == BIG else "<"
    return struct.unpack(f"{order}{count}{fmt}", ds[tag].value)


@pytest.mark.parametrize("target", [IMPLICIT, EXPLICIT, DEFLATED])
@pytest.mark.parametrize("bits", [8, 16, 32])
def test_big_endian_to_little_endian_keeps_every_value(target: str, bits: int) -> None:
    original, raw = big_endian_dataset(bits)
    source = as_read_from_a_file(original, BIG)
    before = source["PixelData"].value
    data = encode_converted(source, BIG, target)
    assert source["PixelData"].value == before  # the caller's data set is left as it was
    if target == DEFLATED:
        import zlib

        data = zlib.decompressobj(-zlib.MAX_WBITS).decompress(data)
        target = EXPLICIT
    converted = decode(data, target)
    for tag, _vr, fmt, values in raw:
        assert raw_values(converted, tag, fmt, len(values), target) == values, hex(tag)
    for keyword, _vr, value in NUMERIC:
        assert converted[keyword].value == value, keyword
    assert list(converted[0x00720082].value) == [-(2**40), 5]
    assert list(converted[0x00720083].value) == [2**40, 6]
    # ... and back to big endian: the same values again; from Implicit VR the private elements
    # are UN, whose byte order nobody knows: refused.
    if target == IMPLICIT:
        with pytest.raises(ConversionError, match="UN"):
            encode_converted(converted, target, BIG)
        return
    again = decode(encode_converted(converted, target, BIG), BIG)
    for tag, _vr, fmt, values in raw:
        assert raw_values(again, tag, fmt, len(values), BIG) == values, hex(tag)


def test_pydicom_big_endian_files_convert_to_their_little_endian_twins() -> None:
    """MR_small_bigendian (16-bit) and rtdose_expb (32-bit) against their little-endian
    versions: the pixel bytes of the conversion are the little-endian file's."""
    for big, little in (
        ("MR_small_bigendian.dcm", "MR_small.dcm"),
        ("rtdose_expb.dcm", "rtdose.dcm"),
    ):
        source = dcmread(pydicom_test_file(big))
        expected = dcmread(pydicom_test_file(little)).PixelData
        for target in (IMPLICIT, EXPLICIT):
            converted = decode(encode_converted(source, BIG, target), target)
            assert converted.PixelData == expected, (big, target)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda ds: ds.add_new(0x00091007, "UN", b"\x01\x02\x03\x04"), "UN"),
        (lambda ds: setattr(ds, "BitsAllocated", 8), "Bits Allocated 8"),
        (lambda ds: setattr(ds, "BitsAllocated", 1), "Bits Allocated 1"),
        (lambda ds: ds.add_new(0x00091008, "OF", b"\x00" * 6), "not a multiple of 4"),
    ],
)
def test_what_cannot_be_converted_exactly_is_refused(change: Any, problem: str) -> None:
    original, _ = big_endian_dataset(16)
    source = as_read_from_a_file(original, BIG)
    change(source)
    if "Bits Allocated" in problem:
        source["PixelData"].VR = "OW"
    with pytest.raises(ConversionError, match=problem):
        encode_converted(source, BIG, IMPLICIT)


def test_same_byte_order_needs_no_swapping() -> None:
    original, raw = big_endian_dataset(16)
    source = as_read_from_a_file(original, BIG)
    little = decode(encode_converted(source, BIG, EXPLICIT), EXPLICIT)
    little.file_meta = FileMetaDataset()
    implicit = decode(encode_converted(little, EXPLICIT, IMPLICIT), IMPLICIT)
    for tag, _vr, fmt, values in raw:
        assert raw_values(implicit, tag, fmt, len(values), IMPLICIT) == values


# --- large values copied from the file, not held in memory ---------------------------------------


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2"),
        ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1"),
        ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1"),
        ("1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1"),  # byte order changes: pydicom swaps
    ],
)
@pytest.mark.parametrize("bits", [8, 16])
def test_deferred_bulk_values_encode_as_pydicom_does(
    tmp_path: Path, source: str, target: str, bits: int
) -> None:
    """A data set read with defer_size (as store_instance reads a file it must convert) is
    encoded byte for byte as pydicom encodes the fully read one, Pixel Data and a large private
    OB value included."""
    import numpy as np
    from pydicom import dcmread
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import UID

    from dicomnet.convert import encode_converted, encode_converted_spooled

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = UID(source)
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = "1.2.3.4"
    ds.PatientName = "Bulk^Test"
    ds.Rows, ds.Columns, ds.SamplesPerPixel = 256, 512, 1
    ds.BitsAllocated = ds.BitsStored = bits
    ds.HighBit, ds.PixelRepresentation = bits - 1, 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    dtype = np.uint8 if bits == 8 else np.uint16
    ds.PixelData = np.arange(256 * 512, dtype=dtype).tobytes()
    ds.add_new(0x00091010, "OB", bytes(range(256)) * 512)  # 128 KiB, private
    ds.add_new(0x00090010, "LO", "DICOMNET TEST")
    path = tmp_path / "bulk.dcm"
    ds.save_as(path, enforce_file_format=True)
    deferred = dcmread(path, defer_size=1024)
    full = dcmread(path)
    with encode_converted_spooled(deferred, source, target) as spooled:
        assert spooled.read() == encode_converted(full, source, target)
