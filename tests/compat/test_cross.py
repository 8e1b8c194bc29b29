"""The SCU programs against the SCP programs, in every combination of the two imports: our
SCU with pynetdicom's SCP, pynetdicom's SCU with ours, and each with itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.compat.conftest import PATIENT_ID
from tests.compat.harness import FLAVOURS, run_program, serve
from tests.helpers import sop_instance_of

pytestmark = pytest.mark.interop


@pytest.mark.parametrize("scp_flavour", FLAVOURS)
def test_get_scu_against_get_scp(
    scp_flavour: str, archive_files: list[Path], tmp_path: Path
) -> None:
    wanted = sorted(sop_instance_of(p) for p in archive_files)
    archive = {"ARCHIVE": str(archive_files[0].parent)}
    scp, port = serve("qr_get_scp", scp_flavour, tmp_path / f"scp-{scp_flavour}", archive)
    outputs = {}
    try:
        for flavour in FLAVOURS:
            out = tmp_path / flavour
            env = {"PEER_PORT": str(port), "PEER_AET": "ANY-SCP", "PATIENT_ID": PATIENT_ID}
            outcome = run_program("qr_get_scu", flavour, out, env)
            assert outcome.returncode == 0, outcome.explain()
            assert outcome.lines[0] == "CT Image Storage roles: SCU False SCP True"
            assert outcome.lines[-3:] == [
                "C-GET query status: 0x0000",
                "completed 3",
                "failed 0",
            ], outcome.explain()
            assert sorted(p.name for p in out.iterdir()) == wanted
            outputs[flavour] = outcome.lines
    finally:
        scp.stop()
    assert outputs["dicomnet"] == outputs["pynetdicom"]


@pytest.mark.parametrize("scp_flavour", FLAVOURS)
def test_find_scu_against_find_scp(
    scp_flavour: str, archive_files: list[Path], tmp_path: Path
) -> None:
    archive = {"ARCHIVE": str(archive_files[0].parent)}
    scp, port = serve("qr_find_scp", scp_flavour, tmp_path / f"scp-{scp_flavour}", archive)
    outputs = {}
    try:
        for flavour in FLAVOURS:
            env = {"PEER_PORT": str(port), "PEER_AET": "ANY-SCP"}
            outcome = run_program("qr_find_scu", flavour, tmp_path / flavour, env)
            assert outcome.returncode == 0, outcome.explain()
            pending = ["C-FIND query status: 0xFF00", "match: CITIZEN^Jan"] * len(archive_files)
            assert outcome.lines == [*pending, "C-FIND query status: 0x0000"], outcome.explain()
            outputs[flavour] = outcome.lines
    finally:
        scp.stop()
    assert outputs["dicomnet"] == outputs["pynetdicom"]
