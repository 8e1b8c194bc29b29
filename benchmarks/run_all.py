"""Run every benchmark and write their ratios as one Markdown file.

    python benchmarks/run_all.py --out results.md            # full runs (many minutes)
    python benchmarks/run_all.py --quick --out results.md    # the CI-sized runs (a minute or two)
    python benchmarks/run_all.py --only bench_echo.py --only bench_store.py -- --workdir /dev/shm
    python benchmarks/run_all.py --baseline-bin ../main/.venv/bin --out before-after.md

Each ``bench_*.py`` runs as its own process, one after the other (never two at once: they would
measure each other). The Markdown file has a table of every line that states a ratio or a goal
(``x DCMTK``, ``/ DCMTK``, ``goal``, ...), one row per line, then each benchmark's whole output.
``--quick`` uses the arguments CI uses (``QUICK`` below, also read by
``tests/benchmarks/test_quick_runs.py``): they prove the benchmarks run, their numbers mean
little. Arguments after ``--`` go to every benchmark that accepts them (see each one's --help).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: Per benchmark: its quick arguments and a text its output must contain (its ratio line).
QUICK: dict[str, tuple[list[str], str]] = {
    "bench_echo.py": (["--runs", "2", "--importtime-runs", "1"], "x DCMTK"),
    "bench_store.py": (["--files", "4", "--size-kib", "16"], "/ DCMTK"),
    "bench_nagle.py": (
        [
            "--files",
            "3",
            "--size-kib",
            "16",
            "--repeat",
            "1",
            "--qr-matches",
            "5",
            "--qr-instances",
            "3",
        ],
        "requestor with Nagle on",
    ),
    "bench_validate.py": (["--files", "4", "--size-kib", "16", "--repeat", "1"], "%"),
    "bench_qrscp.py": (["--instances", "200", "--files", "4", "--repeat", "1"], "matches"),
    "bench_memory.py": (["--sizes-mib", "4", "16"], "goal <="),
    "bench_qr.py": (["--matches", "50", "--instances", "10", "--repeat", "1"], "x DCMTK"),
}

#: Benchmarks that take --baseline-bin (another installation measured alongside).
TAKES_BASELINE = ("bench_echo.py", "bench_store.py", "bench_qr.py")

#: A line worth a row in the summary table: a ratio, a goal, a verdict.
RATIO_LINE = re.compile(
    r"(\d\.\d+x\b|/ DCMTK|/ pynetdicom|\bgoal\b|budget|\bratio\b|/ one|\btarget\b)"
)


def run_one(name: str, args: list[str], timeout: float) -> tuple[int, str, float]:
    """Run one benchmark; (exit code, stdout then stderr's last lines, seconds)."""
    began = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, str(HERE / name), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {timeout:.0f} s", time.perf_counter() - began
    output = done.stdout
    if done.returncode != 0:
        output += "\n[stderr]\n" + "\n".join(done.stderr.splitlines()[-20:])
    return done.returncode, output, time.perf_counter() - began


def summary_rows(output: str) -> list[str]:
    rows = []
    for line in output.splitlines():
        text = line.strip()
        if text and RATIO_LINE.search(text):
            rows.append(text)
    return rows


def markdown(results: list[tuple[str, int, str, float]], quick: bool, argv: list[str]) -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    mode = "quick mode (CI-sized: the numbers mean little)" if quick else "full runs"
    lines = [
        "# dicomnet benchmarks",
        "",
        f"{now}; Python {platform.python_version()}; {os.cpu_count()} CPUs; load average "
        f"{load:.2f} at the end; {mode}; `{' '.join(['run_all.py', *argv])}`",
        "",
        "| benchmark | exit | seconds | result |",
        "|---|---|---|---|",
    ]
    for name, code, output, seconds in results:
        rows = summary_rows(output) or ["(no ratio line)"]
        for index, row in enumerate(rows):
            cells = (name, str(code), f"{seconds:.0f}") if index == 0 else ("", "", "")
            lines.append(f"| {' | '.join(cells)} | {_cell(row)} |")
    for name, code, output, _seconds in results:
        lines += ["", f"## {name} (exit {code})", "", "```text", output.rstrip(), "```"]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"


def main(argv: list[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in raw:
        at = raw.index("--")
        raw, passthrough = raw[:at], raw[at + 1 :]
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmark-results.md"))
    parser.add_argument("--quick", action="store_true", help="the CI-sized runs")
    parser.add_argument(
        "--only", action="append", choices=sorted(QUICK), help="run only these (repeatable)"
    )
    parser.add_argument(
        "--baseline-bin",
        type=Path,
        help="another installation's bin directory, for the benchmarks that compare with one",
    )
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per benchmark")
    args = parser.parse_args(raw)
    names = args.only or sorted(QUICK)
    results: list[tuple[str, int, str, float]] = []
    for name in names:
        bench_args = list(QUICK[name][0]) if args.quick else []
        if args.baseline_bin is not None and name in TAKES_BASELINE:
            bench_args += ["--baseline-bin", str(args.baseline_bin)]
        bench_args += passthrough
        print(f"running {name} {' '.join(bench_args)}", file=sys.stderr, flush=True)
        code, output, seconds = run_one(name, bench_args, args.timeout)
        print(f"  exit {code} in {seconds:.0f} s", file=sys.stderr, flush=True)
        results.append((name, code, output, seconds))
    args.out.write_text(markdown(results, args.quick, raw), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0 if all(code == 0 for _, code, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
