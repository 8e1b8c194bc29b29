"""A users file: who may associate with a username and password (``storescp``/``qrscp``
``--require-user FILE``).

One user a line, ``user:hash``; blank lines and lines starting with ``#`` are ignored. The hash
is ``scrypt$N$r$p$SALT$KEY`` (SALT and KEY in unpadded URL-safe base64): ``hashlib.scrypt`` of
the UTF-8 password with a random 16-byte salt per user, so equal passwords hash differently and
the file reveals no password. Make a line with ``storescp --hash-password USER`` (it asks for the
password), or in Python::

    python -c "from dicomnet.users import user_line; print(user_line('alice', 'secret'))"

A user name may not contain ``:`` or a line break, nor start with ``!``. Checking a password
costs one scrypt (about 50 ms, 16 MiB), whether the user exists or not.

A line ``!jwt-hs256:SECRET`` (SECRET in unpadded URL-safe base64, at least 32 bytes) lets JSON
Web Tokens signed with HMAC-SHA256 under that secret in: the token's ``sub`` claim names the
user, ``exp`` and ``nbf`` are honoured when present (30 s of clock skew allowed). Other
algorithms (RS256, ES256) are not verified here; check those in an ``EVT_USER_ID`` handler.
Such a file holds a secret: keep it readable by the server only.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import time
from pathlib import Path

__all__ = [
    "UsersFile",
    "UsersFileError",
    "hash_password",
    "jwt_key_line",
    "user_line",
    "verify_password",
]

# scrypt parameters: N=2**14, r=8, p=1 (OWASP's minimum for scrypt); 32-byte keys.
_N, _R, _P, _KEY = 2**14, 8, 1, 32
_SALT = 16
_MAX_MEM = 64 * 1024**2


class UsersFileError(ValueError):
    """A users file (or hash) that cannot be read: the message says where."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int, size: int) -> bytes:
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=size, maxmem=_MAX_MEM)


def hash_password(password: str | bytes, *, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$SALT$KEY`` for ``password`` (a fresh random salt unless given)."""
    secret = password.encode("utf-8") if isinstance(password, str) else password
    salt = os.urandom(_SALT) if salt is None else salt
    key = _scrypt(secret, salt, _N, _R, _P, _KEY)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def user_line(user: str, password: str | bytes) -> str:
    """One line of a users file for ``user`` with ``password``."""
    if not user or ":" in user or "\n" in user or "\r" in user or user.startswith("!"):
        raise ValueError("a user name must be non-empty, without ':' or line breaks or a leading !")
    return f"{user}:{hash_password(password)}"


def _parse_hash(text: str) -> tuple[int, int, int, bytes, bytes]:
    parts = text.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise ValueError("not a scrypt$N$r$p$SALT$KEY hash")
    n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
    if n < 2 or n & (n - 1) or not 1 <= r <= 64 or not 1 <= p <= 16 or 128 * r * n > _MAX_MEM:
        raise ValueError("scrypt parameters out of range")
    salt, key = _unb64(parts[4]), _unb64(parts[5])
    if not salt or not 16 <= len(key) <= 64:
        raise ValueError("empty salt or bad key length")
    return n, r, p, salt, key


def verify_password(password: str | bytes, hashed: str) -> bool:
    """Whether ``password`` matches ``hashed`` (compared in constant time)."""
    secret = password.encode("utf-8") if isinstance(password, str) else password
    n, r, p, salt, key = _parse_hash(hashed)
    return hmac.compare_digest(_scrypt(secret, salt, n, r, p, len(key)), key)


@functools.cache
def _dummy() -> str:
    """Checked against when the user is unknown: a wrong name costs what a wrong password does."""
    return hash_password(b"", salt=b"\0" * _SALT)


_JWT_KEY = "!jwt-hs256"
_SKEW = 30.0


def jwt_key_line(secret: bytes) -> str:
    """The users-file line accepting HS256 JSON Web Tokens signed with ``secret``."""
    if len(secret) < 32:
        raise ValueError("an HS256 secret must have at least 32 bytes")
    return f"{_JWT_KEY}:{_b64(secret)}"


class UsersFile:
    """The users of a users file, read once."""

    def __init__(self, users: dict[str, str], jwt_keys: list[bytes] | None = None) -> None:
        self._users = dict(users)
        self._jwt_keys = list(jwt_keys or [])

    @classmethod
    def load(cls, path: str | Path) -> UsersFile:
        """Read ``path``; :class:`UsersFileError` (naming the line) if it is not a users file,
        OSError if it cannot be read."""
        users: dict[str, str] = {}
        keys: list[bytes] = []
        text = Path(path).read_text(encoding="utf-8")
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, hashed = line.partition(":")
            if not sep or not user:
                raise UsersFileError(f"{path}:{number}: expected user:hash")
            if user == _JWT_KEY:
                try:
                    key = _unb64(hashed)
                except (ValueError, TypeError):
                    key = b""
                if len(key) < 32:
                    raise UsersFileError(f"{path}:{number}: an HS256 secret of 32 bytes or more")
                keys.append(key)
                continue
            if user.startswith("!"):
                raise UsersFileError(f"{path}:{number}: unknown directive {user!r}")
            try:
                _parse_hash(hashed)
            except (ValueError, TypeError) as exc:
                raise UsersFileError(f"{path}:{number}: {exc}") from None
            if user in users:
                raise UsersFileError(f"{path}:{number}: user {user!r} is listed twice")
            users[user] = hashed
        if not users and not keys:
            raise UsersFileError(f"{path}: no users")
        return cls(users, keys)

    def __len__(self) -> int:
        return len(self._users)

    def __contains__(self, user: object) -> bool:
        return user in self._users

    def verify(self, user: str, password: str | bytes) -> bool:
        """Whether ``user`` is listed with ``password``."""
        hashed = self._users.get(user)
        matched = verify_password(password, _dummy() if hashed is None else hashed)
        return matched and hashed is not None

    @property
    def accepts_jwt(self) -> bool:
        """Whether the file has an HS256 key."""
        return bool(self._jwt_keys)

    def verify_jwt(self, token: bytes, now: float | None = None) -> str | None:
        """The ``sub`` of ``token`` if it is an HS256 JSON Web Token signed with one of the
        file's keys and valid at ``now`` (default: the current time); else None."""
        parts = token.strip().split(b".")
        if len(parts) != 3 or not self._jwt_keys:
            return None
        try:
            header = json.loads(_unb64(parts[0].decode("ascii")))
            signature = _unb64(parts[2].decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(header, dict) or header.get("alg") != "HS256":
            return None
        signed = parts[0] + b"." + parts[1]
        if not any(
            hmac.compare_digest(hmac.digest(key, signed, "sha256"), signature)
            for key in self._jwt_keys
        ):
            return None
        try:
            claims = json.loads(_unb64(parts[1].decode("ascii")))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(claims, dict):
            return None
        now = time.time() if now is None else now
        expires, not_before, subject = claims.get("exp"), claims.get("nbf"), claims.get("sub")
        for value in (expires, not_before):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                return None
        if expires is not None and now > expires + _SKEW:
            return None
        if not_before is not None and now < not_before - _SKEW:
            return None
        if not isinstance(subject, str) or not subject:
            return None
        return subject
