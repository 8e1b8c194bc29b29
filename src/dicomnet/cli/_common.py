"""What every command does the same way: logging set-up, handler loading, TLS contexts, AE
construction, and turning an association's outcome into an exit code."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dicomnet import events as evt
from dicomnet._record import record
from dicomnet.cli import _logging
from dicomnet.cli._console import (
    EXIT_ABORTED,
    EXIT_CONNECT,
    EXIT_REJECTED,
    EXIT_USAGE,
    CommandError,
    OutputFormat,
)
from dicomnet.cli._handlers import HandlerSpec, HandlerSpecError, load_handlers

if TYPE_CHECKING:
    import ssl

LOG = logging.getLogger("dicomnet.cli")


@record(kw_only=True)
class Common:
    """The options every command has, after Typer's checks (declared once, in
    :mod:`dicomnet.cli._shared`). ``fmt`` and ``max_dataset_size`` keep their defaults in the
    commands that do not offer ``--format`` or ``--max-dataset-size``."""

    quiet: bool = False
    verbose: bool = False
    debug: bool = False
    log_file: str | None = None
    handlers: Sequence[str] = ()
    fmt: OutputFormat = OutputFormat.auto
    no_color: bool = False
    acse_timeout: float = 30.0
    dimse_timeout: float = 30.0
    max_pdu: int | None = None
    max_dataset_size: str = "4G"
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_ca: str | None = None
    tls_no_verify: bool = False

    @property
    def level(self) -> int:
        return _logging.level_for(self.quiet, self.verbose, self.debug)


@record(kw_only=True)
class ScuCommon(Common):
    """What every SCU has besides: the peer, the AE titles, the connect timeout and the name
    the server's certificate must carry."""

    peer: str = ""
    port: int = 0
    calling_aet: str = ""
    called_aet: str = "ANY-SCP"
    connect_timeout: float = 10.0
    tls_server_name: str | None = None

    def client_tls(self) -> ssl.SSLContext | None:
        """The TLS context the TLS options ask for (None: plain TCP)."""
        return tls_client_context(
            self.tls_cert, self.tls_key, self.tls_ca, self.tls_no_verify, self.tls_server_name
        )

    def tls_args(
        self, ssl_context: ssl.SSLContext | None
    ) -> tuple[ssl.SSLContext, str | None] | None:
        return tls_args(ssl_context, self.tls_server_name)

    def ae(self) -> Any:
        """An AE titled --calling-aet, with the network options applied."""
        return scu_ae(
            self.calling_aet,
            self.connect_timeout,
            self.acse_timeout,
            self.dimse_timeout,
            self.max_pdu,
        )

    def check_established(self, assoc: Any) -> None:
        check_established(assoc, self.peer, self.port)


def start(common: Common, default_event: evt.EventType) -> list[HandlerSpec]:
    """Set up logging and load the user's handlers (exit 2 on a bad --handler)."""
    _logging.setup(common.level, common.log_file)
    try:
        return load_handlers(common.handlers, default_event)
    except HandlerSpecError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None


def tls_client_context(
    cert: str | None,
    key: str | None,
    ca: str | None,
    no_verify: bool,
    server_name: str | None = None,
) -> ssl.SSLContext | None:
    """TLS for an SCU when any TLS option is given (see :mod:`dicomnet.tls`): the server's
    certificate chain is verified against --tls-ca (or the system's CAs) and its name against
    the host given on the command line, or --tls-server-name. --tls-no-verify turns both
    checks off."""
    if not (cert or ca or no_verify or server_name):
        return None
    import ssl

    from dicomnet.tls import client_context

    try:
        ctx = client_context(ca, cert, key, check_hostname=not no_verify)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise CommandError(f"cannot use the TLS files: {exc}", EXIT_USAGE) from None
    if no_verify:
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tls_args(
    ssl_context: ssl.SSLContext | None, server_name: str | None
) -> tuple[ssl.SSLContext, str | None] | None:
    """``AE.associate(tls_args=...)``: the context and the name the certificate must carry."""
    return None if ssl_context is None else (ssl_context, server_name)


def tls_server_context(
    cert: str | None, key: str | None, ca: str | None, no_verify: bool
) -> ssl.SSLContext | None:
    """TLS for an SCP when --tls-cert is given; a client certificate is required unless
    --tls-no-verify (DESIGN.md 1.4)."""
    if not cert:
        if ca or key:
            raise CommandError("TLS on a server needs --tls-cert (and --tls-key)", EXIT_USAGE)
        return None
    import ssl

    from dicomnet.tls import server_context

    try:
        return server_context(cert, key, ca, require_client_cert=not no_verify)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise CommandError(f"cannot use the TLS files: {exc}", EXIT_USAGE) from None


_ABORT_SOURCES = {0: "the peer (service user)", 1: "reserved source", 2: "the peer's provider"}
_PROVIDER_REASONS = {
    0: "reason not specified",
    1: "unrecognized PDU",
    2: "unexpected PDU",
    4: "unrecognized PDU parameter",
    5: "unexpected PDU parameter",
    6: "invalid PDU parameter value",
}


def failure_text(assoc: Any, default: str = "no response") -> str:
    """Why an association ended early, for a one-line error: our own reason if we have one,
    else the A-ABORT the peer sent."""
    if assoc.failure_reason:
        return str(assoc.failure_reason)
    pdu = getattr(assoc, "abort_pdu", None)
    if pdu is not None:
        text = f"aborted by {_ABORT_SOURCES.get(pdu.source, f'source {pdu.source}')}"
        if pdu.source == 2:
            text += f": {_PROVIDER_REASONS.get(pdu.reason, f'reason {pdu.reason}')}"
        return text + " (A-ABORT)"
    if getattr(assoc, "is_aborted", False):
        return "the association was aborted"
    return default


def scu_ae(
    calling_aet: str,
    connect_timeout: float,
    acse_timeout: float,
    dimse_timeout: float,
    max_pdu: int | None,
) -> Any:
    """An AE for an SCU command, with the network options applied."""
    from dicomnet.ae import AE

    ae = AE(calling_aet)
    ae.connection_timeout = connect_timeout
    ae.acse_timeout = acse_timeout
    ae.dimse_timeout = dimse_timeout
    if max_pdu is not None:
        ae.maximum_pdu_size = max_pdu
    return ae


def check_established(assoc: Any, peer: str, port: int) -> None:
    """Raise CommandError with the right exit code if the association did not come up."""
    if assoc.is_established:
        return
    if assoc.connect_error is not None:
        raise CommandError(str(assoc.connect_error), EXIT_CONNECT)
    if assoc.is_rejected and assoc.rejection is not None:
        from dicomnet.ul.errors import describe_rejection

        raise CommandError(
            f"association rejected by {peer}:{port}: {describe_rejection(assoc.rejection)}",
            EXIT_REJECTED,
        )
    if assoc.failure_reason == "no presentation context was accepted":
        raise CommandError(
            f"{peer}:{port} accepted none of the proposed presentation contexts", EXIT_REJECTED
        )
    reason = failure_text(assoc, "the association was aborted")
    raise CommandError(f"association with {peer}:{port} failed: {reason}", EXIT_ABORTED)


def apply_size_limit(ae: Any, max_dataset_size: str) -> None:
    """--max-dataset-size on a receiving AE (0: no limit)."""
    from dicomnet.cli._options import parse_size

    size = parse_size(max_dataset_size) or None
    ae.maximum_dataset_size = size
    ae.maximum_inflated_size = size
