"""How long a command keeps trying to reach FACTS before it gives up (``--timeout SECONDS``).

One value per process, set by the CLI's global option (default 30 s) and read by every FACTS
client the process opens: a command against an unreachable FACTS ends within it, with the error
in words, instead of retrying for minutes.
"""

from __future__ import annotations

DEFAULT_TIMEOUT = 30.0

_timeout = DEFAULT_TIMEOUT


def set_timeout(seconds: float) -> None:
    global _timeout
    if seconds <= 0:
        raise ValueError("the timeout must be more than 0 seconds")
    _timeout = float(seconds)


def timeout() -> float:
    return _timeout
