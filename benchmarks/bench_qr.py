"""Query and retrieve: our findscu/getscu/movescu against DCMTK's (and pynetdicom's), each
against our qrscp and against DCMTK's dcmqrscp, measured in one run.

    python benchmarks/bench_qr.py [--matches 10000] [--instances 1000] [--size-kib 4]
                                  [--repeat 3] [--workdir /dev/shm] [--no-pynetdicom]
                                  [--data DIR] [--baseline-bin ../main/.venv/bin]

Two studies are generated once and served by both servers: study F, one series of --matches
instances (1 KiB pixel data each), and study G of --instances instances (--size-kib KiB each).
The same files (hard links) fill our qrscp's storage (indexed with ``qrscp index``) and
dcmqrscp's storage area (indexed with ``dcmqridx``).

- C-FIND: Study Root, IMAGE level, StudyInstanceUID and SeriesInstanceUID of study F given,
  SOPInstanceUID and InstanceNumber asked for: every instance of F matches. Each tool prints the
  matches its default way (ours: a text table on stdout; DCMTK's and pynetdicom's: a data set
  dump per response in their log).
- C-GET: Study Root, STUDY level, StudyInstanceUID of G: every instance, into an empty directory.
- C-MOVE: the same identifier, moved to AE MOVESCU, which each tool is itself (it listens on the
  port both servers have configured for MOVESCU: DCMTK ``movescu --port``, ours ``--store-port``,
  pynetdicom's ``--store --store-port``), into an empty directory.

Per operation and server, the tools run one after the other, --repeat rounds (interleaved);
a run counts only if the tool exits 0 and printed every match / wrote every file, failed runs are
listed and not timed. Reported: median wall-clock time of the tool's process, its CPU time and
the server's, and the ratio DCMTK's median / ours (> 1: we are faster; issue 12's goal >= 1.0x),
then pynetdicom's median / ours and, with --baseline-bin, another installation's / ours.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    children_cpu_seconds,
    clear_directory,
    count_files,
    dcmtk_env,
    free_port,
    generate_files,
    our_script,
    process_cpu_seconds,
    running,
    wait_listening,
)

DCMQRSCP = "/usr/bin/dcmqrscp"
DCMQRIDX = "/usr/bin/dcmqridx"
DCMTK_TOOLS = {name: f"/usr/bin/{name}" for name in ("findscu", "getscu", "movescu")}
SERVER_AET = "QRSCP"
MOVE_AET = "MOVESCU"


@dataclass
class Data:
    """What the servers hold: the two studies' UIDs and sizes."""

    find_study: str
    find_series: str
    matches: int
    get_study: str
    instances: int


@dataclass(frozen=True)
class Server:
    name: str
    port: int
    pid: int


@dataclass
class Timing:
    """One tool's runs against one server for one operation."""

    tool: str
    seconds: list[float] = field(default_factory=list)
    client_cpu: list[float] = field(default_factory=list)
    server_cpu: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


# A tool run: (argv, env, output directory or None, counter of what it got from (stdout, stderr))
Command = tuple[list[str], dict[str, str] | None, Path | None, Callable[[str, str], int]]


# --- data and servers ----------------------------------------------------------------------


def study_of(directory: Path) -> tuple[str, str]:
    from pydicom import dcmread

    first = dcmread(next(iter(sorted(directory.iterdir()))), stop_before_pixels=True)
    return str(first.StudyInstanceUID), str(first.SeriesInstanceUID)


def make_data(data_dir: Path, args: argparse.Namespace) -> Data:
    """Generate the studies and fill both servers' storage in ``data_dir``, or reuse what an
    earlier run with the same sizes left there (--data: dcmqridx takes minutes for 10,000
    instances, its index being checked record by record for every insertion)."""
    src = data_dir / "src"
    marker = data_dir / "ready"
    sizes = f"{args.matches} {args.instances} {args.size_kib}\n"
    if marker.exists() and marker.read_text() == sizes:
        _progress(f"reusing the studies and indexes in {data_dir}")
    else:
        clear_directory(data_dir)
        _progress(f"generating {args.matches} + {args.instances} files in {src}")
        generate_files(src / "find", args.matches, 1)
        generate_files(src / "get", args.instances, args.size_kib)
        for store in (data_dir / "ours", data_dir / "dcmtk" / "db"):
            for part in ("find", "get"):
                (store / part).mkdir(parents=True)
                for path in (src / part).iterdir():
                    os.link(path, store / part / path.name)
        started = time.perf_counter()
        subprocess.run(
            [str(our_script("qrscp")), "index", str(data_dir / "ours")],
            check=True,
            capture_output=True,
        )
        _progress(f"qrscp index: {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        db = data_dir / "dcmtk" / "db"
        # paths relative to the storage area (dcmqrscp runs there): --data can be moved
        files = sorted(str(p.relative_to(db)) for p in db.glob("*/*.dcm"))
        for at in range(0, len(files), 2000):  # dcmqridx appends to the index
            subprocess.run(
                [DCMQRIDX, ".", *files[at : at + 2000]], cwd=db, check=True, capture_output=True
            )
        _progress(f"dcmqridx: {time.perf_counter() - started:.1f} s")
        marker.write_text(sizes)
    find_study, find_series = study_of(src / "find")
    get_study, _ = study_of(src / "get")
    return Data(find_study, find_series, args.matches, get_study, args.instances)


@contextmanager
def our_qrscp(data_dir: Path, work: Path, move_port: int) -> Iterator[Server]:
    port = free_port()
    argv = [
        str(our_script("qrscp")),
        str(port),
        "--bind",
        "127.0.0.1",
        "-aet",
        SERVER_AET,
        "-od",
        str(data_dir / "ours"),
        "--move-dest",
        f"{MOVE_AET}=127.0.0.1:{move_port}",
    ]
    with running(argv, log=work / "qrscp.log", stdout_to_log=True) as proc:
        wait_listening(port, proc)
        yield Server("our qrscp", port, proc.pid)


@contextmanager
def dcmtk_qrscp(
    data_dir: Path, work: Path, move_port: int, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """DCMTK dcmqrscp serving ``data_dir``; ``env`` defaults to :func:`dcmtk_env` (Nagle off)."""
    port = free_port()
    config = work / f"dcmqrscp-{port}.cfg"
    # One storage area; a study of --matches 1 KiB instances is far below the per-study limit.
    config.write_text(
        f"NetworkTCPPort = {port}\nMaxPDUSize = 16384\nMaxAssociations = 16\n\n"
        f"HostTable BEGIN\nmovescu = ({MOVE_AET}, 127.0.0.1, {move_port})\nHostTable END\n\n"
        "VendorTable BEGIN\nVendorTable END\n\n"
        f"AETable BEGIN\n{SERVER_AET} {data_dir / 'dcmtk' / 'db'} RW (100, 4096mb) ANY\n"
        "AETable END\n"
    )
    argv = [DCMQRSCP, "-c", str(config), str(port)]
    # the index holds file paths relative to the storage area: dcmqrscp runs there
    db = data_dir / "dcmtk" / "db"
    log = work / f"dcmqrscp-{port}.log"
    with running(argv, env=env or dcmtk_env(), log=log, cwd=db) as proc:
        wait_listening(port, proc)
        yield Server("DCMTK dcmqrscp", port, proc.pid)


# --- the tools -----------------------------------------------------------------------------


def _lines_with(text: str, *needles: str) -> int:
    return sum(1 for line in text.splitlines() if all(n in line for n in needles))


def _table_rows(stdout: str, _stderr: str) -> int:
    return max(len(stdout.splitlines()) - 1, 0)  # the header line, then a line per match


def python_env(pycache: Path) -> dict[str, str]:
    """The environment for the Python tools: byte-code cached, in a private directory (an
    editable checkout run with PYTHONDONTWRITEBYTECODE=1 recompiles dicomnet at every start,
    which no installed copy does; see bench_echo.py). The warm-up round fills the cache."""
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(pycache))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def find_commands(
    data: Data, port: int, pynetdicom: bool, py_env: dict[str, str], baseline: Path | None
) -> dict[str, Command]:
    peer = ["127.0.0.1", str(port)]
    uids = [f"StudyInstanceUID={data.find_study}", f"SeriesInstanceUID={data.find_series}"]
    ours = [str(our_script("findscu")), *peer, "-S", "-aec", SERVER_AET, "-L", "IMAGE"]
    for key in [*uids, "SOPInstanceUID", "InstanceNumber"]:
        ours += ["-k", key]
    dcmtk = [DCMTK_TOOLS["findscu"], "-S", "-aec", SERVER_AET, "-k", "QueryRetrieveLevel=IMAGE"]
    for key in [*uids, "SOPInstanceUID", "InstanceNumber"]:
        dcmtk += ["-k", key]
    commands: dict[str, Command] = {
        "dicomnet findscu": (ours, py_env, None, _table_rows),
        "DCMTK findscu": (
            [*dcmtk, *peer],
            dcmtk_env(),
            None,
            lambda _o, e: _lines_with(e, "Find Response:", "(Pending)"),
        ),
    }
    if baseline is not None:
        commands["baseline findscu"] = (
            [str(baseline / "findscu"), *ours[1:]],
            py_env,
            None,
            _table_rows,
        )
    if pynetdicom:
        argv = [sys.executable, "-m", "pynetdicom", "findscu", *peer, "-S", "-aec", SERVER_AET]
        for key in ["QueryRetrieveLevel=IMAGE", *uids, "SOPInstanceUID=", "InstanceNumber="]:
            argv += ["-k", key]
        commands["pynetdicom findscu"] = (
            argv,
            py_env,
            None,
            lambda _o, e: _lines_with(e, "Find SCP Response:", "(Pending)"),
        )
    return commands


def retrieve_commands(
    op: str,
    data: Data,
    port: int,
    move_port: int,
    out: Path,
    pynetdicom: bool,
    py_env: dict[str, str],
    baseline: Path | None,
) -> dict[str, Command]:
    """getscu or movescu (``op``) of study G by each tool into ``out``."""
    peer = ["127.0.0.1", str(port)]
    study = f"StudyInstanceUID={data.get_study}"
    ours = [str(our_script(op)), *peer, "-S", "-aec", SERVER_AET, "-L", "STUDY", "-k", study]
    ours += ["-od", str(out), "-q"]
    dcmtk = [DCMTK_TOOLS[op], "-S", "-aec", SERVER_AET, "-k", "QueryRetrieveLevel=STUDY"]
    dcmtk += ["-k", study, "-od", str(out)]
    pynd = [sys.executable, "-m", "pynetdicom", op, *peer, "-S", "-aec", SERVER_AET]
    pynd += ["-k", "QueryRetrieveLevel=STUDY", "-k", study, "-od", str(out)]
    if op == "movescu":
        move = ["-aet", MOVE_AET, "-aem", MOVE_AET]
        ours += [*move, "--store-port", str(move_port)]
        dcmtk += [*move, "--port", str(move_port)]
        pynd += [*move, "--store", "--store-port", str(move_port)]
    files: Callable[[str, str], int] = lambda _o, _e: count_files(out)  # noqa: E731
    commands: dict[str, Command] = {
        f"dicomnet {op}": (ours, py_env, out, files),
        f"DCMTK {op}": ([*dcmtk, *peer], dcmtk_env(), out, files),
    }
    if baseline is not None:
        commands[f"baseline {op}"] = ([str(baseline / op), *ours[1:]], py_env, out, files)
    if pynetdicom:
        commands[f"pynetdicom {op}"] = (pynd, py_env, out, files)
    return commands


# --- measuring -----------------------------------------------------------------------------


def run_tool(
    timing: Timing, command: Command, server: Server, expected: int, log: Path, timeout: float
) -> str:
    argv, env, out, counter = command
    if out is not None:
        clear_directory(out)
    stdout_path, stderr_path = log.with_suffix(".out"), log.with_suffix(".err")
    with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        server_before = process_cpu_seconds(server.pid)
        cpu_before = children_cpu_seconds()
        started = time.perf_counter()
        try:
            code = subprocess.run(
                argv, env=env, stdout=stdout, stderr=stderr, timeout=timeout, check=False
            ).returncode
        except subprocess.TimeoutExpired:
            code = -1
        seconds = time.perf_counter() - started
        client_cpu = children_cpu_seconds() - cpu_before
        server_cpu = process_cpu_seconds(server.pid) - server_before
    if server.name.startswith("DCMTK"):
        server_cpu = float("nan")  # dcmqrscp forks a child per association: not in its counts
    got = counter(stdout_path.read_text(errors="replace"), stderr_path.read_text(errors="replace"))
    if code != 0 or got != expected:
        error = f"exit {code}, {got}/{expected}"
        timing.errors.append(error)
        return f"FAILED ({error}; see {stderr_path})"
    timing.seconds.append(seconds)
    timing.client_cpu.append(client_cpu)
    timing.server_cpu.append(server_cpu)
    return f"{seconds:.2f} s, client CPU {client_cpu:.2f} s"


def measure(
    label: str,
    commands: dict[str, Command],
    server: Server,
    expected: int,
    args: argparse.Namespace,
    logs: Path,
    warm_up: bool,
) -> list[Timing]:
    timings = [Timing(tool) for tool in commands]
    if warm_up:  # untimed: fills the byte-code cache, the page cache, the servers' caches
        for tool, command in commands.items():
            log = logs / f"warm-up-{_slug(label)}-{_slug(tool)}.log"
            summary = run_tool(Timing(tool), command, server, expected, log, args.timeout)
            _progress(f"[warm-up] {label} on {server.name}: {tool}: {summary}")
    for rep in range(args.repeat):
        for timing, command in zip(timings, commands.values(), strict=True):
            log = logs / f"{_slug(label)}-{_slug(server.name)}-{_slug(timing.tool)}-{rep}.log"
            summary = run_tool(timing, command, server, expected, log, args.timeout)
            _progress(
                f"[{rep + 1}/{args.repeat}] {label} on {server.name}: {timing.tool}: {summary}"
            )
    return timings


def report(label: str, server: Server, timings: list[Timing], expected: int, unit: str) -> bool:
    """Print the timings and the ratio line; False if a tool had no successful run."""
    print(f"\n{label} on {server.name} ({expected} {unit}):")
    for t in timings:
        if not t.seconds:
            print(f"  {t.tool:22} FAILED: {'; '.join(t.errors) or 'no run'}")
            continue
        server_cpu = statistics.median(t.server_cpu)
        line = (
            f"  {t.tool:22} median {t.median:7.3f} s  {expected / t.median:9.0f} {unit}/s  "
            f"client CPU {statistics.median(t.client_cpu):6.3f} s"
        )
        if server_cpu == server_cpu:  # not NaN
            line += f"  server CPU {server_cpu:6.3f} s"
        if t.errors:
            line += f"  ({len(t.errors)} failed: {t.errors[0]})"
        print(line)
    by_kind = {t.tool.split()[0]: t for t in timings}
    ours, dcmtk = by_kind["dicomnet"], by_kind["DCMTK"]
    tool = ours.tool.split()[-1]
    if ours.seconds and dcmtk.seconds:
        text = (
            f"  {tool} on {server.name}: {dcmtk.median / ours.median:.2f}x DCMTK "
            f"(DCMTK's median time / ours; goal >= 1.0x)"
        )
        for kind in ("pynetdicom", "baseline"):
            other = by_kind.get(kind)
            if other is not None and other.seconds:
                text += f"; {other.median / ours.median:.2f}x {kind}"
        print(text)
    else:
        print(f"  {tool} on {server.name}: no ratio (a tool had no successful run)")
    return all(t.seconds for t in timings)


def _slug(name: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--matches", type=int, default=10_000, help="C-FIND matches (10,000)")
    parser.add_argument("--instances", type=int, default=1_000, help="retrieved (1,000)")
    parser.add_argument("--size-kib", type=int, default=4, help="pixel data per retrieved file")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool (median)")
    parser.add_argument(
        "--workdir", type=Path, help="where files go (default: /dev/shm if present, else temp)"
    )
    parser.add_argument("--no-pynetdicom", action="store_true", help="skip pynetdicom's apps")
    parser.add_argument(
        "--only",
        action="append",
        choices=("find", "get", "move"),
        help="measure only this operation (repeatable)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory and logs")
    parser.add_argument(
        "--baseline-bin",
        type=Path,
        help="a bin directory with another dicomnet's findscu/getscu/movescu, measured alongside",
    )
    parser.add_argument(
        "--data",
        type=Path,
        help="keep the generated studies and both servers' storage here, reused by the next "
        "run with the same sizes (default: in the work directory, removed)",
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per tool run")
    args = parser.parse_args(argv)
    if min(args.matches, args.instances, args.size_kib, args.repeat) < 1:
        parser.error("--matches, --instances, --size-kib and --repeat must be positive")
    for tool in (DCMQRSCP, DCMQRIDX, *DCMTK_TOOLS.values()):
        if not Path(tool).exists():
            parser.error(f"{tool} is missing (apt-get install dcmtk)")
    workdir = args.workdir or (Path("/dev/shm") if Path("/dev/shm").is_dir() else None)
    work = Path(tempfile.mkdtemp(prefix="dicomnet-bench-qr-", dir=workdir))
    operations = args.only or ["find", "get", "move"]
    pynetdicom = not args.no_pynetdicom
    ok = True
    try:
        data_dir = args.data.resolve() if args.data else work / "data"
        data = make_data(data_dir, args)
        logs, out = work / "logs", work / "out"
        logs.mkdir()
        move_port = free_port()
        py_env = python_env(work / "pycache")
        print(
            f"C-FIND: IMAGE level, {data.matches} matches (one series); C-GET/C-MOVE: STUDY level, "
            f"{data.instances} instances of {args.size_kib} KiB pixel data; median of "
            f"{args.repeat}, tools interleaved; output in {work}"
        )
        with (
            our_qrscp(data_dir, work, move_port) as ours,
            dcmtk_qrscp(data_dir, work, move_port) as dcmtk,
        ):
            for server in (ours, dcmtk):
                for op in operations:
                    if op == "find":
                        commands = find_commands(
                            data, server.port, pynetdicom, py_env, args.baseline_bin
                        )
                        label, expected, unit = "C-FIND", data.matches, "matches"
                    else:
                        tool = f"{op}scu"
                        commands = retrieve_commands(
                            tool,
                            data,
                            server.port,
                            move_port,
                            out,
                            pynetdicom,
                            py_env,
                            args.baseline_bin,
                        )
                        label, expected, unit = f"C-{op.upper()}", data.instances, "files"
                    timings = measure(label, commands, server, expected, args, logs, server is ours)
                    ok = report(label, server, timings, expected, unit) and ok
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
