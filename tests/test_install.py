"""The environment the README's setup command creates, as a new user gets it.

* The programs a user types are ours: every console script beside the interpreter is
  dicomnet's, and pynetdicom (a test peer with scripts of the same names) put none there.
* Every declared dependency has a lower and an upper bound.
* The README holds exactly the two commands, and ``.ci/run`` runs them from the file.
"""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
OURS = ("dicomnet", "echoscu", "storescp", "storescu", "findscu", "getscu", "movescu", "qrscp")
#: Every program pynetdicom's package would install (its ``project.scripts``).
PYNETDICOM_NAMES = ("echoscp", "findscu", "getscu", "movescu", "qrscp", "storescp", "storescu")


@pytest.mark.parametrize("name", OURS)
def test_the_program_on_the_venvs_path_is_ours(name: str) -> None:
    script = BIN / name
    assert script.is_file(), f"{script} is missing: was the README's install run?"
    assert "dicomnet" in script.read_text(errors="replace")
    done = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done
    assert "--handler" in done.stdout  # pynetdicom's and DCMTK's programs have no --handler


def test_the_dicomnet_front_end_reaches_ours() -> None:
    done = subprocess.run(
        [str(BIN / "dicomnet"), "storescu", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and "--handler" in done.stdout, done


def test_pynetdicom_is_importable_but_installed_no_programs() -> None:
    import pynetdicom

    location = Path(pynetdicom.__file__).resolve()
    assert not location.is_relative_to(Path(sysconfig.get_paths()["purelib"]).resolve()), (
        f"pynetdicom is installed into the venv ({location}): its scripts shadow ours; "
        "install it with tools/install_peers.py"
    )
    for name in PYNETDICOM_NAMES:
        script = BIN / name
        if script.is_file():
            assert "pynetdicom" not in script.read_text(errors="replace"), script


def requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    peers = (ROOT / "tests" / "peers.txt").read_text().splitlines()
    return [
        *project["dependencies"],
        *project["optional-dependencies"]["test"],
        *project["optional-dependencies"]["archive"],
        *(line for line in peers if line.strip() and not line.startswith("#")),
    ]


@pytest.mark.parametrize("requirement", requirements())
def test_every_dependency_has_both_bounds(requirement: str) -> None:
    assert re.fullmatch(r"[A-Za-z0-9_.-]+>=[0-9][^,]*,<[0-9].*", requirement), requirement


def test_the_installed_versions_lie_inside_the_bounds() -> None:
    from importlib import metadata

    def key(version: str) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", version)[:3])

    for requirement in requirements():
        found = re.fullmatch(r"([^>=<]+)>=([^,]+),<(.+)", requirement)
        assert found is not None, requirement
        name, low, high = found.groups()
        installed = metadata.version(name)
        assert key(low) <= key(installed) < key(high), (name, installed, requirement)


def readme_commands() -> dict[str, str]:
    done = {}
    for which in ("setup", "test"):
        result = subprocess.run(
            [sys.executable, str(ROOT / "tools" / "readme_commands.py"), which],
            capture_output=True,
            text=True,
            check=True,
        )
        done[which] = result.stdout.strip()
    return done


def test_the_readme_has_the_two_commands_ci_runs() -> None:
    commands = readme_commands()
    setup = commands["setup"]
    for step in (
        "apt-get update && apt-get install -y python3-venv dcmtk orthanc postgresql",
        "python3 -m venv .venv && . .venv/bin/activate",
        "pip install -e '.[test,archive,codecs]'",
        "python tools/install_peers.py",
        "dicomnet --help",
    ):
        assert step in setup, step
    assert setup.index("apt-get update") < setup.index("apt-get install")
    assert commands["test"] == "python -m pytest"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "tools/readme_commands.py setup" in ci
    assert "tools/readme_commands.py test" in ci
    assert 'eval "$tests"' in ci and 'eval "$setup"' in ci
