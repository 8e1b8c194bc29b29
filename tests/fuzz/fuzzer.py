"""The live fuzzer: play seeded cases at a running ``storescp`` and judge it with oracles.

Oracles (a breach is a :class:`Finding`, named by its kind and the seed that caused it):

- ``crash``: the server process is alive after every case.
- ``hang``: after a case's last byte and our half-close, the server closes within 5 s.
- ``not-alive``: every ``echo_every`` cases and at the end, a C-ECHO (associate, echo,
  release) is answered with 0x0000 within 2 s.
- ``traceback``: no traceback appears in the server's stderr.
- ``garbled``: everything the server sends is whole PDUs.
- ``resources``: threads return to the baseline (+2) once the cases are over, and RSS grows
  by at most ``rss_budget_kib``.
- ``stray-file``: nothing is written under the sandbox outside the output directory.
- ``temp-file-left``: no temporary (hidden) file is left in the output directory.
- ``success-without-file`` / ``file-without-success``: every C-STORE answered with success has
  its file (by SOP Instance UID) and every file had a success.
- ``unreadable-file``: pydicom reads every stored file (``dcmread``, every element's value).
- ``invalid-dataset-stored``: the data set of every stored file is well-formed (our own walker:
  lengths, VRs, sequences, items and delimiters against the bytes present) and its SOP Instance
  UID is the one of the command. Storing a malformed data set with Success is what issue 9
  ("structural validation") fixes; until it lands these findings are reported as *known*.
"""

from __future__ import annotations

import contextlib
import struct
import subprocess
import sys
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import dcmread
from pydicom.filereader import read_file_meta_info

from tests.fuzz import wire
from tests.fuzz.cases import build_case
from tests.fuzz.harness import Server, echo_ok, play, stored_files, stray_files, tracebacks

#: Kinds of finding another issue owns; reported, but they do not fail a run.
KNOWN_KINDS: dict[str, str] = {}  # kinds of finding that belong to an open issue, by kind

# Deeply nested sequences are among the cases; our walker and pydicom recurse per level.
sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))


@dataclass
class Finding:
    kind: str
    seed: int | None
    detail: str

    def __str__(self) -> str:
        seed = "-" if self.seed is None else str(self.seed)
        return f"[{self.kind}] seed {seed}: {self.detail}"


@dataclass
class Report:
    cases: int = 0
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    successes: int = 0
    rss_kib: tuple[int, int, int] = (0, 0, 0)  # baseline, peak, after
    threads: tuple[int, int, int] = (0, 0, 0)  # baseline, peak, after
    slowest_echo: float = 0.0

    @property
    def unexpected(self) -> list[Finding]:
        return [f for f in self.findings if f.kind not in KNOWN_KINDS]

    @property
    def known(self) -> list[Finding]:
        return [f for f in self.findings if f.kind in KNOWN_KINDS]

    def summary(self) -> str:
        kinds: dict[str, int] = {}
        for finding in self.findings:
            kinds[finding.kind] = kinds.get(finding.kind, 0) + 1
        rss = [f"{v / 1024:.1f}" for v in self.rss_kib]
        lines = [
            f"{self.cases} cases in {self.seconds:.1f} s; {self.successes} successes, "
            f"{self.files} files; RSS MiB baseline/peak/after {'/'.join(rss)}; threads "
            f"{'/'.join(map(str, self.threads))}; slowest C-ECHO {self.slowest_echo * 1000:.0f} ms",
            f"findings: {len(self.unexpected)} unexpected, {len(self.known)} known {kinds or ''}",
        ]
        lines += [f"  {f}" for f in self.unexpected[:20]]
        lines += [f"  (known, {KNOWN_KINDS[f.kind]}) {f}" for f in self.known[:5]]
        return "\n".join(lines)


def run(
    server: Server,
    seeds: Iterable[int],
    *,
    echo_every: int = 25,
    rss_budget_kib: int = 96 * 1024,
) -> Report:
    """Play the case of every seed at ``server`` in turn and apply every oracle."""
    report = Report()
    started = time.monotonic()
    rss0, threads0 = server.status()
    peak_rss, peak_threads = rss0, threads0
    succeeded: dict[str, int] = {}  # SOP Instance UID -> seed
    for count, seed in enumerate(seeds, 1):
        case = build_case(seed)
        since = server.stderr_size()
        try:
            reply = play(server.port, case.chunks, wait_after=case.wait_after)
        except OSError as exc:  # e.g. refused: the server is not listening any more
            report.findings.append(Finding("crash", seed, f"{case.describe()}: {exc}"))
            break
        report.cases = count
        for uid in reply.successes:
            succeeded.setdefault(uid, seed)
        if not reply.closed:
            report.findings.append(Finding("hang", seed, case.describe()))
        if reply.garbled:
            report.findings.append(Finding("garbled", seed, f"{case.describe()}: {reply.garbled}"))
        for trace in tracebacks(server.stderr(since)):
            report.findings.append(Finding("traceback", seed, f"{case.describe()}\n{trace}"))
        if not server.alive:
            report.findings.append(Finding("crash", seed, case.describe()))
            break
        if count % echo_every == 0:
            rss, threads = server.status()
            peak_rss, peak_threads = max(peak_rss, rss), max(peak_threads, threads)
            report.slowest_echo = max(report.slowest_echo, _echo(server, seed, report))
    report.successes = len(succeeded)
    if server.alive:
        report.slowest_echo = max(report.slowest_echo, _echo(server, None, report))
        rss, threads = _quiet(server, threads0)
        peak_rss, peak_threads = max(peak_rss, rss), max(peak_threads, threads)
        report.rss_kib = (rss0, peak_rss, rss)
        report.threads = (threads0, peak_threads, threads)
        if threads > threads0 + 2:
            report.findings.append(
                Finding("resources", None, f"threads {threads0} -> {threads} after the run")
            )
        if rss - rss0 > rss_budget_kib:
            report.findings.append(
                Finding("resources", None, f"RSS {rss0} KiB -> {rss} KiB after the run")
            )
    _check_files(server, succeeded, report)
    report.seconds = time.monotonic() - started
    return report


def _echo(server: Server, seed: int | None, report: Report) -> float:
    try:
        return echo_ok(server.port)
    except (AssertionError, OSError) as exc:
        report.findings.append(Finding("not-alive", seed, f"C-ECHO after this case: {exc}"))
        return 0.0


def _quiet(server: Server, threads0: int, timeout: float = 15.0) -> tuple[int, int]:
    """(RSS, threads) once the server's threads are back to ``threads0`` or ``timeout``
    passed (waiting on the process itself between looks)."""
    deadline = time.monotonic() + timeout
    while True:
        rss, threads = server.status()
        if threads <= threads0 or time.monotonic() > deadline:
            return rss, threads
        with contextlib.suppress(subprocess.TimeoutExpired):  # still running, as it should
            server.process.wait(timeout=0.05)


def _check_files(server: Server, succeeded: dict[str, int], report: Report) -> None:
    for path in stray_files(server):
        report.findings.append(Finding("stray-file", None, str(path)))
    on_disk: set[str] = set()
    for path in stored_files(server):
        report.files += 1
        if path.name.startswith("."):
            report.findings.append(Finding("temp-file-left", None, str(path)))
            continue
        uid, problem = _check_file(path)
        seed = succeeded.get(uid) if uid else None
        if uid:
            on_disk.add(uid)
        if problem:
            kind, detail = problem
            report.findings.append(
                Finding(kind, seed if seed is not None else _seed_of(uid), f"{path.name}: {detail}")
            )
        if uid and uid not in succeeded:
            report.findings.append(Finding("file-without-success", _seed_of(uid), path.name))
    for uid, seed in succeeded.items():
        if uid not in on_disk:
            report.findings.append(Finding("success-without-file", seed, uid))


def _check_file(path: Path) -> tuple[str, tuple[str, str] | None]:
    """(SOP Instance UID of the file meta, (kind, detail) of a problem or None)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about values it reads: not our oracle
        try:
            meta = read_file_meta_info(path)
            uid = str(meta.MediaStorageSOPInstanceUID)
            syntax = str(meta.TransferSyntaxUID)
        except Exception as exc:
            return "", ("unreadable-file", f"file meta: {type(exc).__name__}: {exc}")
        try:
            wire.walk(_dataset_part(path.read_bytes()), syntax == wire.IMPLICIT_LE)
        except wire.StructureError as exc:
            return uid, ("invalid-dataset-stored", f"structure: {exc}")
        try:
            ds = dcmread(path)
            for element in ds.iterall():
                _ = element.value
        except Exception as exc:
            return uid, ("unreadable-file", f"pydicom: {type(exc).__name__}: {exc}")
        inner = ds.get("SOPInstanceUID")
    if inner != uid:
        return uid, ("invalid-dataset-stored", f"data set SOP Instance UID {inner!r}, not {uid!r}")
    return uid, None


def _dataset_part(raw: bytes) -> bytes:
    """The bytes after the file meta group (Explicit VR LE, group length first)."""
    (group_length,) = struct.unpack_from("<I", raw, 132 + 8)
    return raw[132 + 12 + group_length :]


def _seed_of(uid: str) -> int | None:
    prefix = wire.UID_ROOT + "."
    if uid.startswith(prefix):
        head = uid[len(prefix) :].split(".", 1)[0]
        if head.isdigit():
            return int(head)
    return None
