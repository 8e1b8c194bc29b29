"""A users file: who may associate with a username and password (``storescp``/``qrscp``
``--require-user FILE``).

One user a line, ``user:hash``; blank lines and lines starting with ``#`` are ignored. The hash
is ``scrypt$N$r$p$SALT$KEY`` (SALT and KEY in unpadded URL-safe base64): ``hashlib.scrypt`` of
the UTF-8 password with a random 16-byte salt per user, so equal passwords hash differently and
the file reveals no password. Make a line with ``storescp --hash-password USER`` (it asks for the
password), or in Python::

    python -c "from dicomnet.users import user_line; print(user_line('alice', 'secret'))"

A user name may not contain ``:`` or a line break. Checking a password costs one scrypt
(about 50 ms, 16 MiB), whether the user exists or not.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
from pathlib import Path

__all__ = ["UsersFile", "UsersFileError", "hash_password", "user_line", "verify_password"]

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
    if not user or ":" in user or "\n" in user or "\r" in user:
        raise ValueError("a user name must be non-empty, without ':' or line breaks")
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


class UsersFile:
    """The users of a users file, read once."""

    def __init__(self, users: dict[str, str]) -> None:
        self._users = dict(users)

    @classmethod
    def load(cls, path: str | Path) -> UsersFile:
        """Read ``path``; :class:`UsersFileError` (naming the line) if it is not a users file,
        OSError if it cannot be read."""
        users: dict[str, str] = {}
        text = Path(path).read_text(encoding="utf-8")
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, hashed = line.partition(":")
            if not sep or not user:
                raise UsersFileError(f"{path}:{number}: expected user:hash")
            try:
                _parse_hash(hashed)
            except (ValueError, TypeError) as exc:
                raise UsersFileError(f"{path}:{number}: {exc}") from None
            if user in users:
                raise UsersFileError(f"{path}:{number}: user {user!r} is listed twice")
            users[user] = hashed
        if not users:
            raise UsersFileError(f"{path}: no users")
        return cls(users)

    def __len__(self) -> int:
        return len(self._users)

    def __contains__(self, user: object) -> bool:
        return user in self._users

    def verify(self, user: str, password: str | bytes) -> bool:
        """Whether ``user`` is listed with ``password``."""
        hashed = self._users.get(user)
        matched = verify_password(password, _dummy() if hashed is None else hashed)
        return matched and hashed is not None
