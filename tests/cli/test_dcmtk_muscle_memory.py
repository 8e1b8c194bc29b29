"""DCMTK's option names and habits on our commands: storescp's -su/-ss/-sp sort presets,
--dcmtk-names (DCMTK's ``PREFIX.uid`` file names), --fork; storescu's +sd; the 16384-byte
default maximum PDU. Each checked against DCMTK's own tools where they can be compared."""

from __future__ import annotations

import re
from pathlib import Path

import pydicom
import pynetdicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from tests.cli.conftest import CliRunner, StorescpStarter
from tests.conftest import StorescpFactory
from tests.helpers import STORESCU, make_ct_dataset, run_dcmtk

pytestmark = pytest.mark.interop

RT_PLAN = "1.2.840.10008.5.1.4.1.1.481.5"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
LABEL_MAP = "1.2.840.10008.5.1.4.1.1.66.7"  # unknown to DCMTK 3.6.7: UNKNOWN.<uid>


def files(tmp_path: Path) -> list[Path]:
    """A CT, an RT Plan, a Secondary Capture and a Label Map Segmentation, one study."""
    out = []
    for index, sop_class in enumerate(
        ("1.2.840.10008.5.1.4.1.1.2", RT_PLAN, SECONDARY_CAPTURE, LABEL_MAP)
    ):
        ds = make_ct_dataset(20 + index)
        ds.SOPClassUID = UID(sop_class)
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        path = tmp_path / "in" / f"{index}.dcm"
        path.parent.mkdir(exist_ok=True)
        ds.save_as(path, enforce_file_format=True)
        out.append(path)
    return out


def relative(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("sort", [[], ["-su", "PFX"]])
def test_dcmtk_names_and_su_match_dcmtk_storescp(
    cli: CliRunner,
    our_storescp: StorescpStarter,
    dcmtk_storescp: StorescpFactory,
    tmp_path: Path,
    sort: list[str],
) -> None:
    """The same files sent by our storescu to DCMTK's storescp (with -pm for the class it does
    not know) and to ours with --dcmtk-names land under the same relative names."""
    sources = files(tmp_path)
    dcmtk = dcmtk_storescp("-pm", *sort)
    done = cli("storescu", "127.0.0.1", str(dcmtk.port), *sources)
    assert done.returncode == 0, done
    dcmtk.stop()
    od = tmp_path / "ours"
    ours = our_storescp("--dcmtk-names", *sort, "--exit-after", "4", output_dir=od)
    done = cli("storescu", "127.0.0.1", str(ours.port), *sources)
    assert done.returncode == 0, done
    assert ours.wait(20) == 0, ours
    names = relative(od)
    assert names == relative(dcmtk.output_dir)
    prefixes = sorted(Path(n).name.split(".", 1)[0] for n in names)
    assert prefixes == ["CT", "RP", "SC", "UNKNOWN"]
    if sort:
        assert {Path(n).parts[0] for n in names} == {f"PFX_{make_ct_dataset(0).StudyInstanceUID}"}


@pytest.mark.parametrize("sort", [["-ss", "S"], ["-sp"]])
def test_ss_and_sp_make_dcmtks_time_stamped_study_directories(
    cli: CliRunner,
    our_storescp: StorescpStarter,
    dcmtk_storescp: StorescpFactory,
    tmp_path: Path,
    sort: list[str],
) -> None:
    """-ss PREFIX and -sp as DCMTK's storescp: a directory PREFIX_ (or the patient's name, with
    anything but letters and digits made _) then the time the study's first instance arrived,
    YYYYMMDD_HHMMSSmmm; every instance of the study goes there. Compared with DCMTK's own."""
    sources = files(tmp_path)[:2]  # two instances of one study
    stamp = re.compile(r"_(\d{8}_\d{9})$")
    dcmtk = dcmtk_storescp(*sort)
    done = cli("storescu", "127.0.0.1", str(dcmtk.port), *sources)
    assert done.returncode == 0, done
    dcmtk.stop()
    od = tmp_path / "ours"
    ours = our_storescp("--dcmtk-names", *sort, "--exit-after", "2", output_dir=od)
    done = cli("storescu", "127.0.0.1", str(ours.port), *sources)
    assert done.returncode == 0, done
    assert ours.wait(20) == 0, ours
    theirs, mine = relative(dcmtk.output_dir), relative(od)
    assert len(mine) == len(theirs) == 2
    [our_dir] = {Path(n).parts[0] for n in mine}
    [their_dir] = {Path(n).parts[0] for n in theirs}
    assert stamp.search(our_dir) and stamp.search(their_dir), (our_dir, their_dir)
    assert stamp.sub("", our_dir) == stamp.sub("", their_dir)  # S, or the patient's name
    assert sorted(Path(n).name for n in mine) == sorted(Path(n).name for n in theirs)


def test_fork_is_accepted_with_a_warning(
    cli: CliRunner, our_storescp: StorescpStarter, tmp_path: Path
) -> None:
    sources = files(tmp_path)[:1]
    od = tmp_path / "od"
    scp = our_storescp("--fork", "--exit-after", "1", output_dir=od)
    warning = "--fork is not needed: storescp serves associations concurrently"
    assert f"storescp: warning: {warning}" in scp.stderr
    done = cli("storescu", "127.0.0.1", str(scp.port), *sources)
    assert done.returncode == 0, done
    assert scp.wait(20) == 0, scp
    [stored] = relative(od)
    assert stored.startswith("CT.")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["-su", "A", "--sort-on-series"], "--sort-on-series and -su are alternatives"),
        (["-su", "A", "-sp"], "are alternatives"),
        (["--filepath", "{SOPInstanceUID}", "--dcmtk-names"], "--filepath sets the whole name"),
        (["-su", "../x"], "not a usable directory prefix"),
    ],
)
def test_sort_option_conflicts_exit_2(
    cli: CliRunner, tmp_path: Path, args: list[str], says: str
) -> None:
    done = cli("storescp", "0", "-od", tmp_path, *args)
    assert done.returncode == 2, done
    assert says in done.stderr


def test_storescu_scan_directories_alias(
    cli: CliRunner, dcmtk_storescp: StorescpFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    for source in files(tmp_path)[:2]:
        (folder / source.name).write_bytes(source.read_bytes())
    scp = dcmtk_storescp()
    done = cli("storescu", "+sd", "127.0.0.1", str(scp.port), folder)
    assert done.returncode == 0, done
    assert "sent 2, failed 0" in done.stderr
    scp.stop()
    assert len(scp.files()) == 2


def test_default_max_pdu_is_dcmtks_16384(our_storescp: StorescpStarter, tmp_path: Path) -> None:
    """What a peer sees: our storescp advertises 16384 (DCMTK's default), --max-pdu another;
    DCMTK's storescu sends through it as usual."""
    for args, expected in (([], 16384), (["--max-pdu", "32768"], 32768)):
        scp = our_storescp(*args, output_dir=tmp_path / f"od{expected}")
        ae = pynetdicom.AE(ae_title="PYSCU")
        ae.add_requested_context("1.2.840.10008.1.1", [ImplicitVRLittleEndian])
        assoc = ae.associate("127.0.0.1", int(scp.port or 0))
        assert assoc.is_established
        try:
            assert assoc.acceptor.maximum_length == expected
        finally:
            assoc.release()
    source = files(tmp_path)[0]
    done = run_dcmtk(STORESCU, "127.0.0.1", str(scp.port), source)
    assert done.returncode == 0, done.stdout + done.stderr
    assert pydicom.dcmread(
        tmp_path / "od32768" / f"CT.{pydicom.dcmread(source).SOPInstanceUID}.dcm"
    )
