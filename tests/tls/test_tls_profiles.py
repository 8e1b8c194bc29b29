"""DCMTK's TLS security profiles against ours (issue 13, item 5), both ways, from the command
line: ``--tls-profile`` (and DCMTK's own ``+py``/``+px``/``+pz``/``+pa`` flags) on our
commands, ``+tls`` with the same profile flag on DCMTK's. The AES profile (``+pa``) used to
fail the handshake in both directions ("no shared cipher").

Also: ``movescu --store-port`` with TLS options receives the C-MOVE sub-operations over TLS
(the receiver used to listen in plain TCP, so a TLS move SCP failed with 0xC000).
"""

from __future__ import annotations

import os
import ssl
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dicomnet import AE, evt
from dicomnet.sop_class import Verification
from dicomnet.tls import PROFILES, client_context, server_context
from tests.cli.conftest import Running, argv_for, cli_env
from tests.cli.qr_support import files_under, run
from tests.qr.archive import Archive, move_handler, study_uid
from tests.qr.conftest import qr_scp_ae
from tests.tls.certs import OPENSSL, PKI, make_dual_use, make_pki
from tests.tls.test_tls import DCMTK_ENV, ECHOSCU, STORESCP, STORESCU, dcmtk, free_port
from tests.tls.test_tls import wait_listening as wait_port

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(OPENSSL is None, reason="the openssl command line tool is not installed"),
    pytest.mark.skipif(
        not all(os.access(tool, os.X_OK) for tool in (STORESCP, ECHOSCU, STORESCU)),
        reason="DCMTK is not installed in /usr/bin",
    ),
]

#: Our profile name, DCMTK's flag for it.
MATRIX = [("bcp195-nd", "+py"), ("bcp195", "+px"), ("bcp195-ex", "+pz"), ("aes", "+pa")]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


def our_tls(pki: PKI) -> list[str]:
    return ["--tls-ca", str(pki.ca), "--tls-cert", str(pki.client_cert),
            "--tls-key", str(pki.client_key)]  # fmt: skip


def dcmtk_client(pki: PKI) -> list[str]:
    return ["+tls", str(pki.client_key), str(pki.client_cert), "-pw", "+cf", str(pki.ca)]


@pytest.fixture
def dcmtk_storescp(pki: PKI, tmp_path: Path) -> Iterator[Callable[[str], int]]:
    """``start(flag)``: DCMTK's storescp with TLS and the profile ``flag``; returns its port."""
    started: list[subprocess.Popen[str]] = []

    def start(flag: str) -> int:
        port = free_port()
        process = subprocess.Popen(
            [
                STORESCP, "+tls", str(pki.server_key), str(pki.server_cert), "-pw",
                "+cf", str(pki.ca), "--require-peer-cert", flag, "+B",
                "-aet", "STORESCP", "-od", str(tmp_path), "-ta", "5", "-td", "5", str(port),
            ],
            env=DCMTK_ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        started.append(process)
        wait_port(port, process)
        return port

    try:
        yield start
    finally:
        for process in started:
            process.terminate()
            try:
                process.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate(timeout=10)


def start_our_storescp(pki: PKI, out: Path, *args: str) -> Running:
    argv = [
        *argv_for("storescp"), "0", "--bind", "127.0.0.1", "-od", str(out),
        "--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key),
        "--tls-ca", str(pki.ca), *args,
    ]  # fmt: skip
    running = Running(argv, out, cli_env())
    line = running.wait_for("listening on")
    running.port = int(line.split("listening on ", 1)[1].split()[0].rstrip(";,").rsplit(":")[1])
    return running


def test_the_cli_knows_the_library_profiles() -> None:
    from dicomnet.cli._options import DCMTK_TLS_PROFILES, TLS_PROFILES

    assert TLS_PROFILES == PROFILES
    assert sorted(DCMTK_TLS_PROFILES.values()) == sorted(PROFILES)


@pytest.mark.parametrize("spelling", ["ours", "dcmtk"])
@pytest.mark.parametrize(("profile", "flag"), MATRIX)
def test_our_echoscu_to_dcmtk_storescp_with_the_profile(
    pki: PKI, dcmtk_storescp: Callable[[str], int], profile: str, flag: str, spelling: str
) -> None:
    port = dcmtk_storescp(flag)
    chosen = ["--tls-profile", profile] if spelling == "ours" else [flag]
    result = run("echoscu", "127.0.0.1", str(port), "-aec", "STORESCP", *our_tls(pki), *chosen)
    assert result.returncode == 0, result
    assert "Success" in result.stdout


@pytest.mark.parametrize(("profile", "flag"), MATRIX)
def test_dcmtk_storescu_to_our_storescp_with_the_profile(
    pki: PKI, tmp_path: Path, ct_files: list[Path], profile: str, flag: str
) -> None:
    out = tmp_path / "received"
    out.mkdir()
    scp = start_our_storescp(pki, out, "--tls-profile", profile)
    port = scp.port
    assert port is not None
    try:
        done = dcmtk(STORESCU, *dcmtk_client(pki), flag, "-aec", "STORESCP", "-to", "5",
                     "127.0.0.1", port, ct_files[0])  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        echoed = dcmtk(ECHOSCU, *dcmtk_client(pki), flag, "-aec", "STORESCP", "127.0.0.1",
                       port)  # fmt: skip
        assert echoed.returncode == 0, echoed.stdout + echoed.stderr
    finally:
        scp.stop()
    assert len(files_under(out)) == 1


def test_the_aes_profile_is_what_it_says(pki: PKI) -> None:
    """TLS 1.2 with TLS_RSA_WITH_AES_128_CBC_SHA; a peer insisting on the extended BCP 195
    profile is refused, in a handshake failure users see as such."""
    server = server_context(pki.server_cert, pki.server_key, pki.ca, profile="aes")
    ae = AE("PROFILES")
    ae.add_supported_context(Verification)
    listening = ae.start_server(("127.0.0.1", 0), block=False, ssl_context=server)
    assert listening is not None
    try:
        port = listening.server_address[1]
        scu = AE("SCU")
        scu.acse_timeout = scu.connection_timeout = 5
        scu.add_requested_context(Verification)
        client = client_context(pki.ca, pki.client_cert, pki.client_key, profile="aes")
        assoc = scu.associate("127.0.0.1", port, ssl_context=client)
        assert assoc.is_established, assoc.failure_reason
        assert assoc.send_c_echo().Status == 0
        assoc.release()
        strict = client_context(pki.ca, pki.client_cert, pki.client_key, profile="bcp195-ex")
        refused = scu.associate("127.0.0.1", port, ssl_context=strict)
        assert not refused.is_established
        assert "handshake" in str(refused.failure_reason).lower()
    finally:
        listening.shutdown()
    wrapped = client_context(pki.ca, profile="aes")
    assert wrapped.maximum_version == ssl.TLSVersion.TLSv1_2
    tls12 = {c["name"] for c in wrapped.get_ciphers() if c["protocol"] != "TLSv1.3"}
    assert "AES128-SHA" in tls12 and tls12 <= {"AES128-SHA", "DES-CBC3-SHA"}
    with pytest.raises(ValueError, match="unknown TLS profile"):
        client_context(pki.ca, profile="ssl3")


def test_a_profile_our_peer_does_not_share_fails_cleanly(
    pki: PKI, dcmtk_storescp: Callable[[str], int]
) -> None:
    port = dcmtk_storescp("+pa")
    result = run("echoscu", "127.0.0.1", str(port), "-aec", "STORESCP", *our_tls(pki))
    assert result.returncode == 3, result
    assert "TLS handshake failed" in result.stderr
    bad = run("echoscu", "127.0.0.1", "9", *our_tls(pki), "--tls-profile", "ssl3")
    assert bad.returncode == 2 and "'ssl3' is not one of" in bad.stderr


# --- movescu --store-port over TLS ---------------------------------------------------------------


def test_movescu_receiver_uses_tls(pki: PKI, tmp_path: Path) -> None:
    archive = Archive.build(tmp_path / "archive")
    port = free_port()
    serve = move_handler(archive, {"MOVEDEST": ("127.0.0.1", port)})
    # The move SCP opens the destination association over TLS, with its own client certificate.
    sub_tls = client_context(pki.ca, pki.client_cert, pki.client_key)

    def over_tls(event: object) -> Iterator[object]:
        handled = serve(event)
        host, dest_port = next(handled)
        yield host, dest_port, {"ssl_context": sub_tls}
        yield from handled

    both_cert, both_key = make_dual_use(pki)  # movescu is a client and, receiving, a server
    ae = qr_scp_ae()
    server = ae.start_server(
        ("127.0.0.1", 0),
        block=False,
        ssl_context=server_context(pki.server_cert, pki.server_key, pki.ca),
        evt_handlers=[(evt.EVT_C_MOVE, over_tls)],
    )
    assert server is not None
    try:
        args = [
            "movescu", "127.0.0.1", str(server.server_address[1]), "-aec", "QRSCP",
            "-aem", "MOVEDEST", "--store-port", str(port), "-k",
            f"StudyInstanceUID={study_uid(1)}", "--tls-ca", str(pki.ca),
            "--tls-cert", str(both_cert), "--tls-key", str(both_key),
        ]  # fmt: skip
        result = run(*args, "-od", tmp_path / "out")
        assert result.returncode == 0, result
        assert "completed 4, failed 0" in result.stderr
        assert len(files_under(tmp_path / "out")) == 4
        # TLS without a certificate of our own cannot serve the receiver: said at once.
        no_cert = run(*args[:-4], "-od", tmp_path / "none")
        assert no_cert.returncode == 2, no_cert
        assert "--store-port with TLS needs --tls-cert" in no_cert.stderr
    finally:
        server.shutdown()


def test_qrscp_moves_over_tls_to_dcmtk_storescp(
    pki: PKI, tmp_path: Path, dcmtk_storescp: Callable[[str], int]
) -> None:
    """qrscp with TLS opens its C-MOVE sub-operation associations over TLS too (as dcmqrscp
    +tls): its certificate as client certificate, the destination's verified against --tls-ca
    and the host name. DCMTK's storescp, TLS only, receives the study."""
    archive = Archive.build(tmp_path / "source")
    dest_port = dcmtk_storescp("+py")
    both_cert, both_key = make_dual_use(pki)  # qrscp serves and, moving, is a client
    out = tmp_path / "qrscp"
    argv = [
        *argv_for("qrscp"), "0", "--bind", "127.0.0.1", "-od", str(out),
        "--tls-cert", str(both_cert), "--tls-key", str(both_key), "--tls-ca", str(pki.ca),
        "--move-dest", f"STORESCP=localhost:{dest_port}",
    ]  # fmt: skip
    qrscp = Running(argv, tmp_path, cli_env())
    try:
        line = qrscp.wait_for("listening on")
        port = line.split("listening on ", 1)[1].split()[0].rstrip(";,").rsplit(":")[1]
        files = [
            i.path for i in archive.instances if str(i.header.StudyInstanceUID) == study_uid(1)
        ]
        sent = run("storescu", "127.0.0.1", port, "-aec", "QRSCP", *our_tls(pki),
                   "--tls-server-name", "localhost", *files)  # fmt: skip
        assert sent.returncode == 0, sent
        moved = run("movescu", "127.0.0.1", port, "-aec", "QRSCP", "-aem", "STORESCP",
                    "-k", f"StudyInstanceUID={study_uid(1)}", *our_tls(pki),
                    "--tls-server-name", "localhost")  # fmt: skip
        assert moved.returncode == 0, moved
        assert f"completed {len(files)}, failed 0" in moved.stderr
    finally:
        qrscp.stop()
    received = [p for p in tmp_path.iterdir() if p.is_file() and p.name.startswith(("CT.", "MR."))]
    assert len(received) == len(files)
