"""What the findscu/getscu/movescu tests share (here and in tests/orthanc): running OUR console
scripts as subprocesses, comparing retrieved files with the originals, and DCMTK's dcmqrscp
as a Q/R peer.

Our scripts live beside the interpreter; pynetdicom installs scripts with the same names, so a
script is used only if its ``--help`` mentions ``--handler`` (ours does), else
``python -m dicomnet <command>``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from pydicom import dcmread

from tests.cli.conftest import CliResult, Running, argv_for, cli_env
from tests.helpers import (
    STORESCU,
    dataset_bytes,
    dcmtk_env,
    free_port,
    run_dcmtk,
    sop_instance_of,
    transfer_syntax_of,
    wait_listening,
)

#: Seconds a command may take before the test fails.
TIMEOUT = 60.0


def run(
    command: str,
    *args: str | os.PathLike[str],
    timeout: float = TIMEOUT,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> CliResult:
    """Run our ``command`` to its end; stdout/stderr captured as text."""
    argv = [*argv_for(command), *(os.fspath(a) for a in args)]
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=cli_env(env),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return CliResult(argv, done.returncode, done.stdout, done.stderr)


class Spawned:
    """Start our commands in the background; every one still running is killed at the end."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.started: list[Running] = []

    def __call__(self, command: str, *args: str | os.PathLike[str]) -> Running:
        argv = [*argv_for(command), *(os.fspath(a) for a in args)]
        running = Running(argv, self.cwd, cli_env())
        self.started.append(running)
        return running

    def close(self) -> None:
        for running in self.started:
            running.kill()


# --- retrieved files --------------------------------------------------------------------------


#: getscu options proposing only the archive's classes (CT, MR), each in a context per transfer
#: syntax: the peer can then send every instance in the syntax it holds it in, untouched. (The
#: 127 default classes leave room for one context each: the peer converts instances held in
#: another uncompressed syntax.)
UNTOUCHED = (
    "--no-default-storage",
    "--storage-class",
    "CTImageStorage",
    "--storage-class",
    "MRImageStorage",
)


def by_sop_instance(paths: list[Path]) -> dict[str, Path]:
    return {sop_instance_of(p): p for p in paths}


def assert_same_files(received: list[Path], originals: list[Path]) -> None:
    """Every original arrived exactly once, in its own transfer syntax, with the data set
    bytes (everything after the file meta) unchanged."""
    got = by_sop_instance(received)
    want = by_sop_instance(originals)
    assert len(got) == len(received), f"duplicate instances among {received}"
    assert sorted(got) == sorted(want)
    for uid, original in want.items():
        copy = got[uid]
        assert transfer_syntax_of(copy) == transfer_syntax_of(original), copy
        assert dataset_bytes(copy) == dataset_bytes(original), f"{copy} differs from {original}"
        # and pydicom reads the copy as the same data set
        assert dcmread(copy) == dcmread(original)


def files_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


# --- DCMTK's dcmqrscp ---------------------------------------------------------------------------

DCMQRSCP = Path("/usr/bin/dcmqrscp")
DCMQRSCP_AET = "DCMQRSCP"


class Dcmqrscp:
    """A running dcmqrscp (default multi-process mode: one child per association)."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        port: int,
        log: Path,
        move_port: int,
        storage: Path,
    ) -> None:
        self.process = process
        self.port = port
        self.log = log
        self.storage = storage
        #: where dcmqrscp sends C-MOVE sub-operations for the destination MOVEDEST
        self.move_port = move_port

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_dcmqrscp(directory: Path, files: list[Path], attempts: int = 3) -> Dcmqrscp:
    """dcmqrscp titled DCMQRSCP on a free port with its storage in ``directory/db``, knowing
    the move destination MOVEDEST at 127.0.0.1 on another free port; loaded with ``files``
    by DCMTK's storescu. Retried on other ports if a chosen one was taken meanwhile."""
    storage = directory / "db"
    storage.mkdir(parents=True, exist_ok=True)
    problem: Exception | None = None
    for _ in range(attempts):
        port, move_port = free_port(), free_port()
        config = directory / "dcmqrscp.cfg"
        config.write_text(
            f"NetworkTCPPort = {port}\nMaxPDUSize = 16384\nMaxAssociations = 16\n"
            f"HostTable BEGIN\nmovedest = (MOVEDEST, 127.0.0.1, {move_port})\nHostTable END\n"
            "VendorTable BEGIN\nVendorTable END\n"
            f"AETable BEGIN\n{DCMQRSCP_AET} {storage} RW (200, 1024mb) ANY\nAETable END\n"
        )
        log = directory / f"dcmqrscp-{port}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [str(DCMQRSCP), "-c", str(config), str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dcmtk_env(),
                cwd=directory,
            )
        server = Dcmqrscp(process, port, log, move_port, storage)
        try:
            wait_listening(process, "127.0.0.1", port)
        except (RuntimeError, TimeoutError) as exc:
            problem = exc
            server.stop()
            continue
        stored = run_dcmtk(STORESCU, "-aec", DCMQRSCP_AET, "127.0.0.1", str(port), *files)
        if stored.returncode != 0:
            server.stop()
            raise RuntimeError(f"cannot load dcmqrscp: {stored.stdout}{stored.stderr}")
        return server
    raise RuntimeError(f"dcmqrscp did not start: {problem}")
