"""findscu as a user runs it: against our own Q/R SCP (handlers backed by the small in-test
archive of tests/qr) and against DCMTK's dcmqrscp.

Archive content (tests/qr/archive.py): PAT001 Alpha^Anna with study 1 (series 1.1 CT x3, 1.2
CT x1) and study 2 (series 2.1 MR x2); PAT002 Beta^Bob with study 3 (series 3.1 CT x2).
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian

from dicomnet import AssociationServer, evt
from tests.cli.conftest import CliResult, closed_port
from tests.cli.qr_support import DCMQRSCP, Dcmqrscp, Spawned, run, start_dcmqrscp
from tests.conftest import ServerFactory
from tests.qr.archive import (
    Archive,
    find_handler,
    series_uid,
    study_uid,
    worklist_handler,
    worklist_items,
)
from tests.qr.conftest import qr_scp_ae

pytestmark = pytest.mark.interop

WORKLIST_FIND = "1.2.840.10008.5.1.4.31"

StartSCP = Callable[..., AssociationServer]


@pytest.fixture
def spawn_qr(tmp_path: Path) -> Iterator[Spawned]:
    spawned = Spawned(tmp_path)
    try:
        yield spawned
    finally:
        spawned.close()


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    return Archive.build(tmp_path / "archive")


@pytest.fixture
def qr_scp(dicomnet_server: ServerFactory, archive: Archive) -> StartSCP:
    """``qr_scp(find=handler, extra=[(event, handler)...])`` starts our Q/R SCP; by default
    C-FIND (and worklist) answers from the archive."""

    query = find_handler(archive)
    worklist = worklist_handler(worklist_items())

    def archive_or_worklist(event: Any) -> Iterator[Any]:
        if event.request.AffectedSOPClassUID == WORKLIST_FIND:
            return worklist(event)
        return query(event)

    def start(
        find: Callable[[Any], Any] | None = None, extra: list[Any] | None = None
    ) -> AssociationServer:
        handler = find or archive_or_worklist
        return dicomnet_server([(evt.EVT_C_FIND, handler), *(extra or [])], ae=qr_scp_ae())

    return start


def findscu(server: AssociationServer | int, *args: str | os.PathLike[str]) -> CliResult:
    port = server if isinstance(server, int) else server.server_address[1]
    return run("findscu", "127.0.0.1", str(port), "-aec", "QRSCP", *args)


def matches(result: CliResult) -> list[Dataset]:
    assert result.returncode == 0, result
    return [Dataset.from_json(item) for item in json.loads(result.stdout)]


def one_error_line(result: CliResult, code: int) -> str:
    """The command failed with ``code`` and said why in exactly one line."""
    assert result.returncode == code, result
    assert len(result.stderr_lines) == 1, result
    line = result.stderr_lines[0]
    assert line.startswith("findscu: error: "), result
    return line


# --- keys, levels, models ------------------------------------------------------------------------


def test_keys_by_keyword_and_tag_with_the_unique_key_returned(qr_scp: StartSCP) -> None:
    result = findscu(
        qr_scp(), "-k", "0010,0020=PAT001", "-k", "StudyDescription=", "--format", "json"
    )
    found = matches(result)
    # -L defaults to STUDY (Study Root); StudyInstanceUID is asked for even though not given
    assert {(str(m.StudyInstanceUID), m.StudyDescription) for m in found} == {
        (study_uid(1), "Head CT"),
        (study_uid(2), "Chest MR"),
    }
    assert all(m.PatientID == "PAT001" for m in found)
    assert "findscu: 2 match(es)" in result.stderr


def test_patient_root_default_return_keys_as_csv(qr_scp: StartSCP) -> None:
    result = findscu(qr_scp(), "-P", "--format", "csv")
    assert result.returncode == 0, result
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {r["PatientID"]: r["PatientName"] for r in rows} == {
        "PAT001": "Alpha^Anna",
        "PAT002": "Beta^Bob",
    }
    assert {"PatientBirthDate", "PatientSex"} <= set(rows[0])
    assert {r["PatientBirthDate"] for r in rows} == {"19800101", "19751231"}


def test_image_level_with_wildcard_and_jsonl(qr_scp: StartSCP) -> None:
    result = findscu(
        qr_scp(),
        "-L",
        "IMAGE",
        "-k",
        f"StudyInstanceUID={study_uid(1)}",
        "-k",
        f"SeriesInstanceUID={series_uid(1, 1)}",
        "-k",
        "SOPInstanceUID=",
        "-k",
        "InstanceNumber=",
        "--format",
        "jsonl",
    )
    assert result.returncode == 0, result
    found = [Dataset.from_json(json.loads(line)) for line in result.stdout.splitlines()]
    assert sorted(int(m.InstanceNumber) for m in found) == [1, 2, 3]
    assert {str(m.SOPInstanceUID) for m in found} == {f"{series_uid(1, 1)}.{n}" for n in (1, 2, 3)}


def test_worklist_with_a_sequence_path(qr_scp: StartSCP) -> None:
    result = findscu(
        qr_scp(),
        "-W",
        "-k",
        "ScheduledProcedureStepSequence[0].Modality=MR",
        "-k",
        "ScheduledProcedureStepSequence[0].ScheduledStationAETitle=",
        "-k",
        "PatientName=",
        "--format",
        "json",
    )
    found = matches(result)
    assert len(found) == 1
    assert found[0].PatientName == "Beta^Bob"
    step = found[0].ScheduledProcedureStepSequence[0]
    assert (step.Modality, step.ScheduledStationAETitle) == ("MR", "MR01")
    # in CSV the sequence item becomes a path column
    as_csv = findscu(
        qr_scp(),
        "-W",
        "-k",
        "ScheduledProcedureStepSequence[0].Modality=CT",
        "-k",
        "PatientName=",
        "--format",
        "csv",
    )
    assert as_csv.returncode == 0, as_csv
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert {r["PatientName"] for r in rows} == {"Alpha^Anna", "Gamma^Gus"}
    assert {r["ScheduledProcedureStepSequence[0].Modality"] for r in rows} == {"CT"}


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("NotAKeyword=1", "unknown attribute 'NotAKeyword'"),
        ("PatientName[0].X", "PatientName is not a sequence"),
        ("InstanceNumber=abc", "'abc' is not an integer"),
        ("=SMITH", "empty key"),
        ("ScheduledProcedureStepSequence=MR", "cannot take a value"),
    ],
)
def test_bad_keys_exit_2_with_one_line(key: str, says: str) -> None:
    # nothing listens: the key is refused before any connection is tried
    result = findscu(closed_port(), "-k", key)
    line = one_error_line(result, 2)
    assert says in line, result


def test_level_without_the_higher_unique_key_is_a_usage_error() -> None:
    result = findscu(closed_port(), "-L", "SERIES", "-k", "Modality=CT")
    line = one_error_line(result, 2)
    assert "StudyInstanceUID" in line and "SERIES" in line, result
    bad_level = findscu(closed_port(), "-L", "FRAME")
    assert "--level must be one of" in one_error_line(bad_level, 2)


def test_zero_matches_is_success(qr_scp: StartSCP) -> None:
    result = findscu(qr_scp(), "-k", "PatientID=NOBODY", "--format", "json")
    assert matches(result) == []
    assert "findscu: 0 match(es)" in result.stderr


# --- query files ---------------------------------------------------------------------------------


def series_query() -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = "SERIES"
    ds.StudyInstanceUID = study_uid(1)
    ds.SeriesInstanceUID = ""
    ds.Modality = ""
    return ds


def test_query_file_dicom_keeps_its_level(qr_scp: StartSCP, tmp_path: Path) -> None:
    query = series_query()
    query.file_meta = FileMetaDataset()
    query.file_meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.2.2.1")
    query.file_meta.MediaStorageSOPInstanceUID = UID("2.25.42")
    query.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path = tmp_path / "query.dcm"
    query.save_as(path, enforce_file_format=True)
    found = matches(findscu(qr_scp(), path, "--format", "json"))
    assert {str(m.SeriesInstanceUID) for m in found} == {series_uid(1, 1), series_uid(1, 2)}
    assert {m.QueryRetrieveLevel for m in found} == {"SERIES"}


def test_query_file_json_with_extra_keys(qr_scp: StartSCP, tmp_path: Path) -> None:
    path = tmp_path / "query.json"
    path.write_text(json.dumps(series_query().to_json_dict()))
    server = qr_scp()
    found = matches(findscu(server, path, "--format", "json"))
    assert {str(m.SeriesInstanceUID) for m in found} == {series_uid(1, 1), series_uid(1, 2)}
    # -k adds to (or overrides) the file's keys
    narrowed = matches(
        findscu(server, path, "-k", f"SeriesInstanceUID={series_uid(1, 2)}", "--format", "json")
    )
    assert [str(m.SeriesInstanceUID) for m in narrowed] == [series_uid(1, 2)]


@pytest.mark.parametrize("content", [b"not dicom at all", b"{ this is not json", b""])
def test_unreadable_query_file_exits_2(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "query.bin"
    path.write_bytes(content)
    line = one_error_line(findscu(closed_port(), path), 2)
    assert "query file" in line, line
    missing = one_error_line(findscu(closed_port(), tmp_path / "nope.dcm"), 2)
    assert "cannot read query file" in missing


# --- statuses, cancel, interrupt ---------------------------------------------------------------


def many_matches(
    total: int = 5000, *, paused: threading.Event | None = None
) -> Callable[[Any], Iterator[tuple[int, Dataset | None]]]:
    """A C-FIND handler yielding up to ``total`` matches (the service stops asking for more
    once a C-CANCEL arrives). With ``paused``, it waits after the first match until ``paused``
    is set."""

    def handle(event: Any) -> Iterator[tuple[int, Dataset | None]]:
        for number in range(total):
            ds = Dataset()
            ds.QueryRetrieveLevel = "STUDY"
            ds.StudyInstanceUID = f"2.25.{number + 1}"
            ds.PatientName = f"Patient^{number:05d}"
            yield 0xFF00, ds
            if number == 0 and paused is not None:
                assert paused.wait(20), "the test never let the handler go on"

    return handle


def received_by(messages: list[str]) -> tuple[Any, Callable[[Any], None]]:
    """An EVT_DIMSE_RECV handler noting the type of each message the SCP receives."""
    return evt.EVT_DIMSE_RECV, lambda event: messages.append(type(event.message).__name__)


def test_cancel_after_n_matches(qr_scp: StartSCP) -> None:
    received: list[str] = []
    total = 5000
    server = qr_scp(find=many_matches(total), extra=[received_by(received)])
    result = findscu(server, "--cancel-after", "3", "--format", "json")
    assert result.returncode == 0, result  # a cancelled query ends with Cancel: not a failure
    assert received == ["C_FIND_RQ", "C_CANCEL_RQ"]
    found = json.loads(result.stdout)
    # exactly the 3 asked for: those in flight when the C-CANCEL arrived are not output
    assert [Dataset.from_json(m).PatientName for m in found] == [
        "Patient^00000",
        "Patient^00001",
        "Patient^00002",
    ]
    assert "findscu: 3 match(es); output cut after 3 (--cancel-after" in result.stderr


def test_ctrl_c_cancels_then_exits_130(qr_scp: StartSCP, spawn_qr: Spawned) -> None:
    received: list[str] = []
    go_on = threading.Event()
    server = qr_scp(find=many_matches(paused=go_on), extra=[received_by(received)])
    running = spawn_qr("findscu", "127.0.0.1", str(server.server_address[1]), "--format", "jsonl")
    try:
        running.wait_for("Patient^00000", stream="stdout")  # the query is under way
        running.send_signal(signal.SIGINT)
    finally:
        go_on.set()
    assert running.wait(30) == 130, running
    assert received == ["C_FIND_RQ", "C_CANCEL_RQ"], running
    assert "findscu: error: interrupted" in running.stderr, running
    # the association was released, not left hanging
    assert not [a for a in server.active_associations if a.is_established]


def test_failure_status_exits_6_after_printing_the_matches(qr_scp: StartSCP) -> None:
    def out_of_resources(event: Any) -> Iterator[tuple[int, Dataset | None]]:
        ds = Dataset()
        ds.QueryRetrieveLevel = "STUDY"
        ds.StudyInstanceUID = "2.25.7"
        yield 0xFF00, ds
        yield 0xA700, None

    result = findscu(qr_scp(find=out_of_resources), "--format", "json")
    assert result.returncode == 6, result
    assert [m["0020000D"]["Value"] for m in json.loads(result.stdout)] == [["2.25.7"]]
    error = [line for line in result.stderr_lines if "error" in line]
    assert error == ["findscu: error: C-FIND failed: 0xA700 Refused: out of resources"], result


def test_a_handler_that_raises_gives_exit_6(qr_scp: StartSCP) -> None:
    def broken(event: Any) -> Iterator[tuple[int, Dataset | None]]:
        raise RuntimeError("index offline")
        yield 0xFF00, None  # pragma: no cover - makes this a generator

    result = findscu(qr_scp(find=broken), "--format", "json")
    assert result.returncode == 6, result
    assert json.loads(result.stdout) == []
    assert "C-FIND failed: 0xC311" in result.stderr, result


def test_handler_option_sees_each_response(qr_scp: StartSCP, tmp_path: Path) -> None:
    module = tmp_path / "watch.py"
    module.write_text(
        "def on_response(status, identifier, path):\n"
        "    with open(path, 'a') as out:\n"
        "        uid = '' if identifier is None else identifier.StudyInstanceUID\n"
        "        out.write(f'{status.Status:04X} {uid}\\n')\n"
    )
    seen = tmp_path / "seen.txt"
    result = findscu(
        qr_scp(), "-k", "PatientID=PAT001", "--handler", f"{module}:on_response:{seen}"
    )
    assert result.returncode == 0, result
    assert sorted(seen.read_text().splitlines()) == sorted(
        [f"FF00 {study_uid(1)}", f"FF00 {study_uid(2)}", "0000 "]
    )


# --- DCMTK's dcmqrscp --------------------------------------------------------------------------


@pytest.fixture
def dcmqrscp(tmp_path: Path, archive: Archive) -> Iterator[Dcmqrscp]:
    """dcmqrscp loaded with the archive's files by DCMTK's storescu."""
    if not DCMQRSCP.is_file():
        pytest.skip(f"DCMTK dcmqrscp is not installed ({DCMQRSCP})")
    server = start_dcmqrscp(tmp_path / "dcmqrscp", [i.path for i in archive.instances])
    try:
        yield server
    finally:
        server.stop()


def test_cancel_after_against_a_fast_dcmqrscp(dcmqrscp: Dcmqrscp) -> None:
    """dcmqrscp sends every match before our C-CANCEL can arrive: the output still stops at N
    (the 3 studies asked for, 1 printed)."""
    argv = ["127.0.0.1", str(dcmqrscp.port), "-aec", "DCMQRSCP", "-k", "StudyDate=", "--format"]
    every = {str(m.StudyInstanceUID) for m in matches(run("findscu", *argv, "json"))}
    assert len(every) == 3
    result = run("findscu", *argv, "jsonl", "--cancel-after", "1")
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert str(Dataset.from_json(json.loads(lines[0])).StudyInstanceUID) in every
    assert "1 match(es); output cut after 1" in result.stderr
    for fmt in ("json", "text", "csv"):
        cut = run("findscu", *argv, fmt, "--cancel-after", "2")
        assert cut.returncode == 0, cut
        if fmt == "json":
            assert len(json.loads(cut.stdout)) == 2
        else:
            assert len(cut.stdout.splitlines()) == 2 + (fmt in ("csv", "text")), cut


def test_uids_are_never_cut_and_text_has_a_header_row(dcmqrscp: Dcmqrscp) -> None:
    """A table far narrower than the UIDs keeps each whole on one line (to copy into getscu);
    piped text starts with a header row."""
    argv = ["127.0.0.1", str(dcmqrscp.port), "-aec", "DCMQRSCP", "-L", "SERIES"]
    argv += ["-k", f"StudyInstanceUID={study_uid(1)}", "-k", "SeriesInstanceUID="]
    table = run("findscu", *argv, "--format", "table", env={"COLUMNS": "30"})
    assert table.returncode == 0, table
    assert "…" not in table.stdout
    for uid in (study_uid(1), series_uid(1, 1), series_uid(1, 2)):
        assert any(uid in line for line in table.stdout.splitlines()), table.stdout
    text = run("findscu", *argv, "--format", "text")
    assert text.returncode == 0, text
    lines = text.stdout.splitlines()
    header = lines[0].split()
    assert {"QueryRetrieveLevel", "StudyInstanceUID", "SeriesInstanceUID"} <= set(header)
    column = header.index("SeriesInstanceUID")
    assert sorted(line.split()[column] for line in lines[1:]) == [
        series_uid(1, 1),
        series_uid(1, 2),
    ]


@pytest.mark.parametrize("proposal", [["-xi"], ["-xb"], ["--propose-ts", "implicit"]])
def test_proposals_against_dcmtk_dcmqrscp(dcmqrscp: Dcmqrscp, proposal: list[str]) -> None:
    argv = ["127.0.0.1", str(dcmqrscp.port), "-aec", "DCMQRSCP", *proposal]
    result = run("findscu", *argv, "-k", "PatientID=PAT002", "--format", "json", "-v")
    assert result.returncode == 0, result
    assert [str(m.StudyInstanceUID) for m in matches(result)] == [study_uid(3)]


@pytest.mark.slow
def test_against_dcmtk_dcmqrscp_at_each_level(dcmqrscp: Dcmqrscp) -> None:
    def query(*args: str) -> list[Dataset]:
        return matches(
            run(
                "findscu",
                "127.0.0.1",
                str(dcmqrscp.port),
                "-aec",
                "DCMQRSCP",
                *args,
                "--format",
                "json",
            )
        )

    patients = query("-P", "-L", "PATIENT", "-k", "PatientName=")
    assert {str(m.PatientID): str(m.PatientName) for m in patients} == {
        "PAT001": "Alpha^Anna",
        "PAT002": "Beta^Bob",
    }
    studies = query("-k", "PatientID=PAT001", "-k", "StudyDate=")
    assert {(str(m.StudyInstanceUID), m.StudyDate) for m in studies} == {
        (study_uid(1), "20240101"),
        (study_uid(2), "20240315"),
    }
    ranged = query("-k", "StudyDate=20240201-20241231")
    assert {str(m.StudyInstanceUID) for m in ranged} == {study_uid(2), study_uid(3)}
    series = query("-L", "SERIES", "-k", f"StudyInstanceUID={study_uid(1)}", "-k", "Modality=")
    assert {(str(m.SeriesInstanceUID), m.Modality) for m in series} == {
        (series_uid(1, 1), "CT"),
        (series_uid(1, 2), "CT"),
    }
    images = query(
        "-L",
        "IMAGE",
        "-k",
        f"StudyInstanceUID={study_uid(2)}",
        "-k",
        f"SeriesInstanceUID={series_uid(2, 1)}",
    )
    assert {str(m.SOPInstanceUID) for m in images} == {f"{series_uid(2, 1)}.{n}" for n in (1, 2)}
    nobody = query("-k", "PatientID=NOBODY")
    assert nobody == []


def test_relational_query_is_sent_without_higher_unique_keys(qr_scp: StartSCP) -> None:
    seen: list[Dataset] = []

    def relational(event: Any) -> Iterator[Any]:
        seen.append(event.identifier)
        match = Dataset()
        match.QueryRetrieveLevel = "SERIES"
        match.Modality = "CT"
        match.SeriesInstanceUID = series_uid(1, 1)
        yield 0xFF00, match
        yield 0x0000, None

    result = findscu(
        qr_scp(find=relational),
        "--relational",
        "-L",
        "SERIES",
        "-k",
        "Modality=CT",
        "--format",
        "json",
    )
    assert result.returncode == 0, result
    assert [str(m.SeriesInstanceUID) for m in matches(result)] == [series_uid(1, 1)]
    assert len(seen) == 1 and "StudyInstanceUID" not in seen[0]
    assert seen[0].Modality == "CT" and "SeriesInstanceUID" in seen[0]
