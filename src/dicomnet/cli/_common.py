"""What every command does the same way: logging set-up, handler loading, TLS contexts, AE
construction, and turning an association's outcome into an exit code."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dicomnet._record import fields as record_fields
from dicomnet._record import record
from dicomnet.cli._console import (
    EXIT_ABORTED,
    EXIT_CONNECT,
    EXIT_REJECTED,
    EXIT_USAGE,
    CommandError,
    OutputFormat,
)

if TYPE_CHECKING:
    import ssl

    from dicomnet import events as evt
    from dicomnet.association import Association
    from dicomnet.cli._handlers import HandlerSpec
    from dicomnet.cli._transfer import Acceptance
    from dicomnet.ul.items import UserIdentityRQ

_SECRETS = ("password", "user_jwt", "user_saml", "user_kerberos")


#: The largest PDU the commands receive unless --max-pdu says otherwise: DCMTK's default (the
#: library's AE keeps pynetdicom's 16382).
CLI_MAX_PDU = 16384


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
    tls_profile: str = "bcp195-nd"
    # what an SCP accepts (commands declared with accepts=True: storescp, qrscp, movescu)
    accept_all: bool = False
    prefer_ts: Sequence[str] | None = None
    prefer_uncompr: bool = False
    prefer_little: bool = False
    prefer_big: bool = False
    prefer_deflated: bool = False
    implicit_only: bool = False

    def acceptance(self) -> Acceptance:
        """The transfer syntaxes to accept from --prefer-ts and the +x presets; exit 2 for
        two presets or an unknown syntax."""
        from dicomnet.cli._transfer import acceptance

        presets = {"+x=": self.prefer_uncompr, "+xe": self.prefer_little}
        presets |= {"+xb": self.prefer_big, "+xd": self.prefer_deflated}
        presets |= {"+xi": self.implicit_only, "+xa": self.accept_all}
        return acceptance(self.prefer_ts, presets)

    @property
    def receive_pdu(self) -> int:
        """--max-pdu, or the commands' default (:data:`CLI_MAX_PDU`)."""
        return CLI_MAX_PDU if self.max_pdu is None else self.max_pdu

    @property
    def level(self) -> int:
        from dicomnet.cli import _logging

        return _logging.level_for(self.quiet, self.verbose, self.debug)

    def server_tls(self) -> ssl.SSLContext | None:
        """TLS for an SCP when --tls-cert is given; a client certificate is required unless
        --tls-no-verify (DESIGN.md 1.4)."""
        if not self.tls_cert:
            if self.tls_ca or self.tls_key:
                raise CommandError("TLS on a server needs --tls-cert (and --tls-key)", EXIT_USAGE)
            return None
        import ssl

        from dicomnet.tls import server_context

        try:
            return server_context(
                self.tls_cert,
                self.tls_key,
                self.tls_ca,
                require_client_cert=not self.tls_no_verify,
                profile=self.tls_profile,
            )
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise CommandError(f"cannot use the TLS files: {exc}", EXIT_USAGE) from None

    def tls_client_context(self) -> ssl.SSLContext:
        """A TLS client context from the TLS options: our --tls-cert as client certificate,
        the peer verified against --tls-ca (or the system's CAs) and its host name, neither
        with --tls-no-verify. For the associations an SCP opens itself (qrscp's C-MOVE
        destinations) and, through ``client_tls``, an SCU's."""
        import ssl

        from dicomnet.tls import client_context

        try:
            ctx = client_context(
                self.tls_ca,
                self.tls_cert,
                self.tls_key,
                check_hostname=not self.tls_no_verify,
                profile=self.tls_profile,
            )
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise CommandError(f"cannot use the TLS files: {exc}", EXIT_USAGE) from None
        if self.tls_no_verify:
            ctx.verify_mode = ssl.CERT_NONE
        return ctx


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
    user: str | None = None
    password: str | None = None
    password_file: str | None = None
    user_jwt: str | None = None
    user_saml: str | None = None
    user_kerberos: str | None = None
    identity_response: bool = False
    allow_plain_password: bool = False

    def __repr__(self) -> str:  # the secrets are never shown
        shown = (
            f"{f.name}={'<redacted>' if f.name in _SECRETS and v else repr(v)}"
            for f in record_fields(self)
            for v in [getattr(self, f.name)]
        )
        return f"{type(self).__name__}({', '.join(shown)})"

    def user_identity(self, ssl_context: ssl.SSLContext | None) -> UserIdentityRQ | None:
        """The User Identity item of the --user/--password/--user-* options, or None; a
        password without TLS is refused (exit 2) unless --allow-plain-password."""
        from dicomnet.cli._identity import identity_from_options

        return identity_from_options(self, encrypted=ssl_context is not None)

    propose_ts: Sequence[str] | None = None
    propose_uncompr: bool = False
    propose_little: bool = False
    propose_big: bool = False
    propose_implicit: bool = False
    propose_deflated: bool = False

    def proposal(self) -> list[str] | None:
        """The transfer syntaxes --propose-ts and the -x presets ask for (None: neither given,
        the command's own default); exit 2 for two presets or an unknown syntax."""
        if not (
            self.propose_ts
            or self.propose_uncompr
            or self.propose_little
            or self.propose_big
            or self.propose_implicit
            or self.propose_deflated
        ):
            return None  # (echoscu's start stays free of the SOP class tables)
        from dicomnet.cli._transfer import proposal

        return proposal(
            self.propose_ts,
            {
                "-x=": self.propose_uncompr,
                "-xe": self.propose_little,
                "-xb": self.propose_big,
                "-xi": self.propose_implicit,
                "-xd": self.propose_deflated,
            },
        )

    def client_tls(self) -> ssl.SSLContext | None:
        """TLS when any TLS option is given (see :mod:`dicomnet.tls`), else None: the
        server's certificate chain is verified against --tls-ca (or the system's CAs) and its
        name against the host given on the command line, or --tls-server-name.
        --tls-no-verify turns both checks off."""
        if not (self.tls_cert or self.tls_ca or self.tls_no_verify or self.tls_server_name):
            return None
        return self.tls_client_context()

    def tls_args(
        self, ssl_context: ssl.SSLContext | None
    ) -> tuple[ssl.SSLContext, str | None] | None:
        """``AE.associate(tls_args=...)``: the context and the name the certificate must
        carry."""
        return None if ssl_context is None else (ssl_context, self.tls_server_name)

    def ae(self) -> Any:
        """An AE titled --calling-aet, with the network options applied."""
        from dicomnet.ae import AE

        ae = AE(self.calling_aet)
        ae.connection_timeout = self.connect_timeout
        ae.acse_timeout = self.acse_timeout
        ae.dimse_timeout = self.dimse_timeout
        ae.maximum_pdu_size = self.receive_pdu
        return ae

    def check_established(self, assoc: Association) -> None:
        """Raise CommandError with the right exit code if the association did not come up."""
        if assoc.is_established:
            if self.identity_response:
                from dicomnet.cli._identity import check_response

                check_response(self, assoc)
            return
        peer, port = self.peer, self.port
        if assoc.connect_error is not None:
            raise CommandError(str(assoc.connect_error), EXIT_CONNECT)
        if assoc.is_rejected and assoc.rejection is not None:
            from dicomnet.ul.errors import describe_rejection

            raise CommandError(
                f"association rejected by {peer}:{port}: {describe_rejection(assoc.rejection)}",
                EXIT_REJECTED,
            )
        if assoc.contexts and not assoc.accepted_contexts:  # an A-ASSOCIATE-AC accepting none
            raise CommandError(
                f"{peer}:{port} accepted none of the proposed presentation contexts",
                EXIT_REJECTED,
            )
        reason = failure_text(assoc, "the association was aborted")
        raise CommandError(f"association with {peer}:{port} failed: {reason}", EXIT_ABORTED)


def start(common: Common, default_event: evt.EventType) -> list[HandlerSpec]:
    """Set up logging and load the user's handlers (exit 2 on a bad --handler). Imported here:
    ``--help`` needs neither logging nor the event types."""
    from dicomnet.cli import _logging
    from dicomnet.cli._handlers import HandlerSpecError, load_handlers

    _logging.setup(common.level, common.log_file)
    try:
        return load_handlers(common.handlers, default_event)
    except HandlerSpecError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None


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


def apply_size_limit(ae: Any, max_dataset_size: str) -> None:
    """--max-dataset-size on a receiving AE (0: no limit)."""
    from dicomnet.cli._options import parse_size

    size = parse_size(max_dataset_size) or None
    ae.maximum_dataset_size = size
    ae.maximum_inflated_size = size
