"""Fixtures for the command-line tests: our console scripts run as real subprocesses.

* ``cli`` — run one of our commands to completion (with a timeout) and get a
  :class:`CliResult`. The scripts are OUR console scripts from the interpreter's bin directory
  (checked once per session: pynetdicom, a test peer, has scripts with the same names and must
  not shadow ours; see tools/install_peers.py).
* ``spawn`` — start a command in the background (a :class:`Running` process whose stdout and
  stderr are read by threads, so a test can wait for a line).
* ``our_storescp`` — start our ``storescp`` on ``127.0.0.1:0`` and return once its startup line
  ``listening on HOST:PORT`` names the real port; stopped with SIGTERM afterwards.
* ``pynetdicom_scp`` — pynetdicom's SCP in this process, on a free port.
* ``aborting_peer`` — a raw-socket SCP that accepts an association and answers the first
  P-DATA-TF with an A-ABORT.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dicomnet.ul.codec import encode_pdu
from dicomnet.ul.framing import PDUReader
from dicomnet.ul.items import PresentationContextAC, UserInformation
from dicomnet.ul.pdu import Abort, AssociateAC, AssociateRQ, PDataTF

COMMANDS = ("echoscu", "storescp", "storescu", "findscu", "getscu", "movescu", "qrscp")

#: Seconds a CLI run may take before the test fails (generous: CI machines can be slow).
CLI_TIMEOUT = 30.0

HANDLER_MODS = Path(__file__).parent / "handler_mods"
#: The directory to run commands from so that ``handler_mods.hooks`` is importable by name.
CLI_TESTS_DIR = Path(__file__).parent

Argv = dict[str, list[str]]


@functools.cache
def argv_for(command: str) -> tuple[str, ...]:
    """The argv running our ``command``: its console script beside the interpreter. The README's
    install keeps pynetdicom's scripts of the same names out of the venv (tools/install_peers.py),
    so the script there must be ours; anything else fails the tests."""
    script = Path(sys.executable).parent / command
    probe = subprocess.run(
        [str(script), "--help"],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        env=cli_env(),
        check=False,
    )
    if probe.returncode != 0 or "--handler" not in probe.stdout:
        raise AssertionError(f"{script} is not dicomnet's {command}: {probe.stdout[:200]}")
    return (str(script),)


@pytest.fixture(scope="session")
def cli_argv() -> Argv:
    """The argv prefix running each of our commands."""
    return {name: list(argv_for(name)) for name in COMMANDS}


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A predictable environment: no colours, a wide terminal for help and error boxes."""
    env = dict(os.environ)
    env.update({"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb", "PYTHONUNBUFFERED": "1"})
    env.pop("FORCE_COLOR", None)
    if extra:
        env.update(extra)
    return env


@dataclass
class CliResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return (
            f"{' '.join(self.argv)} -> {self.returncode}\n--- stdout\n{self.stdout}"
            f"--- stderr\n{self.stderr}"
        )

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


CliRunner = Callable[..., CliResult]


@pytest.fixture
def cli(cli_argv: Argv) -> CliRunner:
    """``cli("echoscu", "127.0.0.1", "104", timeout=..., cwd=...)`` runs a command to its end."""

    def run(
        command: str,
        *args: str | os.PathLike[str],
        timeout: float = CLI_TIMEOUT,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> CliResult:
        argv = [*cli_argv[command], *(os.fspath(a) for a in args)]
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd or CLI_TESTS_DIR,
            env=cli_env(env),
            stdin=subprocess.DEVNULL,
            check=False,
        )
        return CliResult(argv, done.returncode, done.stdout, done.stderr)

    return run


class Running:
    """A command running in the background; its output is collected by reader threads."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.argv = argv
        self.process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
            text=True,
        )
        self._cond = threading.Condition()
        self._out: list[str] = []
        self._err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self._out), daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, self._err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        self.port: int | None = None

    def _read(self, stream: Any, lines: list[str]) -> None:
        for line in stream:
            with self._cond:
                lines.append(line)
                self._cond.notify_all()
        with self._cond:
            lines.append("")  # end of stream marker (an empty string is never a line)
            self._cond.notify_all()

    @property
    def stdout(self) -> str:
        with self._cond:
            return "".join(self._out)

    @property
    def stderr(self) -> str:
        with self._cond:
            return "".join(self._err)

    def __str__(self) -> str:
        return (
            f"{' '.join(self.argv)} (rc {self.process.poll()})\n--- stdout\n{self.stdout}"
            f"--- stderr\n{self.stderr}"
        )

    def wait_for(self, text: str, *, stream: str = "stderr", timeout: float = 15.0) -> str:
        """The first line of ``stream`` containing ``text``; AssertionError if the stream ends
        or ``timeout`` passes first."""
        lines = self._err if stream == "stderr" else self._out
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in lines:
                    if text in line:
                        return line
                if lines and lines[-1] == "":
                    raise AssertionError(f"{text!r} never appeared:\n{self}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{text!r} did not appear in {timeout} s:\n{self}")
                self._cond.wait(left)

    def count(self, text: str, *, stream: str = "stderr") -> int:
        with self._cond:
            lines = self._err if stream == "stderr" else self._out
            return sum(text in line for line in lines)

    def wait(self, timeout: float = CLI_TIMEOUT) -> int:
        """Wait for the exit; returns the exit code once both streams are read to their end."""
        code = self.process.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout)
        return code

    def send_signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send ``signum`` (if still running) and wait for the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.wait(10.0)


Spawner = Callable[..., Running]


@pytest.fixture
def spawn(cli_argv: Argv) -> Iterator[Spawner]:
    """``spawn("echoscu", ...)`` starts a command in the background; killed afterwards if it is
    still running."""
    started: list[Running] = []

    def start(
        command: str,
        *args: str | os.PathLike[str],
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> Running:
        argv = [*cli_argv[command], *(os.fspath(a) for a in args)]
        running = Running(argv, cwd or CLI_TESTS_DIR, cli_env(env))
        started.append(running)
        return running

    try:
        yield start
    finally:
        for running in started:
            running.kill()


StorescpStarter = Callable[..., Running]


@pytest.fixture
def our_storescp(spawn: Spawner, tmp_path: Path) -> Iterator[StorescpStarter]:
    """``our_storescp("-v", output_dir=...)`` starts our storescp on 127.0.0.1 port 0 and
    returns once it printed ``listening on 127.0.0.1:PORT`` (``.port`` is set). Each one is
    stopped with SIGTERM at the end of the test (killed if it does not stop)."""
    started: list[Running] = []

    def start(
        *args: str | os.PathLike[str],
        output_dir: Path | None = None,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> Running:
        od = output_dir if output_dir is not None else tmp_path / "received"
        running = spawn("storescp", "0", "--bind", "127.0.0.1", "-od", od, *args, cwd=cwd, env=env)
        started.append(running)
        line = running.wait_for("listening on")
        address = line.split("listening on ", 1)[1].split()[0].rstrip(";,")
        running.port = int(address.rsplit(":", 1)[1])
        return running

    try:
        yield start
    finally:
        for running in started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                running.stop(signal.SIGTERM, timeout=10.0)


# --- pynetdicom as a peer ---------------------------------------------------------------------

PynetdicomStarter = Callable[..., tuple[Any, int]]


@pytest.fixture
def pynetdicom_scp() -> Iterator[PynetdicomStarter]:
    """``pynetdicom_scp(handlers, contexts=[...], require_called_aet=False)`` starts
    pynetdicom's SCP (AE title ``PYSCP``) on 127.0.0.1:0 and returns (server, port)."""
    import pynetdicom

    started: list[Any] = []

    def start(
        handlers: Sequence[Any] = (),
        *,
        contexts: Sequence[str] = ("1.2.840.10008.1.1", "1.2.840.10008.5.1.4.1.1.2"),
        require_called_aet: bool = False,
        ae_title: str = "PYSCP",
    ) -> tuple[Any, int]:
        ae = pynetdicom.AE(ae_title=ae_title)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
        ae.require_called_aet = require_called_aet
        for abstract_syntax in contexts:
            ae.add_supported_context(abstract_syntax)
        server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=list(handlers))
        assert server is not None
        started.append(server)
        return server, int(server.server_address[1])

    try:
        yield start
    finally:
        for server in started:
            server.shutdown()


# --- a raw-socket peer that aborts ------------------------------------------------------------


class AbortingPeer:
    """An SCP on 127.0.0.1 that accepts every association (each proposed context with its first
    transfer syntax) and sends A-ABORT when the first P-DATA-TF arrives."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.aborted = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn, contextlib.suppress(OSError, TimeoutError):
                self._handle(conn)

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(10.0)
        reader = PDUReader(max_pdata_length=0)
        while True:
            data = conn.recv(65536)
            if not data:
                return
            for pdu in reader.feed(data):
                if isinstance(pdu, AssociateRQ):
                    ac = AssociateAC(
                        called_ae_title=pdu.called_ae_title,
                        calling_ae_title=pdu.calling_ae_title,
                        presentation_contexts=tuple(
                            PresentationContextAC(pc.context_id, 0, pc.transfer_syntaxes[0])
                            for pc in pdu.presentation_contexts
                        ),
                        user_information=UserInformation(16384, "1.2.826.0.1.3680043.9.7433.9"),
                    )
                    conn.sendall(encode_pdu(ac))
                elif isinstance(pdu, PDataTF):
                    # Set first: the SCU may have exited (and the test checked) before sendall
                    # returns here.
                    self.aborted.set()
                    conn.sendall(encode_pdu(Abort(source=0, reason=0)))
                    return
                else:
                    return

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(5.0)


@pytest.fixture
def aborting_peer() -> Iterator[AbortingPeer]:
    peer = AbortingPeer()
    try:
        yield peer
    finally:
        peer.close()


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (it was free a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
