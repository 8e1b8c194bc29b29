"""Ready-made :class:`ssl.SSLContext` objects for DICOM over TLS (PS3.15 Annex B).

Both helpers refuse anything older than TLS 1.2. The server context requires and verifies a
client certificate by default (DESIGN.md 1.4); the client context always verifies the server's
certificate chain, and checks its name against the host we connect to unless told otherwise::

    from dicomnet import AE
    from dicomnet.tls import client_context, server_context

    ae.start_server(("", 2762), ssl_context=server_context("scp.pem", "scp.key", "ca.pem"))
    ae.associate("pacs", 2762, ssl_context=client_context("ca.pem", "scu.pem", "scu.key"))

Certificates and keys are PEM files; ``cert`` may also hold the key, in which case ``key`` can
be left out.

``profile`` picks the DICOM secure transport connection profile (PS3.15 Annex B), with DCMTK's
names for them (``+py``, ``+px``, ``+pz``, ``+pa``):

* ``bcp195-nd`` (the default, as in DCMTK): the Non-Downgrading BCP 195 profile: TLS 1.2 or
  later, OpenSSL's default (forward-secret, AEAD-first) cipher suites;
* ``bcp195``: the BCP 195 profile; the same here (TLS 1.0/1.1, which it would still allow, are
  refused: the safer choice);
* ``bcp195-ex``: the Extended BCP 195 profile: TLS 1.2 or later, ECDHE with AES-GCM only (and
  TLS 1.3's suites);
* ``aes``: the retired AES profile, for old peers: TLS 1.2 at most, with
  TLS_RSA_WITH_AES_128_CBC_SHA (and its 3DES fallback where OpenSSL still has it). No forward
  secrecy: use it only for peers that know nothing better.
"""

from __future__ import annotations

import os
import ssl

__all__ = ["PROFILES", "apply_profile", "client_context", "server_context"]

StrPath = str | os.PathLike[str]

MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2

#: The profiles ``profile=`` takes, the default first.
PROFILES = ("bcp195-nd", "bcp195", "bcp195-ex", "aes")


def apply_profile(context: ssl.SSLContext, profile: str) -> None:
    """Restrict ``context`` to ``profile`` (one of :data:`PROFILES`); ValueError otherwise."""
    if profile not in PROFILES:
        raise ValueError(f"unknown TLS profile {profile!r} (one of {', '.join(PROFILES)})")
    context.minimum_version = MINIMUM_VERSION
    if profile == "bcp195-ex":
        context.set_ciphers("ECDHE+AESGCM")
    elif profile == "aes":
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers("AES128-SHA:DES-CBC3-SHA")


def server_context(
    cert: StrPath,
    key: StrPath | None,
    ca: StrPath | None,
    require_client_cert: bool = True,
    *,
    password: str | None = None,
    profile: str = "bcp195-nd",
) -> ssl.SSLContext:
    """A context for :meth:`AE.start_server`: our certificate ``cert`` with its private ``key``,
    and client certificates verified against the CA certificate(s) in ``ca``.

    With ``require_client_cert`` (the default) a client without a certificate signed by ``ca``
    fails the handshake, and ``ca`` is required. Without it, a client certificate is verified
    when offered (if ``ca`` is given) but not demanded.
    """
    if require_client_cert and ca is None:
        raise ValueError("a CA certificate is needed to verify client certificates")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    apply_profile(context, profile)
    context.load_cert_chain(cert, key, password)
    if ca is not None:
        context.load_verify_locations(cafile=ca)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
    elif ca is not None:
        context.verify_mode = ssl.CERT_OPTIONAL
    else:
        context.verify_mode = ssl.CERT_NONE
    return context


def client_context(
    ca: StrPath | None,
    cert: StrPath | None = None,
    key: StrPath | None = None,
    check_hostname: bool = True,
    *,
    password: str | None = None,
    profile: str = "bcp195-nd",
) -> ssl.SSLContext:
    """A context for :meth:`AE.associate`: the server's certificate is verified against the CA
    certificate(s) in ``ca`` (the system's trusted CAs when None).

    ``cert`` (with ``key``) is the client certificate to present; servers following DESIGN.md
    1.4 require one. ``check_hostname`` checks the server certificate's names against the host
    name or IP address given to ``associate()`` (or the name in ``tls_args``); turn it off only
    for peers whose certificates do not name them (the chain is still verified).
    """
    if key is not None and cert is None:
        raise ValueError("a private key was given without its certificate")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    apply_profile(context, profile)
    if ca is None:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    else:
        context.load_verify_locations(cafile=ca)
    if cert is not None:
        context.load_cert_chain(cert, key, password)
    context.check_hostname = check_hostname
    context.verify_mode = ssl.CERT_REQUIRED
    return context
