"""Cleaning untrusted FACTS text: control characters, padding, absurd lengths; email syntax."""

from __future__ import annotations

import re
import unicodedata

MAX_NAME = 100
MAX_EMAIL = 254

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
_SPACES = re.compile(r"\s+")
_EMAIL = re.compile(r"^[^@\s<>(),;:\"\[\]\\]+@[^@\s<>(),;:\"\[\]\\]+\.[^@\s<>(),;:\"\[\]\\.]{2,}$")


def clean_text(value: str | None, max_len: int = MAX_NAME) -> str:
    """Drop control/format characters, collapse whitespace, trim, cap the length."""
    if not value:
        return ""
    text = _SPACES.sub(" ", _CONTROL.sub("", value)).strip()
    return text[:max_len].rstrip()


def clean_email(value: str | None) -> str | None:
    """The display form of an email (trimmed, no control characters); None when blank."""
    text = _CONTROL.sub("", value or "").strip()
    return text or None


def email_is_valid(email: str) -> bool:
    return len(email) <= MAX_EMAIL and bool(_EMAIL.match(email))


def name_key(first: str, last: str) -> str:
    """Names compared for duplicates: accents, case, punctuation and spacing ignored."""
    text = unicodedata.normalize("NFKD", f"{first} {last}".casefold())
    text = "".join(ch for ch in text if ch.isalnum() or ch == " ")
    return _SPACES.sub(" ", text).strip()
