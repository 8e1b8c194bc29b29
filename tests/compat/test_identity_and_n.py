"""User identity and DIMSE-N programs in pynetdicom's style. The SCP with user identity is
driven by DCMTK storescu (-usr/-pwd); the SCU programs run against the SCP programs in every
combination of the two imports, so each side of ours meets pynetdicom's as well as its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.compat.harness import FLAVOURS, run_program, serve
from tests.helpers import STORESCU, run_dcmtk, sop_instance_of, write_ct_files

pytestmark = pytest.mark.interop


#: dicomnet's acceptor refuses a password over plain TCP unless told (README: "Coming from
#: pynetdicom"); the SCP program sets ``allow_plain_password`` when this is in its environment.
ALLOW = {"ALLOW_PLAIN_PASSWORD": "1"}


def test_user_identity_scp_with_dcmtk_storescu(tmp_path: Path) -> None:
    ct = write_ct_files(tmp_path / "ct", 1)
    uid = sop_instance_of(ct[0])
    for flavour in FLAVOURS:
        scp, port = serve("user_identity_scp", flavour, tmp_path / flavour, ALLOW)
        try:
            good = run_dcmtk(
                STORESCU, "-usr", "alice", "-pwd", "secret", "127.0.0.1", str(port), *ct
            )
            bad = run_dcmtk(STORESCU, "-usr", "alice", "-pwd", "guess", "127.0.0.1", str(port), *ct)
        finally:
            outcome = scp.stop()
        assert good.returncode == 0, good.stdout + good.stderr
        assert bad.returncode != 0 and "Association Rejected" in bad.stderr, bad.stderr
        assert outcome.lines == ["verified alice", f"stored {uid}", "refused alice"], (
            outcome.explain()
        )


def test_password_over_plain_tcp_is_refused_by_default(tmp_path: Path) -> None:
    """The deliberate difference: unchanged, pynetdicom's program hands the password to its
    handler; ours refuses the association before any handler sees the password."""
    ct = write_ct_files(tmp_path / "ct", 1)
    results = {}
    for flavour in FLAVOURS:
        scp, port = serve("user_identity_scp", flavour, tmp_path / flavour)
        try:
            done = run_dcmtk(
                STORESCU, "-usr", "alice", "-pwd", "secret", "127.0.0.1", str(port), *ct
            )
        finally:
            outcome = scp.stop()
        results[flavour] = (done.returncode == 0, outcome.lines)
    assert results["pynetdicom"] == (True, ["verified alice", f"stored {sop_instance_of(ct[0])}"])
    assert results["dicomnet"] == (False, [])


@pytest.mark.parametrize("scp_flavour", FLAVOURS)
def test_user_identity_scu(scp_flavour: str, tmp_path: Path) -> None:
    scp, port = serve("user_identity_scp", scp_flavour, tmp_path / f"scp-{scp_flavour}", ALLOW)
    try:
        for flavour in FLAVOURS:
            for password, expected in (
                ("secret", "C-ECHO request status: 0x0000"),
                ("guess", "Association rejected"),
            ):
                env = {"PEER_PORT": str(port), "PASSWORD": password}
                outcome = run_program(
                    "user_identity_scu", flavour, tmp_path / f"{flavour}-{password}", env
                )
                assert outcome.returncode == 0, outcome.explain()
                assert outcome.lines == [expected], outcome.explain()
    finally:
        served = scp.stop()
    assert served.lines == ["verified alice", "echo", "refused alice"] * 2, served.explain()


@pytest.mark.parametrize("scp_flavour", FLAVOURS)
def test_n_get(scp_flavour: str, tmp_path: Path) -> None:
    scp, port = serve("n_get_scp", scp_flavour, tmp_path / f"scp-{scp_flavour}")
    try:
        for flavour in FLAVOURS:
            env = {"PEER_PORT": str(port)}
            outcome = run_program("n_get_scu", flavour, tmp_path / flavour, env)
            assert outcome.returncode == 0, outcome.explain()
            assert outcome.lines == ["N-GET request status: 0x0000", "Example Displays EX-1"], (
                outcome.explain()
            )
    finally:
        served = scp.stop()
    line = "N-GET of 1.2.840.10008.5.1.1.40.1 for 2 attributes"
    assert served.lines == [line, line], served.explain()
