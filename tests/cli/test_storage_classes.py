"""Storage SOP classes the commands accept: every one of pydicom's on storescp (and movescu's
receiver), a generated 127-class default on getscu (only 127 fit beside the C-GET context, as
with DCMTK's getscu), and ``storescp --promiscuous`` (``-pm``) for classes we do not know."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pynetdicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from dicomnet import sop_class
from dicomnet.cli._retrieve import storage_classes
from tests.cli.conftest import CliRunner, StorescpStarter
from tests.cli.qr_support import DCMQRSCP, DCMQRSCP_AET, run, start_dcmqrscp
from tests.conftest import StorescpFactory
from tests.helpers import TEST_UID_PREFIX, make_ct_dataset, write_ct_file

pytestmark = pytest.mark.interop

ECG_12_LEAD = "1.2.840.10008.5.1.4.1.1.9.1.1"
LABEL_MAP = "1.2.840.10008.5.1.4.1.1.66.7"
HEIGHT_MAP = "1.2.840.10008.5.1.4.1.1.66.8"
PRIVATE_CLASS = "2.25.1193046.777.1"  # a storage class nobody has heard of
WORKLIST_FIND = "1.2.840.10008.5.1.4.31"


def instance(sop_class_uid: str, index: int, modality: str = "OT") -> Any:
    ds = make_ct_dataset(index)
    ds.SOPClassUID = UID(sop_class_uid)
    ds.Modality = modality
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    return ds


# --- getscu's default list ----------------------------------------------------------------


def test_getscu_default_storage_classes_are_127_and_cover_the_recent_ones() -> None:
    default = storage_classes(None)
    assert len(default) == len(set(default)) == 127
    for uid in (ECG_12_LEAD, LABEL_MAP, HEIGHT_MAP, str(sop_class.CTImageStorage)):
        assert uid in default
    assert all(str(c) in {str(s) for s in sop_class.StorageClasses} for c in default)


def test_getscu_storage_class_option_comes_first_and_defaults_give_way() -> None:
    chosen = storage_classes([PRIVATE_CLASS, "DICOSCTImageStorage"])
    assert chosen[:2] == [PRIVATE_CLASS, str(sop_class.DICOSCTImageStorage)]
    assert len(chosen) == 127
    assert chosen[2:] == storage_classes(None)[:125]


@pytest.fixture
def ecg_in_dcmqrscp(tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    """DCMTK's dcmqrscp holding one 12-lead ECG instance (and a CT of the same study)."""
    if not DCMQRSCP.is_file():
        pytest.skip(f"DCMTK dcmqrscp is not installed ({DCMQRSCP})")
    source = tmp_path / "ecg.dcm"
    ct = write_ct_file(tmp_path / "ct.dcm", 2, ExplicitVRLittleEndian)
    ds = instance(ECG_12_LEAD, 1, "ECG")
    ds.PatientID = pydicom.dcmread(ct).PatientID
    ds.file_meta = pydicom.dcmread(ct).file_meta
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(source, enforce_file_format=True)
    server = start_dcmqrscp(tmp_path / "dcmqrscp", [source, ct])
    try:
        yield server, source
    finally:
        server.stop()


def test_getscu_retrieves_a_12_lead_ecg_from_dcmqrscp(
    ecg_in_dcmqrscp: tuple[Any, Path], tmp_path: Path
) -> None:
    server, source = ecg_in_dcmqrscp
    out = tmp_path / "out"
    result = run(
        "getscu",
        "127.0.0.1",
        str(server.port),
        "-aec",
        DCMQRSCP_AET,
        "-od",
        out,
        "-k",
        f"StudyInstanceUID={TEST_UID_PREFIX}.1",
    )
    assert result.returncode == 0, result
    assert "getscu: completed 2, failed 0, warning 0" in result.stderr
    original = pydicom.dcmread(source)
    received = pydicom.dcmread(out / f"ECG.{original.SOPInstanceUID}.dcm")
    assert received.SOPClassUID == ECG_12_LEAD
    assert received == original


# --- storescp ---------------------------------------------------------------------------------


def pynetdicom_store(
    port: int | None, ds: Any, extra: tuple[str, ...] = ()
) -> tuple[int | None, list[str]]:
    """Send ``ds`` with pynetdicom (its class proposed in Implicit VR LE, plus ``extra``
    classes); (status or None if its context was refused, the abstract syntaxes accepted)."""
    ae = pynetdicom.AE(ae_title="PYSCU")
    ae.add_requested_context("1.2.840.10008.1.1", [ImplicitVRLittleEndian])
    ae.add_requested_context(str(ds.SOPClassUID), [ImplicitVRLittleEndian])
    for uid in extra:
        ae.add_requested_context(uid, [ImplicitVRLittleEndian])
    assoc = ae.associate("127.0.0.1", int(port or 0))
    assert assoc.is_established
    try:
        accepted = [str(cx.abstract_syntax) for cx in assoc.accepted_contexts]
        if str(ds.SOPClassUID) not in accepted:
            return None, accepted
        status = assoc.send_c_store(ds)
        return int(status.Status), accepted
    finally:
        assoc.release()


@pytest.mark.parametrize("uid", [ECG_12_LEAD, LABEL_MAP, HEIGHT_MAP])
def test_storescp_stores_recent_storage_classes(
    our_storescp: StorescpStarter, tmp_path: Path, uid: str
) -> None:
    od = tmp_path / "od"
    scp = our_storescp("--exit-after", "1", output_dir=od)
    ds = instance(uid, 3, "SEG")
    status, _ = pynetdicom_store(scp.port, ds)
    assert status == 0x0000
    assert scp.wait(20) == 0, scp
    stored = pydicom.dcmread(od / f"SEG.{ds.SOPInstanceUID}.dcm")
    assert stored.SOPClassUID == uid
    assert stored.file_meta.MediaStorageSOPClassUID == uid


def test_promiscuous_accepts_an_unknown_class_and_no_known_other_one(
    our_storescp: StorescpStarter, tmp_path: Path
) -> None:
    ds = instance(PRIVATE_CLASS, 4)
    plain = our_storescp(output_dir=tmp_path / "plain")
    assert pynetdicom_store(plain.port, ds)[0] is None  # refused without -pm

    od = tmp_path / "pm"
    scp = our_storescp("-pm", "--exit-after", "1", output_dir=od)
    assert "; promiscuous;" in scp.stderr
    status, accepted = pynetdicom_store(scp.port, ds, (WORKLIST_FIND,))
    assert status == 0x0000
    assert WORKLIST_FIND not in accepted  # a known non-storage class is still refused
    assert scp.wait(20) == 0, scp
    stored = pydicom.dcmread(od / f"OT.{ds.SOPInstanceUID}.dcm")
    assert stored.SOPClassUID == PRIVATE_CLASS
    assert stored.PatientID == ds.PatientID


def test_our_storescu_sends_an_unknown_class_to_either_promiscuous_storescp(
    cli: CliRunner,
    our_storescp: StorescpStarter,
    dcmtk_storescp: StorescpFactory,
    tmp_path: Path,
) -> None:
    """Our storescu proposes a file's class whatever it is (DCMTK's refuses unknown ones):
    DCMTK's storescp -pm and ours take it alike."""
    source = tmp_path / "private.dcm"
    ds = instance(PRIVATE_CLASS, 5)
    ct = write_ct_file(tmp_path / "ct.dcm", 6, ExplicitVRLittleEndian)
    ds.file_meta = pydicom.dcmread(ct).file_meta
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(source, enforce_file_format=True)
    od = tmp_path / "od"
    ours = our_storescp("--promiscuous", "--exit-after", "1", output_dir=od)
    done = cli("storescu", "127.0.0.1", str(ours.port), source)
    assert done.returncode == 0, done
    assert ours.wait(20) == 0, ours
    assert pydicom.dcmread(od / f"OT.{ds.SOPInstanceUID}.dcm") == pydicom.dcmread(source)

    dcmtk = dcmtk_storescp("-pm")
    done = cli("storescu", "127.0.0.1", str(dcmtk.port), source)
    assert done.returncode == 0, done
    dcmtk.stop()
    assert pydicom.dcmread(dcmtk.output_dir / f"UNKNOWN.{ds.SOPInstanceUID}") == pydicom.dcmread(
        source
    )
