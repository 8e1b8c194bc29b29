"""A sender that keeps Nagle on: Debian's DCMTK ``storescu`` without ``TCP_NODELAY=1``.

    python benchmarks/bench_nagle.py [--files 20] [--size-kib 64] [--repeat 5]

The same N files go, one association each run, from DCMTK ``storescu`` with Nagle on (its
Debian default; many modalities behave the same) to our ``storescp`` CLI and to DCMTK's
``storescp`` (which has TCP_NODELAY on: only the sender differs). Runs are interleaved; the
median wall-clock time of the sending process is reported, with the ratio DCMTK / dicomnet.

Why it differs: a Nagle sender holds each small segment (the C-STORE command PDU, the last bit
of a data set) until the previous one is ACKed, and a receiver's delayed ACK answers up to
~40 ms later. Our receiver re-arms TCP_QUICKACK after every read (Linux), so it ACKs at once.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--size-kib", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="dicomnet-nagle-") as tmp:
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
