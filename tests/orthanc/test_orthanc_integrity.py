"""storescu against Orthanc, issue 9's findings: a file whose meta header names another SOP
Instance UID than its data set is sent with the data set's (Orthanc answered 0xA900), and a
batch with bad files goes through without the 30 s hang that cost the rest of it."""

from __future__ import annotations

import json
import shutil
import struct
import time
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.uid import UID

from tests.cli.qr_support import run
from tests.helpers import pydicom_test_file, write_ct_file
from tests.orthanc.conftest import ORTHANC, Orthanc

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not ORTHANC.is_file(), reason=f"Orthanc is not installed ({ORTHANC})"),
]

EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"


def stored_uids(orthanc: Orthanc) -> set[str]:
    instances: list[dict[str, Any]] = orthanc.rest("instances?expand")
    return {i["MainDicomTags"]["SOPInstanceUID"] for i in instances}


def storescu(orthanc: Orthanc, *args: str | Path) -> Any:
    return run(
        "storescu", orthanc.host, str(orthanc.dicom_port), "-aec", orthanc.aet, *args,
        "--format", "json", "-td", "60",
    )  # fmt: skip


def test_meta_header_that_disagrees_is_sent_with_the_data_sets_uid(
    orthanc: Orthanc, tmp_path: Path
) -> None:
    path = write_ct_file(tmp_path / "mismatch.dcm", 901, EXPLICIT)
    ds = pydicom.dcmread(path)
    real = str(ds.SOPInstanceUID)
    ds.file_meta.MediaStorageSOPInstanceUID = UID(real + ".1")
    ds.save_as(path, enforce_file_format=False)
    result = storescu(orthanc, path)
    assert result.returncode == 0, result
    (row,) = json.loads(result.stdout)
    assert row["status"] == "0x0000", row
    assert "the file meta header names" in result.stderr
    assert real in stored_uids(orthanc)


def test_bad_files_do_not_hang_or_cost_the_batch(orthanc: Orthanc, tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    good = [write_ct_file(folder / f"{name}.dcm", 910 + i, EXPLICIT) for i, name in enumerate("az")]
    shutil.copyfile(pydicom_test_file("MR_truncated.dcm"), folder / "b_truncated.dcm")
    odd = write_ct_file(folder / "c_odd.dcm", 912, IMPLICIT)
    with open(odd, "ab") as handle:
        handle.write(struct.pack("<HHI", 0x0009, 0x1010, 3) + b"abc")
    began = time.monotonic()
    result = storescu(orthanc, folder)
    elapsed = time.monotonic() - began
    assert result.returncode == 2, result
    assert elapsed < 20, f"took {elapsed:.1f} s"
    rows = {Path(r["file"]).name: r["result"] for r in json.loads(result.stdout)}
    assert rows == {
        "a.dcm": "success",
        "b_truncated.dcm": "skipped",
        "c_odd.dcm": "skipped",
        "z.dcm": "success",
    }
    assert {str(pydicom.dcmread(p).SOPInstanceUID) for p in good} <= stored_uids(orthanc)
