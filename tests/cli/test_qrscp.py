"""qrscp from the command line: receiving and indexing, our findscu/getscu/movescu against it
(files byte-checked), retrieve failures, the index rebuild, storescp --index, schema versions,
a database going away, and usage errors."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from dicomnet.presentation import build_role
from dicomnet.sop_class import CTImageStorage, MRImageStorage
from tests.cli.conftest import CliRunner, Running, Spawner
from tests.cli.qr_support import UNTOUCHED, assert_same_files, files_under
from tests.helpers import free_port
from tests.pg import PostgresServer
from tests.qr.archive import Archive, Receiver, series_uid, study_uid
from tests.qr.conftest import scu_ae

StartQrscp = Callable[..., Running]


@pytest.fixture
def source(tmp_path: Path) -> Archive:
    """The Q/R tests' eight instances (tests/qr/archive.py), as files to send."""
    return Archive.build(tmp_path / "source")


@pytest.fixture
def qrscp(spawn: Spawner, tmp_path: Path) -> Iterator[StartQrscp]:
    """``qrscp(*args, output_dir=...)``: our qrscp on 127.0.0.1 port 0, returned once it
    listens (``.port`` set); stopped with SIGTERM at the end."""
    started: list[Running] = []

    def start(*args: str | Path, output_dir: Path | None = None) -> Running:
        od = output_dir or tmp_path / "archive"
        running = spawn("qrscp", "0", "--bind", "127.0.0.1", "-od", od, *args)
        started.append(running)
        line = running.wait_for("listening on")
        running.port = int(line.split("listening on ", 1)[1].split()[0].rstrip(";").rsplit(":")[1])
        return running

    try:
        yield start
    finally:
        for running in started:
            if running.process.poll() is None:
                running.stop()


def load(cli: CliRunner, server: Running, files: list[Path]) -> None:
    result = cli("storescu", "127.0.0.1", str(server.port), "-aec", "QRSCP", *files)
    assert result.returncode == 0, result


def findscu(cli: CliRunner, server: Running, *args: str) -> list[Dataset]:
    """The matches, read back from findscu's DICOM JSON lines."""
    result = cli(
        "findscu", "127.0.0.1", str(server.port), "-aec", "QRSCP", "--format", "jsonl", *args
    )
    assert result.returncode == 0, result
    return [Dataset.from_json(json.loads(line)) for line in result.stdout.splitlines() if line]


def paths_of(archive: Archive, study: int) -> list[Path]:
    return [i.path for i in archive.instances if str(i.header.StudyInstanceUID) == study_uid(study)]


# --- receive, index, query, retrieve ----------------------------------------------------------


def test_receive_index_and_find(
    qrscp: StartQrscp, cli: CliRunner, source: Archive, tmp_path: Path
) -> None:
    server = qrscp()
    load(cli, server, [i.path for i in source.instances])
    stored = sorted(p.name for p in (tmp_path / "archive").glob("*.dcm"))
    assert stored == sorted(
        f"{i.header.Modality}.{i.sop_instance_uid}.dcm" for i in source.instances
    )
    assert (tmp_path / "archive" / "dicomnet-index.sqlite3").is_file()
    rows = findscu(
        cli, server, "-k", "PatientName=alpha*", "-k", "StudyDate=", "-k", "ModalitiesInStudy="
    )
    assert sorted((r.StudyInstanceUID, r.StudyDate, r.ModalitiesInStudy) for r in rows) == [
        (study_uid(1), "20240101", "CT"),
        (study_uid(2), "20240315", "MR"),
    ]
    series = findscu(
        cli, server, "-L", "SERIES", "-k", f"StudyInstanceUID={study_uid(1)}", "-k", "Modality="
    )
    assert sorted(r.SeriesInstanceUID for r in series) == [series_uid(1, 1), series_uid(1, 2)]
    assert server.stop() == 0  # SIGTERM: a clean stop
    assert "qrscp: 8 instance(s) stored, 0 failed" in server.stderr


def test_stdout_has_a_line_per_stored_instance(
    qrscp: StartQrscp, cli: CliRunner, source: Archive
) -> None:
    server = qrscp("--format", "jsonl")
    load(cli, server, [source.instances[0].path])
    line = server.wait_for(source.instances[0].sop_instance_uid, stream="stdout")
    assert json.loads(line)["sop_instance_uid"] == source.instances[0].sop_instance_uid


def test_getscu_retrieves_byte_for_byte(
    qrscp: StartQrscp, cli: CliRunner, source: Archive, tmp_path: Path
) -> None:
    server = qrscp()
    load(cli, server, [i.path for i in source.instances])
    out = tmp_path / "got"
    result = cli(
        "getscu",
        "127.0.0.1",
        str(server.port),
        "-aec",
        "QRSCP",
        "-L",
        "STUDY",
        "-k",
        f"StudyInstanceUID={study_uid(1)}",
        "-od",
        out,
        *UNTOUCHED,
    )
    assert result.returncode == 0, result
    assert "getscu: completed 4, failed 0, warning 0" in result.stderr
    assert_same_files(files_under(out), paths_of(source, 1))


def test_movescu_retrieves_byte_for_byte(
    qrscp: StartQrscp, cli: CliRunner, source: Archive, tmp_path: Path
) -> None:
    port = free_port()
    server = qrscp("--move-dest", f"MOVER=127.0.0.1:{port}")
    load(cli, server, [i.path for i in source.instances])
    out = tmp_path / "moved"
    result = cli(
        "movescu",
        "127.0.0.1",
        str(server.port),
        "-aec",
        "QRSCP",
        "-aem",
        "MOVER",
        "--store-port",
        str(port),
        "-od",
        out,
        "-k",
        f"StudyInstanceUID={study_uid(3)}",
    )
    assert result.returncode == 0, result
    assert "movescu: completed 2, failed 0, warning 0" in result.stderr
    assert_same_files(files_under(out), paths_of(source, 3))


def test_move_to_an_unknown_destination_is_0xA801(
    qrscp: StartQrscp, cli: CliRunner, source: Archive
) -> None:
    server = qrscp("--move-dest", "KNOWN=127.0.0.1:9")
    load(cli, server, [source.instances[0].path])
    result = cli(
        "movescu",
        "127.0.0.1",
        str(server.port),
        "-aec",
        "QRSCP",
        "-aem",
        "STRANGER",
        "-k",
        f"StudyInstanceUID={study_uid(1)}",
    )
    assert result.returncode == 6, result
    assert "0xA801" in result.stderr


def test_a_file_missing_at_retrieve_time_is_a_failed_sub_operation(
    qrscp: StartQrscp, cli: CliRunner, source: Archive, tmp_path: Path
) -> None:
    server = qrscp()
    load(cli, server, paths_of(source, 1))
    gone = next((tmp_path / "archive").glob("*.dcm"))
    gone_uid = gone.name.split(".", 1)[1].removesuffix(".dcm")
    gone.unlink()
    ae = scu_ae()
    ext_neg = [build_role(uid, scp_role=True) for uid in (CTImageStorage, MRImageStorage)]
    receiver = Receiver()
    assert server.port is not None
    assoc = ae.associate(
        "127.0.0.1", server.port, ae_title="QRSCP", ext_neg=ext_neg, evt_handlers=receiver.handlers
    )
    assert assoc.is_established
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = study_uid(1)
    responses = list(assoc.send_c_get(identifier, "S"))
    assoc.release()
    final, failed_list = responses[-1]
    assert int(final.Status) == 0xB000
    assert int(final.NumberOfCompletedSuboperations) == 3
    assert int(final.NumberOfFailedSuboperations) == 1
    assert failed_list is not None and failed_list.FailedSOPInstanceUIDList == gone_uid
    assert len(receiver.files) == 3 and gone_uid not in receiver.files


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--move-dest", "NOPORT=host"], "--move-dest"),
        (["--move-dest", "BAD\\AE=127.0.0.1:104"], "--move-dest"),
        (["--filepath", "{Nope}.dcm"], "--filepath"),
    ],
)
def test_usage_errors_exit_2(cli: CliRunner, tmp_path: Path, args: list[str], says: str) -> None:
    result = cli("qrscp", "0", "-od", tmp_path / "a", *args)
    assert result.returncode == 2, result
    assert result.stderr_lines[0].startswith("qrscp: error:") and says in result.stderr


def test_a_newer_schema_is_refused_with_a_clear_message(cli: CliRunner, tmp_path: Path) -> None:
    result = cli("qrscp", "index", tmp_path)
    assert result.returncode == 0, result
    with sqlite3.connect(tmp_path / "dicomnet-index.sqlite3") as db:
        db.execute("UPDATE dicomnet_schema SET version = 99")
    result = cli("qrscp", "0", "-od", tmp_path)
    assert result.returncode == 2, result
    assert "schema version 99" in result.stderr and "newer" in result.stderr
    assert "Traceback" not in result.stderr


# --- the index from files on disk ----------------------------------------------------------


def test_index_rebuild_reports_unreadable_files_and_serves_the_rest(
    cli: CliRunner,
    qrscp: StartQrscp,
    our_storescp: Callable[..., Running],
    source: Archive,
    tmp_path: Path,
) -> None:
    store = tmp_path / "store"
    receiver = our_storescp(output_dir=store)
    load(cli, receiver, [i.path for i in source.instances])
    receiver.stop()
    (store / "notes.txt").write_text("not DICOM")
    (store / "broken.dcm").write_bytes(bytes(128) + b"DICM" + b"\x02\x00")
    result = cli("qrscp", "index", store)
    assert result.returncode == 0, result
    assert "cannot index" in result.stderr
    assert str(store / "notes.txt") in result.stderr and str(store / "broken.dcm") in result.stderr
    assert "indexed 8 file(s)" in result.stderr and "2 unreadable" in result.stderr
    server = qrscp(output_dir=store)
    rows = findscu(
        cli,
        server,
        "-L",
        "IMAGE",
        "-k",
        f"StudyInstanceUID={study_uid(2)}",
        "-k",
        f"SeriesInstanceUID={series_uid(2, 1)}",
        "-k",
        "SOPInstanceUID=",
    )
    assert len(rows) == 2


def test_storescp_index_feeds_a_qrscp(
    cli: CliRunner,
    qrscp: StartQrscp,
    our_storescp: Callable[..., Running],
    source: Archive,
    tmp_path: Path,
) -> None:
    store = tmp_path / "shared"
    receiver = our_storescp("--index", store, output_dir=store)
    load(cli, receiver, paths_of(source, 2))
    server = qrscp(output_dir=store)
    rows = findscu(cli, server, "-k", "StudyInstanceUID=", "-k", "NumberOfStudyRelatedInstances=")
    assert [(r.StudyInstanceUID, int(r.NumberOfStudyRelatedInstances)) for r in rows] == [
        (study_uid(2), 2)
    ]
    out = tmp_path / "got"
    result = cli(
        "getscu",
        "127.0.0.1",
        str(server.port),
        "-aec",
        "QRSCP",
        "-k",
        f"StudyInstanceUID={study_uid(2)}",
        "-od",
        out,
        *UNTOUCHED,
    )
    assert result.returncode == 0, result
    assert_same_files(files_under(out), paths_of(source, 2))


# --- PostgreSQL, and a database that goes away ------------------------------------------------


def test_postgresql_index_and_a_database_gone(
    cli: CliRunner, qrscp: StartQrscp, postgres: PostgresServer, source: Archive, tmp_path: Path
) -> None:
    url = postgres.new_database()
    server = qrscp("--db", url)
    load(cli, server, paths_of(source, 1))
    rows = findscu(cli, server, "-k", "StudyInstanceUID=", "-k", "NumberOfStudyRelatedInstances=")
    assert [int(r.NumberOfStudyRelatedInstances) for r in rows] == [4]
    postgres.drop_database(url)
    # queries fail with 0xA700, stores fail and leave no file, echo still works
    result = cli(
        "findscu", "127.0.0.1", str(server.port), "-aec", "QRSCP", "-k", "StudyInstanceUID="
    )
    assert result.returncode == 6, result
    assert "0xA700" in result.stderr
    before = sorted((tmp_path / "archive").glob("*.dcm"))
    result = cli("storescu", "127.0.0.1", str(server.port), "-aec", "QRSCP", paths_of(source, 3)[0])
    assert result.returncode == 6, result
    assert "0xA700" in result.stdout + result.stderr
    assert sorted((tmp_path / "archive").glob("*.dcm")) == before
    result = cli("echoscu", "127.0.0.1", str(server.port), "-aec", "QRSCP")
    assert result.returncode == 0, result


def test_worklist_from_a_directory_reloaded_when_it_changes(
    qrscp: StartQrscp, cli: CliRunner, tmp_path: Path
) -> None:
    from tests.qr.archive import worklist_items

    wl = tmp_path / "wl"
    wl.mkdir()
    items = worklist_items()
    for n, item in enumerate(items[:2]):
        item.save_as(wl / f"item{n}.wl", implicit_vr=False, little_endian=True)
    server = qrscp("--worklist", wl)

    def worklist(*keys: str) -> list[Dataset]:
        result = cli(
            "findscu",
            "127.0.0.1",
            str(server.port),
            "-aec",
            "QRSCP",
            "-W",
            "--format",
            "jsonl",
            "-k",
            "PatientName=",
            *keys,
        )
        assert result.returncode == 0, result
        return [Dataset.from_json(json.loads(line)) for line in result.stdout.splitlines() if line]

    assert sorted(str(r.PatientName) for r in worklist()) == ["Alpha^Anna", "Beta^Bob"]
    mr = worklist("-k", "ScheduledProcedureStepSequence[0].Modality=MR")
    assert [str(r.PatientName) for r in mr] == ["Beta^Bob"]
    items[2].save_as(wl / "item2.wl", implicit_vr=False, little_endian=True)
    names = sorted(str(r.PatientName) for r in worklist("-k", "PatientName=g*"))
    assert names == ["Gamma^Gus"]


def test_user_handler_runs_after_storage_and_index(
    qrscp: StartQrscp, cli: CliRunner, source: Archive, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    server = qrscp(
        "--handler", f"handler_mods.hooks:stored_file_exists:{tmp_path / 'archive'},{notes}"
    )
    load(cli, server, [source.instances[0].path])
    assert notes.read_text().split() == [source.instances[0].sop_instance_uid, "present"]


def test_help_names_the_index_action_and_move_destinations(cli: CliRunner) -> None:
    result = cli("qrscp", "--help")
    assert result.returncode == 0
    assert "--move-dest" in result.stdout and "PORT|index" in result.stdout


def test_move_destinations_from_a_file(
    qrscp: StartQrscp, cli: CliRunner, source: Archive, tmp_path: Path
) -> None:
    port = free_port()
    config = tmp_path / "destinations.txt"
    config.write_text(f"# AE host port\nOTHER 10.255.255.1 104\n\nMOVER 127.0.0.1 {port}\n")
    server = qrscp("--move-dest-file", config)
    load(cli, server, paths_of(source, 2))
    out = tmp_path / "moved"
    result = cli(
        "movescu", "127.0.0.1", str(server.port), "-aec", "QRSCP", "-aem", "MOVER",
        "--store-port", str(port), "-od", out, "-k", f"StudyInstanceUID={study_uid(2)}",
    )  # fmt: skip
    assert result.returncode == 0, result
    assert_same_files(files_under(out), paths_of(source, 2))


def test_worklist_queries_need_worklist(qrscp: StartQrscp, cli: CliRunner) -> None:
    """Without --worklist the Modality Worklist SOP class is not offered: the query is refused
    at association time (exit 4), not answered with nothing."""
    server = qrscp()
    result = cli(
        "findscu", "127.0.0.1", str(server.port), "-aec", "QRSCP", "-W", "-k", "PatientName="
    )
    assert result.returncode == 4, result
    assert "presentation context" in result.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["index"], "needs the DIRECTORY"),
        (["index", "/nonexistent/dir"], "not a directory"),
        (["http"], "PORT must be a TCP port"),
        (["0", "extra"], "unexpected argument"),
    ],
)
def test_bad_positional_arguments_exit_2(cli: CliRunner, args: list[str], says: str) -> None:
    result = cli("qrscp", *args)
    assert result.returncode == 2, result
    assert says in result.stderr and "Traceback" not in result.stderr


def test_several_nodes_share_one_postgresql_index(
    cli: CliRunner,
    qrscp: StartQrscp,
    our_storescp: Callable[..., Running],
    postgres: PostgresServer,
    source: Archive,
    tmp_path: Path,
) -> None:
    """A storescp --index receiver and two qrscp nodes over one storage directory and one
    PostgreSQL index: what one receives, every node finds and serves."""
    url = postgres.new_database()
    shared = tmp_path / "shared"
    receiver = our_storescp("--index", url, output_dir=shared)
    first = qrscp("--db", url, output_dir=shared)
    second = qrscp("--db", url, output_dir=shared)
    load(cli, receiver, paths_of(source, 1))
    load(cli, first, paths_of(source, 3))
    for node in (first, second):
        rows = findscu(cli, node, "-k", "StudyInstanceUID=", "-k", "NumberOfStudyRelatedInstances=")
        assert sorted((r.StudyInstanceUID, int(r.NumberOfStudyRelatedInstances)) for r in rows) == [
            (study_uid(1), 4),
            (study_uid(3), 2),
        ]
    out = tmp_path / "got"
    result = cli("getscu", "127.0.0.1", str(second.port), "-aec", "QRSCP",
                 "-k", f"StudyInstanceUID={study_uid(1)}", "-od", out, *UNTOUCHED)  # fmt: skip
    assert result.returncode == 0, result
    assert_same_files(files_under(out), paths_of(source, 1))
    postgres.drop_database(url)


def test_an_instance_that_cannot_be_indexed_is_refused_and_not_kept(
    qrscp: StartQrscp, cli: CliRunner, tmp_path: Path
) -> None:
    from tests.helpers import write_ct_file

    path = write_ct_file(tmp_path / "no-study.dcm", 7, "1.2.840.10008.1.2.1")
    ds = dcmread(path)
    del ds.StudyInstanceUID
    ds.save_as(path)
    server = qrscp()
    result = cli("storescu", "127.0.0.1", str(server.port), "-aec", "QRSCP", path)
    assert result.returncode == 6, result
    assert "0xC000" in result.stdout + result.stderr
    assert list((tmp_path / "archive").glob("*.dcm")) == []


def test_no_command_loads_sqlalchemy_until_it_indexes() -> None:
    """`dicomnet --help` builds every command, qrscp's included: SQLAlchemy and the archive
    package stay unloaded (they cost start-up time); only qrscp and storescp --index load
    them, when they run."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from dicomnet.cli.app import build_root\n"
        "build_root()\n"
        "print(sorted(m for m in sys.modules if m.startswith(('sqlalchemy', 'psycopg', "
        "'dicomnet.archive'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_replacement_that_cannot_be_indexed_keeps_the_old_instance(
    qrscp: StartQrscp, cli: CliRunner, tmp_path: Path
) -> None:
    """DESIGN 1.5: a duplicate whose new copy cannot be indexed is refused, and the instance
    stored before stays as it was: its file byte for byte, its index row, retrievable."""
    from tests.helpers import write_ct_file

    first = write_ct_file(tmp_path / "first.dcm", 7, "1.2.840.10008.1.2.1")
    second = tmp_path / "second.dcm"
    ds = dcmread(first)
    ds.PatientName = "Replaced^Copy"
    ds.save_as(second)
    server = qrscp()
    load(cli, server, [first])
    [stored] = (tmp_path / "archive").glob("*.dcm")
    original = stored.read_bytes()
    # the database now refuses to update instance rows (as a failing disk or a full
    # database would refuse the write)
    db = sqlite3.connect(tmp_path / "archive" / "dicomnet-index.sqlite3")
    with db:
        db.execute(
            "CREATE TRIGGER refuse BEFORE UPDATE ON instances "
            "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        )
    db.close()
    result = cli("storescu", "127.0.0.1", str(server.port), "-aec", "QRSCP", second)
    assert result.returncode == 6, result
    assert "0xA700" in result.stdout + result.stderr
    assert [p.name for p in (tmp_path / "archive").glob("*.dcm")] == [stored.name]
    assert stored.read_bytes() == original
    assert [p.name for p in (tmp_path / "archive").iterdir() if p.name.startswith(".")] == []
    rows = findscu(cli, server, "-L", "IMAGE", "-k", f"StudyInstanceUID={ds.StudyInstanceUID}",
                   "-k", f"SeriesInstanceUID={ds.SeriesInstanceUID}", "-k", "SOPInstanceUID=",
                   "-P", "-k", f"PatientID={ds.PatientID}", "-k", "PatientName=")  # fmt: skip
    assert [(r.SOPInstanceUID, str(r.PatientName)) for r in rows] == [
        (ds.SOPInstanceUID, str(dcmread(first).PatientName))
    ]
    out = tmp_path / "got"
    result = cli("getscu", "127.0.0.1", str(server.port), "-aec", "QRSCP", "-L", "IMAGE",
                 "-P", "-k", f"PatientID={ds.PatientID}",
                 "-k", f"StudyInstanceUID={ds.StudyInstanceUID}",
                 "-k", f"SeriesInstanceUID={ds.SeriesInstanceUID}",
                 "-k", f"SOPInstanceUID={ds.SOPInstanceUID}", "-od", out)  # fmt: skip
    assert result.returncode == 0, result
    assert_same_files(files_under(out), [first])


def test_findscu_relational_negotiates_and_is_answered(
    qrscp: StartQrscp, cli: CliRunner, source: Archive
) -> None:
    """findscu --relational asks for relational queries (SOP Class Extended Negotiation) and
    qrscp accepts and answers a SERIES-level query without StudyInstanceUID."""
    server = qrscp()
    load(cli, server, [i.path for i in source.instances])
    rows = findscu(cli, server, "--relational", "-L", "SERIES", "-k", "Modality=MR")
    assert [(r.SeriesInstanceUID, r.StudyInstanceUID) for r in rows] == [
        (series_uid(2, 1), study_uid(2))
    ]


def test_a_user_find_handler_is_added_to_the_archive(
    qrscp: StartQrscp, cli: CliRunner, source: Archive
) -> None:
    """--handler EVT_C_FIND=... composes with the built-in query: the archive's matches first,
    then the handler's (it used to replace the archive)."""
    server = qrscp("--handler", "EVT_C_FIND=handler_mods.qr:extra_patients:Ext^One,Ext^Two")
    load(cli, server, [i.path for i in source.instances])
    rows = findscu(cli, server, "-P", "-L", "PATIENT", "-k", "PatientName=*", "-k", "PatientID=")
    ids = [str(r.PatientID) for r in rows]
    archived = sorted({str(i.header.PatientID) for i in source.instances})
    assert sorted(ids[: len(archived)]) == archived
    assert ids[len(archived) :] == ["EXT-Ext^One", "EXT-Ext^Two"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "1.2.840.10008.1.2.1"),  # ours: Explicit VR LE first
        (["+xa"], "1.2.840.10008.1.2"),  # the sender's first proposed
        (["+xi"], "1.2.840.10008.1.2"),
        (["--prefer-ts", "implicit"], "1.2.840.10008.1.2"),
    ],
)
def test_transfer_syntax_acceptance_seen_by_pynetdicom(
    qrscp: StartQrscp, args: list[str], expected: str
) -> None:
    import pynetdicom

    server = qrscp(*args)
    ae = pynetdicom.AE(ae_title="PYSCU")
    ae.add_requested_context(
        "1.2.840.10008.5.1.4.1.1.2", ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"]
    )
    assoc = ae.associate("127.0.0.1", int(server.port or 0), ae_title="QRSCP")
    assert assoc.is_established
    try:
        assert [cx.transfer_syntax[0] for cx in assoc.accepted_contexts] == [expected]
    finally:
        assoc.release()


def test_c_get_decompresses_lossless_files_for_an_uncompressed_requestor(
    qrscp: StartQrscp, cli: CliRunner, tmp_path: Path
) -> None:
    """A C-GET sub-operation decompresses an RLE file the requestor accepts only uncompressed
    (the library's store_instance default, 'lossless'); the pixels arrive unchanged."""
    import numpy as np

    from tests.helpers import pydicom_test_file

    source = pydicom_test_file("SC_rgb_rle.dcm")
    original = dcmread(source)
    server = qrscp("+xa")  # keeps the sender's RLE
    load(cli, server, [source])
    [stored] = (tmp_path / "archive").glob("*.dcm")
    assert dcmread(stored).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.5"
    out = tmp_path / "got"
    result = cli("getscu", "127.0.0.1", str(server.port), "-aec", "QRSCP", "-L", "STUDY",
                 "-k", f"StudyInstanceUID={original.StudyInstanceUID}", "-od", out)  # fmt: skip
    assert result.returncode == 0, result
    [got] = files_under(out)
    received = dcmread(got)
    assert received.file_meta.TransferSyntaxUID in ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")
    assert received.SOPInstanceUID == original.SOPInstanceUID
    assert np.array_equal(received.pixel_array, original.pixel_array)
