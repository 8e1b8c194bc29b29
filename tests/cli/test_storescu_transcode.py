"""storescu --decompress / --compress against DCMTK storescp: compressed files reach a receiver
that accepts only uncompressed (lossless by default, lossy with +dly), uncompressed files go
compressed on request; pixels compared after decoding on the receiving side."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest

from tests.cli.conftest import CliRunner
from tests.cli.test_storescu import summary
from tests.conftest import StorescpFactory
from tests.helpers import pydicom_test_file

pytestmark = pytest.mark.interop

EXPLICIT, IMPLICIT = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"


def _pixels_equal(received: Path, source: Path) -> bool:
    return bool(
        np.array_equal(pydicom.dcmread(received).pixel_array, pydicom.dcmread(source).pixel_array)
    )


def test_lossless_files_are_decompressed_by_default(
    cli: CliRunner, dcmtk_storescp: StorescpFactory
) -> None:
    files = [
        pydicom_test_file("SC_rgb_rle.dcm"),
        pydicom_test_file("MR_small_jpeg_ls_lossless.dcm"),
    ]
    scp = dcmtk_storescp()  # DCMTK's default: uncompressed only
    result = cli("storescu", "127.0.0.1", str(scp.port), "-aec", "STORESCP", *files)
    assert result.returncode == 0, result
    assert summary(result) == (2, 0, 0)
    received = scp.files()
    assert len(received) == 2
    by_uid = {str(pydicom.dcmread(p).SOPInstanceUID): p for p in received}
    for source in files:
        target = by_uid[str(pydicom.dcmread(source).SOPInstanceUID)]
        assert pydicom.dcmread(target).file_meta.TransferSyntaxUID in (EXPLICIT, IMPLICIT)
        assert _pixels_equal(target, source)


def test_lossy_files_need_dly_and_dn_never_decompresses(
    cli: CliRunner, dcmtk_storescp: StorescpFactory
) -> None:
    lossy = pydicom_test_file("SC_rgb_jpeg_dcmtk.dcm")
    lossless = pydicom_test_file("MR_small_RLE.dcm")
    scp = dcmtk_storescp()
    plain = cli(
        "storescu", "127.0.0.1", str(scp.port), "-aec", "STORESCP", lossy, "--format", "json"
    )
    assert plain.returncode == 4, plain
    [row] = json.loads(plain.stdout)
    assert row["result"] == "skipped" and "lossy" in row["meaning"]
    never = cli("storescu", "127.0.0.1", str(scp.port), "-aec", "STORESCP", "-dn", lossless)
    assert never.returncode == 4, never
    assert scp.files() == []
    asked = cli("storescu", "127.0.0.1", str(scp.port), "-aec", "STORESCP", "+dly", lossy)
    assert asked.returncode == 0, asked
    [target] = scp.files()
    assert pydicom.dcmread(target).LossyImageCompression == "01"
    assert _pixels_equal(target, lossy)


@pytest.mark.parametrize(
    ("name", "uid", "dcmtk"),
    [("rle", "1.2.840.10008.1.2.5", "+xr"), ("j2k", "1.2.840.10008.1.2.4.90", "+xv")],
)
def test_compress_on_request(
    cli: CliRunner, dcmtk_storescp: StorescpFactory, name: str, uid: str, dcmtk: str
) -> None:
    source = pydicom_test_file("CT_small.dcm")
    scp = dcmtk_storescp(dcmtk)
    result = cli(
        "storescu", "127.0.0.1", str(scp.port), "-aec", "STORESCP", "--compress", name, source
    )
    assert result.returncode == 0, result
    [target] = scp.files()
    assert pydicom.dcmread(target).file_meta.TransferSyntaxUID == uid
    assert _pixels_equal(target, source)
    # a receiver that refuses the compression gets the file as it is
    plain = dcmtk_storescp()
    result = cli(
        "storescu", "127.0.0.1", str(plain.port), "-aec", "STORESCP", "--compress", name, source
    )
    assert result.returncode == 0, result
    [kept] = plain.files()
    assert pydicom.dcmread(kept).file_meta.TransferSyntaxUID == EXPLICIT
