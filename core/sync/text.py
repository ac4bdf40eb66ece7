"""Cleaning untrusted FACTS text: control characters, padding, absurd lengths; email syntax."""

from __future__ import annotations

import re
import unicodedata

MAX_NAME = 100
MAX_EMAIL = 254

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
_SPACES = re.compile(r"\s+")
_NOT_NAME = re.compile(r"[^\w ]|_")
"""What ``name_key`` drops: everything but letters, digits (``str.isalnum``) and spaces."""
_EMAIL = re.compile(r"^[^@\s<>(),;:\"\[\]\\]+@[^@\s<>(),;:\"\[\]\\]+\.[^@\s<>(),;:\"\[\]\\.]{2,}$")


def _plain(value: str) -> bool:
    """Printable ASCII without doubled spaces: nothing for ``clean_text`` to drop or collapse."""
    return value.isascii() and value.isprintable() and "  " not in value


def clean_text(value: str | None, max_len: int = MAX_NAME) -> str:
    """Drop control/format characters, collapse whitespace, trim, cap the length."""
    if not value:
        return ""
    # the common case (_plain) needs neither regex pass
    text = value.strip() if _plain(value) else _SPACES.sub(" ", _CONTROL.sub("", value)).strip()
    return text if len(text) <= max_len else text[:max_len].rstrip()


def clean_email(value: str | None) -> str | None:
    """The display form of an email (trimmed, no control characters); None when blank."""
    if not value:
        return None
    text = (value if value.isascii() and value.isprintable() else _CONTROL.sub("", value)).strip()
    return text or None


def email_is_valid(email: str) -> bool:
    return len(email) <= MAX_EMAIL and bool(_EMAIL.match(email))


def name_key(first: str, last: str) -> str:
    """Names compared for duplicates: accents, case, punctuation and spacing ignored."""
    text = f"{first} {last}".casefold()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
    return _SPACES.sub(" ", _NOT_NAME.sub("", text)).strip()
