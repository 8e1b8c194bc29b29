"""Verification and Storage programs in pynetdicom's style, SCU and SCP, against DCMTK's
storescp, echoscu and storescu: the same output and files with either import."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.uid import CTImageStorage

from tests.compat.harness import FLAVOURS, run_program, serve
from tests.helpers import (
    ECHOSCU,
    STORESCU,
    DcmtkStorescp,
    dataset_bytes,
    free_port,
    run_dcmtk,
    sop_instance_of,
    transfer_syntax_of,
    write_ct_files,
)

pytestmark = pytest.mark.interop

StorescpFactory = Callable[..., DcmtkStorescp]


def test_verification_scu_against_dcmtk_storescp(
    dcmtk_storescp: StorescpFactory, tmp_path: Path
) -> None:
    peer = dcmtk_storescp()
    for flavour in FLAVOURS:
        outcome = run_program(
            "verification_scu", flavour, tmp_path / flavour, {"PEER_PORT": str(peer.port)}
        )
        assert outcome.returncode == 0, outcome.explain()
        assert outcome.lines == ["C-ECHO request status: 0x0000"], outcome.explain()


def test_verification_scu_without_a_peer(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    for flavour in FLAVOURS:
        outcome = run_program(
            "verification_scu", flavour, tmp_path / flavour, {"PEER_PORT": str(port)}
        )
        assert outcome.returncode == 0, outcome.explain()
        assert outcome.lines == ["Association rejected, aborted or never connected"], (
            outcome.explain()
        )


@pytest.mark.parametrize("program", ["storage_scu", "storage_scu_path"])
def test_storage_scu_against_dcmtk_storescp(
    program: str, dcmtk_storescp: StorescpFactory, tmp_path: Path
) -> None:
    """3 CT files (Explicit, Implicit, Explicit VR LE) sent as decoded data sets over an
    Implicit VR context, or by path over one context per transfer syntax: the same data sets
    arrive (by path: in their own transfer syntax, byte for byte)."""
    files = write_ct_files(tmp_path / "ct", 3)
    originals = {sop_instance_of(p): p for p in files}
    for flavour in FLAVOURS:
        peer = dcmtk_storescp(output_dir=tmp_path / f"received-{flavour}")
        env = {"PEER_PORT": str(peer.port), "FILES": os.pathsep.join(map(str, files))}
        outcome = run_program(program, flavour, tmp_path / flavour, env)
        assert outcome.returncode == 0, outcome.explain()
        assert outcome.lines == ["C-STORE request status: 0x0000"] * 3, outcome.explain()
        received = {sop_instance_of(p): p for p in peer.files()}
        assert sorted(received) == sorted(originals), peer.log()
        for uid, path in received.items():
            assert dcmread(path) == dcmread(originals[uid])
            if program == "storage_scu_path":
                assert transfer_syntax_of(path) == transfer_syntax_of(originals[uid])
                assert dataset_bytes(path) == dataset_bytes(originals[uid])


def test_verification_scp_with_dcmtk_echoscu(tmp_path: Path) -> None:
    for flavour in FLAVOURS:
        scp, port = serve("verification_scp", flavour, tmp_path / flavour)
        try:
            done = run_dcmtk(ECHOSCU, "-aet", "ECHOSCU", "-aec", "ECHOSCP", "127.0.0.1", str(port))
            assert done.returncode == 0, done.stdout + done.stderr
        finally:
            outcome = scp.stop()
        assert outcome.lines == ["C-ECHO from ECHOSCU message 1"], outcome.explain()


@pytest.mark.parametrize("program", ["storage_scp", "storage_scp_encoded", "storage_scp_context"])
def test_storage_scp_with_dcmtk_storescu(program: str, tmp_path: Path) -> None:
    """DCMTK storescu sends 3 CT files (Explicit and Implicit VR LE, as they are); each program
    keeps all 3. The encoded_dataset() one keeps the data set bytes exactly as sent."""
    files = write_ct_files(tmp_path / "ct", 3)
    originals = {sop_instance_of(p): p for p in files}
    for flavour in FLAVOURS:
        cwd = tmp_path / flavour
        scp, port = serve(program, flavour, cwd)
        try:
            done = run_dcmtk(STORESCU, "-aet", "STORESCU", "127.0.0.1", str(port), *files)
            assert done.returncode == 0, done.stdout + done.stderr
        finally:
            outcome = scp.stop()
        kept = cwd / "out" if program == "storage_scp_encoded" else cwd
        received = sorted(p for p in kept.iterdir() if p.is_file())
        assert sorted(p.name for p in received) == sorted(originals), outcome.explain()
        for path in received:
            assert sop_instance_of(path) == path.name
            # DCMTK storescu sends each file in its own transfer syntax (no conversion)
            assert transfer_syntax_of(path) == transfer_syntax_of(originals[path.name])
            if program == "storage_scp_encoded":
                assert dataset_bytes(path) == dataset_bytes(originals[path.name])
        if program == "storage_scp_context":
            assert outcome.lines == [f"context 1 {CTImageStorage}"] * 3, outcome.explain()
        if program == "storage_scp":
            assert sorted(outcome.lines) == sorted(
                f"stored {uid} from STORESCU" for uid in originals
            ), outcome.explain()
