"""DCMTK's findscu, getscu and movescu (absolute paths, TCP_NODELAY=1) against our Q/R SCP
serving the in-test archive; retrieved files are checked byte for byte."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from dicomnet import evt
from tests.helpers import dataset_bytes, run_dcmtk, sop_instance_of
from tests.qr.archive import ROOT, Archive, find_handler, series_uid, study_uid
from tests.qr.conftest import QRServerFactory

pytestmark = pytest.mark.interop

FINDSCU = "/usr/bin/findscu"
GETSCU = "/usr/bin/getscu"
MOVESCU = "/usr/bin/movescu"


def responses_in(directory: Path) -> list[Dataset]:
    """The rsp0001.dcm ... files findscu -X wrote, in order."""
    return [dcmread(path) for path in sorted(directory.glob("rsp*.dcm"))]


def test_findscu_study_root_study_level(qr_server: QRServerFactory, tmp_path: Path) -> None:
    server = qr_server()
    result = run_dcmtk(
        FINDSCU,
        "-S",
        "-aec",
        "QRSCP",
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        "StudyInstanceUID",
        "-k",
        "PatientName",
        "-k",
        "StudyDate=20240101-20240301",
        "-X",
        "-od",
        tmp_path,
        "127.0.0.1",
        str(server.server_address[1]),
    )
    assert result.returncode == 0, result.stderr
    found = responses_in(tmp_path)
    assert sorted((d.StudyInstanceUID, str(d.PatientName)) for d in found) == [
        (study_uid(1), "Alpha^Anna"),
        (study_uid(3), "Beta^Bob"),
    ]


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (["QueryRetrieveLevel=PATIENT", "PatientID", "PatientName=Beta*"], ["PAT002"]),
        (
            [
                "QueryRetrieveLevel=SERIES",
                "PatientID=PAT001",
                f"StudyInstanceUID={study_uid(1)}",
                "SeriesInstanceUID",
            ],
            [series_uid(1, 1), series_uid(1, 2)],
        ),
        (
            [
                "QueryRetrieveLevel=IMAGE",
                "PatientID=PAT001",
                f"StudyInstanceUID={study_uid(2)}",
                f"SeriesInstanceUID={series_uid(2, 1)}",
                "SOPInstanceUID",
            ],
            [f"{ROOT}.2.1.1", f"{ROOT}.2.1.2"],
        ),
    ],
    ids=["patient", "series", "image"],
)
def test_findscu_patient_root_levels(
    qr_server: QRServerFactory, tmp_path: Path, keys: list[str], expected: list[str]
) -> None:
    server = qr_server()
    args: list[str] = []
    for key in keys:
        args += ["-k", key]
    result = run_dcmtk(
        FINDSCU, "-P", *args, "-X", "-od", tmp_path, "127.0.0.1", str(server.server_address[1])
    )
    assert result.returncode == 0, result.stderr
    level = keys[0].split("=")[1]
    unique = {
        "PATIENT": "PatientID",
        "SERIES": "SeriesInstanceUID",
        "IMAGE": "SOPInstanceUID",
    }[level]
    assert sorted(str(d[unique].value) for d in responses_in(tmp_path)) == expected


def test_findscu_worklist(qr_server: QRServerFactory, tmp_path: Path) -> None:
    server = qr_server()
    result = run_dcmtk(
        FINDSCU,
        "-W",
        "-k",
        "PatientName=*",
        "-k",
        "PatientID",
        "-k",
        "(0040,0100)[0].Modality=CT",
        "-k",
        "(0040,0100)[0].ScheduledStationAETitle",
        "-X",
        "-od",
        tmp_path,
        "127.0.0.1",
        str(server.server_address[1]),
    )
    assert result.returncode == 0, result.stderr
    found = responses_in(tmp_path)
    assert sorted(
        (d.PatientID, d.ScheduledProcedureStepSequence[0].ScheduledStationAETitle) for d in found
    ) == [("PAT001", "CT01"), ("PAT003", "CT01")]


def test_findscu_cancel(archive: Archive, qr_server: QRServerFactory) -> None:
    """findscu --cancel 2: our SCP sees the C-CANCEL and answers 0xFE00."""
    closed = threading.Event()
    plain = find_handler(archive)

    def endless(event: Any) -> Iterator[tuple[int, Dataset | None]]:
        try:
            if event.identifier.PatientID:
                yield from plain(event)
                return
            for n in range(100_000):
                if event.is_cancelled:
                    yield 0xFE00, None
                    return
                ds = Dataset()
                ds.QueryRetrieveLevel = "PATIENT"
                ds.PatientID = f"P{n:06d}"
                yield 0xFF00, ds
        finally:
            closed.set()

    server = qr_server(handlers=[(evt.EVT_C_FIND, endless)])
    port = str(server.server_address[1])
    result = run_dcmtk(
        FINDSCU, "-v", "-P", "--cancel", "2", "-k", "QueryRetrieveLevel=PATIENT", "-k",
        "PatientID", "127.0.0.1", port,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Sending Cancel Request" in output
    assert "Received Final Find Response (Cancel" in output
    assert closed.wait(10)
    # the server goes on serving
    again = run_dcmtk(
        FINDSCU, "-v", "-P", "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=PAT002",
        "127.0.0.1", port,
    )  # fmt: skip
    assert again.returncode == 0 and "Received Final Find Response (Success)" in again.stderr


def test_getscu_retrieves_byte_identical_files(qr_server: QRServerFactory, tmp_path: Path) -> None:
    # Explicit VR LE only: getscu proposes one context per SOP class, so a file in another
    # syntax would be re-encoded (covered by the next test)
    source = Archive.build(tmp_path / "explicit", syntaxes=(ExplicitVRLittleEndian,))
    server = qr_server(source=source)
    out = tmp_path / "got"
    out.mkdir()
    result = run_dcmtk(
        GETSCU,
        "-v",
        "-P",
        "+B",
        "-k",
        "QueryRetrieveLevel=PATIENT",
        "-k",
        "PatientID=PAT001",
        "-od",
        out,
        "127.0.0.1",
        str(server.server_address[1]),
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Number of Completed Suboperations : 6" in output
    files = sorted(out.iterdir())
    wanted = {i.sop_instance_uid: i for i in source.instances if i.header.PatientID == "PAT001"}
    assert sorted(sop_instance_of(f) for f in files) == sorted(wanted)
    for path in files:
        assert dataset_bytes(path) == wanted[sop_instance_of(path)].dataset_bytes()


def test_getscu_gets_implicit_files_re_encoded(
    archive: Archive, qr_server: QRServerFactory, tmp_path: Path
) -> None:
    server = qr_server()
    out = tmp_path / "got"
    out.mkdir()
    result = run_dcmtk(
        GETSCU,
        "-S",
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        f"StudyInstanceUID={study_uid(1)}",
        "-od",
        out,
        "127.0.0.1",
        str(server.server_address[1]),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    got = {sop_instance_of(p): dcmread(p) for p in out.iterdir()}
    originals = [i for i in archive.instances if i.header.StudyInstanceUID == study_uid(1)]
    assert sorted(got) == sorted(i.sop_instance_uid for i in originals)
    for instance in originals:
        original = dcmread(instance.path)
        received = got[instance.sop_instance_uid]
        assert [e.tag for e in received] == [e.tag for e in original]
        assert received.PixelData == original.PixelData
        assert received.PatientName == original.PatientName


def test_movescu_to_dcmtk_storescp(
    archive: Archive, qr_server: QRServerFactory, dcmtk_storescp: Any
) -> None:
    storescp = dcmtk_storescp("+B")
    server = qr_server(destinations={"STORESCP": ("127.0.0.1", storescp.port)})
    result = run_dcmtk(
        MOVESCU,
        "-v",
        "-S",
        "-aem",
        "STORESCP",
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        f"StudyInstanceUID={study_uid(1)}",
        "127.0.0.1",
        str(server.server_address[1]),
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Received Final Move Response (Success)" in output
    files = {sop_instance_of(p): p for p in storescp.files()}
    originals = {
        i.sop_instance_uid: i
        for i in archive.instances
        if i.header.StudyInstanceUID == study_uid(1)
    }
    assert sorted(files) == sorted(originals)
    for uid, path in files.items():
        assert dataset_bytes(path) == originals[uid].dataset_bytes()


def test_movescu_unknown_destination(qr_server: QRServerFactory) -> None:
    server = qr_server(destinations={})
    result = run_dcmtk(
        MOVESCU,
        "-v",
        "-S",
        "-aem",
        "NOWHERE",
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        f"StudyInstanceUID={study_uid(1)}",
        "127.0.0.1",
        str(server.server_address[1]),
    )
    output = result.stdout + result.stderr
    assert "Received Final Move Response (Refused: MoveDestinationUnknown)" in output, output
