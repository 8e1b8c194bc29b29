"""storescp --max-dataset-size as a user runs it (issue 10, item 4): one connection streamed
2 GiB to disk and was never stopped. Now a data set over the limit gets 0xA700, nothing is
kept (no file, no temporary file) and the sender goes on with the next file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from tests.cli.conftest import CliRunner, StorescpStarter
from tests.helpers import make_ct_dataset

pytestmark = pytest.mark.interop


def test_over_max_dataset_size_gets_a700_and_nothing_is_kept(
    our_storescp: StorescpStarter, cli: CliRunner, tmp_path: Path
) -> None:
    od = tmp_path / "od"
    scp = our_storescp("--max-dataset-size", "1M", output_dir=od)
    big = make_ct_dataset(1)
    big.add_new(0x7FE10010, "LO", "DICOMNET")
    big.add_new(0x7FE11010, "OB", bytes(2 * 1024 * 1024))
    small = make_ct_dataset(2)
    files = []
    for name, ds in (("big.dcm", big), ("small.dcm", small)):
        path = tmp_path / name
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
    result = cli("storescu", "127.0.0.1", str(scp.port), *files, "--format", "json")
    assert result.returncode == 6, result
    rows = json.loads(result.stdout)
    assert [r["status"] for r in rows] == ["0xA700", "0x0000"], rows
    assert "larger than the maximum" in rows[0]["meaning"]
    kept = sorted(p.name for p in od.rglob("*"))
    assert kept == [f"CT.{small.SOPInstanceUID}.dcm"]  # no temporary file either


def test_bad_size_is_a_usage_error(cli: CliRunner) -> None:
    result = cli("storescp", "0", "--max-dataset-size", "lots")
    assert result.returncode == 2
    assert "not a size" in result.stderr
