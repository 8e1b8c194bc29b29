"""``storescp PORT`` as a subprocess, fed by DCMTK's storescu, our storescu and our library:
what lands on disk (names, bytes, file meta), templates, --exit-after, signals, hostile UIDs,
write errors, duplicates, AE title and association limits, logging and exit codes."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import socket
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest

from dicomnet import AE
from dicomnet.dimse.command_codec import encode_command
from dicomnet.dimse.messages import C_STORE_RQ
from dicomnet.sop_class import CTImageStorage, Verification
from dicomnet.ul.codec import encode_pdata_single, encode_pdu
from dicomnet.ul.framing import PDUReader
from dicomnet.ul.items import PresentationContextRQ, UserInformation
from dicomnet.ul.pdu import AssociateAC, AssociateRQ
from tests.cli.conftest import CliRunner, Spawner, StorescpStarter
from tests.helpers import (
    ECHOSCU,
    STORESCU,
    TEST_UID_PREFIX,
    dataset_bytes,
    make_ct_dataset,
    meta_text,
    run_dcmtk,
    sop_instance_of,
    split_part10,
    transfer_syntax_of,
    wait_listening,
)

pytestmark = pytest.mark.interop

CT = "1.2.840.10008.5.1.4.1.1.2"
STUDY = f"{TEST_UID_PREFIX}.1"
SERIES = f"{TEST_UID_PREFIX}.1.1"


def dcmtk_send(port: int | None, *files: Path, aet: str = "DCMTKSCU") -> str:
    """Send with DCMTK's storescu; returns its output (it must succeed)."""
    done = run_dcmtk(STORESCU, "-v", "-aet", aet, "127.0.0.1", str(port), *files)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def all_files(root: Path) -> list[Path]:
    """Every file under ``root`` (hidden ones included), relative, sorted."""
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def library_scu() -> Iterator[list[Any]]:
    """Associations made by a test with our library; aborted at teardown if still open."""
    made: list[Any] = []
    try:
        yield made
    finally:
        for assoc in made:
            if assoc.is_established:
                assoc.abort()


def associate(port: int | None, made: list[Any], aet: str = "LIBSCU") -> Any:
    ae = AE(aet)
    ae.acse_timeout = ae.dimse_timeout = 10.0
    ae.add_requested_context(Verification)
    ae.add_requested_context(CTImageStorage, ["1.2.840.10008.1.2.1"])
    assoc = ae.associate("127.0.0.1", int(port or 0))
    made.append(assoc)
    assert assoc.is_established
    return assoc


def set_invalid(ds: Any, keyword: str, value: str) -> None:
    """Set an invalid value (pydicom warns about it; that is the point here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        setattr(ds, keyword, value)


# --- receiving from DCMTK -------------------------------------------------------------------


def test_dcmtk_storescu_files_land_byte_for_byte(
    our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    od = tmp_path / "od"
    scp = our_storescp("--exit-after", str(len(ct_files)), output_dir=od)
    startup = scp.wait_for("listening on")
    assert startup == (
        f"storescp: listening on 127.0.0.1:{scp.port} as STORESCP; writing to {od} as "
        "{Modality}.{SOPInstanceUID}.dcm; uncompressed transfer syntaxes; duplicates: replace; "
        "max 10 associations\n"
    )
    dcmtk_send(scp.port, *ct_files)
    assert scp.wait(20) == 0, scp
    assert "storescp: 4 instance(s) stored, 0 failed" in scp.stderr
    expected = sorted(Path(f"CT.{sop_instance_of(p)}.dcm") for p in ct_files)
    assert all_files(od) == expected  # and no temporary file left behind
    for source in ct_files:
        received = od / f"CT.{sop_instance_of(source)}.dcm"
        data = received.read_bytes()
        assert data[:128] == bytes(128)  # our own zeroed preamble
        meta, _ = split_part10(data)
        assert meta_text(received, 0x0012).startswith("2.25.")  # our implementation class
        assert meta_text(received, 0x0012) != meta_text(source, 0x0012)
        assert meta_text(received, 0x0002) == CT
        assert meta_text(received, 0x0003) == sop_instance_of(source)
        assert meta_text(received, 0x0016) == "DCMTKSCU"  # source AE title
        assert transfer_syntax_of(received) == transfer_syntax_of(source)
        assert dataset_bytes(received) == dataset_bytes(source)
        assert pydicom.dcmread(received).PatientID == pydicom.dcmread(source).PatientID
        assert 0x0001 in meta  # file meta information version


def test_dcmtk_echoscu_to_our_storescp(our_storescp: StorescpStarter) -> None:
    scp = our_storescp()
    done = run_dcmtk(ECHOSCU, "-v", "127.0.0.1", str(scp.port))
    assert done.returncode == 0, done.stderr
    assert "Received Echo Response (Success)" in done.stderr


def test_verbose_line_per_stored_file(
    our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    od = tmp_path / "od"
    scp = our_storescp("-v", "--exit-after", "3", output_dir=od)
    dcmtk_send(scp.port, *ct_files[:3])
    assert scp.wait(20) == 0, scp
    for source in ct_files[:3]:
        assert f"I: Stored {od.resolve()}/CT.{sop_instance_of(source)}.dcm\n" in scp.stderr
    assert scp.count("I: Stored ") == 3
    assert "Association accepted: DCMTKSCU -> STORESCP" in scp.stderr


def test_format_jsonl_and_csv_rows_per_stored_file(
    our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    jsonl = our_storescp("--format", "jsonl", "--exit-after", "2", output_dir=tmp_path / "a")
    dcmtk_send(jsonl.port, *ct_files[:2])
    assert jsonl.wait(20) == 0, jsonl
    rows = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert [r["sop_instance_uid"] for r in rows] == [sop_instance_of(p) for p in ct_files[:2]]
    assert all(r["calling_aet"] == "DCMTKSCU" and Path(r["file"]).is_file() for r in rows)

    as_csv = our_storescp("--format", "csv", "--exit-after", "3", output_dir=tmp_path / "b")
    dcmtk_send(as_csv.port, *ct_files[:3])
    assert as_csv.wait(20) == 0, as_csv
    table = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(table) == 3, as_csv.stdout  # one header line, not one per file
    assert [r["sop_instance_uid"] for r in table] == [sop_instance_of(p) for p in ct_files[:3]]


def test_format_json_at_exit(
    our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    scp = our_storescp("--format", "json", "--exit-after", "2")
    dcmtk_send(scp.port, *ct_files[:2])
    assert scp.wait(20) == 0, scp
    rows = json.loads(scp.stdout)
    assert sorted(r["sop_instance_uid"] for r in rows) == sorted(
        sop_instance_of(p) for p in ct_files[:2]
    )


# --- file names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "layout"),
    [
        (
            ["--filepath", "{StudyInstanceUID}/{SeriesInstanceUID}/{SOPInstanceUID}.dcm"],
            "{study}/{series}/{uid}.dcm",
        ),
        (["+ssu"], "{study}/CT.{uid}.dcm"),
        (["--sort-on-study-uid"], "{study}/CT.{uid}.dcm"),
        (["--sort-on-series"], "{study}/{series}/{uid}.dcm"),
        (["--sort-on-patient-id"], "{patient}/{study}/CT.{uid}.dcm"),
        (
            ["--filepath", "{CallingAET}-{Modality}/{SOPClassUID}/{SOPInstanceUID}"],
            "DCMTKSCU-CT/" + CT + "/{uid}",
        ),
    ],
)
def test_filepath_templates_and_presets(
    our_storescp: StorescpStarter,
    ct_files: list[Path],
    tmp_path: Path,
    options: list[str],
    layout: str,
) -> None:
    od = tmp_path / "od"
    scp = our_storescp(*options, "--exit-after", "2", output_dir=od)
    dcmtk_send(scp.port, *ct_files[:2])
    assert scp.wait(20) == 0, scp
    expected = []
    for source in ct_files[:2]:
        ds = pydicom.dcmread(source)
        expected.append(
            Path(
                layout.format(
                    study=STUDY, series=SERIES, uid=ds.SOPInstanceUID, patient=ds.PatientID
                )
            )
        )
    assert all_files(od) == sorted(expected)


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("../{SOPInstanceUID}.dcm", "relative path without '..'"),
        ("/tmp/{SOPInstanceUID}.dcm", "relative path without '..'"),
        ("{Modality}.dcm", "must contain {SOPInstanceUID}"),
        ("{PatientBirthDate}/{SOPInstanceUID}", "unknown placeholder {PatientBirthDate}"),
        ("{SOPInstanceUID!r}", "unknown placeholder"),
    ],
)
def test_bad_template_exits_2(cli: CliRunner, tmp_path: Path, template: str, problem: str) -> None:
    result = cli("storescp", "0", "--bind", "127.0.0.1", "-od", tmp_path, "--filepath", template)
    assert result.returncode == 2, result
    assert len(result.stderr_lines) == 1 and problem in result.stderr, result


# --- hostile input ----------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
@pytest.mark.parametrize("uid", ["../../x", "/etc/dicomnet-x", "1.2.3/../../x", "..", "1.2..3"])
def test_hostile_sop_instance_uid_is_refused(
    our_storescp: StorescpStarter, tmp_path: Path, library_scu: list[Any], uid: str
) -> None:
    od = tmp_path / "deep" / "od"
    scp = our_storescp(output_dir=od)
    assoc = associate(scp.port, library_scu)
    ds = make_ct_dataset(7)
    set_invalid(ds, "SOPInstanceUID", uid)
    status = assoc.send_c_store(ds)
    assert status.Status == 0x0117, status
    assert "invalid SOPInstanceUID" in str(status.ErrorComment)
    # A good instance on the same association still works.
    good = make_ct_dataset(8)
    assert assoc.send_c_store(good).Status == 0x0000
    assoc.release()
    assert all_files(od) == [Path(f"CT.{good.SOPInstanceUID}.dcm")]
    assert all_files(tmp_path / "deep") == [Path("od") / f"CT.{good.SOPInstanceUID}.dcm"]
    assert not Path("/etc/dicomnet-x").exists()
    assert not (tmp_path / "x").exists()
    scp.wait_for(f"Refusing {uid}")


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
def test_hostile_study_uid_and_patient_id_in_templates(
    our_storescp: StorescpStarter, tmp_path: Path, library_scu: list[Any]
) -> None:
    od = tmp_path / "deep" / "od"
    study = our_storescp("+ssu", output_dir=od)
    assoc = associate(study.port, library_scu)
    ds = make_ct_dataset(9)
    set_invalid(ds, "StudyInstanceUID", "../../escaped")
    status = assoc.send_c_store(ds)
    assert status.Status == 0xC210, status
    assoc.release()

    od2 = tmp_path / "deep" / "od2"
    patient = our_storescp("--sort-on-patient-id", output_dir=od2)
    assoc = associate(patient.port, library_scu)
    ds = make_ct_dataset(10)
    ds.PatientID = "../../evil"
    assert assoc.send_c_store(ds).Status == 0x0000
    assoc.release()
    stored = all_files(od2)
    assert len(stored) == 1 and ".." not in stored[0].parts, stored
    assert stored[0].parts[0] == "%2E%2E%2F%2E%2E%2Fevil"  # escaped, not collapsed
    assert all_files(tmp_path / "deep") == [Path("od2") / stored[0]]


# --- write errors -----------------------------------------------------------------------------


def test_blocked_directory_gives_a700_and_no_partial_file(
    our_storescp: StorescpStarter, cli: CliRunner, ct_files: list[Path], tmp_path: Path
) -> None:
    od = tmp_path / "od"
    od.mkdir()
    (od / STUDY).write_bytes(b"not a directory")  # where +ssu wants the study directory
    scp = our_storescp("+ssu", output_dir=od)
    result = cli("storescu", "127.0.0.1", str(scp.port), ct_files[0], "--format", "json")
    assert result.returncode == 6, result
    row = json.loads(result.stdout)[0]
    assert row["status"] == "0xA700" and "cannot write" in row["meaning"], row
    assert all_files(od) == [Path(STUDY)]
    assert (od / STUDY).read_bytes() == b"not a directory"
    scp.wait_for("E: Cannot write")
    # The server goes on: once the path is free, the same file is stored.
    (od / STUDY).unlink()
    again = cli("storescu", "127.0.0.1", str(scp.port), ct_files[0])
    assert again.returncode == 0, again
    assert all_files(od) == [Path(STUDY) / f"CT.{sop_instance_of(ct_files[0])}.dcm"]


def test_blocked_file_name_gives_a700_and_no_temp_file(
    our_storescp: StorescpStarter, cli: CliRunner, ct_files: list[Path], tmp_path: Path
) -> None:
    od = tmp_path / "od"
    blocker = od / f"CT.{sop_instance_of(ct_files[0])}.dcm"
    blocker.mkdir(parents=True)  # a directory where the file should go
    (blocker / "keep").write_bytes(b"x")
    scp = our_storescp(output_dir=od)
    result = cli("storescu", "127.0.0.1", str(scp.port), *ct_files[:2], "--format", "json")
    assert result.returncode == 6, result
    assert [r["status"] for r in json.loads(result.stdout)] == ["0xA700", "0x0000"]
    assert all_files(od) == sorted(
        [blocker.relative_to(od) / "keep", Path(f"CT.{sop_instance_of(ct_files[1])}.dcm")]
    )
    assert "sent 1, failed 1, skipped 0" in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_output_dir_after_start_gives_a700(
    our_storescp: StorescpStarter, cli: CliRunner, ct_files: list[Path], tmp_path: Path
) -> None:
    od = tmp_path / "od"
    scp = our_storescp(output_dir=od)
    od.chmod(0o555)
    try:
        result = cli("storescu", "127.0.0.1", str(scp.port), ct_files[0], "--format", "json")
        assert result.returncode == 6, result
        assert json.loads(result.stdout)[0]["status"] == "0xA700"
        assert all_files(od) == []
    finally:
        od.chmod(0o755)


def test_output_dir_that_cannot_be_created_exits_2(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    result = cli("storescp", "0", "--bind", "127.0.0.1", "-od", tmp_path / "file" / "od")
    assert result.returncode == 2, result
    assert result.stderr_lines[0].startswith("storescp: error: cannot use output directory")


# --- duplicates ---------------------------------------------------------------------------------


def _changed_copy(source: Path, target: Path) -> Path:
    """The same SOP Instance with different content."""
    ds = pydicom.dcmread(source)
    ds.PatientName = "Changed^Copy"
    ds.save_as(target, enforce_file_format=True)
    return target


@pytest.mark.parametrize(
    ("policy", "second_exit", "second_status", "kept"),
    [
        ("replace", 0, "0x0000", "second"),
        ("keep", 0, "0x0000", "first"),
        ("fail", 6, "0xA7FE", "first"),
    ],
)
def test_on_duplicate(
    our_storescp: StorescpStarter,
    cli: CliRunner,
    ct_files: list[Path],
    tmp_path: Path,
    policy: str,
    second_exit: int,
    second_status: str,
    kept: str,
) -> None:
    od = tmp_path / "od"
    first = ct_files[0]
    second = _changed_copy(first, tmp_path / "second.dcm")
    scp = our_storescp("--on-duplicate", policy, output_dir=od)
    assert f"duplicates: {policy}" in scp.stderr
    one = cli("storescu", "127.0.0.1", str(scp.port), first, "--format", "json")
    assert one.returncode == 0, one
    two = cli("storescu", "127.0.0.1", str(scp.port), second, "--format", "json")
    assert two.returncode == second_exit, two
    assert json.loads(two.stdout)[0]["status"] == second_status
    target = od / f"CT.{sop_instance_of(first)}.dcm"
    assert all_files(od) == [target.relative_to(od)]
    assert dataset_bytes(target) == dataset_bytes(first if kept == "first" else second)


def test_bad_duplicate_policy_exits_2(cli: CliRunner, tmp_path: Path) -> None:
    result = cli("storescp", "0", "--bind", "127.0.0.1", "-od", tmp_path, "--on-duplicate", "x")
    assert result.returncode == 2, result
    assert "on-duplicate" in result.stderr


# --- association policy ------------------------------------------------------------------------


def test_require_calling_aet(
    our_storescp: StorescpStarter, cli: CliRunner, ct_files: list[Path]
) -> None:
    scp = our_storescp("--require-calling-aet", "MODALITY1", "--require-calling-aet", "MODALITY2")
    refused = cli("storescu", "127.0.0.1", str(scp.port), ct_files[0], "-aet", "INTRUDER")
    assert refused.returncode == 4, refused
    assert "calling AE title not recognised" in refused.stderr, refused
    for aet in ("MODALITY1", "MODALITY2"):
        ok = cli("storescu", "127.0.0.1", str(scp.port), ct_files[0], "-aet", aet)
        assert ok.returncode == 0, ok
    # "-aet=VALUE" is an unambiguous spelling (only the glued "-aetVALUE" is refused).
    equals = cli("echoscu", "127.0.0.1", str(scp.port), "-aet=MODALITY1")
    assert equals.returncode == 0, equals
    done = run_dcmtk(ECHOSCU, "-aet", "OTHER", "127.0.0.1", str(scp.port))
    assert done.returncode != 0 and "Calling AE Title Not Recognized" in done.stderr, done


def test_invalid_ae_titles_exit_2(cli: CliRunner, tmp_path: Path) -> None:
    for args in (["-aet", "A\\B"], ["--require-calling-aet", "X" * 17]):
        result = cli("storescp", "0", "--bind", "127.0.0.1", "-od", tmp_path, *args)
        assert result.returncode == 2, result
        assert "invalid AE title" in result.stderr and len(result.stderr_lines) == 1, result


def test_max_associations(
    our_storescp: StorescpStarter, cli: CliRunner, library_scu: list[Any]
) -> None:
    scp = our_storescp("--max-associations", "1")
    assert "max 1 associations" in scp.stderr
    held = associate(scp.port, library_scu)
    over = cli("echoscu", "127.0.0.1", str(scp.port))
    assert over.returncode == 4, over
    assert "rejected-transient, service provider (presentation): local limit exceeded" in (
        over.stderr
    ), over
    held.release()
    # The slot is free again once the server has seen the release (bounded wait, no sleep).
    for _ in range(50):
        ok = cli("echoscu", "127.0.0.1", str(scp.port))
        if ok.returncode == 0:
            break
    assert ok.returncode == 0, ok


# --- lifecycle and exit codes -------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_with_summary(
    our_storescp: StorescpStarter, ct_files: list[Path], signum: int
) -> None:
    scp = our_storescp()
    dcmtk_send(scp.port, *ct_files[:2])
    assert scp.stop(signum) == 0, scp
    assert scp.stderr.splitlines()[-1] == "storescp: 2 instance(s) stored, 0 failed", scp


def test_exit_after_counts_across_associations(
    our_storescp: StorescpStarter, ct_files: list[Path]
) -> None:
    scp = our_storescp("--exit-after", "3")
    dcmtk_send(scp.port, *ct_files[:2])
    assert scp.process.poll() is None  # 2 of 3
    dcmtk_send(scp.port, ct_files[2])
    assert scp.wait(20) == 0, scp
    assert "storescp: 3 instance(s) stored, 0 failed" in scp.stderr


def test_exit_after_with_no_store_counts_responses(
    our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    scp = our_storescp(
        "--no-store",
        "--exit-after",
        "2",
        "--handler",
        f"handler_mods.hooks:save_as_uid:{mine}",
    )
    dcmtk_send(scp.port, *ct_files[:2])
    assert scp.wait(20) == 0, scp
    assert len(list(mine.glob("*.dcm"))) == 2


def test_exit_3_port_in_use(cli: CliRunner, tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = cli("storescp", str(port), "--bind", "127.0.0.1", "-od", tmp_path)
    assert result.returncode == 3, result
    assert result.stderr_lines == [
        f"storescp: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ], result


def test_exit_2_bad_option(cli: CliRunner) -> None:
    result = cli("storescp", "0", "--no-such-option")
    assert result.returncode == 2 and "--no-such-option" in result.stderr, result
    glued = cli("storescp", "0", "-odout")
    assert glued.returncode == 2, glued
    assert glued.stderr_lines == [
        "storescp: error: option -od takes its value as a separate argument: write '-od out' "
        "(got '-odout')"
    ]


def test_quiet_prints_no_startup_or_summary(
    spawn: Spawner, tmp_path: Path, ct_files: list[Path]
) -> None:
    """-q: nothing but errors on stderr (the port is then chosen by the test)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    scp = spawn(
        "storescp",
        str(port),
        "--bind",
        "127.0.0.1",
        "-od",
        tmp_path / "od",
        "-q",
        "--exit-after",
        "1",
    )
    wait_listening(scp.process, "127.0.0.1", port)  # type: ignore[arg-type]
    dcmtk_send(port, ct_files[0])
    assert scp.wait(20) == 0, scp
    assert scp.stderr == ""


def test_sigterm_mid_transfer_leaves_no_partial_file(
    our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    """A peer has sent half a data set when storescp is told to stop: it stops promptly
    (exit 0), aborts that association, and leaves nothing behind in the output directory."""
    od = tmp_path / "od"
    scp = our_storescp("-d", output_dir=od)
    data = dataset_bytes(ct_files[0])  # Explicit VR Little Endian
    rq = AssociateRQ(
        called_ae_title="STORESCP",
        calling_ae_title="HALFWAY",
        presentation_contexts=(PresentationContextRQ(1, CT, ("1.2.840.10008.1.2.1",)),),
        user_information=UserInformation(16384, "1.2.826.0.1.3680043.9.7433.9"),
    )
    with socket.create_connection(("127.0.0.1", int(scp.port or 0)), timeout=10) as sock:
        sock.sendall(encode_pdu(rq))
        reader = PDUReader(max_pdata_length=0)
        pdus: list[Any] = []
        while not pdus:
            chunk = sock.recv(65536)
            assert chunk, "storescp closed the connection"
            pdus += reader.feed(chunk)
        assert isinstance(pdus[0], AssociateAC)
        command = C_STORE_RQ(
            AffectedSOPClassUID=CT,
            MessageID=1,
            AffectedSOPInstanceUID=sop_instance_of(ct_files[0]),
        )
        sock.sendall(encode_pdata_single(1, True, True, encode_command(command)))
        sock.sendall(encode_pdata_single(1, False, False, data[: len(data) // 2]))
        scp.wait_for(f"data {len(data) // 2} B")  # -d: the fragment has been received
        assert scp.stop(signal.SIGTERM, timeout=10) == 0, scp
        sock.settimeout(5)
        rest = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                rest += chunk
        assert rest[:1] in (b"", b"\x07"), rest  # closed, or an A-ABORT first
    assert "storescp: 0 instance(s) stored, 0 failed" in scp.stderr
    assert all_files(od) == []


def test_stored_files_follow_the_umask(
    our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    """Like DCMTK's storescp: 0666 less the umask (another program of the same group can read
    the files), not the private mode of the temporary file."""
    od = tmp_path / "od"
    scp = our_storescp("+ssu", "--exit-after", "1", output_dir=od)
    dcmtk_send(scp.port, ct_files[0])
    assert scp.wait(20) == 0, scp
    (stored,) = [p for p in od.rglob("*") if p.is_file()]
    mask = os.umask(0o022)
    os.umask(mask)
    assert stored.stat().st_mode & 0o777 == 0o666 & ~mask


def test_require_called_aet(
    our_storescp: StorescpStarter, cli: CliRunner, ct_files: list[Path]
) -> None:
    scp = our_storescp("--require-called-aet", "-aet", "ARCHIVE")
    wrong = cli("echoscu", "127.0.0.1", str(scp.port), "-aec", "ANY-SCP")
    assert wrong.returncode == 4, wrong
    assert "called AE title not recognised" in wrong.stderr
    right = cli("storescu", "127.0.0.1", str(scp.port), ct_files[0], "-aec", "ARCHIVE")
    assert right.returncode == 0, right


# --- --fsync -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["always", "batch", "never"])
def test_fsync_modes_store_every_file_whole(
    our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path, mode: str
) -> None:
    od = tmp_path / "od"
    scp = our_storescp("--fsync", mode, "--exit-after", str(2 * len(ct_files)), output_dir=od)
    scp.wait_for("listening on")
    senders = [
        threading.Thread(target=dcmtk_send, args=(scp.port, *ct_files)) for _ in range(2)
    ]  # two associations at once: what --fsync batch groups
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    assert scp.wait(20) == 0, scp
    assert f"storescp: {2 * len(ct_files)} instance(s) stored, 0 failed" in scp.stderr
    expected = sorted(Path(f"CT.{sop_instance_of(p)}.dcm") for p in ct_files)
    assert all_files(od) == expected  # and no temporary file left behind
    for source in ct_files:
        received = od / f"CT.{sop_instance_of(source)}.dcm"
        assert dataset_bytes(received) == dataset_bytes(source)


def test_bad_fsync_mode_exits_2(cli: CliRunner, tmp_path: Path) -> None:
    result = cli("storescp", "0", "--bind", "127.0.0.1", "-od", tmp_path, "--fsync", "sometimes")
    assert result.returncode == 2, result
    assert "--fsync must be one of always, batch, never" in result.stderr


def test_group_commit_answers_each_caller_after_its_own_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Concurrent callers are served in shared rounds, each returning only once the round that
    holds its request is done; a failing fsync raises in its own caller only."""
    from dicomnet.cli._storage import GroupCommit

    synced: list[int] = []
    first_round = threading.Event()
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        first_round.wait(10)  # hold the first round until every caller has queued
        real_fsync(fd)
        synced.append(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    commit = GroupCommit()
    files = [open(tmp_path / f"f{n}", "wb") for n in range(6)]  # noqa: SIM115
    returned: dict[int, bool] = {}
    errors: dict[int, BaseException] = {}

    arrived = threading.Semaphore(0)

    def caller(n: int) -> None:
        fd = files[n].fileno() if n != 5 else 10_000  # not a descriptor: EBADF
        arrived.release()
        try:
            commit.file(fd)
            commit.directory(tmp_path)
        except OSError as exc:
            errors[n] = exc
        returned[n] = fd in synced or n == 5

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for _ in threads:
        assert arrived.acquire(timeout=10)
    first_round.set()  # the first round may hold one request or all: none returns before it
    for thread in threads:
        thread.join(10)
    for handle in files:
        handle.close()
    assert returned == {n: True for n in range(6)}  # nobody returned before its fsync
    assert set(errors) == {5}
    assert commit.rounds < 12  # 6 file and 6 directory requests shared rounds
