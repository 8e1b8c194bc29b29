"""Run one pynetdicom-style program twice: as written (``from pynetdicom ...``) and with only
its import lines changed to ``dicomnet``.

The programs live in ``programs/*.py.txt`` (text, not modules: they are user code in
pynetdicom's style, untyped, and are never imported by the tests). They read where their peer
is from the environment (``PEER_PORT``, ``PEER_AET``, ``PORT``, ...) and print what a user
would look at: statuses, counts, matches.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PROGRAMS = Path(__file__).resolve().parent / "programs"

#: Both ways of running a program: the peer library as written, and ours.
FLAVOURS = ("pynetdicom", "dicomnet")

#: Seconds a program may take before the test fails.
TIMEOUT = 30.0

_IMPORT = re.compile(r"^(\s*(?:from|import)\s+)pynetdicom\b")


def program_text(name: str, flavour: str) -> str:
    """The program ``name`` for ``flavour``: for dicomnet, ``pynetdicom`` becomes
    ``dicomnet`` in the import lines and nowhere else."""
    text = (PROGRAMS / f"{name}.py.txt").read_text(encoding="utf-8")
    if flavour == "pynetdicom":
        return text
    assert flavour == "dicomnet", flavour
    return "\n".join(_IMPORT.sub(r"\1dicomnet", line) for line in text.splitlines()) + "\n"


def changed_lines(name: str) -> list[tuple[str, str]]:
    """The (pynetdicom, dicomnet) lines that differ between the two flavours of a program."""
    ours = program_text(name, "dicomnet").splitlines()
    theirs = program_text(name, "pynetdicom").splitlines()
    assert len(ours) == len(theirs)
    return [(a, b) for a, b in zip(theirs, ours, strict=True) if a != b]


def program_env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class Outcome:
    """What one run of a program left behind."""

    flavour: str
    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    def explain(self) -> str:
        return (
            f"{self.flavour} exited {self.returncode}\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


def write_program(name: str, flavour: str, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}_{flavour}.py"
    path.write_text(program_text(name, flavour), encoding="utf-8")
    return path


def run_program(
    name: str,
    flavour: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> Outcome:
    """Run the program to its end in ``cwd`` (files it writes land there)."""
    script = write_program(name, flavour, cwd.parent / f"{cwd.name}-src")
    cwd.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=program_env(env or {}),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return Outcome(flavour, done.returncode, done.stdout, done.stderr)


class Background:
    """A program left running (an SCP): :meth:`stop` ends it and returns what it printed."""

    def __init__(self, name: str, flavour: str, cwd: Path, env: dict[str, str]) -> None:
        script = write_program(name, flavour, cwd.parent / f"{cwd.name}-src")
        cwd.mkdir(parents=True, exist_ok=True)
        self.flavour = flavour
        self._out = open(cwd.parent / f"{cwd.name}.stdout", "w+b")  # noqa: SIM115
        self._err = open(cwd.parent / f"{cwd.name}.stderr", "w+b")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, str(script)],
            stdout=self._out,
            stderr=self._err,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env=program_env(env),
        )

    def stop(self) -> Outcome:
        if self.process.poll() is None:
            self.process.kill()
        code = self.process.wait(10)
        texts = []
        for stream in (self._out, self._err):
            stream.seek(0)
            texts.append(stream.read().decode("utf-8", "replace"))
            stream.close()
        return Outcome(self.flavour, code, texts[0], texts[1])


def serve(
    name: str, flavour: str, cwd: Path, env: dict[str, str] | None = None
) -> tuple[Background, int]:
    """Start the SCP program ``name`` on a free port (``PORT``) and return once it listens."""
    from tests.helpers import free_port, wait_listening

    port = free_port()
    running = Background(name, flavour, cwd, {**(env or {}), "PORT": str(port)})
    try:
        wait_listening(running.process, "127.0.0.1", port, timeout=TIMEOUT)
    except (RuntimeError, TimeoutError) as exc:
        outcome = running.stop()
        raise AssertionError(f"{name} did not listen: {exc}\n{outcome.explain()}") from exc
    return running, port
