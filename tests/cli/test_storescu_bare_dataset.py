"""storescu sends a file without File Meta (a bare data set) when it carries SOP Class and
Instance UIDs, its transfer syntax detected from its first element as DCMTK's storescu does,
with a warning; DCMTK's storescp receives exactly the data set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from tests.cli.conftest import CliRunner
from tests.conftest import StorescpFactory
from tests.helpers import make_ct_dataset

pytestmark = pytest.mark.interop

SYNTAXES: dict[str, tuple[bool, bool]] = {
    ImplicitVRLittleEndian: (True, True),
    ExplicitVRLittleEndian: (False, True),
    ExplicitVRBigEndian: (False, False),
}


def bare_file(path: Path, index: int, syntax: str) -> tuple[Path, Any]:
    """The data set alone, in ``syntax``: no preamble, no DICM, no group 0002."""
    ds = make_ct_dataset(index)
    implicit, little = SYNTAXES[syntax]
    path.write_bytes(encode(ds, implicit, little))
    return path, ds


def encode(ds: Any, implicit: bool = False, little: bool = True) -> bytes:
    buffer = DicomBytesIO()
    buffer.is_implicit_VR = implicit
    buffer.is_little_endian = little
    write_dataset(buffer, ds)
    return buffer.getvalue()


@pytest.mark.parametrize("syntax", list(SYNTAXES))
def test_bare_data_set_is_sent_with_a_warning(
    cli: CliRunner, dcmtk_storescp: StorescpFactory, tmp_path: Path, syntax: str
) -> None:
    source, original = bare_file(tmp_path / "bare.raw", 7, syntax)
    assert source.read_bytes()[:2] != b"\x02\x00"
    scp = dcmtk_storescp("+xa")
    done = cli("storescu", "127.0.0.1", str(scp.port), source)
    assert done.returncode == 0, done
    assert f"storescu: warning: {source}: no File Meta Information header" in done.stderr
    assert "sent 1, failed 0, skipped 0" in done.stderr
    scp.stop()
    stored = pydicom.dcmread(scp.output_dir / f"CT.{original.SOPInstanceUID}")
    assert stored.SOPInstanceUID == original.SOPInstanceUID
    assert stored.PatientID == original.PatientID
    assert stored.file_meta.TransferSyntaxUID == syntax  # +xa: kept as sent
    assert stored.Rows == original.Rows
    if syntax != ExplicitVRBigEndian:
        assert stored.PixelData == original.PixelData


def test_bare_data_set_without_uids_and_text_are_still_skipped(
    cli: CliRunner, dcmtk_storescp: StorescpFactory, tmp_path: Path
) -> None:
    ds = make_ct_dataset(8)
    del ds.SOPInstanceUID
    (tmp_path / "no-uid.raw").write_bytes(encode(ds))
    (tmp_path / "notes.txt").write_text("not DICOM at all\n")
    scp = dcmtk_storescp()
    done = cli(
        "storescu", "127.0.0.1", str(scp.port), tmp_path / "no-uid.raw", tmp_path / "notes.txt"
    )
    assert done.returncode == 2, done
    assert "nothing to send" in done.stderr
    assert scp.files() == []
