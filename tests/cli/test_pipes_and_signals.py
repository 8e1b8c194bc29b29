"""What every command does when its reader goes away, when it is interrupted, and with NO_COLOR.

* A closed stdout (``| head``) ends the job: no traceback, no "internal error", exit 141 when
  something could not be written (as ``yes | head``), the association wound down.
* One rule for interruption: the SCUs exit 130 on SIGINT and on SIGTERM; storescp stops cleanly
  and exits 0 on both.
* ``NO_COLOR`` on a terminal: not one escape sequence, in help or in results.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dicomnet import evt
from tests.cli.conftest import (
    CLI_TESTS_DIR,
    CLI_TIMEOUT,
    CliRunner,
    Spawner,
    StorescpStarter,
    argv_for,
    cli_env,
)
from tests.cli.test_findscu import qr_scp as qr_scp
from tests.cli.test_findscu import spawn_qr as spawn_qr
from tests.cli.test_getscu import archive as archive
from tests.conftest import ServerFactory
from tests.helpers import STORESCU, dcmtk_env
from tests.qr.archive import study_uid

pytestmark = pytest.mark.interop

EXIT_INTERRUPTED = 130
EXIT_STDOUT_CLOSED = 141
SCUS = ("echoscu", "storescu", "findscu", "getscu", "movescu")


# --- a stdout nobody reads ---------------------------------------------------------------------


class ClosedStdout:
    """A command whose stdout is a pipe with no reader (closed before the command starts, so
    its first write fails for certain); stderr is collected."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        read_end, write_end = os.pipe()
        os.close(read_end)
        self.process = subprocess.Popen(
            argv,
            stdout=write_end,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            cwd=CLI_TESTS_DIR,
            env=cli_env(env),
            text=True,
        )
        os.close(write_end)
        self._err: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._cond:
                self._err.append(line)
                self._cond.notify_all()

    @property
    def stderr(self) -> str:
        with self._cond:
            return "".join(self._err)

    def wait_for(self, text: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self._err:
                    if text in line:
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    raise AssertionError(f"{text!r} did not appear:\n{self.stderr}")
                self._cond.wait(min(left, 0.2))

    def wait(self) -> int:
        code = self.process.wait(timeout=CLI_TIMEOUT)
        self._reader.join(CLI_TIMEOUT)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def assert_quiet_end(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert "internal error" not in stderr, stderr
    assert "BrokenPipe" not in stderr, stderr
    assert "Exception ignored" not in stderr, stderr


@pytest.mark.parametrize("fmt", ["text", "jsonl", "csv", "json", "table"])
def test_echoscu_into_a_closed_pipe(fmt: str, our_storescp: StorescpStarter) -> None:
    scp = our_storescp()
    run = ClosedStdout(
        [*argv_for("echoscu"), "127.0.0.1", str(scp.port), "-r", "3", "--format", fmt]
    )
    assert run.wait() == EXIT_STDOUT_CLOSED
    assert_quiet_end(run.stderr)


@pytest.mark.parametrize("fmt", ["text", "jsonl", "csv", "json", "table"])
def test_findscu_into_a_closed_pipe_cancels_and_releases(
    fmt: str,
    qr_scp: ServerFactory,
) -> None:
    released = threading.Event()
    server = qr_scp(extra=[(evt.EVT_RELEASED, lambda event: released.set())])
    port = str(server.server_address[1])
    run = ClosedStdout(
        [*argv_for("findscu"), "127.0.0.1", port, "-k", "PatientName=", "--format", fmt]
    )
    assert run.wait() == EXIT_STDOUT_CLOSED
    assert_quiet_end(run.stderr)
    assert released.wait(5)  # released, not aborted or left hanging


@pytest.mark.parametrize("fmt", ["text", "jsonl", "csv", "json", "table"])
def test_storescu_into_a_closed_pipe(
    fmt: str, our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    scp = our_storescp(output_dir=tmp_path / "in")
    argv = [*argv_for("storescu"), "127.0.0.1", str(scp.port), *map(str, ct_files), "--format", fmt]
    run = ClosedStdout(argv)
    assert run.wait() == EXIT_STDOUT_CLOSED
    assert_quiet_end(run.stderr)
    # every file was sent before the results were written
    assert len(list((tmp_path / "in").glob("*.dcm"))) == len(ct_files)
    assert "storescu: sent 4, failed 0, skipped 0" in run.stderr


@pytest.mark.parametrize("fmt", ["text", "jsonl", "csv", "json", "table"])
def test_storescp_into_a_closed_pipe_stops_after_storing(
    fmt: str, ct_files: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "in"
    argv = [*argv_for("storescp"), "0", "--bind", "127.0.0.1", "-od", str(out), "--format", fmt]
    scp = ClosedStdout(argv)
    try:
        line = scp.wait_for("listening on")
        port = line.split("listening on ", 1)[1].split()[0].rstrip(";,").rsplit(":", 1)[1]
        sent = subprocess.run(
            [STORESCU, "127.0.0.1", port, str(ct_files[0])],
            env=dcmtk_env(),
            capture_output=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
        assert sent.returncode == 0, sent  # the instance was stored and answered with Success
        assert scp.wait() == EXIT_STDOUT_CLOSED
    finally:
        scp.kill()
    assert_quiet_end(scp.stderr)
    assert len(list(out.glob("*.dcm"))) == 1
    assert "1 instance(s) stored, 0 failed; stopped: stdout was closed" in scp.stderr


def test_getscu_and_movescu_with_a_closed_stdout_end_normally(
    qr_scp: ServerFactory,
    tmp_path: Path,
) -> None:
    """Their results are files and a summary on stderr; stdout unused, so nothing changes."""
    server = qr_scp()
    port = str(server.server_address[1])
    run = ClosedStdout(
        [*argv_for("getscu"), "127.0.0.1", port, "-k", "StudyInstanceUID=9.9", "-od", str(tmp_path)]
    )
    code = run.wait()
    assert_quiet_end(run.stderr)
    assert code in (0, 6), run.stderr  # whatever the archive answers, no pipe trouble
    run = ClosedStdout([*argv_for("movescu"), "127.0.0.1", port, "-aem", "X", "-k", "PatientID=1"])
    run.wait()
    assert_quiet_end(run.stderr)


def test_a_literal_head_in_a_shell_pipeline(our_storescp: StorescpStarter) -> None:
    """``echoscu --count 3 -i 0.5 | head -1``: one line through, exit 141 and silence."""
    scp = our_storescp()
    echoscu = " ".join(argv_for("echoscu"))
    script = (
        f"set -o pipefail; {echoscu} 127.0.0.1 {scp.port} --count 3 -i 0.5 | head -1; "
        'echo "status ${PIPESTATUS[0]}" >&2'
    )
    done = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        env=cli_env(),
        check=False,
    )
    assert len(done.stdout.splitlines()) == 1, done
    assert f"status {EXIT_STDOUT_CLOSED}" in done.stderr, done
    assert_quiet_end(done.stderr)


@pytest.mark.parametrize("command", ["echoscu", "storescp", "dicomnet"])
def test_help_into_a_closed_pipe(command: str) -> None:
    run = ClosedStdout([str(Path(sys.executable).parent / command), "--help"])
    assert run.wait() == EXIT_STDOUT_CLOSED
    assert_quiet_end(run.stderr)


# --- interruption --------------------------------------------------------------------------------


@contextlib.contextmanager
def silent_listener() -> Iterator[tuple[int, threading.Event]]:
    """A TCP server that accepts and never answers (an SCU waits for its A-ASSOCIATE-AC)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    accepted = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = sock.accept()
                held.append(conn)
                accepted.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1], accepted
    finally:
        sock.close()
        for conn in held:
            conn.close()


def scu_args(command: str, port: int, ct_files: list[Path], tmp_path: Path) -> list[str]:
    base = ["127.0.0.1", str(port)]
    extra = {
        "echoscu": [],
        "storescu": [str(f) for f in ct_files],
        "findscu": ["-k", "PatientName="],
        "getscu": ["-k", f"StudyInstanceUID={study_uid(1)}", "-od", str(tmp_path)],
        "movescu": ["-aem", "DEST", "-k", f"StudyInstanceUID={study_uid(1)}"],
    }[command]
    return [*base, *extra]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("command", SCUS)
def test_scus_exit_130_on_sigint_and_sigterm(
    command: str, signum: int, spawn: Spawner, ct_files: list[Path], tmp_path: Path
) -> None:
    with silent_listener() as (port, accepted):
        running = spawn(command, *scu_args(command, port, ct_files, tmp_path))
        assert accepted.wait(15), running  # it is now waiting for the A-ASSOCIATE-AC
        running.send_signal(signum)
        assert running.wait(10) == EXIT_INTERRUPTED, running
    assert f"{command}: error: interrupted" in running.stderr, running
    assert_quiet_end(running.stderr)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_storescp_stops_cleanly_with_0_on_sigint_and_sigterm(
    signum: int, our_storescp: StorescpStarter
) -> None:
    scp = our_storescp()
    assert scp.stop(signum) == 0, scp
    assert "instance(s) stored" in scp.stderr
    assert_quiet_end(scp.stderr)


def test_the_rule_is_the_same_in_help_readme_and_man_pages(cli: CliRunner) -> None:
    from dicomnet.cli._console import EXIT_CODE_TABLE

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    for code, text in EXIT_CODE_TABLE:
        assert f"| {code} | {text} |" in readme, code
    for command in (*SCUS, "storescp"):
        words = cli(command, "--help").stdout.replace("│", " ").split()
        help_text = " ".join(words)
        assert "130 interrupted (SCUs on SIGINT/SIGTERM; storescp stops cleanly with 0)" in (
            help_text
        ), command
        assert "141 stdout closed early" in help_text, command
        page = (root / "man" / f"{command}.1").read_text()
        assert "SIGTERM" in page and "141" in page, command


# --- NO_COLOR ------------------------------------------------------------------------------


def on_a_terminal(argv: list[str], env: dict[str, str]) -> bytes:
    """Run ``argv`` with stdout and stderr on a pseudo-terminal; everything it printed."""
    main, child = pty.openpty()
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=child, stderr=child, cwd=CLI_TESTS_DIR, env=env
    )
    os.close(child)
    out = bytearray()
    deadline = time.monotonic() + CLI_TIMEOUT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif process.poll() is not None:
            break
    process.wait(timeout=CLI_TIMEOUT)
    os.close(main)
    return bytes(out)


def terminal_env(no_color: bool) -> dict[str, str]:
    env = cli_env({"TERM": "xterm-256color", "COLUMNS": "120"})
    env.pop("NO_COLOR", None)
    if no_color:
        env["NO_COLOR"] = "1"
    return env


@pytest.mark.parametrize("argv", [["storescu", "--help"], ["findscu", "--bad-option"]])
def test_no_color_on_a_terminal_has_no_escape_sequences(argv: list[str]) -> None:
    command = [*argv_for(argv[0]), *argv[1:]]
    styled = on_a_terminal(command, terminal_env(no_color=False))
    assert b"\x1b[" in styled  # the check below can fail
    plain = on_a_terminal(command, terminal_env(no_color=True))
    assert b"\x1b[" not in plain, plain[:400]
    assert b"storescu" in plain or b"No such option" in plain


def test_no_color_table_results_on_a_terminal(
    qr_scp: ServerFactory,
) -> None:
    server = qr_scp()
    command = [*argv_for("findscu"), "127.0.0.1", str(server.server_address[1])]
    command += ["-k", "PatientName="]
    styled = on_a_terminal(command, terminal_env(no_color=False))
    assert b"\x1b[" in styled
    plain = on_a_terminal(command, terminal_env(no_color=True))
    assert b"\x1b[" not in plain, plain[:400]
    assert b"Alpha^Anna" in plain


def test_storescp_prints_a_line_per_instance_by_default(
    our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path, cli: CliRunner
) -> None:
    """--format auto, redirected: text, one line per stored instance; the summary on stderr."""
    from pydicom import dcmread

    scp = our_storescp(output_dir=tmp_path / "in")
    sent = cli("storescu", "127.0.0.1", str(scp.port), *ct_files)
    assert sent.returncode == 0, sent
    for path in ct_files:
        scp.wait_for(str(dcmread(path, stop_before_pixels=True).SOPInstanceUID), stream="stdout")
    assert scp.stop(signal.SIGTERM) == 0
    lines = scp.stdout.splitlines()
    assert len(lines) == len(ct_files), scp
    stored = {p.name for p in (tmp_path / "in").glob("*.dcm")}
    assert {Path(line.split()[0]).name for line in lines} == stored
    assert all(line.split()[2] == "STORESCU" for line in lines)
    assert "storescp: 4 instance(s) stored, 0 failed" in scp.stderr


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "json", "table"])
def test_storescp_lines_in_every_format(
    fmt: str, our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path, cli: CliRunner
) -> None:
    from pydicom import dcmread

    scp = our_storescp("--format", fmt, output_dir=tmp_path / "in")
    assert cli("storescu", "127.0.0.1", str(scp.port), *ct_files[:2]).returncode == 0
    if fmt != "json":  # json is one array, closed when the server stops
        for path in ct_files[:2]:
            scp.wait_for(
                str(dcmread(path, stop_before_pixels=True).SOPInstanceUID), stream="stdout"
            )
    assert scp.stop(signal.SIGTERM) == 0
    out = scp.stdout
    if fmt == "jsonl":
        rows = [json.loads(line) for line in out.splitlines()]
    elif fmt == "json":
        rows = json.loads(out)
    elif fmt == "csv":
        lines = out.splitlines()
        assert lines[0] == "file,sop_instance_uid,calling_aet"
        rows = lines[1:]
    else:
        lines = out.splitlines()
        assert lines[0].split() == ["file", "sop_instance_uid", "calling_aet"]
        rows = lines[1:]
    assert len(rows) == 2, out
