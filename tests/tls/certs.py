"""Throwaway test PKI made with the ``openssl`` command line tool at test time.

:func:`make_pki` writes into a directory: a CA, a server certificate for ``localhost`` /
``127.0.0.1`` (serverAuth), a client certificate (clientAuth), both signed by the CA, and a
second, unrelated CA (``other_ca``) whose trust lets no handshake succeed. RSA 2048 keys,
unencrypted PEM (PKCS#8), valid for two days.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

OPENSSL = shutil.which("openssl")


@dataclass(frozen=True)
class PKI:
    ca: Path
    other_ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str | Path) -> None:
    assert OPENSSL is not None, "the openssl command line tool is not installed"
    done = subprocess.run(
        [OPENSSL, *[str(a) for a in args]], capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.strip()}")


def _make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", key, "-out", cert, "-subj", f"/CN=dicomnet test {name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return cert, key


def _make_leaf(
    directory: Path, name: str, ca: tuple[Path, Path], extensions: str
) -> tuple[Path, Path]:
    cert, key, csr = (directory / f"{name}{ext}" for ext in (".pem", ".key", ".csr"))
    ext_file = directory / f"{name}.ext"
    ext_file.write_text(extensions)
    _openssl(
        "req", "-new", "-newkey", "rsa:2048", "-nodes",
        "-keyout", key, "-out", csr, "-subj", f"/CN={name}",
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
        "-days", "2", "-out", cert, "-extfile", ext_file,
    )  # fmt: skip
    return cert, key


def make_pki(directory: Path) -> PKI:
    """Create the test PKI in ``directory`` (which must exist)."""
    ca = _make_ca(directory, "ca")
    other_ca = _make_ca(directory, "other-ca")
    common = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
    server = _make_leaf(
        directory,
        "localhost",
        ca,
        common + "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    client = _make_leaf(directory, "client", ca, common + "extendedKeyUsage=clientAuth\n")
    return PKI(
        ca=ca[0],
        other_ca=other_ca[0],
        server_cert=server[0],
        server_key=server[1],
        client_cert=client[0],
        client_key=client[1],
    )


def make_dual_use(pki: PKI, name: str = "both") -> tuple[Path, Path]:
    """A certificate (and key) for ``localhost``/``127.0.0.1`` signed by ``pki``'s CA, good as
    both server and client (what an SCU that also listens, as movescu's receiver, presents)."""
    directory = pki.ca.parent
    return _make_leaf(
        directory,
        name,
        (pki.ca, pki.ca.with_suffix(".key")),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
