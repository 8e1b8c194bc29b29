"""Decompression on send (dicomnet.transcode): a compressed file for a peer that accepts only
uncompressed transfer syntaxes is decompressed as the policy allows, and the receiver (DCMTK
storescp, which accepts only uncompressed by default) gets exactly the decoded pixels, the same
SOP Instance UID and the rest of the data set unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import UID

from dicomnet import AE
from dicomnet.errors import NoContextError
from dicomnet.transcode import (
    COMPRESSIONS,
    LOSSLESS,
    LOSSY,
    TranscodeError,
    can_decompress,
    compress,
    decompress,
)
from tests.conftest import StorescpFactory
from tests.helpers import pydicom_test_file

EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"

# (file pydicom ships, lossy?) — RLE, JPEG-LS lossless, JPEG baseline, JPEG extended, J2K
FILES = [
    ("MR_small_RLE.dcm", False),
    ("MR_small_jpeg_ls_lossless.dcm", False),
    ("SC_rgb_rle_2frame.dcm", False),
    ("SC_rgb_jpeg_dcmtk.dcm", True),
    ("JPGExtended.dcm", True),
    ("JPEG2000.dcm", True),
]


def test_the_policy() -> None:
    rle, baseline = "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.50"
    assert rle in LOSSLESS and baseline in LOSSY and not LOSSLESS & LOSSY
    assert can_decompress(rle, "lossless") and can_decompress(rle, "lossy")
    assert not can_decompress(baseline, "lossless") and can_decompress(baseline, "lossy")
    assert not can_decompress(rle, "never") and not can_decompress(EXPLICIT, "lossy")


def test_lossy_data_is_not_decompressed_unless_asked() -> None:
    dataset = pydicom.dcmread(pydicom_test_file("SC_rgb_jpeg_dcmtk.dcm"))
    with pytest.raises(TranscodeError, match="--decompress lossy"):
        decompress(dataset, "lossless")
    with pytest.raises(TranscodeError, match="decompression is off"):
        decompress(pydicom.dcmread(pydicom_test_file("MR_small_RLE.dcm")), "never")


def _send(
    ae_contexts: list[str], path: Path, dcmtk_storescp: StorescpFactory, tmp_path: Path, **kw: str
) -> tuple[object, list[Path]]:
    dataset = pydicom.dcmread(path, stop_before_pixels=True)
    server = dcmtk_storescp(output_dir=tmp_path / "received")
    ae = AE("SENDER")
    ae.add_requested_context(str(dataset.SOPClassUID), ae_contexts)
    assoc = ae.associate("127.0.0.1", server.port, ae_title="STORESCP")
    assert assoc.is_established
    try:
        rsp = assoc.store_instance(path, **kw)  # type: ignore[arg-type]
    finally:
        assoc.release()
    return rsp, server.files()


@pytest.mark.interop
@pytest.mark.parametrize(("name", "lossy"), FILES)
def test_decompressed_for_dcmtk_storescp_pixel_for_pixel(
    name: str, lossy: bool, dcmtk_storescp: StorescpFactory, tmp_path: Path
) -> None:
    path = pydicom_test_file(name)
    original = pydicom.dcmread(path)
    expected = original.pixel_array
    rsp, files = _send(
        [EXPLICIT, IMPLICIT],
        path,
        dcmtk_storescp,
        tmp_path,
        decompress="lossy" if lossy else "lossless",
    )
    assert rsp is not None and getattr(rsp, "Status", None) == 0x0000
    [received_path] = files
    received = pydicom.dcmread(received_path)
    assert received.file_meta.TransferSyntaxUID in (EXPLICIT, IMPLICIT)
    assert received.SOPInstanceUID == original.SOPInstanceUID
    assert np.array_equal(received.pixel_array, expected)
    untouched = {"PixelData", "PhotometricInterpretation", "LossyImageCompression"}
    for element in original:
        if element.keyword in untouched or element.tag.group in (0x0002, 0xFFFC):
            continue  # (FFFC,FFFC): trailing padding, not part of the data set's content
        assert received[element.tag].value == element.value, element.keyword
    if lossy:
        assert received.LossyImageCompression == "01"


@pytest.mark.interop
def test_lossy_data_is_skipped_without_the_flag(
    dcmtk_storescp: StorescpFactory, tmp_path: Path
) -> None:
    path = pydicom_test_file("SC_rgb_jpeg_dcmtk.dcm")
    with pytest.raises(NoContextError, match="lossy-compressed"):
        _send([EXPLICIT], path, dcmtk_storescp, tmp_path)


def test_a_dataset_without_pixel_data_cannot_be_decompressed() -> None:
    dataset = Dataset()
    dataset.file_meta = pydicom.dataset.FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = UID("1.2.840.10008.1.2.5")
    with pytest.raises(TranscodeError, match="no Pixel Data"):
        decompress(dataset, "lossless")


# --- compressing on request ------------------------------------------------------------------

COMPRESSED = [("rle", "+xr"), ("jpeg-ls", "+xt"), ("j2k", "+xv")]


@pytest.mark.interop
@pytest.mark.parametrize(("short", "dcmtk_option"), COMPRESSED)
def test_compressed_on_request_for_dcmtk_storescp_losslessly(
    short: str, dcmtk_option: str, dcmtk_storescp: StorescpFactory, tmp_path: Path
) -> None:
    syntax = COMPRESSIONS[short]
    path = pydicom_test_file("CT_small.dcm")
    original = pydicom.dcmread(path)
    server = dcmtk_storescp(dcmtk_option, output_dir=tmp_path / "received")
    ae = AE("SENDER")
    ae.add_requested_context(str(original.SOPClassUID), [syntax])
    assoc = ae.associate("127.0.0.1", server.port, ae_title="STORESCP")
    assert assoc.is_established
    try:
        rsp = assoc.store_instance(path, compress=syntax)
    finally:
        assoc.release()
    assert rsp is not None and rsp.Status == 0x0000
    [received_path] = server.files()
    received = pydicom.dcmread(received_path)
    assert received.file_meta.TransferSyntaxUID == syntax
    assert received.SOPInstanceUID == original.SOPInstanceUID
    assert np.array_equal(received.pixel_array, original.pixel_array)


def test_compress_refuses_what_it_cannot_encode() -> None:
    dataset = pydicom.dcmread(pydicom_test_file("CT_small.dcm"))
    with pytest.raises(TranscodeError, match="choose one of rle, jpeg-ls, j2k"):
        compress(dataset, "1.2.840.10008.1.2.4.50")
