"""Orthanc as the PACS: a real Orthanc started in the foreground on free ports, loaded with small
studies by our own ``storescu``.

* ``orthanc`` (module scope) — writes a JSON configuration into a temporary directory (free
  DICOM and HTTP ports, storage and index there, AE title ``ORTHANC``, no plugins, no remote
  access, and one DicomModalities entry: our receiver ``OURAE`` at 127.0.0.1 on a free port a
  test uses for ``movescu --store-port``), starts ``/usr/sbin/Orthanc <config.json>``, waits
  (with a deadline) until its DICOM port answers a C-ECHO and its REST API answers, and yields
  an :class:`Orthanc`. Afterwards: SIGTERM, wait, kill if it lingers.
* ``studies`` (module scope) — two patients, two studies, three series, five instances made
  with pydicom (one of them Implicit VR Little Endian), stored into that Orthanc with our
  storescu; the REST API confirms Orthanc holds exactly these, byte for byte.

Skipped with a reason when Orthanc is not installed (``apt-get install -y orthanc``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.uid import (
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    MRImageStorage,
    generate_uid,
)

from tests.cli.qr_support import run
from tests.helpers import (
    TEST_UID_PREFIX,
    dataset_bytes,
    free_port,
    make_ct_dataset,
    sop_instance_of,
    wait_listening,
)

ORTHANC = Path("/usr/sbin/Orthanc")
ORTHANC_AET = "ORTHANC"
#: Our receiver for C-MOVE, as Orthanc's DicomModalities knows it.
RECEIVER_AET = "OURAE"
#: Seconds Orthanc may take to start answering.
START_TIMEOUT = 30.0


@dataclass
class Orthanc:
    """A running Orthanc: where to reach it and what it printed."""

    process: subprocess.Popen[bytes]
    directory: Path
    dicom_port: int
    http_port: int
    receiver_port: int
    log_path: Path
    aet: str = ORTHANC_AET
    receiver_aet: str = RECEIVER_AET
    host: str = "127.0.0.1"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/"

    def rest(self, path: str) -> Any:
        """GET a REST resource and decode its JSON."""
        return json.loads(self.rest_bytes(path))

    def rest_bytes(self, path: str) -> bytes:
        with urllib.request.urlopen(self.rest_url + path.lstrip("/"), timeout=10) as reply:
            data: bytes = reply.read()
            return data

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)


def _config(directory: Path, dicom_port: int, http_port: int, receiver_port: int) -> Path:
    storage = directory / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    config = {
        "Name": "dicomnet-tests",
        "StorageDirectory": str(storage),
        "IndexDirectory": str(storage),
        "DicomAet": ORTHANC_AET,
        "DicomPort": dicom_port,
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomCheckCalledAet": False,
        "Plugins": [],
        "DicomModalities": {"ours": [RECEIVER_AET, "127.0.0.1", receiver_port]},
        # Orthanc answers C-FIND/C-GET/C-MOVE only from known modalities unless told otherwise;
        # our SCUs call with their own AE titles (FINDSCU, GETSCU, MOVESCU).
        "DicomAlwaysAllowFind": True,
        "DicomAlwaysAllowGet": True,
        "DicomAlwaysAllowMove": True,
        # Close Orthanc's outgoing associations at once rather than keeping them for reuse
        # (movescu --store-port waits for its receiver's associations to end).
        "DicomAssociationCloseDelay": 0,
        "DicomScuTimeout": 10,
        "StorageCompression": False,
        "ConcurrentJobs": 2,
    }
    path = directory / f"config-{dicom_port}.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def _echo(port: int) -> int | None:
    """C-ECHO Orthanc with our library; the status, None if no association."""
    from dicomnet import AE

    ae = AE("ECHOSCU")
    ae.acse_timeout = ae.dimse_timeout = ae.connection_timeout = 5.0
    ae.add_requested_context("1.2.840.10008.1.1")
    assoc = ae.associate("127.0.0.1", port, ae_title=ORTHANC_AET)
    if not assoc.is_established:
        return None
    try:
        status = assoc.send_c_echo()
        return int(status.Status) if "Status" in status else None
    finally:
        assoc.release()


def _wait_ready(server: Orthanc) -> None:
    """DICOM port listening and answering C-ECHO, REST answering with our configuration."""
    wait_listening(server.process, "127.0.0.1", server.dicom_port, timeout=START_TIMEOUT)
    wait_listening(server.process, "127.0.0.1", server.http_port, timeout=START_TIMEOUT)
    system = server.rest("system")
    if system.get("DicomPort") != server.dicom_port or system.get("DicomAet") != ORTHANC_AET:
        raise RuntimeError(f"something else answers on port {server.http_port}: {system}")
    if _echo(server.dicom_port) != 0x0000:
        raise RuntimeError(f"Orthanc on port {server.dicom_port} does not answer C-ECHO")


def start_orthanc(directory: Path, attempts: int = 3) -> Orthanc:
    """Start Orthanc with a fresh configuration in ``directory``; retried on other ports if one
    was taken between choosing and binding it."""
    problem: Exception | None = None
    for attempt in range(attempts):
        workdir = directory / f"run{attempt}"
        workdir.mkdir(parents=True)
        dicom_port, http_port, receiver_port = free_port(), free_port(), free_port()
        if len({dicom_port, http_port, receiver_port}) < 3:
            continue
        config = _config(workdir, dicom_port, http_port, receiver_port)
        log_path = workdir / "orthanc.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [str(ORTHANC), str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=workdir,
            )
        server = Orthanc(process, workdir, dicom_port, http_port, receiver_port, log_path)
        try:
            _wait_ready(server)
        except (RuntimeError, TimeoutError, OSError) as exc:
            problem = exc
            server.stop()
            continue
        return server
    detail = server.log()[-2000:] if "server" in locals() else ""
    raise RuntimeError(f"Orthanc did not start: {problem}\n{detail}")


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    if not (ORTHANC.is_file() and os.access(ORTHANC, os.X_OK)):
        pytest.skip(f"Orthanc is not installed ({ORTHANC}; apt-get install -y orthanc)")
    server = start_orthanc(tmp_path_factory.mktemp("orthanc"))
    try:
        yield server
    finally:
        server.stop()


# --- the studies -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    uid: str
    modality: str
    files: tuple[Path, ...]


@dataclass(frozen=True)
class Study:
    uid: str
    patient_id: str
    patient_name: str
    description: str
    date: str
    accession: str
    series: tuple[Series, ...]

    @property
    def files(self) -> list[Path]:
        return [f for s in self.series for f in s.files]


@dataclass
class Studies:
    """What was stored into Orthanc."""

    studies: list[Study] = field(default_factory=list)

    @property
    def files(self) -> list[Path]:
        return [f for s in self.studies for f in s.files]

    def study(self, patient_id: str) -> Study:
        return next(s for s in self.studies if s.patient_id == patient_id)


#: (PatientID, PatientName, StudyDescription, StudyDate, [(Modality, SOP class, syntaxes)])
Layout = tuple[tuple[str, str, str, str, list[tuple[str, str, tuple[str, ...]]]], ...]
LAYOUT: Layout = (
    (
        "ORT001",
        "Alpha^Anna",
        "Head CT",
        "20240101",
        [
            ("CT", CTImageStorage, (ExplicitVRLittleEndian, ImplicitVRLittleEndian)),
            ("CT", CTImageStorage, (ExplicitVRLittleEndian,)),
        ],
    ),
    (
        "ORT002",
        "Beta^Bob",
        "Chest MR",
        "20240215",
        [("MR", MRImageStorage, (ExplicitVRLittleEndian, ExplicitVRLittleEndian))],
    ),
)


def make_studies(directory: Path) -> Studies:
    """The test studies as Part-10 files (distinct UIDs every run)."""
    directory.mkdir(parents=True, exist_ok=True)
    root = f"{TEST_UID_PREFIX}.61.{time.time_ns() % 10**12}"
    made = Studies()
    index = 0
    for number, (pid, name, description, date, series_specs) in enumerate(LAYOUT, start=1):
        study_uid = f"{root}.{number}"
        series_list = []
        for series_number, (modality, sop_class, syntaxes) in enumerate(series_specs, start=1):
            series_uid = f"{study_uid}.{series_number}"
            files = []
            for instance_number, syntax in enumerate(syntaxes, start=1):
                ds = make_ct_dataset(200 + index)
                ds.SOPClassUID = UID(sop_class)
                ds.SOPInstanceUID = generate_uid(prefix=f"{series_uid}.")
                ds.PatientID = pid
                ds.PatientName = name
                ds.PatientBirthDate = "19800101"
                ds.PatientSex = "F" if pid == "ORT001" else "M"
                ds.StudyInstanceUID = UID(study_uid)
                ds.StudyDescription = description
                ds.StudyDate = date
                ds.StudyTime = "101500"
                ds.StudyID = str(number)
                ds.AccessionNumber = f"ACC{number:04d}"
                ds.SeriesInstanceUID = UID(series_uid)
                ds.SeriesNumber = series_number
                ds.Modality = modality
                ds.InstanceNumber = instance_number
                meta = FileMetaDataset()
                meta.MediaStorageSOPClassUID = ds.SOPClassUID
                meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
                meta.TransferSyntaxUID = UID(syntax)
                meta.ImplementationClassUID = UID(f"{TEST_UID_PREFIX}.99")
                ds.file_meta = meta
                path = directory / f"im_{index:02d}.dcm"
                ds.save_as(path, enforce_file_format=True)
                files.append(path)
                index += 1
            series_list.append(Series(series_uid, modality, tuple(files)))
        made.studies.append(
            Study(study_uid, pid, name, description, date, f"ACC{number:04d}", tuple(series_list))
        )
    return made


@pytest.fixture(scope="module")
def studies(orthanc: Orthanc, tmp_path_factory: pytest.TempPathFactory) -> Studies:
    made = make_studies(tmp_path_factory.mktemp("studies"))
    result = run(
        "storescu", "-aec", orthanc.aet, orthanc.host, str(orthanc.dicom_port), *made.files
    )
    assert result.returncode == 0, f"{result}\n--- orthanc log\n{orthanc.log()[-3000:]}"
    statistics = orthanc.rest("statistics")
    assert statistics["CountPatients"] == 2
    assert statistics["CountStudies"] == 2
    assert statistics["CountSeries"] == 3
    assert statistics["CountInstances"] == len(made.files) == 5
    # What Orthanc keeps is what we sent: the data set bytes of every instance are ours.
    originals = {sop_instance_of(p): dataset_bytes(p) for p in made.files}
    for orthanc_id in orthanc.rest("instances"):
        stored = orthanc.rest_bytes(f"instances/{orthanc_id}/file")
        assert dataset_bytes(stored) == originals[sop_instance_of(stored)]
    return made
