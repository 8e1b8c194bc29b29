"""User identity done right (issue 10, item 6), against our storescp as a user runs it.

* A password (or token) is never logged, at any level: ``-d`` used to print it in clear on
  stderr and in ``--log-file``.
* A username+password identity over plain TCP is refused unless ``--allow-plain-password``.
* A composed ``--handler EVT_USER_ID=module:function:args`` that refuses rejects the
  association (with extra arguments it used to be ignored and the association accepted).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dicomnet import AE
from dicomnet.sop_class import Verification
from dicomnet.ul.items import UserIdentityRQ
from dicomnet.ul.pdu import AssociateRJ
from tests.cli.conftest import Running, StorescpStarter

pytestmark = pytest.mark.interop

PASSWORD = b"Pa55-w0rd-NEVER-LOGGED"
TOKEN = b"eyJhbGciOiJIUzI1NiJ9.JWT-NEVER-LOGGED.sig"


def associate(scp: Running, identity: UserIdentityRQ) -> object:
    ae = AE("IDSCU")
    ae.acse_timeout = ae.dimse_timeout = 10
    ae.add_requested_context(Verification)
    assert scp.port is not None
    assoc = ae.associate("127.0.0.1", scp.port, ae_title="STORESCP", user_identity=identity)
    if assoc.is_established:
        assert assoc.send_c_echo().Status == 0x0000
        assoc.release()
    return assoc


def test_secrets_are_never_logged(our_storescp: StorescpStarter, tmp_path: Path) -> None:
    log = tmp_path / "scp.log"
    scp = our_storescp("-d", "--log-file", log, "--allow-plain-password")
    for identity in (
        UserIdentityRQ(2, True, b"alice", PASSWORD),
        UserIdentityRQ(5, False, TOKEN),
        UserIdentityRQ(3, False, b"KERBEROS-TICKET-NEVER-LOGGED"),
    ):
        assoc = associate(scp, identity)
        assert getattr(assoc, "is_released", False)
    scp.stop()
    logged = scp.stderr + log.read_text()
    assert "UserIdentityRQ" in logged  # the A-ASSOCIATE-RQ was summarised ...
    assert "bytes redacted" in logged
    assert "alice" in logged  # ... with the user name
    for secret in (PASSWORD, TOKEN, b"KERBEROS-TICKET-NEVER-LOGGED", b"NEVER-LOGGED"):
        assert secret.decode() not in logged


def test_password_over_plain_tcp_is_refused(our_storescp: StorescpStarter) -> None:
    scp = our_storescp()
    assoc = associate(scp, UserIdentityRQ(2, False, b"alice", PASSWORD))
    assert getattr(assoc, "rejection", None) == AssociateRJ(1, 2, 1)  # permanent, ACSE
    # a username alone carries no secret: accepted
    assert getattr(associate(scp, UserIdentityRQ(1, False, b"alice")), "is_released", False)
    scp.stop()
    assert "password was sent over plain TCP by 127.0.0.1" in scp.stderr
    assert PASSWORD.decode() not in scp.stderr


def test_allow_plain_password_accepts_it(our_storescp: StorescpStarter) -> None:
    scp = our_storescp("--allow-plain-password")
    assoc = associate(scp, UserIdentityRQ(2, False, b"alice", PASSWORD))
    assert getattr(assoc, "is_released", False)


@pytest.mark.parametrize("spec", ["handler_mods.identity:deny", "handler_mods.identity:deny:corp"])
def test_refusing_user_id_handler_rejects_with_or_without_args(
    our_storescp: StorescpStarter, spec: str
) -> None:
    scp = our_storescp("--allow-plain-password", "--handler", f"EVT_USER_ID={spec}")
    assoc = associate(scp, UserIdentityRQ(2, False, b"alice", PASSWORD))
    assert getattr(assoc, "is_rejected", False)
    assert getattr(assoc, "rejection", None) == AssociateRJ(1, 2, 1)


def test_accepting_user_id_handler_gets_its_args(our_storescp: StorescpStarter) -> None:
    scp = our_storescp(
        "--allow-plain-password", "--handler", "EVT_USER_ID=handler_mods.identity:allow:corp"
    )
    ae = AE("IDSCU")
    ae.add_requested_context(Verification)
    assert scp.port is not None
    assoc = ae.associate(
        "127.0.0.1",
        scp.port,
        ae_title="STORESCP",
        user_identity=UserIdentityRQ(2, True, b"alice", PASSWORD),
    )
    assert assoc.is_established
    ac = assoc.acceptor.primitive
    assoc.release()
    identity_ac = getattr(getattr(ac, "user_information", None), "user_identity_ac", None)
    assert identity_ac is not None and identity_ac.server_response == b"corp"


@pytest.mark.parametrize(
    "chain",
    [
        ["handler_mods.identity:allow:corp", "handler_mods.identity:deny"],
        ["handler_mods.identity:allow", "handler_mods.identity:deny:corp"],
        ["handler_mods.identity:deny:corp", "handler_mods.identity:allow:corp"],
        ["handler_mods.identity:deny", "handler_mods.identity:allow"],
    ],
)
def test_composed_user_id_handlers_reject_when_any_refuses(
    our_storescp: StorescpStarter, chain: list[str]
) -> None:
    options = [item for spec in chain for item in ("--handler", f"EVT_USER_ID={spec}")]
    scp = our_storescp("--allow-plain-password", *options)
    assoc = associate(scp, UserIdentityRQ(2, True, b"alice", PASSWORD))
    assert getattr(assoc, "is_rejected", False)
    assert getattr(assoc, "rejection", None) == AssociateRJ(1, 2, 1)
    assert not getattr(assoc, "is_established", True)


def test_composed_user_id_handlers_all_verifying_accept_with_the_last_response(
    our_storescp: StorescpStarter,
) -> None:
    scp = our_storescp(
        "--allow-plain-password",
        "--handler",
        "EVT_USER_ID=handler_mods.identity:allow:corp",
        "--handler",
        "EVT_USER_ID=handler_mods.identity:allow",  # no response: the earlier one stands
        "--handler",
        "EVT_USER_ID=handler_mods.identity:allow:dept,lab",
    )
    ae = AE("IDSCU")
    ae.add_requested_context(Verification)
    assert scp.port is not None
    assoc = ae.associate(
        "127.0.0.1",
        scp.port,
        ae_title="STORESCP",
        user_identity=UserIdentityRQ(2, True, b"alice", PASSWORD),
    )
    assert assoc.is_established
    ac = assoc.acceptor.primitive
    assert assoc.send_c_echo().Status == 0x0000
    assoc.release()
    identity_ac = getattr(getattr(ac, "user_information", None), "user_identity_ac", None)
    assert identity_ac is not None and identity_ac.server_response == b"dept,lab"
