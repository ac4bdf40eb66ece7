"""``factsync forget``: remove one person's personal data from a site, keep their hours.

For a family's or a student's data-deletion request. The person's account (and any account a
merge joined to it) loses its email and names and becomes ``forgotten``: its id stays as the
anonymous id its hour entries, totals and write-back rows keep. The journal's snapshots of it,
the holds that list it, and every other text of the site that shows the email or the full name
(decisions, run counts, messages, events) are rewritten to ``[forgotten account N]``.

What stays, on purpose:

- The FACTS personId link and every outbox row (reference, FACTS row id): write-back stays
  exactly once, and forgetting sends nothing to FACTS.
- The description of an entry FACTS holds (or may hold): it is what was written to FACTS, the
  witness, and a later edit would otherwise send the rewritten text there. Forget counts the
  descriptions it kept that name the person.
- The person in FACTS: the school's record. A later sync skips them (their account is
  forgotten); it never brings the data back.

The forget itself is an event: who, when, which account ids (never the email).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core import events
from core.accounts import AccountError
from core.sync.setup import email_key
from store import Store
from store import erasure as repo
from store.erasure import TextHit
from store.models import Account, Site, utcnow

FORGOTTEN = "forgotten"
"""An account's status after ``forget``."""

JSON_FIELDS = {("sync_change", "before"), ("sync_change", "after"), ("hold", "rows")}
"""Columns holding JSON about accounts, each object naming its account: they are rewritten
object by object (a namesake's object keeps its name)."""

_NAME_KEYS = ("first_name", "last_name", "firstName", "lastName", "name")
_EMAIL_KEYS = ("email", "email_key", "email2")


def label(account_id: int | None) -> str:
    """What a forgotten person's email and names become in text."""
    return f"[forgotten account {account_id}]" if account_id is not None else "[forgotten]"


# --- what to look for (pure) ----------------------------------------------------------------


@dataclass
class Person:
    """Everything a site's rows may show of one person."""

    account_ids: set[int]
    main: int | None
    emails: set[str] = field(default_factory=set)
    """Every email of theirs, display forms and keys."""
    names: set[tuple[str, str]] = field(default_factory=set)
    """(first, last) as their accounts and snapshots had them."""

    def take(self, values: dict[str, Any]) -> None:
        for key in _EMAIL_KEYS:
            v = values.get(key)
            if isinstance(v, str) and v.strip():
                self.emails |= {v.strip(), v.strip().casefold()}
        first = values.get("first_name", values.get("firstName"))
        last = values.get("last_name", values.get("lastName"))
        if isinstance(first, str) and isinstance(last, str) and (first.strip() or last.strip()):
            self.names.add((first.strip(), last.strip()))

    def full_names(self) -> set[str]:
        return {f"{f} {n}".strip() for f, n in self.names if f and n}

    def needles(self) -> list[str]:
        """What the search looks for: emails, full names and single names, also as JSON
        escapes them."""
        plain = sorted({*self.emails, *self.full_names(),
                        *(p for pair in self.names for p in pair if len(p) > 1)})
        escaped = {json.dumps(p)[1:-1] for p in plain}
        return sorted({*plain, *escaped})


_EMAIL_EDGE = (r"(?<![\w.+-])", r"(?![\w-]|\.\w)")
"""An email is matched whole: not inside a longer one (``joann@x.org`` is not ``ann@x.org``)."""
_WORD_EDGE = (r"(?<!\w)", r"(?!\w)")


def _pattern(words: Iterable[str], edge: tuple[str, str]) -> re.Pattern[str] | None:
    """Any of ``words`` (longest first), case-insensitively, also as JSON escapes it; spaces
    inside a word match any run of white space."""
    forms: list[str] = []
    for w in sorted({w for w in words if w}, key=len, reverse=True):
        forms += [r"\s+".join(map(re.escape, w.split())), re.escape(json.dumps(w)[1:-1])]
    if not forms:
        return None
    return re.compile(f"{edge[0]}(?:{'|'.join(dict.fromkeys(forms))}){edge[1]}", re.IGNORECASE)


@dataclass
class Rewriter:
    """Decides the new text of each value that shows the person (pure, given the rows)."""

    person: Person
    own_entries: set[int]
    """The person's hour entries: their descriptions lose the first and last names too."""
    in_facts: set[int]
    """Entries whose description FACTS holds or may hold: kept as they are."""
    journal_rows: set[int]
    """SyncChange rows of the person's accounts: every snapshot in them is theirs."""
    kept_descriptions: int = 0

    def __post_init__(self) -> None:
        self.tag = label(self.person.main)
        self.emails = _pattern(self.person.emails, _EMAIL_EDGE)
        self.full = _pattern(self.person.full_names(), _WORD_EDGE)
        self.single = _pattern([p for pair in self.person.names for p in pair if len(p) > 1],
                               _WORD_EDGE)

    def text(self, hit: TextHit) -> str:
        """The value without the person (unchanged when it does not show them)."""
        where = (hit.table, hit.field)
        if where in JSON_FIELDS:
            return self._emails(self._json(hit))
        new = self._names(self._emails(hit.text), hit)
        if where == ("hour_entry", "description") and hit.row_id in self.in_facts:
            if new != hit.text:
                self.kept_descriptions += 1
            return hit.text
        return new

    def _emails(self, text: str) -> str:
        return self.emails.sub(self.tag, text) if self.emails else text

    def _names(self, text: str, hit: TextHit) -> str:
        if self.full:
            text = self.full.sub(self.tag, text)
        if self.single and hit.table == "hour_entry" and hit.row_id in self.own_entries:
            text = self.single.sub(self.tag, text)
        return text

    def _json(self, hit: TextHit) -> str:
        try:
            data = json.loads(hit.text)
        except ValueError:
            return hit.text
        changed = False
        for obj in data if isinstance(data, list) else [data]:
            if isinstance(obj, dict) and self._about(obj, hit):
                changed = _blank(obj) or changed
        if not changed:
            return hit.text
        return json.dumps(data, ensure_ascii=False, sort_keys=hit.table == "sync_change")

    def _about(self, obj: dict[str, Any], hit: TextHit) -> bool:
        """Is this object a snapshot (or a held row) of the person? A setup document is not:
        only the emails in it are rewritten."""
        if hit.table == "sync_change" and "kind" in obj:
            return False
        if obj.get("accountId") in self.person.account_ids:
            return True
        if hit.table == "sync_change" and hit.row_id in self.journal_rows:
            return True
        keys = {str(obj.get(k) or "").strip().casefold() for k in _EMAIL_KEYS}
        return bool(keys & {e.casefold() for e in self.person.emails})


def _blank(obj: dict[str, Any]) -> bool:
    """Clear the email and name keys of a snapshot; whether anything changed."""
    before = dict(obj)
    for key in _EMAIL_KEYS:
        if key in obj:
            obj[key] = None
    for key in _NAME_KEYS:
        if key in obj:
            obj[key] = ""
    return obj != before


# --- the use case -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ForgetPreview:
    """What ``forget`` would do, for the confirmation (shown on the terminal only)."""

    site: str
    email: str
    account_ids: tuple[int, ...]
    names: tuple[str, ...]
    entries: int
    approved_hours: float
    values: int
    """Text values elsewhere in the site's rows that show the person."""

    def words(self) -> str:
        if self.account_ids:
            who = (f"account {self.account_ids[0]} ({', '.join(self.names) or 'no name'})"
                   + (f" and account{'s' if len(self.account_ids) > 2 else ''} "
                      + ", ".join(map(str, self.account_ids[1:])) + " merged with it"
                      if len(self.account_ids) > 1 else ""))
            kept = (f"; their {self.entries} hour entries ({self.approved_hours:g} approved "
                    f"hours) stay under account {self.account_ids[0]}")
        else:
            who, kept = "no account (records of an earlier one)", ""
        return (f"forget {self.email} on site {self.site!r}: {who}; the email and names are "
                f"removed from the account and {self.values} other values{kept}")


@dataclass(frozen=True)
class ForgetResult:
    account_ids: tuple[int, ...]
    entries: int
    approved_hours: float
    rewritten: dict[str, int]
    """Values rewritten, per table."""
    kept_descriptions: int
    """Descriptions FACTS holds that name the person, kept as FACTS holds them."""
    event: int

    def to_json(self) -> dict[str, Any]:
        return {"accounts": list(self.account_ids), "entries": self.entries,
                "approvedHours": self.approved_hours, "rewritten": self.rewritten,
                "keptDescriptions": self.kept_descriptions, "event": self.event}


@dataclass
class _Found:
    person: Person
    accounts: list[Account]
    hits: list[TextHit]
    journal_rows: set[int]


def _find(store: Store, site: Site, email: str) -> _Found:
    """The person behind ``email`` on the site, and every value of the site that may show them."""
    key = email_key(email)
    if not key:
        raise AccountError("say whose data to forget: --email is blank")
    direct = repo.accounts_with_email(store, site.id, key)
    ids = repo.merged_together(store, direct)
    person = Person(ids, min(direct) if direct else None, {email.strip(), key})
    accounts = repo.accounts(store, ids)
    for a in accounts:
        person.take({"email": a.email, "email_key": a.email_key, "first_name": a.first_name,
                     "last_name": a.last_name})
    journal = repo.journal_of(store, ids)
    for hit in journal:
        try:
            snap = json.loads(hit.text)
        except ValueError:
            continue
        if isinstance(snap, dict) and "kind" not in snap:
            person.take(snap)  # an email or name the account had before
    hits = {(h.table, h.field, h.row_id): h for h in journal}
    for h in repo.find_text(store, site.id, person.needles()):
        hits.setdefault((h.table, h.field, h.row_id), h)
    others = [h for h in hits.values() if not (h.table == "account" and h.row_id in ids)]
    return _Found(person, accounts, others, {h.row_id for h in journal})


def _rewriter(store: Store, site: Site, found: _Found) -> Rewriter:
    return Rewriter(found.person, repo.entries_of(store, found.person.account_ids),
                    repo.entries_in_facts(store, site.id), found.journal_rows)


def _ordered(found: _Found) -> list[int]:
    """The account ids, the one holding the email first (the anonymous id)."""
    return sorted(found.person.account_ids, key=lambda i: (i != found.person.main, i))


def _nothing(site: Site, email: str) -> AccountError:
    return AccountError(f"site {site.name!r} holds nothing about {email.strip()}: no account has "
                        "the email and no record shows it")


def forget_preview(store: Store, site: Site, email: str) -> ForgetPreview:
    """What forgetting ``email`` would change (nothing is changed); raises when the site holds
    nothing about it."""
    found = _find(store, site, email)
    rw = _rewriter(store, site, found)
    values = sum(1 for h in found.hits if rw.text(h) != h.text)
    if not found.accounts and not values:
        raise _nothing(site, email)
    ids = _ordered(found)
    entries, hours = repo.hour_totals(store, ids)
    names = tuple(f"{a.first_name} {a.last_name}".strip() for a in found.accounts
                  if a.first_name or a.last_name)
    return ForgetPreview(site.name, email.strip(), tuple(ids), names, entries, hours, values)


def forget(store: Store, site: Site, email: str) -> ForgetResult:
    """Remove the person's email and names from the site's rows (one transaction, with its
    event); the hours stay under the anonymous account id. Sends nothing to FACTS."""
    repo.zero_freed_space(store)
    with store.db.atomic():
        found = _find(store, site, email)
        rw = _rewriter(store, site, found)
        changes = [(h, new) for h in found.hits if (new := rw.text(h)) != h.text]
        if not found.accounts and not changes:
            raise _nothing(site, email)
        ids = _ordered(found)
        day = utcnow().date().isoformat()
        rewritten = repo.write_text(store, changes)
        n = repo.anonymise_accounts(store, ids, f"forgotten on {day} (a data-deletion request)")
        if n:
            rewritten["account"] = rewritten.get("account", 0) + n
        entries, hours = repo.hour_totals(store, ids)
        who = f"account {ids[0]}" if ids else "the records of an account no longer there"
        if len(ids) > 1:
            who += f" (and {', '.join(map(str, ids[1:]))}, merged with it)"
        event = events.record(
            store, site, "forget",
            f"forgot {who}: email and names removed from {sum(rewritten.values())} values; "
            f"{entries} hour entries ({hours:g} approved hours) kept",
            account_id=ids[0] if ids else None)
    repo.flush_log(store)
    return ForgetResult(tuple(ids), entries, hours, rewritten, rw.kept_descriptions, event)


__all__ = ["FORGOTTEN", "ForgetPreview", "ForgetResult", "forget", "forget_preview", "label"]
