"""Typed FACTS errors whose messages a school admin can act on.

Messages never contain a key: the client builds them from the status and the body only.
"""

from __future__ import annotations

from datetime import datetime


class FactsError(Exception):
    """Any failure talking to FACTS. ``str(err)`` is the sentence to show the admin."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status})"


class InvalidSubscriptionKey(FactsError):
    """401 from the gateway: the vendor subscription key is missing or unknown."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "FACTS rejected the subscription key (the vendor key configured for this installation)"
            + (f": {detail}" if detail else "."),
            status=401,
        )


class InvalidApiKey(FactsError):
    """401: the school's Facts-Api-Key is missing, mistyped or revoked."""

    def __init__(self) -> None:
        super().__init__(
            "FACTS rejected the school API key. Copy it again from FACTS under System > "
            "Configuration > API Configuration > API Keys (it is shown once when created).",
            status=401,
        )


class PermissionMissing(FactsError):
    """403 on a read: the key's scope for a domain is None."""

    def __init__(self, domain: str = "People", detail: str = "") -> None:
        self.domain = domain
        super().__init__(
            f"The school API key has no {domain} permission. In FACTS, open System > Configuration"
            f" > API Configuration and set {domain} to Read (or Write to send hours back)."
            + (f" ({detail})" if detail else ""),
            status=403,
        )


class ReadOnly(FactsError):
    """403 on a write: the key may read People but not write it, so hours cannot go back."""

    def __init__(self, domain: str = "People") -> None:
        self.domain = domain
        super().__init__(
            f"The school API key is Read-only on {domain}: hours will not be written back. Set "
            f"{domain} to Write in FACTS under System > Configuration > API Configuration.",
            status=403,
        )


class QuotaExhausted(FactsError):
    """403 'Out of call volume quota': nothing more today; the time it resets is known."""

    def __init__(self, until: datetime) -> None:
        self.until = until
        super().__init__(
            f"The daily FACTS call quota of this subscription is used up until "
            f"{until.astimezone().strftime('%H:%M')}. Try again after that.",
            status=403,
        )


class RateLimited(FactsError):
    """429 that outlived the client's own waiting (normally handled inside the client)."""

    retryable = True

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"FACTS is rate limiting this subscription; try again in {retry_after:.0f} s.",
            status=429,
        )


class FactsUnreachable(FactsError):
    """Network failure, or gateway errors / non-JSON pages that outlived the bounded retries."""

    retryable = True

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"FACTS is unreachable ({detail}). Check the network and the base URL, then "
            "try again.",
        )


class ServerError(FactsError):
    """A 5xx FACTS kept answering after the retries."""

    retryable = True


class UnknownField(FactsError):
    """500 whose body says '<name> not found.' (often followed by a .NET stack trace): a filter or
    sort named an unknown column. Never retried: FACTS answers the same every time."""

    def __init__(self, field: str) -> None:
        self.field = field
        super().__init__(f"FACTS does not know the field {field!r} in a filter or sort.", status=500)


class NotFound(FactsError):
    """404: an unknown route or a by-id resource that does not exist."""


class ValidationFailed(FactsError):
    """400/422: FACTS refused the body; the message names what it refused."""


class OutcomeUnknown(FactsError):
    """A write may or may not have reached FACTS (connection dropped or 5xx after sending).

    FACTS has no DELETE, so a blind retry of a POST can leave a duplicate row: the caller must look
    the row up (e.g. by the reference it put in ``note``) before writing again.
    """

    retryable = False

    def __init__(self, method: str, path: str, detail: str, *, status: int | None = None) -> None:
        self.method = method
        self.path = path
        super().__init__(
            f"FACTS may or may not have applied {method} {path} ({detail}); look the record up "
            "before sending it again.",
            status=status,
        )


class IncompleteData(FactsError):
    """FACTS answered, but with less than it announced: refuse to act on a partial roster."""
