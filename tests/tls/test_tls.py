"""DICOM over TLS: our SCU and SCP against DCMTK's ``+tls`` tools in both directions, and the
failures users must see cleanly (plain client on a TLS port, missing client certificate, wrong
CA, wrong host name, a handshake that never comes)."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dicomnet import AE, evt
from dicomnet.part10 import read_file_meta
from dicomnet.sop_class import CTImageStorage, Verification
from dicomnet.tls import client_context, server_context
from dicomnet.transport.server import AssociationServer
from tests.golden import load_golden
from tests.tls.certs import OPENSSL, PKI, make_pki

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(OPENSSL is None, reason="the openssl command line tool is not installed"),
]

STORESCP = "/usr/bin/storescp"
ECHOSCU = "/usr/bin/echoscu"
STORESCU = "/usr/bin/storescu"
DCMTK_ENV = {**os.environ, "TCP_NODELAY": "1"}
DCMTK_TIMEOUTS = ["-to", "5", "-ta", "5", "-td", "5"]
SUBPROCESS_TIMEOUT = 30.0
SCP_AET = "TLSSCP"

needs_dcmtk = pytest.mark.skipif(
    not all(os.access(tool, os.X_OK) for tool in (STORESCP, ECHOSCU, STORESCU)),
    reason="DCMTK is not installed in /usr/bin",
)


# --- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def ct_file(tmp_path: Path) -> Path:
    path = tmp_path / "ct.dcm"
    path.write_bytes(load_golden("ct_16x16_file"))
    return path


def dataset_bytes(path: Path) -> bytes:
    """The data set of a Part-10 file: its bytes after the file meta information."""
    with path.open("rb") as fp:
        offset = read_file_meta(fp).dataset_offset
    return path.read_bytes()[offset:]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[str], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the peer exited early: {process.communicate()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            continue
        return
    raise TimeoutError(f"nothing listens on port {port}")


def dcmtk(*args: str | Path | int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        env=DCMTK_ENV,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
    )


def dcmtk_tls(pki: PKI, *, client_cert: bool = True) -> list[str]:
    """DCMTK client options: TLS with our client certificate (or anonymous), trusting our CA."""
    ident = ["+tls", str(pki.client_key), str(pki.client_cert)] if client_cert else ["+tla"]
    return [*ident, "-pw", "+cf", str(pki.ca)]


class Recorder:
    """Handlers for our SCP that remember what they saw."""

    def __init__(self) -> None:
        self.echoes = 0
        self.stored: list[bytes] = []
        self.lock = threading.Lock()

    def on_echo(self, event: Any) -> int:
        with self.lock:
            self.echoes += 1
        return 0x0000

    def on_store(self, event: Any) -> int:
        data = event.encoded_dataset(include_meta=False)
        with self.lock:
            self.stored.append(data)
        return 0x0000


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def tls_server(pki: PKI, recorder: Recorder) -> Iterator[AssociationServer]:
    ae = AE(ae_title=SCP_AET)
    ae.acse_timeout = 5
    ae.add_supported_context(Verification)
    ae.add_supported_context(CTImageStorage)
    server = ae.start_server(
        ("127.0.0.1", 0),
        block=False,
        ssl_context=server_context(pki.server_cert, pki.server_key, pki.ca),
        evt_handlers=[(evt.EVT_C_ECHO, recorder.on_echo), (evt.EVT_C_STORE, recorder.on_store)],
    )
    assert server is not None
    try:
        yield server
    finally:
        server.shutdown()


def scu() -> AE:
    ae = AE(ae_title="TLSSCU")
    ae.acse_timeout = 5
    ae.connection_timeout = 5
    ae.dimse_timeout = 5
    ae.add_requested_context(Verification)
    ae.add_requested_context(CTImageStorage)
    return ae


def good_client(pki: PKI) -> ssl.SSLContext:
    return client_context(pki.ca, pki.client_cert, pki.client_key)


# --- our SCU -> DCMTK storescp +tls -----------------------------------------------------------


@pytest.fixture
def dcmtk_tls_storescp(pki: PKI, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    out = tmp_path / "received"
    out.mkdir()
    port = free_port()
    process = subprocess.Popen(
        [
            STORESCP, "+tls", str(pki.server_key), str(pki.server_cert), "-pw",
            "+cf", str(pki.ca), "--require-peer-cert", "+B",
            "-aet", "STORESCP", "-od", str(out), "-ta", "5", "-td", "5", str(port),
        ],
        env=DCMTK_ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        wait_listening(port, process)
        yield port, out
    finally:
        process.terminate()
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate(timeout=10)


@needs_dcmtk
def test_our_tls_scu_echo_and_store_to_dcmtk_storescp(
    pki: PKI, ct_file: Path, dcmtk_tls_storescp: tuple[int, Path]
) -> None:
    port, out = dcmtk_tls_storescp
    assoc = scu().associate("127.0.0.1", port, ae_title="STORESCP", ssl_context=good_client(pki))
    assert assoc.is_established, assoc.failure_reason
    try:
        assert assoc.send_c_echo().Status == 0x0000
        assert assoc.send_c_store(ct_file).Status == 0x0000
    finally:
        assoc.release()
    assert assoc.is_released
    received = list(out.iterdir())
    assert [p.name for p in received] == ["CT.2.25.98765432109876543210987654321000001"]
    assert dataset_bytes(received[0]) == dataset_bytes(ct_file)


@needs_dcmtk
def test_tls_args_host_name_is_checked(pki: PKI, dcmtk_tls_storescp: tuple[int, Path]) -> None:
    port, _out = dcmtk_tls_storescp
    ae = scu()
    good = ae.associate(
        "127.0.0.1", port, ae_title="STORESCP", tls_args=(good_client(pki), "localhost")
    )
    assert good.is_established, good.failure_reason
    assert good.send_c_echo().Status == 0x0000
    good.release()
    bad = ae.associate(
        "127.0.0.1", port, ae_title="STORESCP", tls_args=(good_client(pki), "pacs.example")
    )
    assert not bad.is_established
    assert bad.connect_error is not None
    assert "pacs.example" in bad.failure_reason  # hostname mismatch, named


@needs_dcmtk
def test_our_scu_without_client_cert_is_refused_by_dcmtk(
    pki: PKI, dcmtk_tls_storescp: tuple[int, Path]
) -> None:
    port, _out = dcmtk_tls_storescp
    assoc = scu().associate(
        "127.0.0.1", port, ae_title="STORESCP", ssl_context=client_context(pki.ca)
    )
    assert not assoc.is_established
    assert assoc.failure_reason


# --- DCMTK +tls SCUs -> our SCP ---------------------------------------------------------------


@needs_dcmtk
def test_dcmtk_echoscu_tls_to_our_scp(
    pki: PKI, tls_server: AssociationServer, recorder: Recorder
) -> None:
    port = tls_server.server_address[1]
    done = dcmtk(ECHOSCU, *dcmtk_tls(pki), "-aec", SCP_AET, *DCMTK_TIMEOUTS, "127.0.0.1", port)
    assert done.returncode == 0, done.stdout + done.stderr
    assert recorder.echoes == 1


@needs_dcmtk
def test_dcmtk_storescu_tls_to_our_scp(
    pki: PKI, tls_server: AssociationServer, recorder: Recorder, ct_file: Path
) -> None:
    port = tls_server.server_address[1]
    done = dcmtk(
        STORESCU, *dcmtk_tls(pki), "-aec", SCP_AET, *DCMTK_TIMEOUTS, "127.0.0.1", port, ct_file
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert recorder.stored == [dataset_bytes(ct_file)]


@needs_dcmtk
def test_plain_dcmtk_echoscu_against_tls_port_fails_cleanly(
    pki: PKI, tls_server: AssociationServer, recorder: Recorder
) -> None:
    port = tls_server.server_address[1]
    started = time.monotonic()
    plain = dcmtk(ECHOSCU, "-aec", SCP_AET, *DCMTK_TIMEOUTS, "127.0.0.1", port)
    assert plain.returncode != 0
    assert time.monotonic() - started < 5  # refused at once, not by a timeout
    assert "Association Request Failed" in plain.stdout + plain.stderr
    assert recorder.echoes == 0
    # The server goes on serving TLS clients.
    done = dcmtk(ECHOSCU, *dcmtk_tls(pki), "-aec", SCP_AET, *DCMTK_TIMEOUTS, "127.0.0.1", port)
    assert done.returncode == 0, done.stdout + done.stderr
    assert recorder.echoes == 1


@needs_dcmtk
def test_dcmtk_client_without_certificate_is_refused(
    pki: PKI, tls_server: AssociationServer, recorder: Recorder
) -> None:
    port = tls_server.server_address[1]
    anonymous = dcmtk(
        ECHOSCU, *dcmtk_tls(pki, client_cert=False), "-aec", SCP_AET, *DCMTK_TIMEOUTS,
        "127.0.0.1", port,
    )  # fmt: skip
    assert anonymous.returncode != 0
    assert recorder.echoes == 0
    done = dcmtk(ECHOSCU, *dcmtk_tls(pki), "-aec", SCP_AET, *DCMTK_TIMEOUTS, "127.0.0.1", port)
    assert done.returncode == 0, done.stdout + done.stderr
    assert recorder.echoes == 1


# --- our SCU -> our TLS SCP -------------------------------------------------------------------


def test_our_tls_scu_to_our_tls_scp(
    pki: PKI, tls_server: AssociationServer, recorder: Recorder, ct_file: Path
) -> None:
    port = tls_server.server_address[1]
    assoc = scu().associate("127.0.0.1", port, ae_title=SCP_AET, ssl_context=good_client(pki))
    assert assoc.is_established, assoc.failure_reason
    assert assoc.send_c_echo().Status == 0x0000
    assert assoc.send_c_store(ct_file).Status == 0x0000
    assoc.release()
    assert assoc.is_released
    assert recorder.echoes == 1
    assert recorder.stored == [dataset_bytes(ct_file)]


def test_our_plain_scu_against_tls_server_fails_cleanly(
    pki: PKI, tls_server: AssociationServer, recorder: Recorder
) -> None:
    port = tls_server.server_address[1]
    started = time.monotonic()
    assoc = scu().associate("127.0.0.1", port, ae_title=SCP_AET)
    assert time.monotonic() - started < 3
    assert not assoc.is_established
    assert assoc.failure_reason
    assert recorder.echoes == 0
    good = scu().associate("127.0.0.1", port, ae_title=SCP_AET, ssl_context=good_client(pki))
    assert good.is_established, good.failure_reason
    assert good.send_c_echo().Status == 0x0000
    good.release()


def test_our_tls_scu_with_wrong_ca_fails_handshake(pki: PKI, tls_server: AssociationServer) -> None:
    port = tls_server.server_address[1]
    wrong = client_context(pki.other_ca, pki.client_cert, pki.client_key)
    assoc = scu().associate("127.0.0.1", port, ae_title=SCP_AET, ssl_context=wrong)
    assert not assoc.is_established
    assert assoc.connect_error is not None
    assert "TLS handshake failed" in assoc.failure_reason
    assert "certificate verify failed" in assoc.failure_reason


def test_our_tls_scu_without_client_cert_is_refused(
    pki: PKI, tls_server: AssociationServer, recorder: Recorder
) -> None:
    port = tls_server.server_address[1]
    assoc = scu().associate("127.0.0.1", port, ae_title=SCP_AET, ssl_context=client_context(pki.ca))
    assert not assoc.is_established
    assert "certificate" in assoc.failure_reason or "connection failed" in assoc.failure_reason
    assert recorder.echoes == 0


def test_client_signed_by_other_ca_is_refused(pki: PKI, tmp_path: Path) -> None:
    """Our server trusts only its CA: a server context trusting another CA refuses our
    client certificate."""
    ae = AE(ae_title=SCP_AET)
    ae.add_supported_context(Verification)
    context = server_context(pki.server_cert, pki.server_key, pki.other_ca)
    server = ae.start_server(("127.0.0.1", 0), block=False, ssl_context=context)
    assert server is not None
    try:
        port = server.server_address[1]
        assoc = scu().associate("127.0.0.1", port, ae_title=SCP_AET, ssl_context=good_client(pki))
        assert not assoc.is_established
        assert assoc.failure_reason
    finally:
        server.shutdown()


# --- the handshake is bounded and off the accept loop -----------------------------------------


def test_silent_client_does_not_block_others_and_times_out(
    pki: PKI, tls_server: AssociationServer
) -> None:
    port = tls_server.server_address[1]
    tls_server.ae.acse_timeout = 0.5
    with socket.create_connection(("127.0.0.1", port), timeout=5) as silent:
        # Another client gets served while the silent one holds its handshake open.
        assoc = scu().associate("127.0.0.1", port, ae_title=SCP_AET, ssl_context=good_client(pki))
        assert assoc.is_established, assoc.failure_reason
        assoc.release()
        started = time.monotonic()
        assert silent.recv(1) == b""  # closed by the server once the handshake deadline passed
        assert time.monotonic() - started < 3


def test_shutdown_cuts_a_stalled_handshake_short(pki: PKI) -> None:
    handshaking = threading.Event()

    class SignallingSSLSocket(ssl.SSLSocket):
        def do_handshake(self, block: bool = False) -> None:
            handshaking.set()
            super().do_handshake(block)

    ae = AE(ae_title=SCP_AET)
    ae.acse_timeout = 30
    ae.add_supported_context(Verification)
    context = server_context(pki.server_cert, pki.server_key, pki.ca)
    context.sslsocket_class = SignallingSSLSocket
    server = ae.start_server(("127.0.0.1", 0), block=False, ssl_context=context)
    assert server is not None
    with socket.create_connection(server.server_address, timeout=5) as silent:
        assert handshaking.wait(5)  # the server waits for our ClientHello
        started = time.monotonic()
        server.shutdown()
        assert time.monotonic() - started < 1
        assert silent.recv(1) == b""
    assert not [t for t in threading.enumerate() if t.name.startswith("dicomnet-assoc")]


# --- the context helpers ----------------------------------------------------------------------


def test_contexts_refuse_tls_older_than_1_2(pki: PKI) -> None:
    server = server_context(pki.server_cert, pki.server_key, pki.ca)
    client = good_client(pki)
    assert server.minimum_version is ssl.TLSVersion.TLSv1_2
    assert client.minimum_version is ssl.TLSVersion.TLSv1_2
    assert server.verify_mode is ssl.CERT_REQUIRED
    assert client.verify_mode is ssl.CERT_REQUIRED and client.check_hostname
    assert client_context(pki.ca, check_hostname=False).check_hostname is False
    optional = server_context(pki.server_cert, pki.server_key, pki.ca, require_client_cert=False)
    assert optional.verify_mode is ssl.CERT_OPTIONAL
    with pytest.raises(ValueError, match="CA"):
        server_context(pki.server_cert, pki.server_key, None)
    with pytest.raises(ValueError, match="key"):
        client_context(pki.ca, key=pki.client_key)


def test_negotiated_version_is_at_least_1_2(pki: PKI, tls_server: AssociationServer) -> None:
    port = tls_server.server_address[1]
    context = good_client(pki)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
