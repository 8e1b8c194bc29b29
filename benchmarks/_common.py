"""Helpers shared by the benchmark driver and its peer programs: test files, ports, processes."""

from __future__ import annotations

import contextlib
import os
import resource
import select
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS = HERE / "_peers.py"

#: DCMTK tools by absolute path: the names on PATH may be pynetdicom's Python apps.
DCMTK_STORESCP = "/usr/bin/storescp"
DCMTK_STORESCU = "/usr/bin/storescu"

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"


def dcmtk_env() -> dict[str, str]:
    """The environment for DCMTK tools: Debian's DCMTK leaves Nagle on unless told."""
    env = dict(os.environ)
    env["TCP_NODELAY"] = "1"
    return env


# --- test files ----------------------------------------------------------------------------


def generate_files(directory: Path, count: int, size_kib: int) -> int:
    """Write ``count`` distinct CT Part-10 files (Explicit VR Little Endian, 16-bit pixels,
    ``size_kib`` KiB of pixel data: 512 rows x ``size_kib`` columns) into ``directory``.

    Returns the mean size of a file in bytes (they differ by a few bytes of UID)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

    if count < 1 or size_kib < 1:
        raise ValueError("need at least one file of at least 1 KiB")
    directory.mkdir(parents=True, exist_ok=True)
    rows, columns = 512, size_kib  # 512 rows x columns x 2 bytes = columns KiB
    pixel_bytes = rows * columns * 2
    study, series = generate_uid(), generate_uid()
    total = 0
    for index in range(count):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = UID(CT_IMAGE_STORAGE)
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CT_IMAGE_STORAGE
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.Modality = "CT"
        ds.PatientName = "Bench^Mark"
        ds.PatientID = "BENCH001"
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series
        ds.InstanceNumber = index + 1
        ds.Rows = rows
        ds.Columns = columns
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        # Distinct content per file without paying for random numbers.
        pattern = index.to_bytes(2, "little") + bytes((index * 7 + j) & 0xFF for j in range(254))
        ds.PixelData = (pattern * (pixel_bytes // len(pattern) + 1))[:pixel_bytes]
        path = directory / f"ct{index:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        total += path.stat().st_size
    return total // count


def count_files(directory: Path) -> int:
    """Regular files in ``directory`` (recursively), ignoring hidden temporaries."""
    return sum(
        1
        for _root, _dirs, files in os.walk(directory)
        for name in files
        if not name.startswith(".")
    )


def clear_directory(directory: Path) -> None:
    """Empty ``directory`` (creating it if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    for entry in directory.iterdir():
        if entry.is_dir():
            clear_directory(entry)
            entry.rmdir()
        else:
            entry.unlink()


# --- ports and processes -------------------------------------------------------------------


def our_script(name: str) -> Path:
    """dicomnet's console script ``name`` beside the interpreter (pynetdicom ships scripts with
    the same names: ours is recognised by ``--handler`` in its --help)."""
    script = Path(sys.executable).parent / name
    if not script.is_file():
        raise SystemExit(f"{script} not found: install dicomnet (pip install -e .)")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    if "--handler" not in result.stdout:
        raise SystemExit(f"{script} is not dicomnet's {name} (no --handler in its --help)")
    return script


def free_port() -> int:
    """A port nobody listens on right now (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], deadline_s: float = 15.0) -> None:
    """Connect attempts until ``port`` accepts, the process dies, or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on port {port} after {deadline_s} s") from None
            # Block briefly on the child (not a sleep: returns at once if it exits).
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.05)


def read_port_line(proc: subprocess.Popen[bytes], deadline_s: float = 30.0) -> int:
    """Read ``PORT <n>`` from a peer program's stdout within the deadline."""
    assert proc.stdout is not None
    deadline = time.monotonic() + deadline_s
    buffer = b""
    fd = proc.stdout.fileno()
    while b"\n" not in buffer:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError(f"{proc.args!r} did not report its port in {deadline_s} s")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            raise RuntimeError(f"{proc.args!r} exited ({proc.wait(5)}) before reporting a port")
        buffer += chunk
    line = buffer.split(b"\n", 1)[0].decode()
    if not line.startswith("PORT "):
        raise RuntimeError(f"unexpected first line from {proc.args!r}: {line!r}")
    return int(line.split()[1])


@contextlib.contextmanager
def running(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    stdout_to_log: bool = False,
    cwd: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` for the duration of the block; stop it (SIGTERM, then SIGKILL) after.
    stdout is a pipe (for a port line) unless ``stdout_to_log``: then it goes to ``log`` (or
    nowhere) with stderr, so that a receiver printing a line per file never fills a pipe
    nobody reads."""
    stderr = open(log, "wb") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    stdout = stderr if stdout_to_log else subprocess.PIPE
    proc = subprocess.Popen(
        list(argv), stdout=stdout, stderr=stderr, env=env, cwd=cwd, start_new_session=True
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
        if log is not None and not isinstance(stderr, int):
            stderr.close()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a running process (all its threads) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command name: state is field 3, utime field 14, stime field 15 (1-based).
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """User + system CPU seconds of the waited-for children of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def python_argv(*args: str) -> list[str]:
    return [sys.executable, str(PEERS), *args]


# --- results -------------------------------------------------------------------------------


@dataclass
class Result:
    """Timings of one configuration over the repeats."""

    name: str
    files: int
    file_size: int
    seconds: list[float] = field(default_factory=list)
    inner_seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """At least one run succeeded (failed runs are reported, not timed)."""
        return bool(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def files_per_s(self) -> float:
        return self.files / self.median

    @property
    def mb_per_s(self) -> float:
        return self.files * self.file_size / self.median / 1e6

    @property
    def best_files_per_s(self) -> float:
        return self.files / min(self.seconds)

    @property
    def cpu_ms_per_file(self) -> float | None:
        """Median CPU time (user + system, all threads) per file of the measured process."""
        if not self.cpu_seconds:
            return None
        return statistics.median(self.cpu_seconds) / self.files * 1000

    @property
    def inner_files_per_s(self) -> float | None:
        if not self.inner_seconds:
            return None
        return self.files / statistics.median(self.inner_seconds)
