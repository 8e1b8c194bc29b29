"""Basic Worklist programs in pynetdicom's style against DCMTK's wlmscpfs and findscu -W: the
same matches with ``from pynetdicom`` and with ``from dicomnet``."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom import dcmread

from tests.compat.conftest import WORKLIST, WORKLIST_AET
from tests.compat.harness import FLAVOURS, run_program, serve
from tests.helpers import run_dcmtk

pytestmark = pytest.mark.interop

FINDSCU = "/usr/bin/findscu"


def test_worklist_scu_against_dcmtk_wlmscpfs(wlmscpfs: int, tmp_path: Path) -> None:
    ct = sorted(f"  {acc} {name} CT" for acc, modality, name, _id in WORKLIST if modality == "CT")
    outputs = {}
    for flavour in FLAVOURS:
        env = {"PEER_PORT": str(wlmscpfs), "PEER_AET": WORKLIST_AET}
        outcome = run_program("worklist_scu", flavour, tmp_path / flavour, env)
        assert outcome.returncode == 0, outcome.explain()
        lines = outcome.lines
        assert lines[-1] == "C-FIND query status: 0x0000", outcome.explain()
        assert set(lines[:-1:2]) == {"C-FIND query status: 0xff00"}, outcome.explain()
        assert sorted(lines[1:-1:2]) == ct, outcome.explain()
        outputs[flavour] = lines
    assert outputs["dicomnet"] == outputs["pynetdicom"]


def test_worklist_scp_with_dcmtk_findscu(worklist_dir: Path, tmp_path: Path) -> None:
    env = {"WORKLIST": str(worklist_dir / WORKLIST_AET)}
    ct = sorted(acc for acc, modality, _name, _id in WORKLIST if modality == "CT")
    for flavour in FLAVOURS:
        scp, port = serve("worklist_scp", flavour, tmp_path / flavour, env)
        answers = tmp_path / f"answers-{flavour}"
        answers.mkdir()
        try:
            done = run_dcmtk(
                FINDSCU, "-W", "-X", "-od", answers, "-aec", "WORKLIST",
                "-k", "ScheduledProcedureStepSequence[0].Modality=CT",
                "-k", "PatientName=", "-k", "AccessionNumber=",
                "127.0.0.1", str(port),
            )  # fmt: skip
            assert done.returncode == 0, done.stdout + done.stderr
        finally:
            outcome = scp.stop()
        found = sorted(str(dcmread(p).AccessionNumber) for p in answers.iterdir())
        assert found == ct, outcome.explain()
