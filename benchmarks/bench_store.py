"""C-STORE throughput: dicomnet against DCMTK and pynetdicom, measured in one run.

    python benchmarks/bench_store.py [--files 500] [--size-kib 512] [--repeat N] [--pdu 16384]

Part 1 (SCP): DCMTK ``storescu`` sends the same N files on one association to each receiver in
turn (dicomnet's SCP saving with ``event.save()`` and with a plain write, DCMTK ``storescp``,
pynetdicom's SCP); each receiver writes every file to disk.
Part 2 (SCU): dicomnet's SCU, pynetdicom's SCU and DCMTK ``storescu`` each send the files on one
association to a DCMTK ``storescp``.

Every peer runs in its own process on 127.0.0.1. A run is timed wall-clock around the sending
process and only counts if the sender exits 0 and all N files arrived. The CPU time of the
measured side (receiver in part 1, sender in part 2) is recorded too: it is far less disturbed
by other load on the machine than wall-clock time. See README.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DCMTK_STORESCP,
    DCMTK_STORESCU,
    Result,
    children_cpu_seconds,
    clear_directory,
    count_files,
    dcmtk_env,
    free_port,
    generate_files,
    our_script,
    process_cpu_seconds,
    python_argv,
    read_port_line,
    running,
    wait_listening,
)


@dataclass(frozen=True)
class Peer:
    """A listening receiver: its port and process id."""

    port: int
    pid: int


# A receiver: starts writing into a directory (max PDU, log file) and yields its Peer.
Receiver = Callable[[Path, int, Path], AbstractContextManager[Peer]]


@contextmanager
def dicomnet_scp(
    out: Path, pdu: int, log: Path, mode: str, extra_env: dict[str, str] | None = None
) -> Iterator[Peer]:
    env = dict(os.environ)
    env.update(extra_env or {})
    with running(python_argv("scp-dicomnet", str(out), str(pdu), mode), env=env, log=log) as p:
        yield Peer(read_port_line(p), p.pid)


@contextmanager
def pynetdicom_scp(out: Path, pdu: int, log: Path) -> Iterator[Peer]:
    with running(python_argv("scp-pynetdicom", str(out), str(pdu)), log=log) as proc:
        yield Peer(read_port_line(proc), proc.pid)


@contextmanager
def dcmtk_scp(out: Path, pdu: int, log: Path) -> Iterator[Peer]:
    port = free_port()
    argv = [DCMTK_STORESCP, "-aet", "BENCHSCP", "-pdu", str(pdu), "-od", str(out), str(port)]
    with running(argv, env=dcmtk_env(), log=log) as proc:
        wait_listening(port, proc)
        yield Peer(port, proc.pid)


@contextmanager
def dicomnet_storescp_cli(
    out: Path, pdu: int, log: Path, script: Path | None = None, extra: tuple[str, ...] = ()
) -> Iterator[Peer]:
    """The storescp command itself: built-in storage handler, fsync'd atomic writes (unless
    ``extra`` says otherwise); ``script``: another installation's (--baseline-bin)."""
    port = free_port()
    argv = [
        str(script or our_script("storescp")),
        str(port),
        "--bind",
        "127.0.0.1",
        "-aet",
        "BENCHSCP",
        "-pdu",
        str(pdu),
        "-od",
        str(out),
        "-q",
        *extra,
    ]
    with running(argv, log=log, stdout_to_log=True) as proc:
        wait_listening(port, proc)
        yield Peer(port, proc.pid)


def storescu_argv(port: int, pdu: int, in_dir: Path) -> list[str]:
    """DCMTK storescu, the same options for every receiver: default uncompressed proposal."""
    return [
        DCMTK_STORESCU,
        "-aet",
        "BENCHSCU",
        "-aec",
        "BENCHSCP",
        "-pdu",
        str(pdu),
        "+sd",
        "127.0.0.1",
        str(port),
        str(in_dir),
    ]


@dataclass
class Run:
    """One sender run: wall seconds, exit code, stdout, the sender's CPU seconds."""

    seconds: float
    code: int
    stdout: str
    sender_cpu: float


def timed(argv: list[str], env: dict[str, str] | None, timeout: float, log: Path) -> Run:
    """Run the sender to its end, timing it."""
    with open(log, "ab") as err:
        cpu_before = children_cpu_seconds()
        started = time.perf_counter()
        proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=err, timeout=timeout)
        elapsed = time.perf_counter() - started
        cpu = children_cpu_seconds() - cpu_before
    return Run(elapsed, proc.returncode, proc.stdout.decode(errors="replace"), cpu)


def reported(stdout: str, key: str) -> float | None:
    """A ``KEY <value>`` line a Python peer printed (ELAPSED, CPU)."""
    for line in stdout.splitlines():
        if line.startswith(key + " "):
            return float(line.split()[1])
    return None


def record(result: Result, run: Run, cpu: float, out: Path, expected: int) -> str:
    """Add the run to ``result`` if it succeeded; a one-line summary of it either way."""
    arrived = count_files(out)
    if run.code != 0 or arrived != expected:
        error = f"exit {run.code}, {arrived}/{expected} files arrived"
        result.errors.append(error)
        return f"FAILED ({error})"
    result.seconds.append(run.seconds)
    result.cpu_seconds.append(cpu)
    inner = reported(run.stdout, "ELAPSED")
    if inner is not None:
        result.inner_seconds.append(inner)
    return (
        f"{run.seconds:.2f} s, {expected / run.seconds:.1f} files/s, "
        f"{cpu / expected * 1000:.2f} CPU ms/file"
    )


# --- the two parts -------------------------------------------------------------------------


def bench_receivers(args: argparse.Namespace, work: Path, in_dir: Path, size: int) -> list[Result]:
    receivers: list[tuple[str, Receiver]] = [
        ("dicomnet SCP (event.save)", lambda o, p, lg: dicomnet_scp(o, p, lg, "save")),
        ("dicomnet SCP (plain write)", lambda o, p, lg: dicomnet_scp(o, p, lg, "write")),
        ("dicomnet storescp (CLI, fsync)", dicomnet_storescp_cli),
        (
            "dicomnet storescp --fsync never",
            lambda o, p, lg: dicomnet_storescp_cli(o, p, lg, extra=("--fsync", "never")),
        ),
        ("DCMTK storescp", dcmtk_scp),
        ("pynetdicom SCP", pynetdicom_scp),
    ]
    if args.baseline_bin:
        baseline = args.baseline_bin / "storescp"
        receivers.append(
            ("baseline storescp (CLI)", lambda o, p, lg: dicomnet_storescp_cli(o, p, lg, baseline))
        )
    results = [Result(name, args.files, size) for name, _ in receivers]
    out = work / "out"
    for rep in range(args.repeat):
        for (name, start), result in zip(receivers, results, strict=True):
            clear_directory(out)
            log = work / f"scp-{rep}-{_slug(name)}.log"
            with start(out, args.pdu, log) as peer:
                cpu_before = process_cpu_seconds(peer.pid)
                run = timed(
                    storescu_argv(peer.port, args.pdu, in_dir), dcmtk_env(), args.timeout, log
                )
                cpu = process_cpu_seconds(peer.pid) - cpu_before
            summary = record(result, run, cpu, out, args.files)
            _progress(f"[scp {rep + 1}/{args.repeat}] {name}: {summary}")
    return results


def bench_senders(args: argparse.Namespace, work: Path, in_dir: Path, size: int) -> list[Result]:
    def ours(port: int) -> tuple[list[str], dict[str, str] | None]:
        return python_argv("scu-dicomnet", "127.0.0.1", str(port), str(args.pdu), str(in_dir)), None

    def pynetdicom(port: int) -> tuple[list[str], dict[str, str] | None]:
        argv = python_argv("scu-pynetdicom", "127.0.0.1", str(port), str(args.pdu), str(in_dir))
        return argv, None

    def dcmtk(port: int) -> tuple[list[str], dict[str, str] | None]:
        return storescu_argv(port, args.pdu, in_dir), dcmtk_env()

    def ours_cli(port: int, script: Path | None = None) -> tuple[list[str], dict[str, str] | None]:
        argv = [
            str(script or our_script("storescu")),
            "127.0.0.1",
            str(port),
            "-aec",
            "BENCHSCP",
            "-pdu",
            str(args.pdu),
            "-q",
            str(in_dir),
        ]
        return argv, None

    senders = [
        ("dicomnet SCU", ours),
        ("dicomnet storescu (CLI)", ours_cli),
        ("pynetdicom SCU", pynetdicom),
        ("DCMTK storescu", dcmtk),
    ]
    if args.baseline_bin:
        baseline = args.baseline_bin / "storescu"
        senders.append(("baseline storescu (CLI)", lambda port: ours_cli(port, baseline)))
    results = [Result(name, args.files, size) for name, _ in senders]
    out = work / "out"
    for rep in range(args.repeat):
        for (name, command), result in zip(senders, results, strict=True):
            clear_directory(out)
            log = work / f"scu-{rep}-{_slug(name)}.log"
            with dcmtk_scp(out, args.pdu, log) as peer:
                argv, env = command(peer.port)
                run = timed(argv, env, args.timeout, log)
            # The Python SCUs' own CPU count (start-up excluded); DCMTK's whole process.
            inner_cpu = reported(run.stdout, "CPU")
            cpu = inner_cpu if inner_cpu is not None else run.sender_cpu
            summary = record(result, run, cpu, out, args.files)
            _progress(f"[scu {rep + 1}/{args.repeat}] {name}: {summary}")
    return results


def bench_parallel(args: argparse.Namespace, work: Path, in_dir: Path, size: int) -> list[Result]:
    """Part 3: our storescu to our storescp (CLI, its defaults), one association against
    ``--associations N``."""
    counts = sorted({1, *args.associations})
    results = [Result(f"storescu --associations {n}", args.files, size) for n in counts]
    out = work / "out"
    for rep in range(args.repeat):
        for count, result in zip(counts, results, strict=True):
            clear_directory(out)
            log = work / f"par-{rep}-{count}.log"
            with dicomnet_storescp_cli(out, args.pdu, log) as peer:
                argv = [
                    str(our_script("storescu")),
                    "127.0.0.1",
                    str(peer.port),
                    "-aec",
                    "BENCHSCP",
                    "-pdu",
                    str(args.pdu),
                    "-q",
                    "--associations",
                    str(count),
                    str(in_dir),
                ]
                run = timed(argv, None, args.timeout, log)
            summary = record(result, run, run.sender_cpu, out, args.files)
            _progress(f"[par {rep + 1}/{args.repeat}] {result.name}: {summary}")
    return results


def bench_concurrent(args: argparse.Namespace, work: Path, in_dir: Path, size: int) -> list[Result]:
    """Part 4: ``--senders K`` DCMTK storescu processes at once, each sending its share of the
    files on its own association, to our storescp (each --fsync mode) and DCMTK storescp."""
    files = sorted(in_dir.iterdir())
    shares = [work / f"share{k}" for k in range(args.senders)]
    for k, share in enumerate(shares):
        share.mkdir(exist_ok=True)
        for path in files[k :: args.senders]:
            target = share / path.name
            if not target.exists():
                os.link(path, target)
    receivers: list[tuple[str, Receiver]] = [
        (
            f"storescp --fsync {mode}",
            lambda o, p, lg, mode=mode: dicomnet_storescp_cli(o, p, lg, extra=("--fsync", mode)),
        )
        for mode in ("always", "batch", "never")
    ]
    receivers.append(("DCMTK storescp", dcmtk_scp))
    results = [Result(name, args.files, size) for name, _ in receivers]
    out = args.concurrent_dir / "out" if args.concurrent_dir else work / "out"
    for rep in range(args.repeat):
        for (name, start), result in zip(receivers, results, strict=True):
            clear_directory(out)
            log = work / f"conc-{rep}-{_slug(name)}.log"
            with start(out, args.pdu, log) as peer:
                cpu_before = process_cpu_seconds(peer.pid)
                began = time.perf_counter()
                procs = [
                    subprocess.Popen(
                        storescu_argv(peer.port, args.pdu, share),
                        env=dcmtk_env(),
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                    for share in shares
                ]
                codes = [proc.wait(timeout=args.timeout) for proc in procs]
                elapsed = time.perf_counter() - began
                cpu = process_cpu_seconds(peer.pid) - cpu_before
            run = Run(elapsed, max(codes, key=abs), "", cpu)
            summary = record(result, run, cpu, out, args.files)
            _progress(f"[conc {rep + 1}/{args.repeat}] {name}: {summary}")
    return results


def profile_ours(args: argparse.Namespace, work: Path, in_dir: Path) -> None:
    """One extra (untimed) run of dicomnet's SCP under cProfile; print the top functions."""
    import pstats

    out = work / "out"
    clear_directory(out)
    stats_path = work / "dicomnet-scp.prof"
    log = work / "profile.log"
    env = {"DICOMNET_BENCH_PROFILE": str(stats_path)}
    with dicomnet_scp(out, args.pdu, log, args.profile, env) as peer:
        timed(storescu_argv(peer.port, args.pdu, in_dir), dcmtk_env(), args.timeout, log)
    # The SCP dumps the stats when the association closes, before it is stopped.
    if not stats_path.exists():
        print(f"no profile was written (see {log})")
        return
    print(f"\ncProfile of dicomnet's SCP association thread, mode {args.profile} ({stats_path}):")
    stats = pstats.Stats(str(stats_path))
    stats.sort_stats("tottime").print_stats(args.profile_top)


# --- output --------------------------------------------------------------------------------


def _slug(name: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def print_table(title: str, results: list[Result], cpu_of: str, inner: bool = False) -> None:
    print(f"\n{title}")
    header = (
        f"{'':28} {'files/s':>8} {'MB/s':>7} {'best f/s':>8} {'median s':>8} {'CPU ms/file':>11}"
    )
    if inner:
        header += f" {'in-proc f/s':>11}"
    print(header)
    for r in results:
        if not r.ok:
            print(f"{r.name:28} FAILED: {'; '.join(r.errors) or 'no run'}")
            continue
        cpu = r.cpu_ms_per_file
        row = (
            f"{r.name:28} {r.files_per_s:8.1f} {r.mb_per_s:7.1f} {r.best_files_per_s:8.1f} "
            f"{r.median:8.2f} {cpu if cpu is not None else float('nan'):11.2f}"
        )
        if inner:
            value = r.inner_files_per_s
            row += f" {value:11.1f}" if value is not None else f" {'-':>11}"
        if r.errors:
            row += f"  ({len(r.errors)} failed run(s): {r.errors[0]})"
        print(row)
    print(f"  (CPU ms/file: user + system time of the {cpu_of}, all threads, per file)")


def ratios(a: Result, b: Result) -> str:
    """a vs b: throughput ratio (files/s, higher is better) and CPU-efficiency ratio (b's CPU
    per file / a's, higher is better)."""
    if not (a.ok and b.ok):
        return "n/a (no successful run)"
    text = f"{a.files_per_s / b.files_per_s:5.2f}x the files/s"
    cpu_a, cpu_b = a.cpu_ms_per_file, b.cpu_ms_per_file
    if cpu_a and cpu_b:
        text += f", {cpu_b / cpu_a:5.2f}x the files per CPU second"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--files", type=int, default=500, help="number of files (default 500)")
    parser.add_argument("--size-kib", type=int, default=512, help="pixel data KiB (default 512)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per configuration (median)")
    parser.add_argument(
        "--pdu", type=int, default=16384, help="max PDU every peer advertises (default 16384)"
    )
    parser.add_argument("--workdir", type=Path, help="where files go (default: the temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory and logs")
    parser.add_argument("--skip-scp", action="store_true", help="skip part 1 (receivers)")
    parser.add_argument("--skip-scu", action="store_true", help="skip part 2 (senders)")
    parser.add_argument(
        "--profile",
        choices=("save", "write"),
        help="then profile dicomnet's SCP in this mode (cProfile, one extra untimed run)",
    )
    parser.add_argument("--profile-top", type=int, default=25, help="functions to list")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per sender run")
    parser.add_argument(
        "--associations",
        type=int,
        nargs="*",
        default=[2],
        help="part 3: storescu --associations N to our storescp (default 2; none to skip)",
    )
    parser.add_argument(
        "--senders",
        type=int,
        default=0,
        help="part 4: this many DCMTK storescu at once to each receiver (0: skip)",
    )
    parser.add_argument(
        "--concurrent-dir",
        type=Path,
        help="part 4's output directory (e.g. on a real disk, to see what fsync costs)",
    )
    parser.add_argument(
        "--baseline-bin",
        type=Path,
        help="a bin directory with another dicomnet's storescp/storescu, measured alongside",
    )
    args = parser.parse_args(argv)
    if not 4096 <= args.pdu <= 131072:
        parser.error("--pdu must be 4096..131072 (DCMTK's range)")
    if args.files < 1 or args.size_kib < 1 or args.repeat < 1:
        parser.error("--files, --size-kib and --repeat must be positive")
    for tool in (DCMTK_STORESCP, DCMTK_STORESCU):
        if not Path(tool).exists():
            parser.error(f"{tool} is missing (apt-get install dcmtk)")

    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="dicomnet-bench-", dir=args.workdir))
    try:
        in_dir = work / "in"
        _progress(f"generating {args.files} files of {args.size_kib} KiB pixel data in {in_dir}")
        size = generate_files(in_dir, args.files, args.size_kib)
        print(
            f"C-STORE benchmark: {args.files} CT files of ~{size} bytes (Explicit VR LE), "
            f"one association per run, max PDU {args.pdu} advertised by every peer, "
            f"median of {args.repeat} run(s), {os.cpu_count()} CPUs, work dir {work}"
        )
        if not args.skip_scp:
            scp = bench_receivers(args, work, in_dir, size)
            print_table("Receivers (sender: DCMTK storescu, TCP_NODELAY=1)", scp, "receiver")
            save, write, cli, never, dcmtk, pyn = scp[:6]
            print(f"  dicomnet (event.save)  / pynetdicom: {ratios(save, pyn)}")
            print(f"  dicomnet (event.save)  / DCMTK:      {ratios(save, dcmtk)}")
            print(f"  dicomnet (plain write) / pynetdicom: {ratios(write, pyn)}")
            print(f"  dicomnet (plain write) / DCMTK:      {ratios(write, dcmtk)}")
            print(f"  dicomnet storescp CLI  / pynetdicom: {ratios(cli, pyn)}")
            print(f"  dicomnet storescp CLI  / DCMTK:      {ratios(cli, dcmtk)}")
            print(f"  storescp --fsync never / DCMTK:      {ratios(never, dcmtk)}")
            if args.baseline_bin:
                print(f"  baseline storescp CLI  / DCMTK:      {ratios(scp[6], dcmtk)}")
                print(f"  dicomnet / baseline storescp CLI:    {ratios(cli, scp[6])}")
        if not args.skip_scu:
            scu = bench_senders(args, work, in_dir, size)
            title = "Senders (receiver: DCMTK storescp, TCP_NODELAY=1)"
            cpu_of = "sender (Python SCUs: association to release; DCMTK: whole process)"
            print_table(title, scu, cpu_of, inner=True)
            ours, ours_cli, pyn_scu, dcmtk_scu = scu[:4]
            print(f"  dicomnet SCU / pynetdicom SCU: {ratios(ours, pyn_scu)}")
            print(f"  dicomnet SCU / DCMTK storescu: {ratios(ours, dcmtk_scu)}")
            print(f"  dicomnet storescu CLI / DCMTK storescu: {ratios(ours_cli, dcmtk_scu)}")
            print(f"  dicomnet storescu CLI / pynetdicom SCU: {ratios(ours_cli, pyn_scu)}")
            if args.baseline_bin:
                print(f"  baseline storescu CLI / DCMTK storescu: {ratios(scu[4], dcmtk_scu)}")
                print(f"  dicomnet / baseline storescu CLI:       {ratios(ours_cli, scu[4])}")
            ours_in, pyn_in = ours.inner_files_per_s, pyn_scu.inner_files_per_s
            if ours_in and pyn_in:
                print(f"  in-proc f/s, dicomnet SCU / pynetdicom SCU: {ours_in / pyn_in:5.2f}x")
            print("  (files/s: wall-clock of the whole sender process, interpreter start-up")
            print("   included; in-proc f/s: association request to release, as the SCU timed it)")
        if args.associations:
            par = bench_parallel(args, work, in_dir, size)
            title = "Parallel associations (our storescu CLI -> our storescp CLI, fsync)"
            print_table(title, par, "sender (whole process)")
            for other in par[1:]:
                print(f"  {other.name} / one association: {ratios(other, par[0])}")
        if args.senders:
            conc = bench_concurrent(args, work, in_dir, size)
            where = args.concurrent_dir or work
            title = f"{args.senders} DCMTK storescu at once, each its share (output in {where})"
            print_table(title, conc, "receiver")
            for other in conc[:3]:
                print(f"  {other.name} / DCMTK: {ratios(other, conc[3])}")
        if args.profile:
            profile_ours(args, work, in_dir)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
