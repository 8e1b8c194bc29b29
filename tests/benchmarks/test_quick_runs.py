"""Every benchmark runs once, in a quick mode, so that none of them rots.

Nothing here is timed or compared: performance is measured by running ``benchmarks/`` on a quiet
machine (see benchmarks/README.md). A benchmark passes when it runs to its end with exit 0 and
prints the ratio line it exists for.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

QUICK = {
    "bench_echo.py": (["--runs", "2", "--importtime-runs", "1"], "x DCMTK"),
    "bench_store.py": (["--files", "4", "--size-kib", "16"], "/ DCMTK"),
    "bench_nagle.py": (["--files", "3", "--size-kib", "16", "--repeat", "1"], "goal >= 5x"),
    "bench_validate.py": (["--files", "4", "--size-kib", "16", "--repeat", "1"], "%"),
    "bench_qrscp.py": (
        ["--instances", "200", "--files", "4", "--repeat", "1"],
        "matches",
    ),
}


def test_every_benchmark_has_a_quick_run() -> None:
    assert sorted(QUICK) == sorted(p.name for p in BENCHMARKS.glob("bench_*.py"))


@pytest.mark.slow
@pytest.mark.interop
@pytest.mark.parametrize("name", sorted(QUICK))
def test_benchmark_runs_in_quick_mode(name: str) -> None:
    args, says = QUICK[name]
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / name), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    assert says in done.stdout, done.stdout[-2000:]
