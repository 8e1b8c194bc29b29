"""findscu, getscu and movescu against Orthanc as the PACS.

The studies were stored into Orthanc by our storescu (see conftest.py); here we query them at
every level, in every output format, and retrieve them with C-GET and with C-MOVE to our own
receiver (``movescu --store-port``), checking each retrieved file byte for byte against what we
stored.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from tests.cli.conftest import CliResult
from tests.cli.qr_support import UNTOUCHED as UNTOUCHED_CLASSES
from tests.cli.qr_support import assert_same_files, files_under, run
from tests.orthanc.conftest import ORTHANC, Orthanc, Studies

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not ORTHANC.is_file(), reason=f"Orthanc is not installed ({ORTHANC})"),
]


def findscu(orthanc: Orthanc, *args: str | Path) -> CliResult:
    return run("findscu", orthanc.host, str(orthanc.dicom_port), "-aec", orthanc.aet, *args)


def json_matches(result: CliResult) -> list[Dataset]:
    assert result.returncode == 0, result
    return [Dataset.from_json(item) for item in json.loads(result.stdout)]


# --- findscu at each level ---------------------------------------------------------------------


def test_find_patient_level_patient_root(orthanc: Orthanc, studies: Studies) -> None:
    result = findscu(
        orthanc,
        "-P",
        "-L",
        "PATIENT",
        "-k",
        "PatientID=",
        "-k",
        "PatientName=",
        "-k",
        "PatientSex=",
        "--format",
        "json",
    )
    found = {str(m.PatientID): (str(m.PatientName), m.PatientSex) for m in json_matches(result)}
    assert found == {"ORT001": ("Alpha^Anna", "F"), "ORT002": ("Beta^Bob", "M")}
    assert "findscu: 2 match(es)" in result.stderr


def test_find_study_level_prints_the_dicom_json_model(orthanc: Orthanc, studies: Studies) -> None:
    study = studies.study("ORT001")
    result = findscu(
        orthanc,
        "-L",
        "STUDY",
        "-k",
        "PatientID=ORT001",
        "-k",
        "StudyInstanceUID=",
        "-k",
        "StudyDescription=",
        "-k",
        "AccessionNumber=",
        "-k",
        "NumberOfStudyRelatedInstances=",
        "--format",
        "json",
    )
    assert result.returncode == 0, result
    raw = json.loads(result.stdout)
    assert len(raw) == 1
    # PS3.18 F.2: 8-hex-digit tags, "vr", "Value" arrays
    assert raw[0]["0020000D"] == {"vr": "UI", "Value": [study.uid]}
    assert raw[0]["00100020"] == {"vr": "LO", "Value": ["ORT001"]}
    assert raw[0]["00081030"] == {"vr": "LO", "Value": ["Head CT"]}
    assert raw[0]["00080050"] == {"vr": "SH", "Value": [study.accession]}
    assert raw[0]["00080052"] == {"vr": "CS", "Value": ["STUDY"]}
    assert Dataset.from_json(raw[0]).NumberOfStudyRelatedInstances == len(study.files) == 3


def test_find_study_level_wildcard_and_table_text(orthanc: Orthanc, studies: Studies) -> None:
    result = findscu(orthanc, "-k", "PatientName=Beta*", "-k", "StudyDescription=")
    assert result.returncode == 0, result
    # Not a terminal: plain text, a header row then one line per match, the StudyInstanceUID
    # asked for as well.
    lines = result.stdout.splitlines()
    assert len(lines) == 2, result
    assert {"StudyDescription", "StudyInstanceUID"} <= set(lines[0].split())
    assert "Chest MR" in lines[1] and studies.study("ORT002").uid in lines[1]


def test_find_series_level_csv(orthanc: Orthanc, studies: Studies) -> None:
    study = studies.study("ORT001")
    result = findscu(
        orthanc,
        "-L",
        "SERIES",
        "-k",
        f"StudyInstanceUID={study.uid}",
        "-k",
        "SeriesInstanceUID=",
        "-k",
        "Modality=",
        "-k",
        "NumberOfSeriesRelatedInstances=",
        "--format",
        "csv",
    )
    assert result.returncode == 0, result
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    found = {
        r["SeriesInstanceUID"]: (r["Modality"], int(r["NumberOfSeriesRelatedInstances"]))
        for r in rows
    }
    assert found == {s.uid: (s.modality, len(s.files)) for s in study.series}
    assert all(r["StudyInstanceUID"] == study.uid for r in rows)


def test_find_image_level_jsonl(orthanc: Orthanc, studies: Studies) -> None:
    study = studies.study("ORT001")
    series = study.series[0]
    result = findscu(
        orthanc,
        "-L",
        "IMAGE",
        "-k",
        f"StudyInstanceUID={study.uid}",
        "-k",
        f"SeriesInstanceUID={series.uid}",
        "-k",
        "SOPInstanceUID=",
        "-k",
        "InstanceNumber=",
        "--format",
        "jsonl",
    )
    assert result.returncode == 0, result
    lines = [Dataset.from_json(json.loads(line)) for line in result.stdout.splitlines()]
    expected = {str(dcmread(f).SOPInstanceUID): dcmread(f).InstanceNumber for f in series.files}
    assert {str(m.SOPInstanceUID): m.InstanceNumber for m in lines} == expected


def test_find_image_level_patient_root(orthanc: Orthanc, studies: Studies) -> None:
    study = studies.study("ORT002")
    result = findscu(
        orthanc,
        "-P",
        "-L",
        "IMAGE",
        "-k",
        "PatientID=ORT002",
        "-k",
        f"StudyInstanceUID={study.uid}",
        "-k",
        f"SeriesInstanceUID={study.series[0].uid}",
        "--format",
        "json",
    )
    uids = {str(m.SOPInstanceUID) for m in json_matches(result)}
    assert uids == {str(dcmread(f).SOPInstanceUID) for f in study.files}


def test_find_zero_matches_is_success(orthanc: Orthanc, studies: Studies) -> None:
    as_json = findscu(orthanc, "-k", "PatientID=NOBODY", "--format", "json")
    assert as_json.returncode == 0, as_json
    assert json.loads(as_json.stdout) == []
    assert "findscu: 0 match(es)" in as_json.stderr
    as_csv = findscu(orthanc, "-k", "PatientID=NOBODY", "--format", "csv")
    assert as_csv.returncode == 0, as_csv
    assert as_csv.stdout.strip() == ""


def test_find_write_saves_each_match(orthanc: Orthanc, studies: Studies, tmp_path: Path) -> None:
    out = tmp_path / "matches"
    study = studies.study("ORT001")
    result = findscu(
        orthanc,
        "-L",
        "SERIES",
        "-k",
        f"StudyInstanceUID={study.uid}",
        "-k",
        "SeriesInstanceUID=",
        "-k",
        "Modality=",
        "--write",
        out,
        "--format",
        "json",
    )
    matches = json_matches(result)
    written = files_under(out)
    assert len(written) == len(matches) == 2
    saved = [dcmread(p) for p in written]
    assert {str(d.SeriesInstanceUID) for d in saved} == {s.uid for s in study.series}
    assert all(d.Modality == "CT" and d.QueryRetrieveLevel == "SERIES" for d in saved)


# --- getscu ------------------------------------------------------------------------------------


def getscu(orthanc: Orthanc, out: Path, *args: str) -> CliResult:
    return run(
        "getscu", orthanc.host, str(orthanc.dicom_port), "-aec", orthanc.aet, "-od", out, *args
    )


def test_getscu_study_arrives_byte_for_byte(
    orthanc: Orthanc, studies: Studies, tmp_path: Path
) -> None:
    study = studies.study("ORT001")  # one of its files is Implicit VR Little Endian
    out = tmp_path / "got"
    result = getscu(
        orthanc, out, "-L", "STUDY", "-k", f"StudyInstanceUID={study.uid}", *UNTOUCHED_CLASSES
    )
    assert result.returncode == 0, result
    assert_same_files(files_under(out), study.files)
    assert "getscu: completed 3, failed 0, warning 0" in result.stderr


def test_getscu_series_level_patient_root(
    orthanc: Orthanc, studies: Studies, tmp_path: Path
) -> None:
    study = studies.study("ORT002")
    out = tmp_path / "got"
    result = getscu(
        orthanc,
        out,
        "-P",
        "-L",
        "SERIES",
        "-k",
        "PatientID=ORT002",
        "-k",
        f"StudyInstanceUID={study.uid}",
        "-k",
        f"SeriesInstanceUID={study.series[0].uid}",
        "--filepath",
        "{StudyInstanceUID}/{SeriesInstanceUID}/{SOPInstanceUID}.dcm",
    )
    assert result.returncode == 0, result
    received = files_under(out)
    assert_same_files(received, list(study.series[0].files))
    assert {p.parent.relative_to(out).as_posix() for p in received} == {
        f"{study.uid}/{study.series[0].uid}"
    }


# --- movescu -----------------------------------------------------------------------------------


def movescu(orthanc: Orthanc, *args: str | Path) -> CliResult:
    return run("movescu", orthanc.host, str(orthanc.dicom_port), "-aec", orthanc.aet, *args)


def test_movescu_to_our_receiver_byte_for_byte(
    orthanc: Orthanc, studies: Studies, tmp_path: Path
) -> None:
    study = studies.study("ORT001")
    out = tmp_path / "moved"
    result = movescu(
        orthanc,
        "-aem",
        orthanc.receiver_aet,
        "--store-port",
        str(orthanc.receiver_port),
        "-od",
        out,
        "-k",
        f"StudyInstanceUID={study.uid}",
    )
    assert result.returncode == 0, f"{result}\n--- orthanc\n{orthanc.log()[-3000:]}"
    assert_same_files(files_under(out), study.files)
    assert "movescu: completed 3, failed 0, warning 0" in result.stderr


def test_movescu_patient_level_patient_root(
    orthanc: Orthanc, studies: Studies, tmp_path: Path
) -> None:
    study = studies.study("ORT002")
    out = tmp_path / "moved"
    result = movescu(
        orthanc,
        "-P",
        "-L",
        "PATIENT",
        "-k",
        "PatientID=ORT002",
        "-aem",
        orthanc.receiver_aet,
        "--store-port",
        str(orthanc.receiver_port),
        "-od",
        out,
    )
    assert result.returncode == 0, f"{result}\n--- orthanc\n{orthanc.log()[-3000:]}"
    assert_same_files(files_under(out), study.files)


def test_movescu_unknown_destination_fails_with_orthancs_status(
    orthanc: Orthanc, studies: Studies, tmp_path: Path
) -> None:
    out = tmp_path / "moved"
    result = movescu(
        orthanc,
        "-aem",
        "NOSUCHAE",
        "-k",
        f"StudyInstanceUID={studies.study('ORT001').uid}",
        "-od",
        out,
    )
    assert result.returncode == 6, result
    error = [line for line in result.stderr_lines if "error" in line]
    assert len(error) == 1, result
    # Orthanc 1.10 answers 0xC000 (older and newer ones 0xA801); either way, with its meaning.
    assert "C-MOVE: 0xC000 Failed: unable to process" in error[0] or (
        "0xA801" in error[0] and "destination unknown" in error[0].lower()
    ), result
    assert not out.exists() or files_under(out) == []
