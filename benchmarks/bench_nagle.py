"""A sender that keeps Nagle on: Debian's DCMTK ``storescu`` without ``TCP_NODELAY=1``.

    python benchmarks/bench_nagle.py [--files 20] [--size-kib 64] [--repeat 5]

The same N files go, one association each run, from DCMTK ``storescu`` with Nagle on (its
Debian default; many modalities behave the same) to our ``storescp`` CLI and to DCMTK's
``storescp`` (which has TCP_NODELAY on: only the sender differs). Runs are interleaved; the
median wall-clock time of the sending process is reported, with the ratio DCMTK / dicomnet.

Part 2 does the same for query/retrieve, in both roles, with small studies served by our
``qrscp`` and DCMTK's ``dcmqrscp`` (see bench_qr.py):

- *requestor with Nagle on*: DCMTK ``findscu``/``getscu``/``movescu`` without ``TCP_NODELAY``
  against our ``qrscp`` and against ``dcmqrscp`` (which has it: only the requestor differs);
  ratio: time against dcmqrscp / time against ours.
- *server with Nagle on*: ``dcmqrscp`` without ``TCP_NODELAY`` answering our
  ``findscu``/``getscu`` and DCMTK's (Debian's default, Nagle on, as such a site has it);
  ratio: DCMTK's time / ours. Our tools' start-up (~0.1-0.3 s) is in their time.

Why it differs: a Nagle sender holds each small segment (the C-STORE command PDU, the last bit
of a data set, a C-STORE response) until the previous one is ACKed, and a receiver's delayed
ACK answers up to ~40 ms later. Our side re-arms TCP_QUICKACK after every read (Linux), in
both roles, so it ACKs at once.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_qr
from _common import (
    DCMTK_STORESCP,
    DCMTK_STORESCU,
    clear_directory,
    count_files,
    dcmtk_env,
    free_port,
    generate_files,
    our_script,
    running,
    wait_listening,
)


def nagle_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("TCP_NODELAY", None)  # Debian's DCMTK: Nagle stays on
    return env


def send_once(port: int, files: list[Path], timeout: float) -> float:
    argv = [DCMTK_STORESCU, "-aec", "ANY", "127.0.0.1", str(port), *map(str, files)]
    began = time.perf_counter()
    done = subprocess.run(argv, env=nagle_env(), capture_output=True, timeout=timeout)
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"storescu failed: {done.stderr.decode(errors='replace')[-500:]}")
    return elapsed


def timed_run(
    argv: list[str],
    env: dict[str, str] | None,
    count: Callable[[str, str], int],
    expected: int,
    timeout: float,
) -> float:
    """Seconds one tool run took; RuntimeError unless it exits 0 with everything expected."""
    began = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    elapsed = time.perf_counter() - began
    got = count(done.stdout, done.stderr)
    if done.returncode != 0 or got != expected:
        raise RuntimeError(
            f"{argv[0]}: exit {done.returncode}, {got}/{expected}: {done.stderr[-500:]}"
        )
    return elapsed


def qr_part(args: argparse.Namespace, work: Path) -> None:
    """Part 2: DCMTK's Q/R tools with Nagle on as requestors, and dcmqrscp with Nagle on as
    the server of our tools and DCMTK's."""
    data_dir = work / "qr-data"
    sizes = argparse.Namespace(matches=args.qr_matches, instances=args.qr_instances, size_kib=4)
    data = bench_qr.make_data(data_dir, sizes)
    out = work / "qr-out"
    move_port = free_port()
    py_env = bench_qr.python_env(work / "pycache")
    ops = [("C-FIND", "findscu", data.matches), ("C-GET", "getscu", data.instances)]
    ops.append(("C-MOVE", "movescu", data.instances))

    def commands(port: int, tool: str) -> dict[str, bench_qr.Command]:
        if tool == "findscu":
            return bench_qr.find_commands(data, port, False, py_env, None)
        return bench_qr.retrieve_commands(tool, data, port, move_port, out, False, py_env, None)

    def median_of(command: bench_qr.Command, env: dict[str, str] | None, expected: int) -> float:
        argv, _env, directory, count = command
        times = []
        for _ in range(args.repeat):
            if directory is not None:
                clear_directory(directory)
            times.append(timed_run(argv, env, count, expected, args.timeout))
        return statistics.median(times)

    with contextlib.ExitStack() as stack:
        ours = stack.enter_context(bench_qr.our_qrscp(data_dir, work, move_port))
        fast = stack.enter_context(bench_qr.dcmtk_qrscp(data_dir, work, move_port))
        slow = stack.enter_context(bench_qr.dcmtk_qrscp(data_dir, work, move_port, nagle_env()))
        # untimed warm-up: byte-code cache and page cache
        for _label, tool, expected in ops:
            command = commands(ours.port, tool)[f"dicomnet {tool}"]
            median_of(command, command[1], expected)
        print(
            f"\nQ/R, DCMTK's requestor with Nagle on: {data.matches} C-FIND matches, "
            f"{data.instances} x 4 KiB retrieved, median of {args.repeat}"
        )
        print("| DCMTK requestor | to our qrscp, s | to dcmqrscp, s | ratio | same, Nagle off |")
        print("|---|---|---|---|---|")
        for label, tool, expected in ops:
            times = {}
            for env_name, env in (("on", nagle_env()), ("off", dcmtk_env())):
                for server in (ours, fast):
                    command = commands(server.port, tool)[f"DCMTK {tool}"]
                    times[env_name, server.name] = median_of(command, env, expected)
            on_ours, on_dcmtk = times["on", ours.name], times["on", fast.name]
            ratio_off = times["off", fast.name] / times["off", ours.name]
            print(
                f"| {label} `{tool}`, Nagle on | {on_ours:.3f} | {on_dcmtk:.3f} | "
                f"{on_dcmtk / on_ours:.2f}x | {times['off', ours.name]:.3f} / "
                f"{times['off', fast.name]:.3f} s: {ratio_off:.2f}x |"
            )
            print(
                f"{label} requestor with Nagle on, dcmqrscp / dicomnet qrscp: "
                f"{on_dcmtk / on_ours:.2f}x (with Nagle off: {ratio_off:.2f}x)"
            )
        print(f"\nQ/R, dcmqrscp with Nagle on serving each requestor, median of {args.repeat}")
        print("| operation | our tool, s | DCMTK tool (Nagle on), s | ratio |\n|---|---|---|---|")
        for label, tool, expected in ops[:2]:  # C-MOVE's sub-operations go to the destination
            both = commands(slow.port, tool)
            ours_s = median_of(both[f"dicomnet {tool}"], py_env, expected)
            dcmtk_s = median_of(both[f"DCMTK {tool}"], nagle_env(), expected)
            print(f"| {label} `{tool}` | {ours_s:.3f} | {dcmtk_s:.3f} | {dcmtk_s / ours_s:.2f}x |")
            print(
                f"{label} from a server with Nagle on, DCMTK {tool} / dicomnet {tool}: "
                f"{dcmtk_s / ours_s:.2f}x"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--size-kib", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--qr-matches", type=int, default=200, help="part 2: C-FIND matches")
    parser.add_argument("--qr-instances", type=int, default=50, help="part 2: files retrieved")
    parser.add_argument("--skip-qr", action="store_true", help="skip part 2 (query/retrieve)")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="where files go (default /dev/shm where it exists: on a disk our receivers' "
        "fsyncs, which DCMTK's do not do, would be in the comparison)",
    )
    args = parser.parse_args(argv)
    if args.workdir is None and Path("/dev/shm").is_dir():
        args.workdir = Path("/dev/shm")

    with tempfile.TemporaryDirectory(prefix="dicomnet-nagle-", dir=args.workdir) as tmp:
        work = Path(tmp)
        files_dir = work / "files"
        generate_files(files_dir, args.files, args.size_kib)
        files = sorted(files_dir.iterdir())
        ours_out, dcmtk_out = work / "ours", work / "dcmtk"
        ours_out.mkdir()
        dcmtk_out.mkdir()
        ours_port, dcmtk_port = free_port(), free_port()
        ours = [str(our_script("storescp")), str(ours_port), "--bind", "127.0.0.1"]
        ours += ["-od", str(ours_out), "-q"]
        dcmtk = [DCMTK_STORESCP, "-od", str(dcmtk_out), str(dcmtk_port)]
        times: dict[str, list[float]] = {"dicomnet storescp": [], "DCMTK storescp": []}
        with (
            running(ours, stdout_to_log=True) as p_ours,
            running(dcmtk, env=dcmtk_env()) as p_dcmtk,
        ):
            wait_listening(ours_port, p_ours)
            wait_listening(dcmtk_port, p_dcmtk)
            for _ in range(args.repeat):
                for name, port, out in (
                    ("dicomnet storescp", ours_port, ours_out),
                    ("DCMTK storescp", dcmtk_port, dcmtk_out),
                ):
                    clear_directory(out)
                    times[name].append(send_once(port, files, args.timeout))
                    if count_files(out) != len(files):
                        raise RuntimeError(f"{name}: {count_files(out)} of {len(files)} files")
    print(
        f"DCMTK storescu with Nagle on, {args.files} x {args.size_kib} KiB, one association, "
        f"median of {args.repeat}"
    )
    print("| receiver | median s | ms per file |\n|---|---|---|")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        print(f"| {name} | {median:.3f} | {median * 1000 / args.files:.1f} |")
    ratio = medians["DCMTK storescp"] / medians["dicomnet storescp"]
    print(f"DCMTK storescp / dicomnet storescp: {ratio:.2f}x (goal >= 5x)")
    if not args.skip_qr:
        with tempfile.TemporaryDirectory(prefix="dicomnet-nagle-qr-", dir=args.workdir) as tmp:
            qr_part(args, Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
