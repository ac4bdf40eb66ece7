"""Leases: one holder at a time for a named piece of work (a site's sync), across processes and
hosts sharing the store.

A lease is a row (name, holder, host, pid, since, until) taken in a ``BEGIN IMMEDIATE``
transaction, so two processes asking at once cannot both get it. It lapses at ``until`` (a
holder that died on another host), or at once when its holder was a process of this host that
is gone. Two daemons use it so that one site's sync never runs twice at once; two admins
syncing one site can use it the same way.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from store.models import Lease, database, utcnow

DEFAULT_TTL = timedelta(minutes=30)


def whoami() -> str:
    """user@host: how a holder is named in messages."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


class LeaseHeld(Exception):
    """Someone else holds the lease; the message names who and since when."""

    def __init__(self, what: str, holder: str, since: datetime, pid: int) -> None:
        self.holder = holder
        self.since = since
        self.pid = pid
        local = since.replace(tzinfo=UTC).astimezone()
        super().__init__(f"{what} by {holder} since {local:%H:%M} (process {pid}); try again "
                         "when it has finished")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lapsed(lease: Lease, now: datetime) -> bool:
    if lease.until <= now:
        return True
    return lease.host == socket.gethostname() and not _alive(lease.pid)


def acquire(name: str, what: str, *, ttl: timedelta = DEFAULT_TTL) -> Lease:
    """Take the lease ``name`` for this process (or renew it); raises LeaseHeld when another
    live holder has it. ``what`` opens the refusal: "site 'X' is being synced"."""
    now = utcnow()
    pid = os.getpid()
    host = socket.gethostname()
    with database.atomic("IMMEDIATE"):
        lease: Lease | None = Lease.get_or_none(Lease.name == name)
        if lease is not None and (lease.pid, lease.host) != (pid, host) and not _lapsed(lease, now):
            raise LeaseHeld(what, lease.holder, lease.since, lease.pid)
        if lease is None:
            return Lease.create(name=name, holder=whoami(), host=host, pid=pid, since=now,
                                until=now + ttl)
        if (lease.pid, lease.host) != (pid, host):
            lease.since = now
        lease.holder, lease.host, lease.pid, lease.until = whoami(), host, pid, now + ttl
        lease.save()
        return lease


def release(name: str) -> None:
    """Give the lease back (only if this process holds it)."""
    with database.atomic():
        Lease.delete().where((Lease.name == name) & (Lease.pid == os.getpid())
                             & (Lease.host == socket.gethostname())).execute()


def holder_of(name: str) -> Lease | None:
    """The live holder of ``name``, or None."""
    lease: Lease | None = Lease.get_or_none(Lease.name == name)
    if lease is None or _lapsed(lease, utcnow()):
        return None
    return lease


@contextlib.contextmanager
def leased(name: str, what: str, *, ttl: timedelta = DEFAULT_TTL) -> Iterator[Lease]:
    """Hold the lease for the ``with`` block (released even when the block fails). Re-entrant:
    a block inside one that holds it already neither takes nor gives it back."""
    held: Lease | None = Lease.get_or_none(Lease.name == name)
    if held is not None and (held.pid, held.host) == (os.getpid(), socket.gethostname()):
        yield held
        return
    lease = acquire(name, what, ttl=ttl)
    try:
        yield lease
    finally:
        release(name)
