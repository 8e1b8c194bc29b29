"""User identity from the command line (issue 13, item 4): the SCUs' --user/--password/
--password-file/DICOMNET_PASSWORD/--user-jwt/--user-saml/--user-kerberos/--identity-response
(DCMTK's -usr/-pwd), and storescp's/qrscp's --require-user FILE.

Peers: our storescp and qrscp, DCMTK's storescu (a requestor with --user/--password), pynetdicom
as an acceptor with an EVT_USER_ID handler, and a raw socket that keeps the A-ASSOCIATE-RQ's
bytes. No secret may appear in any output.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from dicomnet.users import user_line
from tests.cli.conftest import CliRunner, PynetdicomStarter, Spawner, StorescpStarter
from tests.helpers import write_ct_file

pytestmark = pytest.mark.interop

PASSWORD = "Tr0ub4dor&3-NEVER-SHOWN"
DCMTK_STORESCU = shutil.which("storescu", path="/usr/bin")
EXPLICIT = "1.2.840.10008.1.2.1"


@pytest.fixture
def users(tmp_path: Path) -> Path:
    path = tmp_path / "users.txt"
    path.write_text(f"{user_line('alice', PASSWORD)}\n{user_line('bob', 'other')}\n")
    return path


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "pw"
    path.write_text(PASSWORD + "\n")
    return path


def no_secret(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text
        assert "NEVER-SHOWN" not in text


def echo(cli: CliRunner, port: int | None, *args: str | Path, env: Any = None) -> Any:
    assert port is not None
    return cli("echoscu", "127.0.0.1", str(port), "-aec", "STORESCP", *args, env=env)


# --- our SCU -> our storescp --require-user ---------------------------------------------------


def test_right_password_is_accepted_wrong_or_none_rejected(
    cli: CliRunner, our_storescp: StorescpStarter, users: Path, password_file: Path
) -> None:
    scp = our_storescp("--require-user", users, "--allow-plain-password")
    good = echo(cli, scp.port, "--user", "alice", "--password-file", password_file,
                "--allow-plain-password", "-d")  # fmt: skip
    assert good.returncode == 0, good
    # DCMTK's spelling, the password from the environment
    env = {"DICOMNET_PASSWORD": PASSWORD}
    alias = echo(cli, scp.port, "-usr", "alice", "--allow-plain-password", env=env)
    assert alias.returncode == 0, alias
    wrong = echo(cli, scp.port, "-usr", "alice", "-pwd", "nope", "--allow-plain-password")
    assert wrong.returncode == 4, wrong
    assert "association rejected" in wrong.stderr and "permanent" in wrong.stderr
    unknown = echo(cli, scp.port, "-usr", "carol", "--allow-plain-password", env=env)
    assert unknown.returncode == 4, unknown
    nobody = echo(cli, scp.port)
    assert nobody.returncode == 4, nobody
    name_only = echo(cli, scp.port, "--user", "alice")
    assert name_only.returncode == 4, name_only
    scp.stop()
    assert "refusing the association from 127.0.0.1: unknown user 'alice' or wrong password" in (
        scp.stderr
    )
    assert "unknown user 'carol'" in scp.stderr
    assert "sent no user identity" in scp.stderr
    assert "user identity type 1, but --require-user takes a username and password" in scp.stderr
    no_secret(good.stdout, good.stderr, alias.stderr, wrong.stderr, scp.stderr)


def test_the_rejection_is_permanent_acse_no_reason(
    our_storescp: StorescpStarter, users: Path
) -> None:
    from dicomnet import AE
    from dicomnet.sop_class import Verification
    from dicomnet.ul.items import UserIdentityRQ
    from dicomnet.ul.pdu import AssociateRJ

    scp = our_storescp("--require-user", users, "--allow-plain-password")
    ae = AE("IDSCU")
    ae.add_requested_context(Verification)
    assert scp.port is not None
    for identity in (None, UserIdentityRQ(2, False, b"alice", b"wrong")):
        assoc = ae.associate("127.0.0.1", scp.port, ae_title="STORESCP", user_identity=identity)
        assert getattr(assoc, "rejection", None) == AssociateRJ(1, 2, 1)
    ok = ae.associate(
        "127.0.0.1",
        scp.port,
        ae_title="STORESCP",
        user_identity=UserIdentityRQ(2, True, b"alice", PASSWORD.encode()),
    )
    assert ok.is_established
    ac = ok.acceptor.primitive
    ok.release()
    # positive response requested: a zero-length server response (PS3.7 D.3.3.7.2)
    answer = getattr(getattr(ac, "user_information", None), "user_identity_ac", None)
    assert answer is not None and answer.server_response == b""


def test_a_password_is_not_sent_over_plain_tcp_by_default(
    cli: CliRunner, our_storescp: StorescpStarter, users: Path
) -> None:
    scp = our_storescp("--require-user", users, "--allow-plain-password")
    result = echo(cli, scp.port, "--user", "alice", "--password", PASSWORD)
    assert result.returncode == 2, result
    assert "refusing to send the password over plain TCP" in result.stderr
    assert "--allow-plain-password" in result.stderr
    no_secret(result.stdout, result.stderr)
    scp.stop()
    assert "Association" not in scp.stderr and "refusing" not in scp.stderr  # never connected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--password", "x"], "--password/--password-file need --user"),
        (["--user", "a", "--user-jwt", "t"], "give one user identity, not --user-jwt and --user"),
        (["--identity-response"], "--identity-response needs a user identity option"),
        (["--user", "a", "--password", "x", "--password-file", "f"], "not both"),
        (["--user", "a", "--password-file", "/nonexistent/pw"], "cannot read /nonexistent/pw"),
    ],
)
def test_contradicting_identity_options_exit_2(
    cli: CliRunner, args: list[str], message: str
) -> None:
    result = cli("echoscu", "127.0.0.1", "9", *args, "--allow-plain-password")
    assert result.returncode == 2, result
    assert message in result.stderr


def test_glued_pwd_is_refused_without_echoing_the_password(cli: CliRunner) -> None:
    result = cli("echoscu", "127.0.0.1", "9", "-usr", "a", f"-pwd{PASSWORD}")
    assert result.returncode == 2, result
    assert "-pwd takes its value as a separate argument" in result.stderr
    no_secret(result.stdout, result.stderr)


def test_password_over_tls_needs_no_flag(
    cli: CliRunner, our_storescp: StorescpStarter, users: Path, tmp_path: Path
) -> None:
    from tests.tls.certs import make_pki

    pki = make_pki(tmp_path)
    scp = our_storescp(
        "--require-user", users, "--tls-cert", pki.server_cert, "--tls-key", pki.server_key,
        "--tls-ca", pki.ca,
    )  # fmt: skip
    tls: list[str | Path] = [
        "--tls-ca",
        pki.ca,
        "--tls-cert",
        pki.client_cert,
        "--tls-key",
        pki.client_key,
    ]
    result = echo(cli, scp.port, *tls, "--user", "alice", env={"DICOMNET_PASSWORD": PASSWORD})
    assert result.returncode == 0, result
    wrong = echo(cli, scp.port, *tls, "--user", "bob", env={"DICOMNET_PASSWORD": PASSWORD})
    assert wrong.returncode == 4, wrong


def test_every_scu_sends_the_identity(
    cli: CliRunner, our_storescp: StorescpStarter, users: Path, tmp_path: Path
) -> None:
    scp = our_storescp("--require-user", users, "--allow-plain-password")
    ct = write_ct_file(tmp_path / "ct.dcm", 1, EXPLICIT)
    env = {"DICOMNET_PASSWORD": PASSWORD}
    creds = ["--user", "alice", "--allow-plain-password"]
    sent = cli("storescu", "127.0.0.1", str(scp.port), ct, *creds, env=env)
    assert sent.returncode == 0, sent
    refused = cli("storescu", "127.0.0.1", str(scp.port), ct)
    assert refused.returncode == 4, refused
    assert len(list((tmp_path / "received").rglob("*.dcm"))) == 1


def test_storescp_hash_password_prints_a_line_that_verifies(cli: CliRunner, tmp_path: Path) -> None:
    from dicomnet.users import UsersFile

    made = cli("storescp", "--hash-password", "alice", env={"DICOMNET_PASSWORD": PASSWORD})
    assert made.returncode == 0, made
    line = made.stdout.strip()
    assert line.startswith("alice:scrypt$") and PASSWORD not in line
    path = tmp_path / "users"
    path.write_text(made.stdout)
    assert UsersFile.load(path).verify("alice", PASSWORD)
    bad = cli("qrscp", "0", "-od", tmp_path / "qr", "--require-user", tmp_path / "missing.txt")
    assert bad.returncode == 2 and "--require-user" in bad.stderr
    assert not (tmp_path / "qr").exists()  # refused before anything was created


def test_qrscp_require_user(
    cli: CliRunner, spawn: Spawner, users: Path, tmp_path: Path, password_file: Path
) -> None:
    scp = spawn(
        "qrscp", "0", "--bind", "127.0.0.1", "-od", tmp_path / "store",
        "--require-user", users, "--allow-plain-password",
    )  # fmt: skip
    line = scp.wait_for("listening on")
    port = line.split("listening on ", 1)[1].split()[0].rstrip(";,").rsplit(":", 1)[1]
    base = ["findscu", "127.0.0.1", port, "-aec", "QRSCP", "-k", "PatientID=*", "-L", "STUDY"]
    found = cli(*base, "--user", "alice", "--password-file", password_file,
                "--allow-plain-password")  # fmt: skip
    assert found.returncode == 0, found
    refused = cli(*base)
    assert refused.returncode == 4, refused
    scp.stop()
    assert "sent no user identity" in scp.stderr


# --- DCMTK storescu -> our storescp --require-user ---------------------------------------------


@pytest.mark.skipif(DCMTK_STORESCU is None, reason="DCMTK storescu not installed")
def test_dcmtk_storescu_with_user_and_password(
    our_storescp: StorescpStarter, users: Path, tmp_path: Path
) -> None:
    assert DCMTK_STORESCU is not None
    scp = our_storescp("--require-user", users, "--allow-plain-password")
    ct = write_ct_file(tmp_path / "ct.dcm", 7, EXPLICIT)

    def storescu(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DCMTK_STORESCU, "-aec", "STORESCP", *args, "127.0.0.1", str(scp.port), str(ct)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    good = storescu("--user", "alice", "--password", PASSWORD, "--pos-response")
    assert good.returncode == 0, good.stdout + good.stderr
    assert len(list((tmp_path / "received").rglob("*.dcm"))) == 1
    wrong = storescu("--user", "alice", "--password", "wrong")
    assert wrong.returncode != 0
    assert "Association Rejected" in wrong.stdout + wrong.stderr
    scp.stop()
    assert "wrong password" in scp.stderr
    no_secret(scp.stderr)


# --- our SCU -> pynetdicom with an EVT_USER_ID handler -----------------------------------------


@pytest.mark.parametrize(
    ("args", "kind", "primary", "secondary"),
    [
        (["--user", "alice"], 1, b"alice", b""),
        (["-usr", "alice", "-pwd", PASSWORD, "--allow-plain-password"], 2, b"alice", PASSWORD),
        (["--user-jwt", "eyJhbGciOi.eyJzdWIi.sig"], 5, b"eyJhbGciOi.eyJzdWIi.sig", b""),
        (["--user-saml", "@saml.xml"], 4, b"<saml:Assertion/>", b""),
        (["-kt", "ticket.bin"], 3, b"\x00\x01KRB\r\n", b""),
    ],
)
def test_our_scu_to_pynetdicom_user_id_handler(
    cli: CliRunner,
    pynetdicom_scp: PynetdicomStarter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    kind: int,
    primary: bytes,
    secondary: bytes | str,
) -> None:
    import pynetdicom

    (tmp_path / "saml.xml").write_text("<saml:Assertion/>\n")
    (tmp_path / "ticket.bin").write_bytes(b"\x00\x01KRB\r\n")  # binary: kept as it is
    seen: list[tuple[Any, ...]] = []

    def on_user_id(event: Any) -> tuple[bool, bytes]:
        seen.append((event.user_id_type, event.primary_field, event.secondary_field))
        return True, b"welcome"

    _, port = pynetdicom_scp([(pynetdicom.evt.EVT_USER_ID, on_user_id)])
    argv = [*(a.replace("saml.xml", str(tmp_path / "saml.xml")) for a in args)]
    argv = [str(tmp_path / a) if a == "ticket.bin" else a for a in argv]
    # pynetdicom answers a positive response request only for types 3, 4 and 5
    asks = ["--identity-response"] if kind > 2 else []
    result = cli("echoscu", "127.0.0.1", str(port), "-aec", "PYSCP", *argv, *asks)
    assert result.returncode == 0, result
    wanted = secondary.encode() if isinstance(secondary, str) else secondary
    assert seen == [(kind, primary, wanted)]
    no_secret(result.stdout, result.stderr)


def test_identity_response_missing_fails(cli: CliRunner, pynetdicom_scp: PynetdicomStarter) -> None:
    import pynetdicom

    def on_user_id(event: Any) -> tuple[bool, None]:
        return True, None

    _, port = pynetdicom_scp([(pynetdicom.evt.EVT_USER_ID, on_user_id)])
    plain = cli("echoscu", "127.0.0.1", str(port), "--user-jwt", "a.b.c")
    assert plain.returncode == 0, plain
    asked = cli("echoscu", "127.0.0.1", str(port), "--user-jwt", "a.b.c", "--identity-response")
    assert asked.returncode == 4, asked
    assert "without the positive user identity response" in asked.stderr


# --- the item's bytes ---------------------------------------------------------------------------


class RqCatcher:
    """Keeps the first A-ASSOCIATE-RQ it gets and answers A-ASSOCIATE-RJ."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.pdu = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _read(self, conn: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = conn.recv(size - len(data))
            if not chunk:
                break
            data += chunk
        return data

    def _serve(self) -> None:
        self.sock.settimeout(30)
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(30)
            header = self._read(conn, 6)
            self.pdu = header + self._read(conn, int.from_bytes(header[2:6], "big"))
            conn.sendall(bytes.fromhex("03000000000400010101"))
            conn.recv(1)
        self.sock.close()


def user_identity_item(pdu: bytes) -> bytes:
    """The 0x58 sub-item of the User Information item (0x50) of an A-ASSOCIATE-RQ."""
    at = 74
    while at < len(pdu):
        kind, length = pdu[at], int.from_bytes(pdu[at + 2 : at + 4], "big")
        if kind == 0x50:
            sub, end = at + 4, at + 4 + length
            while sub < end:
                sub_kind, sub_len = pdu[sub], int.from_bytes(pdu[sub + 2 : sub + 4], "big")
                if sub_kind == 0x58:
                    return pdu[sub : sub + 4 + sub_len]
                sub += 4 + sub_len
        at += 4 + length
    raise AssertionError("no user identity item")


def test_the_user_identity_item_bytes(cli: CliRunner) -> None:
    catcher = RqCatcher()
    result = cli("echoscu", "127.0.0.1", str(catcher.port), "-usr", "alice", "-pwd", "pw",
                 "--allow-plain-password", "--identity-response")  # fmt: skip
    catcher.thread.join(30)
    assert result.returncode == 4, result
    assert user_identity_item(catcher.pdu) == bytes.fromhex(
        "5800000d"  # item type, reserved, length 13
        "0201"  # username and passcode, positive response requested
        "0005" + b"alice".hex() + "0002" + b"pw".hex()
    )


def test_the_password_variable_alone_changes_nothing(
    cli: CliRunner, our_storescp: StorescpStarter
) -> None:
    """DICOMNET_PASSWORD exported in a shell: SCUs without --user send no identity."""
    scp = our_storescp()
    result = echo(cli, scp.port, env={"DICOMNET_PASSWORD": PASSWORD})
    assert result.returncode == 0, result


def test_password_file_dash_reads_stdin(
    our_storescp: StorescpStarter, users: Path, tmp_path: Path
) -> None:
    from tests.cli.conftest import argv_for, cli_env

    scp = our_storescp("--require-user", users, "--allow-plain-password")
    argv = [*argv_for("echoscu"), "127.0.0.1", str(scp.port), "-aec", "STORESCP",
            "--user", "alice", "--password-file", "-", "--allow-plain-password"]  # fmt: skip
    for line, code in ((PASSWORD + "\n", 0), ("wrong\n", 4)):
        done = subprocess.run(
            argv, input=line, capture_output=True, text=True, timeout=60, env=cli_env(),
            check=False,
        )  # fmt: skip
        assert done.returncode == code, done.stderr
        no_secret(done.stdout, done.stderr)


def test_require_user_with_an_hs256_jwt_key(
    cli: CliRunner, our_storescp: StorescpStarter, tmp_path: Path
) -> None:
    from dicomnet.users import jwt_key_line
    from tests.test_users import SECRET, make_jwt

    users = tmp_path / "users.txt"
    users.write_text(f"{user_line('alice', PASSWORD)}\n{jwt_key_line(SECRET)}\n")
    scp = our_storescp("--require-user", users)
    token = tmp_path / "token.jwt"
    token.write_bytes(make_jwt({"sub": "carol", "exp": 4_000_000_000}) + b"\n")
    good = echo(cli, scp.port, "--user-jwt", f"@{token}", "--identity-response")
    assert good.returncode == 0, good
    forged = make_jwt({"sub": "carol"}, key=b"k" * 32).decode()
    bad = echo(cli, scp.port, "--user-jwt", forged)
    assert bad.returncode == 4, bad
    expired = make_jwt({"sub": "carol", "exp": 1_000}).decode()
    assert echo(cli, scp.port, "--jwt", expired).returncode == 4
    scp.stop()
    assert "a JWT that is not HS256-signed" in scp.stderr


def test_the_options_record_never_shows_a_secret() -> None:
    from dicomnet.cli._common import ScuCommon

    common = ScuCommon(user="alice", password=PASSWORD, user_jwt=f"jwt-{PASSWORD}")
    shown = repr(common)
    assert "user='alice'" in shown and "password=<redacted>" in shown
    assert "password_file=None" in shown
    no_secret(shown)
