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
