"""findscu, getscu and movescu start pydicom without its pixel packages (numpy, the codecs):
none of them touches pixel data unless the user's --handler does, and then they are there.

Each command runs as its console script does (its ``*_main`` entry point), in a process of its
own that reports at exit which modules it loaded."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dicomnet import AssociationServer, evt
from dicomnet.cli._pixels import PIXEL_PACKAGES
from tests.cli.conftest import CLI_TESTS_DIR, cli_env
from tests.cli.qr_support import UNTOUCHED, assert_same_files, files_under
from tests.conftest import ServerFactory
from tests.qr.archive import Archive, find_handler, get_handler, study_uid
from tests.qr.conftest import qr_scp_ae

pytestmark = pytest.mark.interop

# The report is a repr, read back with ast.literal_eval; modules refused by None are left out.
RUN_MAIN = """
import sys
from dicomnet.cli import app
sys.argv[0] = sys.argv.pop(1)  # the command's name, then its arguments
try:
    getattr(app, sys.argv[0] + "_main")()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
loaded = sorted(name for name, module in sys.modules.items() if module is not None)
print(repr((code, loaded)), file=sys.stderr)
"""


def run_main(command: str, *args: str | os.PathLike[str]) -> tuple[int, set[str], str]:
    """(exit code, the pixel packages it loaded, stdout) of ``command`` run as its script."""
    env = cli_env({"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
    done = subprocess.run(
        [sys.executable, "-S", "-c", RUN_MAIN, command, *(os.fspath(a) for a in args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=CLI_TESTS_DIR,
        check=False,
    )
    code, loaded = ast.literal_eval(done.stderr.strip().splitlines()[-1])
    assert "pydicom" in loaded, done.stderr  # it did use pydicom
    pixels = {name.split(".")[0] for name in loaded if name.split(".")[0] in PIXEL_PACKAGES}
    return code, pixels, done.stdout


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    return Archive.build(tmp_path / "archive")


@pytest.fixture
def qr_scp(dicomnet_server: ServerFactory, archive: Archive) -> Callable[[], AssociationServer]:
    def start() -> AssociationServer:
        handlers: list[tuple[Any, Any]] = [
            (evt.EVT_C_FIND, find_handler(archive)),
            (evt.EVT_C_GET, get_handler(archive)),
        ]
        return dicomnet_server(handlers, ae=qr_scp_ae())

    return start


def _port(server: AssociationServer) -> str:
    return str(server.server_address[1])


def test_findscu_answers_without_numpy(qr_scp: Callable[[], AssociationServer]) -> None:
    port = _port(qr_scp())
    code, pixels, stdout = run_main(
        "findscu", "127.0.0.1", port, "-aec", "QRSCP", "-k", "PatientID=PAT001"
    )
    assert code == 0, stdout
    assert study_uid(1) in stdout and study_uid(2) in stdout
    assert pixels == set()


def test_getscu_stores_byte_for_byte_without_numpy(
    qr_scp: Callable[[], AssociationServer], archive: Archive, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    study = f"StudyInstanceUID={study_uid(1)}"
    port = _port(qr_scp())
    code, pixels, stdout = run_main(
        "getscu", "127.0.0.1", port, "-aec", "QRSCP", "-od", out, "-k", study, *UNTOUCHED
    )
    assert code == 0, stdout
    expected = [i.path for i in archive.instances if str(i.header.StudyInstanceUID) == study_uid(1)]
    assert_same_files(files_under(out), expected)
    assert pixels == set()


def test_a_handler_still_gets_pixel_data(
    qr_scp: Callable[[], AssociationServer], tmp_path: Path
) -> None:
    """With --handler, user code runs: pydicom starts as usual and pixel_array works."""
    pytest.importorskip("numpy")
    out, shapes = tmp_path / "out", tmp_path / "shapes.txt"
    study = f"StudyInstanceUID={study_uid(1)}"
    handler = f"handler_mods.pixels:shape:{shapes}"
    port = _port(qr_scp())
    code, pixels, stdout = run_main(
        "getscu", "127.0.0.1", port, "-aec", "QRSCP", "-od", out, "-k", study, "--handler", handler
    )
    assert code == 0, stdout
    received = files_under(out)
    assert received and len(shapes.read_text().splitlines()) == len(received)
    assert "numpy" in pixels


def test_in_process_use_leaves_numpy_alone() -> None:
    """Only a console script's process is changed: here (a library user's) nothing is."""
    from dicomnet.cli._pixels import pydicom_without_pixels

    assert pydicom_without_pixels(user_code=False) is False
    assert all(sys.modules.get(name, 0) is not None for name in PIXEL_PACKAGES)
