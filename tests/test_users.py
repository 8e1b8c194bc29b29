"""dicomnet.users: the users file of ``--require-user``."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicomnet.users import UsersFile, UsersFileError, hash_password, user_line, verify_password


def test_a_hash_is_salted_and_verifies_only_its_password() -> None:
    first, second = hash_password("s3cret"), hash_password("s3cret")
    assert first != second  # a fresh salt each time
    assert first.startswith("scrypt$16384$8$1$")
    assert "s3cret" not in first
    assert verify_password("s3cret", first) and verify_password(b"s3cret", second)
    assert not verify_password("s3cret ", first)
    assert not verify_password("", first)


def test_a_given_salt_gives_a_known_hash() -> None:
    salt = bytes(range(16))
    assert hash_password("pw", salt=salt) == hash_password(b"pw", salt=salt)
    assert hash_password("pw", salt=salt).split("$")[4] == "AAECAwQFBgcICQoLDA0ODw"


def test_users_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text(
        f"# dicomnet users\n\n{user_line('alice', 'wonder')}\n{user_line('bob', 'büilder')}\n",
        encoding="utf-8",
    )
    users = UsersFile.load(path)
    assert len(users) == 2 and "alice" in users and "carol" not in users
    assert users.verify("alice", "wonder")
    assert users.verify("bob", "büilder".encode())
    assert not users.verify("alice", "builder")
    assert not users.verify("bob", "wonder")
    assert not users.verify("carol", "wonder")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("alice\n", ":1: expected user:hash"),
        ("alice:plain-password\n", ":1: not a scrypt"),
        ("# only a comment\n", "no users"),
        ("alice:scrypt$3$8$1$AAAA$" + "A" * 43 + "\n", ":1: scrypt parameters out of range"),
    ],
)
def test_a_bad_users_file_names_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "users"
    path.write_text(text)
    with pytest.raises(UsersFileError, match=message):
        UsersFile.load(path)


def test_a_user_listed_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text(f"{user_line('a', 'x')}\n{user_line('a', 'y')}\n")
    with pytest.raises(UsersFileError, match=":2: user 'a' is listed twice"):
        UsersFile.load(path)


@pytest.mark.parametrize("name", ["", "a:b", "a\nb"])
def test_a_user_name_with_a_colon_or_break_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="user name"):
        user_line(name, "x")


SECRET = bytes(range(32))


def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def make_jwt(claims: dict[str, object], key: bytes = SECRET, alg: str = "HS256") -> bytes:
    """An HS256 JSON Web Token (RFC 7519), made by hand."""
    import hashlib
    import hmac
    import json

    head = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    signature = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}".encode()


def test_hs256_tokens_under_the_file_key(tmp_path: Path) -> None:
    from dicomnet.users import jwt_key_line

    path = tmp_path / "users"
    path.write_text(f"{jwt_key_line(SECRET)}\n")
    users = UsersFile.load(path)
    assert users.accepts_jwt and len(users) == 0
    assert (
        users.verify_jwt(make_jwt({"sub": "alice", "exp": 2_000, "nbf": 1_000}), 1_500) == "alice"
    )
    assert users.verify_jwt(make_jwt({"sub": "alice"})) == "alice"
    assert users.verify_jwt(make_jwt({"sub": "alice", "exp": 1_000}), 1_031) is None  # expired
    assert users.verify_jwt(make_jwt({"sub": "alice", "nbf": 2_000}), 1_000) is None  # not yet
    assert users.verify_jwt(make_jwt({"sub": "alice"}, key=b"x" * 32)) is None  # other key
    assert users.verify_jwt(make_jwt({"sub": "alice"}, alg="none")) is None
    assert users.verify_jwt(make_jwt({"exp": 2_000}), 1_000) is None  # no subject
    head, _body, sig = make_jwt({"sub": "alice"}).split(b".")
    forged = make_jwt({"sub": "root"}).split(b".")[1]
    assert users.verify_jwt(b".".join((head, forged, sig))) is None
    assert users.verify_jwt(b"not-a-token") is None
    with pytest.raises(ValueError, match="32 bytes"):
        jwt_key_line(b"short")
    path.write_text("!jwt-hs256:c2hvcnQ\n")
    with pytest.raises(UsersFileError, match=":1: an HS256 secret of 32 bytes"):
        UsersFile.load(path)
    path.write_text("!other:x\n")
    with pytest.raises(UsersFileError, match="unknown directive"):
        UsersFile.load(path)
