"""Keys are secrets: checked before use, and scrubbed from every text that may reach a person.

A key pasted with a line break or a space inside is refused up front (httpx would otherwise fail
with ``Illegal header value b'…'`` — the key itself, in bytes form, inside the error). The
scrubber removes a key in every form a message can carry it: as typed, trimmed, and escaped as
Python shows ``str`` and ``bytes`` values.
"""

from __future__ import annotations

from collections.abc import Iterable

MASK = "••••"


def key_problem(what: str, key: str) -> str | None:
    """Why ``key`` cannot be a FACTS key (never quoting it), or None."""
    text = key.strip()
    if not text:
        return f"the {what} is empty"
    if any(not ch.isprintable() for ch in text):
        return (
            f"the {what} contains a line break or another control character: paste it again, "
            "as one line"
        )
    if any(ch.isspace() for ch in text):
        return f"the {what} contains a space: paste it again without spaces"
    return None


def _forms(secret: str) -> set[str]:
    forms = {secret, secret.strip(), repr(secret)[1:-1]}
    raw = secret.encode("utf-8", "backslashreplace")
    forms.add(repr(raw)[2:-1])
    forms.add(raw.decode("latin-1"))
    forms |= {line for line in secret.splitlines() if len(line.strip()) >= 8}
    return {f for f in forms if len(f) >= 4}


def scrub(text: str | bytes, secrets: Iterable[str]) -> str:
    """``text`` (``str`` or ``bytes``) with every form of every secret replaced by a mask."""
    out = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    for form in sorted({f for s in secrets if s for f in _forms(s)}, key=len, reverse=True):
        out = out.replace(form, MASK)
    return out
