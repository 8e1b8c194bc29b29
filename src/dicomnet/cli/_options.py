"""Options shared by the commands, with DCMTK's multi-letter aliases (``-aet``, ``-aec``, ...).

Declared once here as ``Annotated`` types so every command spells them the same way.
"""

# No `from __future__ import annotations` here: Typer reads the callbacks' signatures at every
# start, and string annotations would each be eval()ed (about a millisecond in all).

import sys
from pathlib import Path
from typing import Annotated

import typer

from dicomnet.cli._console import OutputFormat


def _check_aet(value: str | None) -> str | None:
    if value is None:
        return None
    from dicomnet.ul.codec import validate_ae_title

    try:
        return validate_ae_title(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _check_port(value: int) -> int:
    if not 0 <= value <= 65535:
        raise typer.BadParameter(f"{value} is not a TCP port (0-65535)")
    return value


def _check_pdu(value: int | None) -> int | None:
    if value is not None and value != 0 and not 4096 <= value <= 131072 * 1024:
        raise typer.BadParameter("max PDU must be 0 (no limit) or 4096..134217728")
    return value


_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def parse_size(value: str) -> int:
    """A size in bytes from ``123``, ``64K``, ``512M``, ``4G`` (binary units; ``0``: no
    limit); ValueError otherwise."""
    text = value.strip().upper().removesuffix("B").removesuffix("I")
    unit = text[-1:] if text[-1:] in _UNITS and not text[-1:].isdigit() else ""
    number = text[: len(text) - len(unit)].strip()
    try:
        size = float(number) * _UNITS[unit]
    except ValueError:
        raise ValueError(f"{value!r} is not a size (e.g. 4G, 512M, 100K)") from None
    if size < 0:
        raise ValueError(f"{value!r} is negative")
    return int(size)


def _check_size(value: str) -> str:
    try:
        parse_size(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return value


PANEL_NET = "Network"
PANEL_TLS = "TLS"
PANEL_OUT = "Output and logging"

Peer = Annotated[str, typer.Argument(help="Host name or address of the peer.", show_default=False)]
Port = Annotated[
    int, typer.Argument(help="TCP port of the peer.", callback=_check_port, show_default=False)
]
CallingAET = Annotated[
    str,
    typer.Option(
        "--calling-aet",
        "-aet",
        help="Our AE title.",
        callback=_check_aet,
        rich_help_panel=PANEL_NET,
    ),
]
CalledAET = Annotated[
    str,
    typer.Option(
        "--called-aet",
        "-aec",
        help="The peer's AE title.",
        callback=_check_aet,
        rich_help_panel=PANEL_NET,
    ),
]
ConnectTimeout = Annotated[
    float,
    typer.Option(
        "--connect-timeout",
        "-to",
        help="Seconds to connect (and TLS handshake).",
        min=0.001,
        rich_help_panel=PANEL_NET,
    ),
]
AcseTimeout = Annotated[
    float,
    typer.Option(
        "--acse-timeout",
        "-ta",
        help="Seconds for association set-up and release (and ARTIM).",
        min=0.001,
        rich_help_panel=PANEL_NET,
    ),
]
DimseTimeout = Annotated[
    float,
    typer.Option(
        "--dimse-timeout",
        "-td",
        help="Seconds without a byte from the peer while waiting for a DIMSE response or "
        "receiving a message (a slow but steady transfer is never cut).",
        min=0.001,
        rich_help_panel=PANEL_NET,
    ),
]
MaxPDU = Annotated[
    int | None,
    typer.Option(
        "--max-pdu",
        "-pdu",
        help="Largest PDU we receive (0 = no limit).",
        callback=_check_pdu,
        rich_help_panel=PANEL_NET,
        show_default="16384, as DCMTK",
    ),
]
# Proposed transfer syntaxes (every SCU), DCMTK's -x... options. (-x= is rewritten to
# --propose-uncompr before parsing: click cannot match an option name with '=' in it.)
ProposeTS = Annotated[
    list[str] | None,
    typer.Option(
        "--propose-ts",
        help="Propose this transfer syntax (UID, keyword such as ExplicitVRLittleEndian, or "
        "implicit, explicit, big, deflated, jpeg-baseline, jpeg-lossless, jpeg-ls, j2k, rle); "
        "repeatable, in order of preference, before any -x preset.",
        rich_help_panel=PANEL_NET,
        show_default=False,
    ),
]
ProposeUncompr = Annotated[
    bool,
    typer.Option(
        "--propose-uncompr",
        help="-x=: propose Explicit VR LE, Explicit VR BE, Implicit VR LE (DCMTK's default).",
        rich_help_panel=PANEL_NET,
    ),
]
ProposeLittle = Annotated[
    bool,
    typer.Option(
        "--propose-little",
        "-xe",
        help="Propose Explicit VR LE first, then Explicit VR BE, Implicit VR LE.",
        rich_help_panel=PANEL_NET,
    ),
]
ProposeBig = Annotated[
    bool,
    typer.Option(
        "--propose-big",
        "-xb",
        help="Propose Explicit VR BE first, then Explicit VR LE, Implicit VR LE.",
        rich_help_panel=PANEL_NET,
    ),
]
ProposeImplicit = Annotated[
    bool,
    typer.Option(
        "--propose-implicit",
        "-xi",
        help="Propose Implicit VR Little Endian only.",
        rich_help_panel=PANEL_NET,
    ),
]
ProposeDeflated = Annotated[
    bool,
    typer.Option(
        "--propose-deflated",
        "-xd",
        help="Propose Deflated Explicit VR LE first, then the uncompressed ones.",
        rich_help_panel=PANEL_NET,
    ),
]
TlsCert = Annotated[
    str | None,
    typer.Option(
        "--tls-cert", help="Our certificate (PEM); enables TLS.", rich_help_panel=PANEL_TLS
    ),
]
TlsKey = Annotated[
    str | None,
    typer.Option("--tls-key", help="Our private key (PEM).", rich_help_panel=PANEL_TLS),
]
TlsCA = Annotated[
    str | None,
    typer.Option(
        "--tls-ca",
        help="CA certificate(s) (PEM) to verify the peer; enables TLS.",
        rich_help_panel=PANEL_TLS,
    ),
]
TlsNoVerify = Annotated[
    bool,
    typer.Option(
        "--tls-no-verify",
        help="Do not verify the peer's certificate (insecure): neither its chain nor, for an "
        "SCU, its host name.",
        rich_help_panel=PANEL_TLS,
    ),
]
TlsServerName = Annotated[
    str | None,
    typer.Option(
        "--tls-server-name",
        help="The name the server's certificate must carry (default: PEER as given; an IP "
        "address must be in the certificate's IP SANs). The host name is always checked "
        "unless --tls-no-verify. Enables TLS.",
        rich_help_panel=PANEL_TLS,
    ),
]
#: dicomnet.tls.PROFILES (not imported here: ssl stays off the start-up path), and the DCMTK
#: flags that choose them (rewritten into --tls-profile by dicomnet.cli.app).
TLS_PROFILES = ("bcp195-nd", "bcp195", "bcp195-ex", "aes")
DCMTK_TLS_PROFILES = {"+py": "bcp195-nd", "+px": "bcp195", "+pz": "bcp195-ex", "+pa": "aes"}


def _check_profile(value: str) -> str:
    if value not in TLS_PROFILES:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(TLS_PROFILES)}")
    return value


TlsProfile = Annotated[
    str,
    typer.Option(
        "--tls-profile",
        metavar="PROFILE",
        help="The secure transport connection profile, when TLS is on: bcp195-nd (Non-"
        "Downgrading BCP 195), bcp195, bcp195-ex (Extended BCP 195: ECDHE with AES-GCM), or "
        "aes (the retired AES profile: TLS 1.2 with TLS_RSA_WITH_AES_128_CBC_SHA, for old "
        "peers). DCMTK's +py, +px, +pz, +pa work too. TLS 1.2 is the minimum for every one.",
        callback=_check_profile,
        rich_help_panel=PANEL_TLS,
    ),
]
MaxDatasetSize = Annotated[
    str,
    typer.Option(
        "--max-dataset-size",
        help="Largest data set received (K, M, G suffixes; 0: no limit); beyond, the C-STORE "
        "gets 0xA700 and nothing is kept. For Deflated data sets, also the most they may "
        "inflate to (and at most 100 times their size past 64 MiB).",
        callback=_check_size,
        rich_help_panel=PANEL_NET,
    ),
]
Format = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        help="Result format: table on a terminal, text otherwise by "
        "default; json, jsonl or csv for scripts.",
        rich_help_panel=PANEL_OUT,
    ),
]
NoColor = Annotated[
    bool,
    typer.Option(
        "--no-color", help="No colours (NO_COLOR is honoured too).", rich_help_panel=PANEL_OUT
    ),
]
Quiet = Annotated[
    bool, typer.Option("--quiet", "-q", help="Only errors on stderr.", rich_help_panel=PANEL_OUT)
]
Verbose = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        help="Association and DIMSE summaries on stderr.",
        rich_help_panel=PANEL_OUT,
    ),
]
Debug = Annotated[
    bool,
    typer.Option(
        "--debug",
        "-d",
        help="Also PDU summaries, state transitions, tracebacks.",
        rich_help_panel=PANEL_OUT,
    ),
]
LogFile = Annotated[
    str | None,
    typer.Option("--log-file", help="Also write the log to this file.", rich_help_panel=PANEL_OUT),
]


# User identity (PS3.7 D.3.3.7), on every SCU. Secrets are never shown as defaults or logged.
PANEL_ID = "User identity"
_TOKEN = "VALUE, @FILE, or a FILE (as DCMTK's option) to read it from"
User = Annotated[
    str | None,
    typer.Option(
        "--user",
        "-usr",
        help="Authenticate as this user (a username alone, or with --password).",
        rich_help_panel=PANEL_ID,
        show_default=False,
    ),
]
Password = Annotated[
    str | None,
    typer.Option(
        "--password",
        "-pwd",
        help="The password of --user (default: the DICOMNET_PASSWORD environment variable, "
        "when set). Other users on this machine can see a command line: prefer "
        "--password-file or the variable. Only over TLS unless --allow-plain-password.",
        rich_help_panel=PANEL_ID,
        show_default=False,
    ),
]
PasswordFile = Annotated[
    str | None,
    typer.Option(
        "--password-file",
        help="Read the password of --user from the first line of this file ('-': stdin).",
        rich_help_panel=PANEL_ID,
        show_default=False,
    ),
]
UserJwt = Annotated[
    str | None,
    typer.Option(
        "--user-jwt",
        "--jwt",
        help=f"Authenticate with a JSON Web Token: {_TOKEN}.",
        rich_help_panel=PANEL_ID,
        show_default=False,
    ),
]
UserSaml = Annotated[
    str | None,
    typer.Option(
        "--user-saml",
        "--saml",
        help=f"Authenticate with a SAML assertion: {_TOKEN}.",
        rich_help_panel=PANEL_ID,
        show_default=False,
    ),
]
UserKerberos = Annotated[
    str | None,
    typer.Option(
        "--user-kerberos",
        "--kerberos",
        "-kt",
        help=f"Authenticate with a Kerberos service ticket: {_TOKEN}.",
        rich_help_panel=PANEL_ID,
        show_default=False,
    ),
]
IdentityResponse = Annotated[
    bool,
    typer.Option(
        "--identity-response",
        "--pos-response",
        "-rsp",
        help="Ask the peer for a positive response to the user identity (the association "
        "fails if none comes).",
        rich_help_panel=PANEL_ID,
    ),
]
AllowPlainPassword = Annotated[
    bool,
    typer.Option(
        "--allow-plain-password",
        help="Send --password over plain TCP (default: refused without TLS: the password "
        "would cross the network in clear).",
        rich_help_panel=PANEL_ID,
    ),
]


# Options of some of the commands, spelled once; each command places them in its own signature.

# The retrieving SCUs (getscu, movescu); the models also findscu.
IdentifierFile = Annotated[
    Path | None,
    typer.Argument(help="A DICOM or DICOM JSON file with the identifier.", show_default=False),
]
RetrieveKey = Annotated[
    list[str] | None, typer.Option("--key", "-k", help="KEY=VALUE; repeatable.")
]
RetrieveLevel = Annotated[
    str, typer.Option("--level", "-L", help="PATIENT, STUDY, SERIES or IMAGE.")
]
PatientRoot = Annotated[bool, typer.Option("--patient-root", "-P", help="Patient Root model.")]
StudyRoot = Annotated[bool, typer.Option("--study-root", "-S", help="Study Root model (default).")]
PatientStudyOnly = Annotated[
    bool, typer.Option("--patient-study-only", "-O", help="Patient/Study Only model.")
]
RetrieveFilepath = Annotated[
    str | None, typer.Option("--filepath", help="File name template (see storescp).")
]

# The storage SCPs (storescp, qrscp).
ScpAETitle = Annotated[str, typer.Option("--ae-title", "-aet", help="Our AE title.")]
SortOnStudyUID = Annotated[
    bool,
    typer.Option(
        "--sort-on-study-uid", "+ssu", help="One subdirectory per study (StudyInstanceUID)."
    ),
]
OnDuplicate = Annotated[
    str, typer.Option("--on-duplicate", help="replace, keep or fail when the file exists.")
]
AcceptAll = Annotated[
    bool,
    typer.Option(
        "--accept-all",
        "+xa",
        help="Accept every transfer syntax (compressed ones too), keeping the one the sender "
        "proposed first in each context (after --prefer-ts ones).",
    ),
]
# (+x= is rewritten to --prefer-uncompr before parsing, as -x=.)
PreferTS = Annotated[
    list[str] | None,
    typer.Option(
        "--prefer-ts",
        help="Accept this transfer syntax, preferred over the others in the given order "
        "(UID, keyword or short name as --propose-ts); repeatable. The uncompressed ones (or "
        "a +x preset's) stay accepted after them.",
        show_default=False,
    ),
]
PreferUncompr = Annotated[
    bool,
    typer.Option(
        "--prefer-uncompr",
        help="+x=: accept Explicit VR LE, Explicit VR BE, Implicit VR LE, preferring the "
        "first (DCMTK's default; ours also accepts Deflated).",
    ),
]
PreferLittle = Annotated[
    bool,
    typer.Option(
        "--prefer-little",
        "+xe",
        help="Accept the uncompressed syntaxes preferring Explicit VR Little Endian.",
    ),
]
PreferBig = Annotated[
    bool,
    typer.Option(
        "--prefer-big",
        "+xb",
        help="Accept the uncompressed syntaxes preferring Explicit VR Big Endian.",
    ),
]
PreferDeflated = Annotated[
    bool,
    typer.Option(
        "--prefer-deflated",
        "+xd",
        help="Accept Deflated Explicit VR LE (preferred) and the uncompressed syntaxes.",
    ),
]
ImplicitOnly = Annotated[
    bool,
    typer.Option("--implicit", "+xi", help="Accept Implicit VR Little Endian only."),
]
RequireCalledAET = Annotated[
    bool, typer.Option("--require-called-aet", help="Reject other called AE titles.")
]
RequireCallingAET = Annotated[
    list[str] | None,
    typer.Option("--require-calling-aet", help="Only accept these calling AE titles (repeatable)."),
]
AllowPlainPasswordScp = Annotated[
    bool,
    typer.Option(
        "--allow-plain-password",
        help="Accept a username+password identity over plain TCP (default: refused "
        "unless TLS is on: the password would cross the network in clear).",
    ),
]


def _hash_password(user: str | None) -> None:
    from dicomnet.cli._identity import print_hash_line

    print_hash_line(user)


RequireUser = Annotated[
    Path | None,
    typer.Option(
        "--require-user",
        help="Accept only users listed in this users file, each line 'user:scrypt$...' "
        "(make one with --hash-password USER), and, with a line '!jwt-hs256:SECRET' (base64url), "
        "JSON Web Tokens signed HS256 with SECRET; an association without user identity, or "
        "with a wrong one, is rejected. Passwords only over TLS unless --allow-plain-password.",
        show_default=False,
    ),
]
HashPassword = Annotated[
    str | None,
    typer.Option(
        "--hash-password",
        metavar="USER",
        callback=_hash_password,
        is_eager=True,
        expose_value=False,
        help="Print the --require-user line of USER and exit; the password is asked for "
        "(or read from stdin, or DICOMNET_PASSWORD).",
        show_default=False,
    ),
]
MaxAssociations = Annotated[
    int, typer.Option("--max-associations", min=1, help="Concurrent associations.")
]


def show_version(value: bool) -> None:
    """--version: print the version and exit 0 (eager: before any other option is checked)."""
    if value:
        from dicomnet._version import __version__

        sys.stdout.write(f"dicomnet {__version__}\n")
        raise typer.Exit(0)


Version = Annotated[
    bool,
    typer.Option(
        "--version", callback=show_version, is_eager=True, help="Show the version and exit."
    ),
]


def handler_option(default_event: str) -> object:
    return typer.Option(
        "--handler",
        help=(
            "[EVENT=]module:function[:arg1,arg2,...] — call your own handler; repeatable. "
            f"Without EVENT= it handles {default_event}. module is a dotted name (the current "
            "directory is importable) or a .py file."
        ),
        rich_help_panel="Handlers",
    )


# DCMTK-style options whose value must be a separate argument; a glued form such as -aetME is
# refused with a clear message instead of being read as a cluster of one-letter options.
GLUED_ALIASES = ("-aet", "-aec", "-aem", "-to", "-ta", "-td", "-pdu", "-od", "-su", "-ss")
GLUED_IDENTITY_ALIASES = ("-usr", "-pwd", "-kt")

#: DCMTK options spelled with '=' (click would read "-x=" as "-x" with an empty value): the
#: long option each is rewritten to before parsing.
EQUALS_ALIASES = {
    "-x=": "--propose-uncompr",
    "+x=": "--prefer-uncompr",
    # dcmsend's decompression flags (storescu)
    "-dn": "--decompress=never",
    "+dls": "--decompress=lossless",
    "+dly": "--decompress=lossy",
}
