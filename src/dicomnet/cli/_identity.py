"""User identity on the command line: the SCUs' --user/--password/--user-* options become one
User Identity item; storescp's and qrscp's --require-user FILE checks it against a users file
(:mod:`dicomnet.users`). No secret is ever printed or logged."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from dicomnet._log import get_logger
from dicomnet.cli._console import EXIT_REJECTED, EXIT_USAGE, CommandError

if TYPE_CHECKING:
    from pathlib import Path  # annotations only: pathlib is not on echoscu's path

    from dicomnet.ul.items import UserIdentityRQ

LOGGER = get_logger("dicomnet.cli")

# PS3.8 Table 9-19 User-Identity-Type.
USERNAME, PASSCODE, KERBEROS, SAML, JWT = 1, 2, 3, 4, 5
_PRIMARY_MAX = 0xFFFF  # the item's 2-byte lengths


def _read(path: str, what: str, *, text: bool) -> bytes:
    try:
        if path == "-":
            data = sys.stdin.buffer.readline() if text else sys.stdin.buffer.read()
        else:
            with open(path, "rb") as handle:
                data = handle.read()
    except OSError as exc:
        raise CommandError(
            f"{what}: cannot read {path}: {exc.strerror or exc}", EXIT_USAGE
        ) from None
    if text:  # the first line, without its line ending
        data = data.splitlines()[0] if data.strip(b"\r\n") else b""
    return data


def _token(value: str, what: str) -> bytes:
    """A token given as VALUE, @FILE, or the name of an existing FILE (DCMTK's --jwt FILE)."""
    if value.startswith("@"):
        data = _read(value[1:], what, text=False)
    elif os.path.isfile(value):
        data = _read(value, what, text=False)
    else:
        data = value.encode("utf-8")
    if what != "--user-kerberos":  # text tokens: no trailing line break from the file
        data = data.rstrip(b"\r\n")
    if not data:
        raise CommandError(f"{what} is empty", EXIT_USAGE)
    return data


def identity_from_options(common: Any, *, encrypted: bool) -> UserIdentityRQ | None:
    """The User Identity item the options ask for (None: none); CommandError (exit 2) when
    they contradict each other or a password would cross the network in clear."""
    password = common.password
    if password is None and common.password_file is None and common.user is not None:
        password = os.environ.get("DICOMNET_PASSWORD") or None  # only with --user
    tokens = [
        (name, kind, value)
        for name, kind, value in (
            ("--user-jwt", JWT, common.user_jwt),
            ("--user-saml", SAML, common.user_saml),
            ("--user-kerberos", KERBEROS, common.user_kerberos),
        )
        if value is not None
    ]
    has_password = password is not None or common.password_file is not None
    given = [name for name, _, _ in tokens] + (["--user"] if common.user is not None else [])
    if len(given) > 1:
        raise CommandError(f"give one user identity, not {' and '.join(given)}", EXIT_USAGE)
    if has_password and common.user is None:
        raise CommandError("--password/--password-file need --user", EXIT_USAGE)
    if common.password is not None and common.password_file is not None:
        raise CommandError("give --password or --password-file, not both", EXIT_USAGE)
    if not given:
        if common.identity_response:
            raise CommandError("--identity-response needs a user identity option", EXIT_USAGE)
        return None
    from dicomnet.ul.items import UserIdentityRQ

    secondary = b""
    if tokens:
        name, kind, value = tokens[0]
        primary = _token(value, name)
    else:
        assert common.user is not None
        primary = common.user.encode("utf-8")
        if not primary:
            raise CommandError("--user is empty", EXIT_USAGE)
        kind = USERNAME
        if has_password:
            kind = PASSCODE
            if common.password_file is not None:
                secondary = _read(common.password_file, "--password-file", text=True)
            else:
                secondary = (password or "").encode("utf-8")
            if not secondary:
                raise CommandError("the password is empty", EXIT_USAGE)
            if not encrypted and not common.allow_plain_password:
                raise CommandError(
                    "refusing to send the password over plain TCP, where anyone on the network "
                    "path can read it: use TLS (--tls-ca/--tls-cert) or --allow-plain-password",
                    EXIT_USAGE,
                )
    if len(primary) > _PRIMARY_MAX or len(secondary) > _PRIMARY_MAX:
        raise CommandError("the user identity is longer than 65535 bytes", EXIT_USAGE)
    return UserIdentityRQ(kind, common.identity_response, primary, secondary)


def check_response(common: Any, assoc: Any) -> None:
    """--identity-response: the association must carry the peer's positive response."""
    if not common.identity_response or not getattr(assoc, "is_established", False):
        return
    ac = getattr(getattr(assoc, "acceptor", None), "primitive", None)
    answer = getattr(getattr(ac, "user_information", None), "user_identity_ac", None)
    if answer is None:
        assoc.release()
        raise CommandError(
            f"{common.peer}:{common.port} accepted the association without the positive user "
            "identity response asked for (--identity-response)",
            EXIT_REJECTED,
        )


def require_user(path: Path) -> Any:
    """--require-user FILE: the EVT_USER_ID handler accepting only a username and password
    listed in the users file (exit 2 if it cannot be read). An association without a user
    identity is refused by the AE (``require_user_identity``)."""
    from dicomnet.users import UsersFile, UsersFileError

    try:
        users = UsersFile.load(path)
    except (OSError, UnicodeDecodeError, UsersFileError) as exc:
        raise CommandError(f"--require-user: {exc}", EXIT_USAGE) from None

    def verify(event: Any) -> tuple[bool, bytes | None]:
        address = getattr(getattr(event.assoc, "requestor", None), "address", "?")
        kind = event.user_id_type
        if kind == JWT and users.accepts_jwt:
            subject = users.verify_jwt(bytes(event.primary_field))
            if subject is not None:
                LOGGER.info("user %r from %s authenticated (JWT)", subject, address)
                return True, b""
            LOGGER.warning(
                "refusing the association from %s: a JWT that is not HS256-signed with a "
                "--require-user key, expired, or without a subject",
                address,
            )
            return False, None
        if kind != PASSCODE:
            LOGGER.warning(
                "refusing the association from %s: user identity type %d, but --require-user "
                "takes a username and password%s",
                address,
                kind,
                " (or an HS256 JWT)" if users.accepts_jwt else "",
            )
            return False, None
        user = bytes(event.primary_field).decode("utf-8", "replace")
        if users.verify(user, bytes(event.secondary_field)):
            LOGGER.info("user %r from %s authenticated", user, address)
            return True, b""  # PS3.7 D.3.3.7.2: a zero-length server response for a passcode
        LOGGER.warning(
            "refusing the association from %s: unknown user %r or wrong password", address, user
        )
        return False, None

    return verify


def print_hash_line(user: str | None) -> None:
    """--hash-password USER: ask for the password (twice on a terminal; or read a line from
    stdin, or take DICOMNET_PASSWORD), print the users-file line and exit 0."""
    if user is None:
        return
    import getpass

    import typer

    from dicomnet.users import user_line

    password = os.environ.get("DICOMNET_PASSWORD")
    if password is None and sys.stdin.isatty():
        password = getpass.getpass(f"password for {user}: ")
        if getpass.getpass("again: ") != password:
            sys.stderr.write("the passwords differ\n")
            raise typer.Exit(EXIT_USAGE)
    elif password is None:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        sys.stderr.write("the password is empty\n")
        raise typer.Exit(EXIT_USAGE)
    try:
        sys.stdout.write(user_line(user, password) + "\n")
    except ValueError as exc:
        sys.stderr.write(f"{exc}\n")
        raise typer.Exit(EXIT_USAGE) from None
    raise typer.Exit(0)
