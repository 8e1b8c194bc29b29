"""Query/Retrieve SCU programs in pynetdicom's style against DCMTK's dcmqrscp: the same output
and the same files with ``from pynetdicom`` and with ``from dicomnet``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.qr_support import Dcmqrscp
from tests.compat.conftest import DCMQRSCP_AET, PATIENT_ID
from tests.compat.harness import FLAVOURS, run_program
from tests.helpers import sop_instance_of

pytestmark = pytest.mark.interop


def peer_env(archive: Dcmqrscp) -> dict[str, str]:
    return {"PEER_PORT": str(archive.port), "PEER_AET": DCMQRSCP_AET, "PATIENT_ID": PATIENT_ID}


def test_c_get_with_build_role_scp_role_only(
    archive: Dcmqrscp, archive_files: list[Path], tmp_path: Path
) -> None:
    """``build_role(CTImageStorage, scp_role=True)`` proposes SCP only (SCU=0), as
    pynetdicom's does: the CT context is ours as SCP only, and all 3 instances arrive."""
    wanted = sorted(sop_instance_of(p) for p in archive_files)
    outputs = {}
    for flavour in FLAVOURS:
        out = tmp_path / flavour
        outcome = run_program("qr_get_scu", flavour, out, peer_env(archive))
        assert outcome.returncode == 0, outcome.explain()
        assert outcome.lines[0] == "CT Image Storage roles: SCU False SCP True", outcome.explain()
        assert outcome.lines[-3:] == ["C-GET query status: 0x0000", "completed 3", "failed 0"], (
            outcome.explain()
        )
        assert sorted(p.name for p in out.iterdir()) == wanted, outcome.explain()
        assert sorted(sop_instance_of(p) for p in out.iterdir()) == wanted
        outputs[flavour] = outcome.lines
    assert outputs["dicomnet"] == outputs["pynetdicom"]


def test_c_find_patient_level_by_name_only(archive: Dcmqrscp, tmp_path: Path) -> None:
    """pynetdicom's example query has no PatientID at PATIENT level: it is sent as built (no
    client-side refusal) and the archive answers with the patient, then Success."""
    outputs = {}
    for flavour in FLAVOURS:
        outcome = run_program("qr_find_scu", flavour, tmp_path / flavour, peer_env(archive))
        assert outcome.returncode == 0, outcome.explain()
        lines = outcome.lines
        assert lines[-1] == "C-FIND query status: 0x0000", outcome.explain()
        pending = lines[:-1]
        assert pending and len(pending) % 2 == 0, outcome.explain()
        assert set(pending[0::2]) == {"C-FIND query status: 0xFF00"}
        assert set(pending[1::2]) == {"match: CITIZEN^Jan"}
        outputs[flavour] = lines
    assert outputs["dicomnet"] == outputs["pynetdicom"]


def test_c_move_to_its_own_storage_scp(
    archive: Dcmqrscp, archive_files: list[Path], tmp_path: Path
) -> None:
    """The program's AE is its own move destination (MOVEDEST, started with block=False):
    dcmqrscp sends the 3 instances there and ends with Success."""
    wanted = sorted(sop_instance_of(p) for p in archive_files)
    outputs = {}
    for flavour in FLAVOURS:
        out = tmp_path / flavour
        env = {**peer_env(archive), "MOVE_PORT": str(archive.move_port)}
        outcome = run_program("qr_move_scu", flavour, out, env)
        assert outcome.returncode == 0, outcome.explain()
        assert outcome.lines[-2:] == ["C-MOVE query status: 0x0000", "completed 3"], (
            outcome.explain()
        )
        assert sorted(p.name for p in out.iterdir()) == wanted, outcome.explain()
        outputs[flavour] = outcome.lines
    assert outputs["dicomnet"] == outputs["pynetdicom"]
