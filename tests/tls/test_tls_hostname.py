"""Our SCUs check the TLS server's host name by default (issue 10, item 5).

``echoscu --tls-ca`` used to accept a certificate issued for ``other.example`` when connecting to
127.0.0.1: any certificate from the site's CA could impersonate the PACS. Now the name (or IP
address) given on the command line, or ``--tls-server-name``, must be in the certificate;
``--tls-no-verify`` is the explicit opt-out.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dicomnet import AE, AssociationServer
from dicomnet.sop_class import Verification
from dicomnet.tls import server_context
from tests.cli.qr_support import run
from tests.tls.certs import PKI, _make_leaf, make_pki

pytestmark = pytest.mark.interop

SCP_AET = "TLSSCP"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def other_cert(pki: PKI) -> tuple[Path, Path]:
    """A server certificate from the same CA, for other.example only."""
    return _make_leaf(
        pki.ca.parent,
        "other.example",
        (pki.ca, pki.ca.with_suffix(".key")),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:other.example\n",
    )


def start(pki: PKI, cert: Path, key: Path) -> AssociationServer:
    ae = AE(SCP_AET)
    ae.acse_timeout = 5
    ae.add_supported_context(Verification)
    server = ae.start_server(
        ("127.0.0.1", 0), block=False, ssl_context=server_context(cert, key, pki.ca)
    )
    assert server is not None
    return server


@pytest.fixture
def impostor(pki: PKI, other_cert: tuple[Path, Path]) -> Iterator[int]:
    server = start(pki, *other_cert)
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()


@pytest.fixture
def genuine(pki: PKI) -> Iterator[int]:
    server = start(pki, pki.server_cert, pki.server_key)
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()


def echoscu(pki: PKI, port: int, *extra: str) -> tuple[int, str]:
    result = run(
        "echoscu",
        "127.0.0.1",
        str(port),
        "-aec",
        SCP_AET,
        "--tls-ca",
        str(pki.ca),
        "--tls-cert",
        str(pki.client_cert),
        "--tls-key",
        str(pki.client_key),
        *extra,
    )
    return result.returncode, result.stderr


def test_certificate_for_another_name_is_refused(pki: PKI, impostor: int) -> None:
    code, stderr = echoscu(pki, impostor)
    assert code == 3, stderr
    assert "TLS handshake failed" in stderr
    assert "127.0.0.1" in stderr  # the certificate does not name the address we connected to


def test_tls_server_name_sets_the_expected_name(pki: PKI, impostor: int) -> None:
    code, stderr = echoscu(pki, impostor, "--tls-server-name", "other.example")
    assert code == 0, stderr
    code, stderr = echoscu(pki, impostor, "--tls-server-name", "pacs.example")
    assert code == 3, stderr


def test_tls_no_verify_is_the_explicit_opt_out(pki: PKI, impostor: int) -> None:
    code, stderr = echoscu(pki, impostor, "--tls-no-verify")
    assert code == 0, stderr


def test_certificate_naming_the_address_is_accepted(pki: PKI, genuine: int) -> None:
    code, stderr = echoscu(pki, genuine)
    assert code == 0, stderr


@pytest.mark.parametrize("command", ["echoscu", "storescu", "findscu", "getscu", "movescu"])
def test_every_scu_documents_the_check(command: str) -> None:
    result = run(command, "--help", env={"COLUMNS": "200"})
    assert "--tls-server-name" in result.stdout
    assert "host name is always checked" in " ".join(result.stdout.split())
