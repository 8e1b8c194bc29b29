"""``storescu PEER PORT PATH...`` as a subprocess against DCMTK's storescp, our storescp and
pynetdicom: files and directories (+r), skipped inputs, the summary line, --format json rows,
undecoded sending in the file's own transfer syntax, and every exit code provoked for real."""

from __future__ import annotations

import json
import re
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.uid import UID

from tests.cli.conftest import (
    AbortingPeer,
    CliResult,
    CliRunner,
    PynetdicomStarter,
    Spawner,
    StorescpStarter,
    closed_port,
)
from tests.conftest import StorescpFactory
from tests.helpers import (
    dataset_bytes,
    sop_instance_of,
    transfer_syntax_of,
    write_ct_file,
    write_ct_files,
)

pytestmark = pytest.mark.interop

CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
VERIFICATION = "1.2.840.10008.1.1"
IMPLICIT = "1.2.840.10008.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
SUMMARY = re.compile(
    r"^storescu: sent (\d+), failed (\d+), skipped (\d+), not sent (\d+)(?:, warnings (\d+))?; "
    r"[\d.]+ MB/s in [\d.]+ s$",
    re.MULTILINE,
)


def summary(result: CliResult | Any) -> tuple[int, int, int]:
    """(sent, failed, skipped) from the summary line; asserts that nothing was left unsent."""
    counts = full_summary(result)
    assert counts[3] == 0, f"files not sent:\n{result}"
    return counts[:3]


def full_summary(result: CliResult | Any) -> tuple[int, int, int, int]:
    """(sent, failed, skipped, not sent) from the summary line."""
    match = SUMMARY.search(result.stderr)
    assert match, f"no summary line:\n{result}"
    return int(match[1]), int(match[2]), int(match[3]), int(match[4])


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    try:
        yield event
    finally:
        event.set()


def mr_file(path: Path) -> Path:
    """An MR Image Storage instance (the CT file with another SOP class)."""
    write_ct_file(path, 42, EXPLICIT)
    ds = pydicom.dcmread(path)
    ds.SOPClassUID = UID(MR)
    ds.file_meta.MediaStorageSOPClassUID = UID(MR)
    ds.Modality = "MR"
    ds.save_as(path, enforce_file_format=True)
    return path


# --- sending --------------------------------------------------------------------------------


def test_files_to_dcmtk_storescp_keep_their_syntax_and_bytes(
    cli: CliRunner, dcmtk_storescp: StorescpFactory, ct_files: list[Path]
) -> None:
    """Implicit VR files arrive as Implicit VR even though DCMTK prefers Explicit: each file's
    own transfer syntax is proposed in a context of its own, and the file is sent undecoded."""
    scp = dcmtk_storescp()
    result = cli("storescu", "127.0.0.1", str(scp.port), *ct_files, "-aec", "STORESCP")
    assert result.returncode == 0, result
    assert summary(result) == (4, 0, 0)
    received = {sop_instance_of(p): p for p in scp.files()}
    assert len(received) == 4
    for source in ct_files:
        target = received[sop_instance_of(source)]
        assert transfer_syntax_of(target) == transfer_syntax_of(source)
        assert dataset_bytes(target) == dataset_bytes(source)


def test_directory_flat_and_recursive_to_our_storescp(
    cli: CliRunner, our_storescp: StorescpStarter, tmp_path: Path
) -> None:
    top = write_ct_files(tmp_path / "in", 2)
    nested = write_ct_files(tmp_path / "in" / "sub" / "deeper", 2)
    od = tmp_path / "od"
    scp = our_storescp(output_dir=od)

    flat = cli("storescu", "127.0.0.1", str(scp.port), tmp_path / "in", "--format", "json")
    assert flat.returncode == 0, flat
    assert summary(flat) == (2, 0, 0)
    assert [r["file"] for r in json.loads(flat.stdout)] == [str(p) for p in top]

    deep = cli("storescu", "127.0.0.1", str(scp.port), "+r", tmp_path / "in", "--format", "json")
    assert deep.returncode == 0, deep
    assert summary(deep) == (4, 0, 0)
    assert sorted(r["file"] for r in json.loads(deep.stdout)) == sorted(
        str(p) for p in top + nested
    )
    assert sorted(p.name for p in od.iterdir()) == sorted(
        f"CT.{sop_instance_of(p)}.dcm" for p in top + nested
    )
    for source in top + nested:
        assert dataset_bytes(od / f"CT.{sop_instance_of(source)}.dcm") == dataset_bytes(source)


def test_non_dicom_inputs_are_reported_and_skipped(
    cli: CliRunner, our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "notes.txt").write_text("not DICOM at all\n" * 20)
    (folder / "empty.dcm").write_bytes(b"")
    good = write_ct_file(folder / "good.dcm", 5, EXPLICIT)
    missing = tmp_path / "missing.dcm"
    scp = our_storescp()
    result = cli("storescu", "127.0.0.1", str(scp.port), folder, missing, "--format", "json")
    assert result.returncode == 0, result
    assert summary(result) == (1, 0, 3)
    rows = {Path(r["file"]).name: r for r in json.loads(result.stdout)}
    assert rows["good.dcm"]["result"] == "success" and rows["good.dcm"]["status"] == "0x0000"
    assert rows["good.dcm"]["sop_instance_uid"] == sop_instance_of(good)
    for name in ("notes.txt", "empty.dcm", "missing.dcm"):
        assert rows[name]["result"] == "skipped" and rows[name]["meaning"], rows[name]
        assert f"storescu: skipping {rows[name]['file']}: " in result.stderr
    assert rows["missing.dcm"]["meaning"] == "no such file"


def test_text_output_and_verbose_log(
    cli: CliRunner, our_storescp: StorescpStarter, ct_files: list[Path]
) -> None:
    scp = our_storescp()
    result = cli("storescu", "127.0.0.1", str(scp.port), *ct_files[:2], "-v")
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert [line.split("  ")[:3] for line in lines] == [
        [str(p), "success", "0x0000"] for p in ct_files[:2]
    ]
    assert result.stderr.count("I: Sent C-STORE-RQ") == 2
    assert result.stderr.count("I: Received C-STORE-RSP") == 2


# --- exit codes -----------------------------------------------------------------------------


def test_exit_2_nothing_to_send(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello")
    result = cli("storescu", "127.0.0.1", str(closed_port()), tmp_path / "a.txt", tmp_path / "no")
    assert result.returncode == 2, result
    assert "storescu: error: nothing to send (no readable DICOM file)" in result.stderr
    assert result.stderr.count("storescu: skipping") == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("storescu", "127.0.0.1", "104", empty).returncode == 2


def test_exit_2_usage(cli: CliRunner, ct_files: list[Path]) -> None:
    no_paths = cli("storescu", "127.0.0.1", "104")
    assert no_paths.returncode == 2, no_paths
    aet = cli("storescu", "-aet", "A\\B", "127.0.0.1", "104", ct_files[0])
    assert aet.returncode == 2 and "AE title" in aet.stderr, aet
    glued = cli("storescu", "-aetME", "127.0.0.1", "104", ct_files[0])
    assert glued.returncode == 2, glued
    assert len(glued.stderr_lines) == 1 and "write '-aet ME'" in glued.stderr, glued


def test_exit_3_closed_port(cli: CliRunner, ct_files: list[Path]) -> None:
    port = closed_port()
    result = cli("storescu", "127.0.0.1", str(port), ct_files[0])
    assert result.returncode == 3, result
    assert f"storescu: error: cannot connect to 127.0.0.1:{port}" in result.stderr


def test_exit_4_dcmtk_refuses(
    cli: CliRunner, dcmtk_storescp: StorescpFactory, ct_files: list[Path]
) -> None:
    scp = dcmtk_storescp("--refuse")
    result = cli("storescu", "127.0.0.1", str(scp.port), ct_files[0])
    assert result.returncode == 4, result
    assert f"association rejected by 127.0.0.1:{scp.port}: rejected-" in result.stderr, result
    assert scp.files() == []


def test_exit_4_no_context_accepted(
    cli: CliRunner, pynetdicom_scp: PynetdicomStarter, ct_files: list[Path]
) -> None:
    _, port = pynetdicom_scp(contexts=[VERIFICATION])
    result = cli("storescu", "127.0.0.1", str(port), ct_files[0])
    assert result.returncode == 4, result
    assert "accepted none of the proposed presentation contexts" in result.stderr, result


def test_exit_4_when_some_files_were_not_accepted(
    cli: CliRunner, pynetdicom_scp: PynetdicomStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    """A CT-only peer: the CT file goes, the MR file is reported and not sent -> not 0."""
    received: list[str] = []
    from pynetdicom import evt

    def on_store(event: Any) -> int:
        received.append(str(event.request.AffectedSOPInstanceUID))
        return 0x0000

    _, port = pynetdicom_scp([(evt.EVT_C_STORE, on_store)], contexts=[CT])
    mr = mr_file(tmp_path / "mr.dcm")
    result = cli("storescu", "127.0.0.1", str(port), ct_files[0], mr, "--format", "json")
    assert result.returncode == 4, result
    assert summary(result) == (1, 0, 1)
    rows = {Path(r["file"]).name: r for r in json.loads(result.stdout)}
    assert rows["mr.dcm"]["result"] == "skipped" and MR in rows["mr.dcm"]["meaning"]
    assert received == [sop_instance_of(ct_files[0])]


def test_exit_5_dcmtk_aborts(
    cli: CliRunner, dcmtk_storescp: StorescpFactory, ct_files: list[Path]
) -> None:
    scp = dcmtk_storescp("--abort-after")
    result = cli("storescu", "127.0.0.1", str(scp.port), *ct_files[:2], "--format", "json")
    assert result.returncode == 5, result
    assert f"storescu: error: association aborted while sending {ct_files[0]}" in result.stderr
    assert "2 file(s) not sent" in result.stderr
    assert full_summary(result) == (0, 0, 0, 2)
    assert [r["result"] for r in json.loads(result.stdout)] == ["aborted", "not sent"]


def test_exit_5_raw_peer_aborts(
    cli: CliRunner, aborting_peer: AbortingPeer, ct_files: list[Path]
) -> None:
    result = cli("storescu", "127.0.0.1", str(aborting_peer.port), ct_files[0])
    assert result.returncode == 5, result
    assert "aborted by the peer (service user) (A-ABORT)" in result.stderr, result


def test_exit_5_dcmtk_killed_mid_run(
    spawn: Spawner, dcmtk_storescp: StorescpFactory, ct_files: list[Path]
) -> None:
    scp = dcmtk_storescp("--sleep-during", "30")
    running = spawn("storescu", "127.0.0.1", str(scp.port), *ct_files, "-v", "-td", "20")
    running.wait_for("Sent C-STORE-RQ")
    scp.process.kill()
    assert running.wait(20) == 5, running
    assert "storescu: error: association aborted while sending" in running.stderr


def test_exit_6_failure_status_with_counts(
    cli: CliRunner, pynetdicom_scp: PynetdicomStarter, ct_files: list[Path]
) -> None:
    from pynetdicom import evt

    def on_store(event: Any) -> int:
        # The first instance fails, the others succeed.
        return 0xA700 if event.request.MessageID == 1 else 0x0000

    _, port = pynetdicom_scp([(evt.EVT_C_STORE, on_store)])
    result = cli("storescu", "127.0.0.1", str(port), *ct_files[:3], "--format", "json")
    assert result.returncode == 6, result
    assert summary(result) == (2, 1, 0)
    rows = json.loads(result.stdout)
    assert [r["status"] for r in rows] == ["0xA700", "0x0000", "0x0000"]
    assert rows[0]["result"] == "failure" and rows[0]["meaning"] == "Refused: out of resources", (
        rows[0]
    )
    assert f"storescu: {ct_files[0]}: 0xA700 " in result.stderr


@pytest.mark.parametrize("associations", ["1", "2"])
def test_exit_130_sigint(
    spawn: Spawner,
    pynetdicom_scp: PynetdicomStarter,
    ct_files: list[Path],
    release: threading.Event,
    associations: str,
) -> None:
    from pynetdicom import evt

    arrived = threading.Event()

    def on_store(event: Any) -> int:
        arrived.set()
        release.wait(20)
        return 0x0000

    _, port = pynetdicom_scp([(evt.EVT_C_STORE, on_store)])
    running = spawn("storescu", "127.0.0.1", str(port), *ct_files, "--associations", associations)
    assert arrived.wait(10), running
    running.send_signal(signal.SIGINT)
    assert running.wait(5) == 130, running
    assert "storescu: error: interrupted" in running.stderr
    assert full_summary(running) == (0, 0, 0, len(ct_files))
    assert f"{ct_files[0]}  interrupted" in running.stdout


def test_log_file_gets_the_log(
    cli: CliRunner, our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    log = tmp_path / "storescu.log"
    scp = our_storescp()
    result = cli("storescu", "127.0.0.1", str(scp.port), ct_files[0], "-v", "--log-file", log)
    assert result.returncode == 0, result
    text = log.read_text()
    assert "Sent C-STORE-RQ" in text and "Received C-STORE-RSP" in text


@pytest.mark.parametrize(
    ("command", "args", "problem"),
    [
        ("storescu", ["--tls-cert", "/nonexistent/cert.pem"], "cannot use the TLS files"),
        ("echoscu", ["--tls-ca", "/nonexistent/ca.pem"], "cannot use the TLS files"),
        ("storescp", ["--tls-ca", "/nonexistent/ca.pem"], "TLS on a server needs --tls-cert"),
    ],
)
def test_tls_usage_errors_exit_2(
    cli: CliRunner,
    ct_files: list[Path],
    tmp_path: Path,
    command: str,
    args: list[str],
    problem: str,
) -> None:
    port = str(closed_port())
    positional = {
        "storescu": ["127.0.0.1", port, str(ct_files[0])],
        "echoscu": ["127.0.0.1", port],
        "storescp": ["0", "--bind", "127.0.0.1", "-od", str(tmp_path / "od")],
    }[command]
    result = cli(command, *positional, *args)
    assert result.returncode == 2, result
    assert len(result.stderr_lines) == 1 and problem in result.stderr, result


# --- --associations N -----------------------------------------------------------------------


def test_parallel_associations_send_each_file_once_rows_in_file_order(
    cli: CliRunner, our_storescp: StorescpStarter, tmp_path: Path
) -> None:
    files = write_ct_files(tmp_path / "in", 12)
    bad = tmp_path / "in" / "05-cut.dcm"  # sorts among the good ones
    bad.write_bytes(files[0].read_bytes()[:-100])
    od = tmp_path / "od"
    # --on-duplicate fail: a file sent twice would come back as a failure (0xA7FE)
    scp = our_storescp("--on-duplicate", "fail", output_dir=od)
    result = cli(
        "storescu",
        "127.0.0.1",
        str(scp.port),
        tmp_path / "in",
        "--associations",
        "3",
        "--format",
        "json",
    )
    assert result.returncode == 2, result  # the malformed file, as with one association
    assert summary(result) == (12, 0, 1)
    rows = json.loads(result.stdout)
    assert [r["file"] for r in rows] == [str(p) for p in sorted(tmp_path.joinpath("in").iterdir())]
    assert {r["result"] for r in rows if r["file"] != str(bad)} == {"success"}
    assert sorted(p.name for p in od.iterdir()) == sorted(
        f"CT.{sop_instance_of(p)}.dcm" for p in files
    )
    for source in files:
        assert dataset_bytes(od / f"CT.{sop_instance_of(source)}.dcm") == dataset_bytes(source)


def test_parallel_associations_abort_reports_files_not_sent(
    cli: CliRunner, dcmtk_storescp: StorescpFactory, ct_files: list[Path]
) -> None:
    scp = dcmtk_storescp("--abort-after")
    result = cli(
        "storescu",
        "127.0.0.1",
        str(scp.port),
        *ct_files,
        "--associations",
        "2",
        "--format",
        "json",
    )
    assert result.returncode == 5, result
    assert "file(s) not sent" in result.stderr
    sent, failed, skipped, unsent = full_summary(result)
    assert (failed, skipped) == (0, 0) and sent + unsent == len(ct_files)
    rows = json.loads(result.stdout)
    assert sorted(r["file"] for r in rows) == sorted(str(p) for p in ct_files)
    assert {r["result"] for r in rows} <= {"success", "aborted", "not sent"}
    assert "aborted" in {r["result"] for r in rows}


def test_parallel_associations_with_retry_send_everything(
    cli: CliRunner, our_storescp: StorescpStarter, tmp_path: Path
) -> None:
    files = write_ct_files(tmp_path / "in", 6)
    scp = our_storescp(output_dir=tmp_path / "od")
    result = cli(
        "storescu", "127.0.0.1", str(scp.port), *files, "--associations", "4", "--retry", "1"
    )
    assert result.returncode == 0, result
    assert summary(result) == (6, 0, 0)
    assert len(list((tmp_path / "od").iterdir())) == 6
