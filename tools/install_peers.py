"""Install the Python test peers (``tests/peers.txt``: pynetdicom) without their console scripts.

    python tools/install_peers.py            # into .peers/, importable from this venv
    python tools/install_peers.py --upgrade  # the newest versions tests/peers.txt allows

pynetdicom installs programs named ``storescu``, ``findscu``, ``storescp``, ... into the
environment's ``bin``; whichever package pip installed last would own those names. So the peers
go into ``.peers/`` (``pip install --target``, their scripts end up in ``.peers/bin``, on nobody's
PATH) and a ``dicomnet-test-peers.pth`` file in the venv's site-packages makes them importable,
in the tests' own process and in every subprocess they start. Their dependencies (pydicom) are
the venv's own: ``--no-deps``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / ".peers"
REQUIREMENTS = ROOT / "tests" / "peers.txt"
PTH_NAME = "dicomnet-test-peers.pth"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upgrade", action="store_true", help="newest allowed versions")
    args = parser.parse_args(argv)
    if sys.prefix == sys.base_prefix:
        print("install_peers: run this inside the project's venv", file=sys.stderr)
        return 2
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
    command += ["--target", str(TARGET), "-r", str(REQUIREMENTS)]
    if args.upgrade:
        command += ["--upgrade"]
    subprocess.run(command, check=True)
    pth = Path(sysconfig.get_paths()["purelib"]) / PTH_NAME
    pth.write_text(f"{TARGET}\n")
    print(f"install_peers: {REQUIREMENTS.name} -> {TARGET} (importable through {pth})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
