"""Peers for the compatibility programs: a DCMTK dcmqrscp archive holding the patient of
pynetdicom's examples (CITIZEN^Jan, ID 1234567), shared by the module's tests."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from tests.cli.qr_support import DCMQRSCP_AET, Dcmqrscp, start_dcmqrscp
from tests.helpers import dcmtk_env, free_port, wait_listening, write_ct_files

PATIENT_ID = "1234567"
PATIENT_NAME = "CITIZEN^Jan"


def citizen_files(directory: Path, count: int = 3) -> list[Path]:
    """``count`` CT files of one patient, study and series (pynetdicom's example patient)."""
    paths = write_ct_files(directory, count)
    for path in paths:
        ds = dcmread(path)
        ds.PatientID = PATIENT_ID
        ds.PatientName = PATIENT_NAME
        ds.save_as(path, enforce_file_format=True)
    return paths


@pytest.fixture(scope="module")
def archive_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return citizen_files(tmp_path_factory.mktemp("citizen"))


@pytest.fixture(scope="module")
def archive(
    tmp_path_factory: pytest.TempPathFactory, archive_files: list[Path]
) -> Iterator[Dcmqrscp]:
    """dcmqrscp titled DCMQRSCP, loaded with ``archive_files``; it knows the move destination
    MOVEDEST at 127.0.0.1:``archive.move_port``."""
    server = start_dcmqrscp(tmp_path_factory.mktemp("dcmqrscp"), archive_files)
    try:
        yield server
    finally:
        server.stop()


WLMSCPFS = "/usr/bin/wlmscpfs"
WORKLIST_AET = "WLMSCP"

#: The scheduled procedure steps of the worklist: (accession, modality, patient name, ID).
WORKLIST = (
    ("ACC001", "CT", PATIENT_NAME, PATIENT_ID),
    ("ACC002", "MR", "DOE^Jane", "7654321"),
    ("ACC003", "CT", "ROE^Rick", "5555555"),
)


def worklist_item(accession: str, modality: str, name: str, patient_id: str) -> Dataset:
    """A scheduled procedure step with what wlmscpfs wants of a worklist file."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.AccessionNumber = accession
    ds.PatientName = name
    ds.PatientID = patient_id
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.StudyInstanceUID = generate_uid()
    ds.RequestedProcedureID = f"RP{accession}"
    ds.RequestedProcedureDescription = f"{modality} HEAD"
    ds.RequestedProcedurePriority = "ROUTINE"
    ds.ReferringPhysicianName = "DOCTOR^A"
    ds.RequestingPhysician = "DOCTOR^B"
    ds.ReferencedStudySequence = []
    step = Dataset()
    step.ScheduledStationAETitle = f"{modality}SCANNER"
    step.ScheduledProcedureStepStartDate = "20240102"
    step.ScheduledProcedureStepStartTime = "1000"
    step.Modality = modality
    step.ScheduledPerformingPhysicianName = "TECH^C"
    step.ScheduledProcedureStepDescription = "HEAD"
    step.ScheduledProcedureStepID = f"SPS{accession}"
    step.ScheduledStationName = f"{modality}1"
    step.ScheduledProcedureStepLocation = "ROOM1"
    ds.ScheduledProcedureStepSequence = [step]
    return ds


def write_worklist(directory: Path) -> list[Path]:
    """The WORKLIST as ``*.wl`` Part-10 files (and wlmscpfs's ``lockfile``) in directory."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "lockfile").touch()
    paths = []
    for entry in WORKLIST:
        ds = worklist_item(*entry)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.31")
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        path = directory / f"{entry[0]}.wl"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def worklist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """wlmscpfs's data directory: the WORKLIST in its WLMSCP subdirectory."""
    root = tmp_path_factory.mktemp("worklist")
    write_worklist(root / WORKLIST_AET)
    return root


@pytest.fixture(scope="module")
def wlmscpfs(tmp_path_factory: pytest.TempPathFactory, worklist_dir: Path) -> Iterator[int]:
    """DCMTK's wlmscpfs serving the WORKLIST as WLMSCP; yields its port."""
    log = tmp_path_factory.mktemp("wlmscpfs") / "wlmscpfs.log"
    port = free_port()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [WLMSCPFS, "-dfp", str(worklist_dir), str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dcmtk_env(),
        )
    try:
        wait_listening(process, "127.0.0.1", port)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


__all__ = [
    "DCMQRSCP_AET",
    "PATIENT_ID",
    "PATIENT_NAME",
    "WORKLIST",
    "WORKLIST_AET",
    "citizen_files",
    "write_worklist",
]
