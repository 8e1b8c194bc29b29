"""``echoscu PEER PORT`` as a subprocess against DCMTK's storescp, our storescp and pynetdicom:
output rows and formats, --repeat, --count/--interval, and every exit code provoked for real."""

from __future__ import annotations

import csv
import io
import json
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cli.conftest import (
    AbortingPeer,
    CliRunner,
    PynetdicomStarter,
    Spawner,
    StorescpStarter,
    closed_port,
)
from tests.conftest import StorescpFactory

pytestmark = pytest.mark.interop

COLUMNS = ["peer", "port", "message_id", "status", "result", "rtt_ms"]
CT = "1.2.840.10008.5.1.4.1.1.2"


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at teardown: lets blocked pynetdicom handlers return."""
    event = threading.Event()
    try:
        yield event
    finally:
        event.set()


# --- output -------------------------------------------------------------------------------


def test_text_row_against_dcmtk(cli: CliRunner, dcmtk_storescp: StorescpFactory) -> None:
    scp = dcmtk_storescp()
    result = cli("echoscu", "127.0.0.1", str(scp.port), "-aec", "STORESCP")
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result
    fields = lines[0].split("  ")
    assert fields[:5] == ["127.0.0.1", str(scp.port), "1", "0x0000", "Success"], result
    assert float(fields[5]) > 0.0
    assert result.stderr == "", result  # default verbosity: nothing on stderr when all is well


def test_json_jsonl_csv_parse(cli: CliRunner, our_storescp: StorescpStarter) -> None:
    scp = our_storescp()
    port = str(scp.port)

    as_json = cli("echoscu", "127.0.0.1", port, "--format", "json")
    assert as_json.returncode == 0, as_json
    rows = json.loads(as_json.stdout)
    assert len(rows) == 1 and set(rows[0]) == set(COLUMNS), rows
    assert rows[0]["status"] == "0x0000" and rows[0]["message_id"] == 1
    assert rows[0]["port"] == scp.port and isinstance(rows[0]["rtt_ms"], float)
    assert rows[0]["rtt_ms"] > 0

    as_jsonl = cli("echoscu", "127.0.0.1", port, "--format", "jsonl", "--repeat", "2")
    assert as_jsonl.returncode == 0, as_jsonl
    lines = [json.loads(line) for line in as_jsonl.stdout.splitlines()]
    assert [r["message_id"] for r in lines] == [1, 2]

    as_csv = cli("echoscu", "127.0.0.1", port, "--format", "csv", "--repeat", "2")
    assert as_csv.returncode == 0, as_csv
    table = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(table) == 2 and list(table[0]) == COLUMNS
    assert [r["status"] for r in table] == ["0x0000", "0x0000"]
    assert all(float(r["rtt_ms"]) > 0 for r in table)


def test_repeat_gives_increasing_message_ids_on_one_association(
    cli: CliRunner, pynetdicom_scp: PynetdicomStarter
) -> None:
    associations: list[Any] = []
    from pynetdicom import evt

    _, port = pynetdicom_scp([(evt.EVT_ACCEPTED, lambda e: associations.append(e.assoc))])
    result = cli("echoscu", "127.0.0.1", str(port), "--repeat", "5", "--format", "json")
    assert result.returncode == 0, result
    rows = json.loads(result.stdout)
    assert [r["message_id"] for r in rows] == [1, 2, 3, 4, 5]
    assert len(associations) == 1


def test_count_and_interval_make_an_association_each(
    cli: CliRunner, pynetdicom_scp: PynetdicomStarter
) -> None:
    from pynetdicom import evt

    associations: list[Any] = []
    _, port = pynetdicom_scp([(evt.EVT_ACCEPTED, lambda e: associations.append(e.assoc))])
    result = cli(
        "echoscu", "127.0.0.1", str(port), "--count", "3", "--interval", "0.05", "--format", "csv"
    )
    assert result.returncode == 0, result
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(table) == 3, result  # one header, three rows
    assert all(r["status"] == "0x0000" for r in table)
    assert len(associations) == 3


def test_count_streams_rows_as_they_come(
    spawn: Spawner, our_storescp: StorescpStarter, release: threading.Event
) -> None:
    """Monitoring with --count: each result is printed when it is known, not at the end."""
    scp = our_storescp()
    running = spawn("echoscu", "127.0.0.1", str(scp.port), "--count", "3", "--interval", "30")
    first = running.wait_for("0x0000", stream="stdout")
    assert first.split("  ")[3] == "0x0000"
    assert running.process.poll() is None  # still waiting for the next one
    running.send_signal(signal.SIGINT)
    assert running.wait(10) == 130, running
    assert running.stdout.count("0x0000") == 1
    assert "echoscu: error: interrupted" in running.stderr


def test_verbose_logs_on_stderr_results_on_stdout(
    cli: CliRunner, our_storescp: StorescpStarter
) -> None:
    scp = our_storescp()
    result = cli("echoscu", "127.0.0.1", str(scp.port), "-v", "--format", "jsonl")
    assert result.returncode == 0, result
    assert "Association accepted" in result.stderr and "C-ECHO-RSP" in result.stderr
    assert [json.loads(line)["status"] for line in result.stdout.splitlines()] == ["0x0000"]


# --- exit codes ---------------------------------------------------------------------------


def test_exit_2_bad_option_and_ae_title(cli: CliRunner) -> None:
    bad = cli("echoscu", "127.0.0.1", "104", "--no-such-option")
    assert bad.returncode == 2 and "--no-such-option" in bad.stderr, bad
    aet = cli("echoscu", "-aet", "A\\B", "127.0.0.1", "104")
    assert aet.returncode == 2, aet
    assert "AE title" in aet.stderr and "backslash" in aet.stderr, aet
    long = cli("echoscu", "-aec", "X" * 17, "127.0.0.1", "104")
    assert long.returncode == 2 and "AE title" in long.stderr, long
    port = cli("echoscu", "127.0.0.1", "70000")
    assert port.returncode == 2 and "70000" in port.stderr, port


@pytest.mark.parametrize("glued", ["-aetME", "-aecPACS", "-to5"])
def test_exit_2_glued_alias(cli: CliRunner, glued: str) -> None:
    result = cli("echoscu", glued, "127.0.0.1", "104")
    assert result.returncode == 2, result
    alias = glued[:4] if glued.startswith(("-aet", "-aec")) else glued[:3]
    value = glued[len(alias) :]
    assert result.stderr_lines == [
        f"echoscu: error: option {alias} takes its value as a separate argument: "
        f"write '{alias} {value}' (got {glued!r})"
    ], result


def test_exit_3_closed_port(cli: CliRunner) -> None:
    port = closed_port()
    result = cli("echoscu", "127.0.0.1", str(port))
    assert result.returncode == 3, result
    assert result.stderr_lines == [
        f"echoscu: error: cannot connect to 127.0.0.1:{port}: Connection refused"
    ], result


def test_exit_3_unknown_host(cli: CliRunner) -> None:
    result = cli("echoscu", "no-such-host.invalid", "104", "-to", "5")
    assert result.returncode == 3, result
    assert "no-such-host.invalid" in result.stderr


def test_exit_4_dcmtk_refuses(cli: CliRunner, dcmtk_storescp: StorescpFactory) -> None:
    scp = dcmtk_storescp("--refuse")
    result = cli("echoscu", "127.0.0.1", str(scp.port))
    assert result.returncode == 4, result
    assert f"association rejected by 127.0.0.1:{scp.port}" in result.stderr, result


def test_exit_4_called_aet_rejected_with_reason(
    cli: CliRunner, pynetdicom_scp: PynetdicomStarter
) -> None:
    _, port = pynetdicom_scp(require_called_aet=True)
    result = cli("echoscu", "127.0.0.1", str(port), "-aec", "WRONG")
    assert result.returncode == 4, result
    assert result.stderr_lines == [
        f"echoscu: error: association rejected by 127.0.0.1:{port}: rejected-permanent, "
        "service user: called AE title not recognised"
    ], result
    ok = cli("echoscu", "127.0.0.1", str(port), "-aec", "PYSCP")
    assert ok.returncode == 0, ok


def test_exit_4_no_presentation_context(cli: CliRunner, pynetdicom_scp: PynetdicomStarter) -> None:
    _, port = pynetdicom_scp(contexts=[CT])
    result = cli("echoscu", "127.0.0.1", str(port))
    assert result.returncode == 4, result
    assert "accepted none of the proposed presentation contexts" in result.stderr, result


def test_exit_5_peer_aborts(cli: CliRunner, aborting_peer: AbortingPeer) -> None:
    result = cli("echoscu", "127.0.0.1", str(aborting_peer.port))
    assert result.returncode == 5, result
    assert aborting_peer.aborted.is_set()
    assert result.stderr_lines == [
        f"echoscu: error: C-ECHO to 127.0.0.1:{aborting_peer.port} failed: "
        "aborted by the peer (service user) (A-ABORT)"
    ], result


def test_exit_5_dimse_timeout(
    cli: CliRunner, pynetdicom_scp: PynetdicomStarter, release: threading.Event
) -> None:
    from pynetdicom import evt

    def slow(event: Any) -> int:
        release.wait(20)
        return 0x0000

    _, port = pynetdicom_scp([(evt.EVT_C_ECHO, slow)])
    result = cli("echoscu", "127.0.0.1", str(port), "-td", "0.5", timeout=20)
    assert result.returncode == 5, result
    assert "echoscu: error:" in result.stderr, result


def test_exit_6_failure_status(cli: CliRunner, pynetdicom_scp: PynetdicomStarter) -> None:
    from pynetdicom import evt

    _, port = pynetdicom_scp([(evt.EVT_C_ECHO, lambda e: 0x0211)])
    result = cli("echoscu", "127.0.0.1", str(port), "--format", "json", "--repeat", "2")
    assert result.returncode == 6, result
    rows = json.loads(result.stdout)
    assert [r["status"] for r in rows] == ["0x0211", "0x0211"]


def test_exit_130_sigint_while_waiting_for_the_peer(
    spawn: Spawner, pynetdicom_scp: PynetdicomStarter, release: threading.Event
) -> None:
    from pynetdicom import evt

    arrived = threading.Event()

    def slow(event: Any) -> int:
        arrived.set()
        release.wait(20)
        return 0x0000

    _, port = pynetdicom_scp([(evt.EVT_C_ECHO, slow)])
    running = spawn("echoscu", "127.0.0.1", str(port), "--count", "100")
    assert arrived.wait(10), running
    running.send_signal(signal.SIGINT)
    # Promptly: an interrupted echoscu aborts instead of waiting for a release the peer cannot
    # answer while its handler is busy.
    assert running.wait(5) == 130, running
    assert "echoscu: error: interrupted" in running.stderr


def test_count_continues_after_a_failed_attempt(cli: CliRunner) -> None:
    port = closed_port()
    result = cli(
        "echoscu", "127.0.0.1", str(port), "--count", "2", "--interval", "0", "--format", "jsonl"
    )
    assert result.returncode == 3, result
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 2 and all("Connection refused" in r["result"] for r in rows), result
    assert result.stderr.count("echoscu: error: cannot connect") == 2


def test_help_documents_exit_codes_and_default_handler_event(cli: CliRunner) -> None:
    result = cli("echoscu", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "130 interrupted" in text and "4 association rejected" in text
    assert "EVT_DIMSE_RECV" in text


def test_dicomnet_root_command() -> None:
    """The same command through ``python -m dicomnet echoscu``, and the root app's checks."""
    import subprocess
    import sys

    from tests.cli.conftest import CLI_TESTS_DIR, cli_env

    def dicomnet(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dicomnet", *args],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=CLI_TESTS_DIR,
            env=cli_env(),
            check=False,
        )

    version = dicomnet("--version")
    assert version.returncode == 0 and version.stdout.startswith("dicomnet "), version
    glued = dicomnet("echoscu", "-aetME", "127.0.0.1", "104")
    assert glued.returncode == 2 and "write '-aet ME'" in glued.stderr, glued
    port = closed_port()
    refused = dicomnet("echoscu", "127.0.0.1", str(port))
    assert refused.returncode == 3, refused
