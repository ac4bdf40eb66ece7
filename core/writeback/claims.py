"""Who holds an outbox claim: this host (and PID namespace) and process, so a claim of a local
process that no longer exists is released at once instead of waited out."""

from __future__ import annotations

import os
import socket

__all__ = ["host_pid", "machine", "process_alive"]


def machine() -> str:
    """This host as claims name it: host name plus PID namespace, so a process in another
    container (same host name, other PIDs) is never mistaken for a dead local one."""
    name = socket.gethostname().replace(":", "-")
    try:
        return f"{name}-{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return name


def host_pid(claim: str) -> tuple[str, int] | None:
    parts = claim.split(":")
    if len(parts) < 3:
        return None
    try:
        return parts[0], int(parts[1])
    except ValueError:
        return None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
