"""The store: WAL, foreign keys, migrations that run once, secrets kept out of SQLite in a 0600 file."""

from __future__ import annotations

import stat
from pathlib import Path

import peewee as pw
import pytest

from store import open_store
from store.migrations import LATEST_VERSION, current_version
from store.models import Account, HourEntry, SchemaVersion, Site


def test_store_pragmas_and_version(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    assert store.db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.db.execute_sql("PRAGMA busy_timeout").fetchone()[0] >= 1000
    assert current_version(store.db) == LATEST_VERSION
    store.close()
    store = open_store(tmp_path / "s.db")  # reopening does not re-run steps
    assert SchemaVersion.select().count() == LATEST_VERSION
    store.close()


def test_email_key_and_person_unique_per_site(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    a = Site.create(name="A")
    b = Site.create(name="B")
    Account.create(site=a, email="Jo@x.org", email_key="jo@x.org", person_id=1)
    Account.create(site=b, email="jo@x.org", email_key="jo@x.org", person_id=1)
    with pytest.raises(pw.IntegrityError), store.db.atomic():
        Account.create(site=a, email="JO@x.org", email_key="jo@x.org")
    with pytest.raises(pw.IntegrityError), store.db.atomic():
        Account.create(site=a, email="other@x.org", email_key="other@x.org", person_id=1)
    # accounts without email or link may coexist
    Account.create(site=a, first_name="No", last_name="Email")
    Account.create(site=a, first_name="Also", last_name="None")
    store.close()


def test_hours_keep_their_account(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    site = Site.create(name="A")
    acc = Account.create(site=site, email="a@x.org", email_key="a@x.org")
    HourEntry.create(account=acc, date="2026-01-02", hours=2.5)
    with pytest.raises(pw.IntegrityError), store.db.atomic():
        acc.delete_instance()
    store.close()


def test_secrets_file_is_private_and_not_in_sqlite(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    ref = store.secrets.put("site-1-api-key", "very-secret-value-1234")
    assert store.secrets.get(ref) == "very-secret-value-1234"
    mode = stat.S_IMODE(store.secrets.path.stat().st_mode)
    assert mode == 0o600
    store.close()
    assert b"very-secret-value-1234" not in (tmp_path / "s.db").read_bytes()
