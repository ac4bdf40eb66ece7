"""Password hashes and the users file of ``factsync serve --users FILE``.

Hashes are scrypt (``hashlib.scrypt``, OpenSSL's): memory-hard, in the standard library, so the
login needs no compiled dependency; bcrypt would cut passwords at 72 bytes, argon2 would need
one. A hash is ``scrypt$N$r$p$salt$key`` (base64), one line per user: ``name:hash``. The file
holds no password and is written 0600; ``factsync serve users add NAME`` asks for the password
with a hidden prompt (never on the command line).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

N, R, P, KEY_LEN = 2**14, 8, 1, 32
"""scrypt's cost: 16 MB and ~50 ms per check (a guess costs an attacker as much)."""
MIN_LENGTH = 8
SHARED_PASSWORD_ENV = "FACTSYNC_SERVE_PASSWORD"
"""One shared support login (name ``support``) instead of a users file."""
SHARED_LOGIN = "support"
USERS_ENV = "FACTSYNC_SERVE_USERS"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
HEADER = ("# factsync serve users: one 'name:hash' per line (scrypt). "
          "Made by 'factsync serve users add NAME'.\n")


class LoginError(Exception):
    """A users file or a password that cannot be used, in a sentence."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=256 * n * r + 1024 * 1024, dklen=KEY_LEN)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(_derive(password, salt, N, R, P))}"


def verify(password: str, encoded: str) -> bool:
    """Whether ``password`` is the one ``encoded`` was made from (constant time)."""
    try:
        scheme, n, r, p, salt, key = encoded.split("$")
        if scheme != "scrypt":
            return False
        got = _derive(password, base64.b64decode(salt), int(n), int(r), int(p))
        return hmac.compare_digest(got, base64.b64decode(key))
    except (ValueError, TypeError):
        return False


@functools.cache
def dummy_hash() -> str:
    """Checked for an unknown name, so a wrong name takes as long as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise LoginError(f"login name {name[:70]!r}: use 1-64 letters, digits and . _ @ - "
                         "(starting with a letter or digit)")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise LoginError(f"the password needs at least {MIN_LENGTH} characters")
    return password


def read_users(path: str | os.PathLike[str]) -> dict[str, str]:
    """The users file: name -> hash. A line that is not ``name:scrypt$...`` is a clear error."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as err:
        raise LoginError(f"cannot read the users file {file}: {err.strerror or err}") from None
    users: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, encoded = line.partition(":")
        if not _NAME.match(name) or not encoded.startswith("scrypt$") or encoded.count("$") != 5:
            raise LoginError(f"users file {file}, line {number}: expected 'name:scrypt$...' "
                             "(made by 'factsync serve users add NAME')")
        users[name] = encoded
    return users


def write_users(path: str | os.PathLike[str], users: dict[str, str]) -> None:
    """Write the file whole (0600, through a temporary file: a crash leaves the old one)."""
    file = Path(path)
    tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    body = HEADER + "".join(f"{name}:{users[name]}\n" for name in sorted(users))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(body)
    os.replace(tmp, file)
    os.chmod(file, 0o600)


def set_user(path: str | os.PathLike[str], name: str, password: str) -> bool:
    """Add the user or change their password; True when the name is new."""
    check_name(name)
    check_password(password)
    users = read_users(path) if Path(path).exists() else {}
    new = name not in users
    users[name] = hash_password(password)
    write_users(path, users)
    return new


def remove_user(path: str | os.PathLike[str], name: str) -> None:
    users = read_users(path)
    if name not in users:
        raise LoginError(f"the users file {path} has no user {name!r}")
    del users[name]
    write_users(path, users)
