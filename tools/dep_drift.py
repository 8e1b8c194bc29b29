"""Report how the declared dependencies stand against what the package index offers now.

    python tools/dep_drift.py                        # in the venv (`.ci/run --upgrade`)
    python3 tools/dep_drift.py --lowest-constraints  # `name==lower` lines (`.ci/run --lowest`)

For every requirement in ``pyproject.toml`` (runtime, the ``test``, ``archive`` and ``codecs``
extras) and ``tests/peers.txt``: the bounds, the installed version, the newest release on the
index, and whether that release lies outside the bounds ("drift": upstream has moved on; test
the new version and widen the bound, or keep it out on purpose). Informational: the exit status is 0
unless a declared package is not installed or a bound is missing (then 1).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from pip._vendor.packaging.requirements import Requirement
from pip._vendor.packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def declared() -> list[Requirement]:
    """Every requirement the README's install makes: runtime, the test, archive and codecs
    extras, and the test peers."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    lines = [*project["dependencies"], *extras["test"], *extras["archive"], *extras["codecs"]]
    peers = (ROOT / "tests" / "peers.txt").read_text().splitlines()
    lines += [line for line in peers if line.strip() and not line.startswith("#")]
    return [Requirement(line) for line in lines]


def lowest_constraints() -> str:
    """A pip constraints file pinning every declared package to its lower bound."""
    out = []
    for req in declared():
        lows = [s.version for s in req.specifier if s.operator == ">="]
        out.append(f"{req.name}=={lows[0]}\n")
    return "".join(out)


def newest(name: str) -> Version | None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", name],
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Available versions: (.*)", result.stdout)
    if not found:
        return None
    versions = [Version(v.strip()) for v in found.group(1).split(",")]
    return max((v for v in versions if not v.is_prerelease), default=None)


def main(argv: list[str]) -> int:
    if argv == ["--lowest-constraints"]:
        sys.stdout.write(lowest_constraints())
        return 0
    problems = 0
    print(f"{'package':<12} {'bounds':<18} {'installed':<10} {'newest':<10} state")
    for req in declared():
        specs = {s.operator for s in req.specifier}
        if not ({">=", ">", "=="} & specs and {"<", "<=", "==", "~="} & specs):
            problems += 1
            state = "MISSING BOUND"
        else:
            state = ""
        try:
            installed = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            installed, state = "-", "NOT INSTALLED"
            problems += 1
        latest = newest(req.name)
        if not state:
            if latest is None:
                state = "index not reachable"
            elif req.specifier.contains(latest):
                state = "ok" if Version(installed) == latest else "ok (newer allowed)"
            else:
                state = "DRIFT: newest release is outside the bounds"
        print(f"{req.name:<12} {req.specifier!s:<18} {installed:<10} {latest!s:<10} {state}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
