"""Every benchmark runs once, in a quick mode, so that none of them rots.

Nothing here is timed or compared: performance is measured by running ``benchmarks/`` on a quiet
machine (see benchmarks/README.md). A benchmark passes when it runs to its end with exit 0 and
prints the ratio line it exists for.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _run_all() -> object:
    spec = importlib.util.spec_from_file_location("run_all", BENCHMARKS / "run_all.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RUN_ALL = _run_all()
#: The quick arguments, one source: benchmarks/run_all.py (its --quick runs them too).
QUICK: dict[str, tuple[list[str], str]] = RUN_ALL.QUICK  # type: ignore[attr-defined]


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


@pytest.mark.slow
@pytest.mark.interop
def test_run_all_writes_a_markdown_table(tmp_path: Path) -> None:
    out = tmp_path / "results.md"
    done = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "run_all.py"),
            "--quick",
            "--only",
            "bench_echo.py",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    text = out.read_text()
    assert "| benchmark | exit | seconds | result |" in text
    rows = [line for line in text.splitlines() if line.startswith("| bench_echo.py | 0 |")]
    assert len(rows) == 1, text[:2000]
    assert "x DCMTK" in text and "## bench_echo.py (exit 0)" in text
