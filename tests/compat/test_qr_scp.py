"""Query/Retrieve SCP programs in pynetdicom's style, driven by DCMTK's findscu, getscu and
movescu: the same matches and files with ``from pynetdicom`` and with ``from dicomnet``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydicom import dcmread

from tests.compat.conftest import PATIENT_ID, PATIENT_NAME
from tests.compat.harness import FLAVOURS, serve
from tests.helpers import DcmtkStorescp, run_dcmtk, sop_instance_of

pytestmark = pytest.mark.interop

FINDSCU = "/usr/bin/findscu"
GETSCU = "/usr/bin/getscu"
MOVESCU = "/usr/bin/movescu"

StorescpFactory = Callable[..., DcmtkStorescp]


def files_in(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file()) if directory.exists() else []


def test_find_scp_with_dcmtk_findscu(archive_files: list[Path], tmp_path: Path) -> None:
    """One match per instance of CITIZEN^Jan (the example matches instances), as DCMTK
    findscu extracts them."""
    env = {"ARCHIVE": str(archive_files[0].parent)}
    for flavour in FLAVOURS:
        scp, port = serve("qr_find_scp", flavour, tmp_path / flavour, env)
        answers = tmp_path / f"answers-{flavour}"
        answers.mkdir()
        try:
            done = run_dcmtk(
                FINDSCU, "-P", "-X", "-od", answers,
                "-k", "QueryRetrieveLevel=PATIENT", "-k", f"PatientName={PATIENT_NAME}",
                "127.0.0.1", str(port),
            )  # fmt: skip
            assert done.returncode == 0, done.stdout + done.stderr
        finally:
            outcome = scp.stop()
        found = files_in(answers)
        assert len(found) == len(archive_files), outcome.explain()
        assert {str(dcmread(p).PatientName) for p in found} == {PATIENT_NAME}
        assert outcome.lines == [f"answered {len(archive_files)} matches"], outcome.explain()


def test_get_scp_with_dcmtk_getscu(archive_files: list[Path], tmp_path: Path) -> None:
    env = {"ARCHIVE": str(archive_files[0].parent)}
    wanted = sorted(sop_instance_of(p) for p in archive_files)
    for flavour in FLAVOURS:
        scp, port = serve("qr_get_scp", flavour, tmp_path / flavour, env)
        received = tmp_path / f"received-{flavour}"
        received.mkdir()
        try:
            done = run_dcmtk(
                GETSCU, "-P", "-od", received,
                "-k", "QueryRetrieveLevel=PATIENT", "-k", f"PatientID={PATIENT_ID}",
                "127.0.0.1", str(port),
            )  # fmt: skip
            assert done.returncode == 0, done.stdout + done.stderr
        finally:
            outcome = scp.stop()
        assert sorted(sop_instance_of(p) for p in files_in(received)) == wanted, outcome.explain()


def test_move_scp_with_dcmtk_movescu(
    archive_files: list[Path], dcmtk_storescp: StorescpFactory, tmp_path: Path
) -> None:
    wanted = sorted(sop_instance_of(p) for p in archive_files)
    for flavour in FLAVOURS:
        destination = dcmtk_storescp(output_dir=tmp_path / f"moved-{flavour}")
        env = {"ARCHIVE": str(archive_files[0].parent), "DEST_PORT": str(destination.port)}
        scp, port = serve("qr_move_scp", flavour, tmp_path / flavour, env)
        try:
            done = run_dcmtk(
                MOVESCU, "-P", "-aem", "STORESCP",
                "-k", "QueryRetrieveLevel=PATIENT", "-k", f"PatientID={PATIENT_ID}",
                "127.0.0.1", str(port),
            )  # fmt: skip
            assert done.returncode == 0, done.stdout + done.stderr
        finally:
            outcome = scp.stop()
        assert sorted(sop_instance_of(p) for p in destination.files()) == wanted, (
            outcome.explain() + destination.log()
        )


def test_move_chain_from_dcmtk_through_two_programs(
    archive_files: list[Path], tmp_path: Path
) -> None:
    """DCMTK movescu -> the Move SCP program -> the Storage SCP program (both with the same
    import): the instances end up as files written by the second program."""
    wanted = sorted(sop_instance_of(p) for p in archive_files)
    for flavour in FLAVOURS:
        store_dir = tmp_path / f"store-{flavour}"
        store, store_port = serve("storage_scp", flavour, store_dir)
        env = {"ARCHIVE": str(archive_files[0].parent), "DEST_PORT": str(store_port)}
        try:
            scp, port = serve("qr_move_scp", flavour, tmp_path / flavour, env)
            try:
                done = run_dcmtk(
                    MOVESCU, "-P", "-aem", "STORESCP",
                    "-k", "QueryRetrieveLevel=PATIENT", "-k", f"PatientID={PATIENT_ID}",
                    "127.0.0.1", str(port),
                )  # fmt: skip
                assert done.returncode == 0, done.stdout + done.stderr
            finally:
                moved = scp.stop()
        finally:
            stored = store.stop()
        assert sorted(p.name for p in files_in(store_dir)) == wanted, (
            moved.explain() + stored.explain()
        )
        assert len(stored.lines) == len(wanted), stored.explain()
