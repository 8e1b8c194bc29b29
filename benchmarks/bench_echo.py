"""echoscu cold start: one C-ECHO from a fresh process, dicomnet against DCMTK and pynetdicom.

    python benchmarks/bench_echo.py [--runs 30] [--importtime-runs 5] [--baseline-bin DIR]

Every configuration runs as a new process, timed wall-clock from spawn to exit, against one DCMTK
``/usr/bin/storescp`` (``TCP_NODELAY=1``) on a free port of 127.0.0.1:

- ``dicomnet echoscu``: our console script, by absolute path from ``sys.executable``'s directory
  (pynetdicom installs an ``echoscu`` script too; ours is recognised by ``--handler`` in its
  ``--help``);
- DCMTK ``/usr/bin/echoscu`` (``TCP_NODELAY=1`` too);
- pynetdicom's app, ``python -m pynetdicom echoscu``;
- interpreter baselines: ``python -c pass`` and ``python -c "import dicomnet.cli.app"``;
- ``<command> --help`` for each of our commands, ``dicomnet --help`` and ``dicomnet storescu
  --help`` (no peer needed; the issue's budget: 150 ms);
- with ``--baseline-bin DIR``: the same echo and ``--help`` runs of the console scripts in DIR
  (another installation of dicomnet, e.g. the main branch's venv), for before/after ratios in
  the same run.

Python runs use a bytecode cache (see ``python_env``); the warm-up round fills it.
Diagnostics: ``python -S`` (no ``site``: no ``.pth`` files, so none of the imports a ``.pth``
file in site-packages may do at every start-up; on the development machine one imports
``certifi``) and ``python -I`` (isolated; ``.pth`` files still run), for the bare interpreter and
for our echoscu (run with ``-S`` and the normal ``sys.path`` in ``PYTHONPATH``), and our echoscu
with ``PYTHONDONTWRITEBYTECODE=1`` (an editable checkout then compiles dicomnet at every start).

The CPU time (user + system) of each process is recorded too (median shown): it is far less
disturbed by other load on the machine than wall time. Runs are interleaved (one of each
configuration per round, after a warm-up round) so that drift in machine load hits all of them
alike. Each echo run must exit 0. The issue's budget: a local echo in <= 100 ms wall (median).

Then ``python -X importtime`` of our echoscu path (median over a few runs): the largest
contributors among dicomnet, typer, click, rich and pydicom, per-package totals, and the largest
modules overall.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DCMTK_STORESCP,
    dcmtk_env,
    free_port,
    our_script,
    running,
    wait_listening,
)

DCMTK_ECHOSCU = "/usr/bin/echoscu"
BUDGET_MS = 100.0
HELP_BUDGET_MS = 150.0
DCMTK_RATIO_GOAL = 2.5
COMMANDS = ("echoscu", "storescp", "storescu", "findscu", "getscu", "movescu", "qrscp")
#: What gets a ``--help`` run: each console script, the ``dicomnet`` umbrella and one of its
#: subcommands.
HELP_RUNS = (*((name,) for name in COMMANDS), ("dicomnet",), ("dicomnet", "storescu"))
PACKAGES = ("dicomnet", "typer", "click", "rich", "pydicom")
RUN_TIMEOUT_S = 60


@dataclass
class Config:
    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    echo: bool = True  # an echo (must exit 0 with a peer) or a bare interpreter baseline
    diagnostic: bool = False
    ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # user + system of the process
    errors: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.ms)

    @property
    def best(self) -> float:
        return min(self.ms)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpu_ms)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(config: Config) -> None:
    cpu_before = _children_cpu()
    began = time.perf_counter()
    try:
        result = subprocess.run(
            config.argv,
            env=config.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=RUN_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        config.errors.append(f"timed out after {RUN_TIMEOUT_S} s")
        return
    elapsed = (time.perf_counter() - began) * 1000.0
    cpu = (_children_cpu() - cpu_before) * 1000.0
    if result.returncode != 0:
        tail = result.stderr.decode(errors="replace").strip().splitlines()[-1:]
        config.errors.append(f"exit {result.returncode}: {' '.join(tail)}")
        return
    config.ms.append(elapsed)
    config.cpu_ms.append(cpu)


def python_env(pycache: Path) -> dict[str, str]:
    """The environment for the Python runs: bytecode cached (in a private directory).

    An installed package has its ``.pyc`` files; an editable checkout run with
    ``PYTHONDONTWRITEBYTECODE=1`` (as on the development machine) recompiles every dicomnet
    module at every start, which is not what users see. ``PYTHONPYCACHEPREFIX`` keeps the
    cache out of the source tree; the warm-up round fills it."""
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(pycache))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def configs(
    port: int, script: Path, env: dict[str, str], baseline: Path | None = None
) -> list[Config]:
    py = sys.executable
    peer = ["127.0.0.1", str(port)]
    # For `python -S`: the path the normal interpreter has (site-packages, the editable src).
    here = str(Path(__file__).resolve().parent)
    search_path = os.pathsep.join(p for p in sys.path if p and p != here)
    no_site_env = dict(env, PYTHONPATH=search_path)
    # As the inherited environment may run it: dicomnet's modules compiled at every start.
    no_pyc_env = {k: v for k, v in os.environ.items() if k != "PYTHONPYCACHEPREFIX"}
    no_pyc_env["PYTHONDONTWRITEBYTECODE"] = "1"
    run_ours = "from dicomnet.cli.app import echoscu_main; echoscu_main()"
    return [
        Config("python -c pass", [py, "-c", "pass"], env, echo=False),
        Config(
            "python -c 'import dicomnet.cli.app'",
            [py, "-c", "import dicomnet.cli.app"],
            env,
            echo=False,
        ),
        Config("dicomnet echoscu", [str(script), *peer], env),
        Config("DCMTK echoscu", [DCMTK_ECHOSCU, *peer], dcmtk_env()),
        Config("pynetdicom echoscu", [py, "-m", "pynetdicom", "echoscu", *peer], env),
        Config("python -S -c pass", [py, "-S", "-c", "pass"], env, echo=False, diagnostic=True),
        Config("python -I -c pass", [py, "-I", "-c", "pass"], env, echo=False, diagnostic=True),
        Config(
            "dicomnet echoscu under python -S",
            [py, "-S", "-c", run_ours, *peer],
            no_site_env,
            diagnostic=True,
        ),
        Config(
            "dicomnet echoscu, no .pyc for src/",
            [str(script), *peer],
            no_pyc_env,
            diagnostic=True,
        ),
        *help_configs(script.parent, env, ""),
        *(baseline_configs(baseline, peer, env) if baseline else []),
    ]


def help_configs(bin_dir: Path, env: dict[str, str], prefix: str) -> list[Config]:
    return [
        Config(
            f"{prefix}{_help_name(run)}",
            [str(bin_dir / run[0]), *run[1:], "--help"],
            env,
            echo=False,
        )
        for run in HELP_RUNS
    ]


def _help_name(run: tuple[str, ...]) -> str:
    return " ".join(run) + " --help"


def baseline_configs(bin_dir: Path, peer: list[str], env: dict[str, str]) -> list[Config]:
    script = bin_dir / "echoscu"
    if not script.is_file():
        raise SystemExit(f"{script} not found")
    return [
        Config("baseline: dicomnet echoscu", [str(script), *peer], env),
        *help_configs(bin_dir, env, "baseline: "),
    ]


def table(results: list[Config]) -> None:
    by_name = {c.name: c for c in results if c.ms}
    dcmtk = by_name.get("DCMTK echoscu")
    bare = by_name.get("python -c pass")
    print(
        f"{'configuration':38} {'median ms':>10} {'min ms':>8} {'cpu ms':>7} "
        f"{'x DCMTK':>8} {'- python':>9}"
    )
    for config in results:
        if not config.ms:
            print(f"{config.name:38} {'failed':>10}  {config.errors[:1]}")
            continue
        ratio = f"{config.median / dcmtk.median:.1f}" if dcmtk else "-"
        over = f"{config.median - bare.median:+.1f}" if bare and config is not bare else ""
        mark = " (diagnostic)" if config.diagnostic else ""
        print(
            f"{config.name:38} {config.median:10.1f} {config.best:8.1f} {config.cpu:7.1f} "
            f"{ratio:>8} {over:>9}{mark}"
        )
        if config.errors:
            print(f"{'':38} {len(config.errors)} failed run(s): {config.errors[0]}")
    ours = by_name.get("dicomnet echoscu")
    pynetdicom = by_name.get("pynetdicom echoscu")
    for prefix in ("baseline: ", ""):
        echo = by_name.get(f"{prefix}dicomnet echoscu")
        names = [f"{prefix}{_help_name(run)}" for run in HELP_RUNS]
        helps = [by_name[name] for name in names if name in by_name]
        who = prefix or "this tree: "
        if echo and dcmtk:
            ratio = echo.median / dcmtk.median
            cpu = echo.cpu / dcmtk.cpu
            verdict = "met" if ratio <= DCMTK_RATIO_GOAL else "NOT met"
            print(
                f"{who}echoscu / DCMTK echoscu: {ratio:.2f}x wall, {cpu:.2f}x CPU "
                f"(goal <= {DCMTK_RATIO_GOAL}x: {verdict})"
            )
        if helps:
            worst = max(helps, key=lambda c: c.median)
            verdict = "met" if worst.median <= HELP_BUDGET_MS else "NOT met"
            print(
                f"{who}slowest --help: {worst.name} {worst.median:.1f} ms median, "
                f"{worst.cpu:.1f} ms CPU (goal <= {HELP_BUDGET_MS:.0f} ms: {verdict})"
            )
    base = by_name.get("baseline: dicomnet echoscu")
    if base and ours:
        print(f"baseline / this tree, echoscu: {base.median / ours.median:.2f}x")
    if ours:
        verdict = "within" if ours.median <= BUDGET_MS else "OVER"
        print(
            f"\ndicomnet echoscu median {ours.median:.1f} ms: "
            f"{verdict} the {BUDGET_MS:.0f} ms budget"
        )
        print(
            f"its CPU time (user + system, median) is {ours.cpu:.1f} ms: about the wall time "
            "it would take on an idle machine"
        )
        if pynetdicom:
            print(f"pynetdicom echoscu / dicomnet echoscu: {pynetdicom.median / ours.median:.2f}x")
        if bare:
            print(
                f"interpreter start (python -c pass) is {bare.median:.1f} ms of it; "
                f"dicomnet's own imports and work: {ours.median - bare.median:.1f} ms"
            )
        no_site = by_name.get("dicomnet echoscu under python -S")
        bare_s = by_name.get("python -S -c pass")
        if no_site and bare_s and bare:
            print(
                f"without site/.pth processing: python -S -c pass {bare_s.median:.1f} ms "
                f"(site + .pth files cost {bare.median - bare_s.median:.1f} ms), "
                f"echoscu {no_site.median:.1f} ms"
            )


IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


def importtime(script: Path, port: int, runs: int, env: dict[str, str]) -> None:
    self_us: dict[str, list[int]] = defaultdict(list)
    cum_us: dict[str, list[int]] = defaultdict(list)
    depth: dict[str, int] = {}
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", str(script), "127.0.0.1", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
        )
        if result.returncode != 0:
            print(f"importtime run failed: exit {result.returncode}: {result.stderr[-300:]}")
            return
        for line in result.stderr.splitlines():
            match = IMPORT_LINE.match(line)
            if match:
                name = match.group(4)
                self_us[name].append(int(match.group(1)))
                cum_us[name].append(int(match.group(2)))
                depth[name] = len(match.group(3)) // 2
    med_self = {n: statistics.median(v) for n, v in self_us.items()}
    med_cum = {n: statistics.median(v) for n, v in cum_us.items()}
    total = sum(med_self.values()) / 1000.0

    def root(name: str) -> str:
        return name.split(".")[0]

    print(
        f"\npython -X importtime of our echoscu (median of {runs} runs): {total:.1f} ms of imports"
    )
    print("per package (sum of self times, ms):")
    for package in PACKAGES:
        modules = [n for n in med_self if root(n) == package]
        ms = sum(med_self[n] for n in modules) / 1000.0
        state = f"{ms:6.1f} ms in {len(modules)} modules" if modules else "  not imported"
        print(f"  {package:10} {state}")
    others = sum(v for n, v in med_self.items() if root(n) not in PACKAGES) / 1000.0
    print(f"  {'(other)':10} {others:6.1f} ms")
    ours = [n for n in med_cum if root(n) in PACKAGES]
    print("top contributors among " + ", ".join(PACKAGES) + " (cumulative ms / self ms):")
    for name in sorted(ours, key=lambda n: -med_cum[n])[:15]:
        print(f"  {med_cum[name] / 1000:6.1f} {med_self[name] / 1000:6.1f}  {name}")
    print("largest modules overall by self time (ms):")
    for name in sorted(med_self, key=lambda n: -med_self[n])[:10]:
        print(f"  {med_self[name] / 1000:6.1f}  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=30, help="measured runs per configuration")
    parser.add_argument("--importtime-runs", type=int, default=5)
    parser.add_argument(
        "--baseline-bin",
        type=Path,
        help="a bin directory with another dicomnet's console scripts, measured alongside",
    )
    args = parser.parse_args()
    for tool in (DCMTK_STORESCP, DCMTK_ECHOSCU):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found (apt-get install dcmtk)")
    script = our_script("echoscu")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-echo-") as tmp:
        env = python_env(Path(tmp) / "pycache")
        argv = [DCMTK_STORESCP, "-od", tmp, str(port)]
        with running(argv, env=dcmtk_env()) as scp:
            wait_listening(port, scp)
            results = configs(port, script, env, args.baseline_bin)
            load_before = os.getloadavg()
            print(
                f"{sys.version.split()[0]} at {sys.executable}; our echoscu: {script}; "
                f"peer: DCMTK storescp on 127.0.0.1:{port}; {args.runs} runs each, interleaved\n"
            )
            for round_no in range(args.runs + 1):  # round 0 warms the caches, not counted
                for config in results:
                    run_once(config)
                    if round_no == 0:
                        config.ms.clear()
                        config.cpu_ms.clear()
            load = os.getloadavg()
            table(results)
            print(
                f"load average before/after: {load_before[0]:.2f} / {load[0]:.2f} "
                f"on {os.cpu_count()} CPUs (other work on the machine inflates the medians; "
                "the minimum is the steadier figure)"
            )
            importtime(script, port, args.importtime_runs, env)
    return 0 if all(c.ms and not c.errors for c in results) else 1


if __name__ == "__main__":
    sys.exit(main())
