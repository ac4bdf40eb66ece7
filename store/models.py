"""peewee models of the factsync store (design.md §3).

All models bind to ``database``, a proxy that ``store.db.open_store`` points at one SQLite file.
Emails are unique per site by their *key* (trimmed, case-folded); the display form is kept as typed.
"""

from __future__ import annotations

from datetime import UTC, datetime

import peewee as pw

database = pw.DatabaseProxy()


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class BaseModel(pw.Model):
    id = pw.AutoField()  # peewee's implicit key, declared so the type checker knows it

    class Meta:
        database = database
        legacy_table_names = False


class SchemaVersion(BaseModel):
    version = pw.IntegerField()
    applied_at = pw.DateTimeField(default=utcnow)


class Site(BaseModel):
    name = pw.CharField(unique=True)
    plan = pw.CharField(default="advanced")  # basic | advanced; the integration needs advanced
    kind = pw.CharField(null=True)  # students | parents; fixed at the first sync
    hour_sync = pw.BooleanField(default=False)
    """Approved hours go to FACTS only while this is on: off for a new site until the admin has
    seen what turning it on would send (``factsync hours syncing SITE on``)."""
    created_at = pw.DateTimeField(default=utcnow)


class Connection(BaseModel):
    site = pw.ForeignKeyField(Site, backref="connections", unique=True, on_delete="CASCADE")
    base_url = pw.CharField()
    subscription_key_ref = pw.CharField(null=True)
    api_key_ref = pw.CharField(null=True)
    api_key_hint = pw.CharField(default="")  # last 4 characters, for "••••abcd" displays
    plan = pw.CharField(default="pro")  # the FACTS subscription plan (rate limits)
    people_read = pw.BooleanField(null=True)
    people_write = pw.BooleanField(null=True)
    academics_read = pw.BooleanField(null=True)
    checked_at = pw.DateTimeField(null=True)
    last_error = pw.TextField(null=True)
    quota_until = pw.DateTimeField(null=True)  # FACTS's daily call quota is used up until then


class SyncSetup(BaseModel):
    """Criteria, subset rules, decisions and family groupings: one validated JSON document."""

    site = pw.ForeignKeyField(Site, backref="setups", unique=True, on_delete="CASCADE")
    document = pw.TextField()
    version = pw.IntegerField(default=1)
    updated_at = pw.DateTimeField(default=utcnow)


class Account(BaseModel):
    site = pw.ForeignKeyField(Site, backref="accounts", on_delete="CASCADE")
    email = pw.CharField(null=True)
    email_key = pw.CharField(null=True)  # trimmed + case-folded email; unique per site
    first_name = pw.CharField(default="")
    last_name = pw.CharField(default="")
    role = pw.CharField(default="")  # student | parent | "" for manual accounts
    status = pw.CharField(default="active")  # active | archived | forgotten (factsync forget)
    archived_reason = pw.TextField(null=True)
    origin = pw.CharField(default="manual")  # manual | sis
    person_id = pw.IntegerField(null=True)  # FACTS personId link
    family_key = pw.CharField(null=True)
    grade = pw.CharField(null=True)
    invited_at = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("site", "email_key"), True),
            (("site", "person_id"), True),
        )


class HourEntry(BaseModel):
    account = pw.ForeignKeyField(Account, backref="hours", on_delete="RESTRICT")
    date = pw.DateField()
    hours = pw.FloatField()
    description = pw.TextField(default="")
    verifier = pw.CharField(null=True)
    status = pw.CharField(default="pending")  # pending | approved | rejected
    deleted = pw.BooleanField(default=False)
    approved_by = pw.CharField(null=True)
    approved_at = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)


class Outbox(BaseModel):
    """One FACTS write owed for an hour entry: the transactional outbox of write-back."""

    entry = pw.ForeignKeyField(HourEntry, backref="outbox", unique=True, on_delete="RESTRICT")
    resource = pw.CharField()  # students | parents
    operation = pw.CharField(default="create")  # create | update | withdraw
    state = pw.CharField(default="pending", index=True)  # pending | inflight | sent | failed
    attempts = pw.IntegerField(default=0)
    next_try_at = pw.DateTimeField(default=utcnow)
    reference = pw.CharField()  # stable reference put in FACTS's note, e.g. "factsync:entry:42"
    outcome_unknown = pw.BooleanField(default=False)  # last attempt may have reached FACTS
    claimed_by = pw.CharField(null=True)
    claimed_until = pw.DateTimeField(null=True)
    service_hours_id = pw.IntegerField(null=True)
    person_id = pw.IntegerField(null=True)  # the FACTS personId the row was written under
    sent_hours = pw.FloatField(null=True)  # what this store last sent (or adopted): hours, date
    sent_date = pw.DateField(null=True)
    facts_duplicates = pw.TextField(null=True)  # ids of further FACTS rows carrying the reference
    mismatch = pw.TextField(null=True)  # FACTS held other hours/date than the entry: what and when
    last_error = pw.TextField(null=True)
    last_attempt_at = pw.DateTimeField(null=True)
    sent_at = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField(default=utcnow)


class SyncRun(BaseModel):
    site = pw.ForeignKeyField(Site, backref="runs", on_delete="CASCADE")
    number = pw.IntegerField(null=True)
    """The run's number within its site (1, 2, ...): what screens and the CLI call "run N"."""
    started_at = pw.DateTimeField(default=utcnow)
    finished_at = pw.DateTimeField(null=True)
    kind = pw.CharField(default="sync")  # sync | merge | undo
    counts = pw.TextField(default="{}")  # JSON
    undone_at = pw.DateTimeField(null=True)
    setup = pw.TextField(null=True)
    """The setup document a sync was applied with: undo offers to restore the one before it."""

    def save(self, force_insert: bool = False, only: object = None) -> int:
        """A new run takes the next number of its site (runs are numbered per site)."""
        if self.number is None:
            site = self.__data__.get("site")
            last = SyncRun.select(pw.fn.MAX(SyncRun.number)).where(SyncRun.site == site).scalar()
            self.number = int(last or 0) + 1
        return int(super().save(force_insert=force_insert, only=only))


class SyncChange(BaseModel):
    run = pw.ForeignKeyField(SyncRun, backref="changes", on_delete="CASCADE")
    account = pw.ForeignKeyField(Account, null=True, backref="changes", on_delete="SET NULL")
    action = pw.CharField()  # add | link | update | archive | restore | merge | move-hours
    reason = pw.TextField(default="")
    before = pw.TextField(null=True)  # JSON snapshot of the account, null for an add
    after = pw.TextField(null=True)


class RateBudget(BaseModel):
    """The request budget of one FACTS subscription key, shared by every process using the store.

    ``key`` is a hash of the subscription key (never the key). ``blocked_until`` (epoch seconds)
    holds every process back after a 429's Retry-After.
    """

    key = pw.CharField(unique=True)
    blocked_until = pw.FloatField(default=0.0)


class RateSlot(BaseModel):
    """One request's send time (epoch seconds, possibly in the near future: a reservation)."""

    budget = pw.ForeignKeyField(RateBudget, backref="slots", on_delete="CASCADE")
    at = pw.FloatField()

    class Meta:
        indexes = ((("budget", "at"), False),)


class SiteOptions(BaseModel):
    """How a site runs unattended: archive threshold, schedule, pause, alert addresses."""

    site = pw.ForeignKeyField(Site, backref="options", unique=True, on_delete="CASCADE")
    archive_threshold = pw.CharField(default="20%")  # "20%" (a share) or "50" (a count)
    schedule = pw.CharField(null=True)  # a cron expression; None: no scheduled sync
    schedule_set_at = pw.DateTimeField(null=True)
    paused_until = pw.DateTimeField(null=True)
    paused_reason = pw.TextField(null=True)
    alert_emails = pw.TextField(default="[]")  # JSON list of addresses
    alert_webhook = pw.TextField(null=True)


class Hold(BaseModel):
    """The part of a plan that waits for a person, with its reason (design.md §3)."""

    site = pw.ForeignKeyField(Site, backref="holds", on_delete="CASCADE")
    kind = pw.CharField(default="archive")
    reason = pw.TextField()
    rows = pw.TextField()  # JSON list of the held rows
    state = pw.CharField(default="open", index=True)  # open | approved | rejected | superseded
    created_at = pw.DateTimeField(default=utcnow)
    resolved_at = pw.DateTimeField(null=True)
    resolved_by = pw.CharField(null=True)
    run_number = pw.IntegerField(null=True)  # the run that applied an approved hold


class JobState(BaseModel):
    """The last outcome of a site's unattended job (sync, write-back) and the alert it raised."""

    site = pw.ForeignKeyField(Site, backref="jobs", on_delete="CASCADE")
    job = pw.CharField()  # sync | writeback
    last_at = pw.DateTimeField(null=True)
    last_code = pw.IntegerField(null=True)
    last_message = pw.TextField(null=True)
    alerted = pw.TextField(default="")  # the condition last alerted ("" = all well)
    scheduled_at = pw.DateTimeField(null=True)  # the schedule point the last scheduled run served

    class Meta:
        indexes = ((("site", "job"), True),)


class Lease(BaseModel):
    """Who holds a named piece of work (a site's sync) until when: one holder at a time."""

    name = pw.CharField(unique=True)
    holder = pw.CharField()  # user@host
    host = pw.CharField()
    pid = pw.IntegerField()
    since = pw.DateTimeField(default=utcnow)
    until = pw.DateTimeField()


class Heartbeat(BaseModel):
    """A running daemon's sign of life, for ``status --all``."""

    holder = pw.CharField(unique=True)  # user@host:pid
    host = pw.CharField()
    pid = pw.IntegerField()
    started_at = pw.DateTimeField(default=utcnow)
    beat_at = pw.DateTimeField(default=utcnow)


class Event(BaseModel):
    """Who did what to a site, and when: the audit trail of the journal (design.md §3).

    ``actor`` is the OS user or the ``factsync serve`` login (None: recorded before actors
    were, shown as "unknown"); ``via`` says which (``os`` | ``serve``). A run's event points at
    it (``run``), so the run's actor is read from here.
    """

    site = pw.ForeignKeyField(Site, backref="events", null=True, on_delete="CASCADE")
    at = pw.DateTimeField(default=utcnow)
    actor = pw.CharField(null=True)
    via = pw.CharField(null=True)  # os | serve
    host = pw.CharField(null=True)
    action = pw.CharField()  # sync | merge | undo | decision | setup | ... | forget
    summary = pw.TextField(default="")
    run = pw.ForeignKeyField(SyncRun, backref="events", null=True, on_delete="CASCADE")
    account_id = pw.IntegerField(null=True)  # the account an event is about (forget)

    class Meta:
        indexes = ((("site", "at"), False),)


ALL_MODELS: list[type[BaseModel]] = [
    SchemaVersion,
    Site,
    Connection,
    SyncSetup,
    Account,
    HourEntry,
    Outbox,
    SyncRun,
    SyncChange,
    RateBudget,
    RateSlot,
    SiteOptions,
    Hold,
    JobState,
    Lease,
    Heartbeat,
    Event,
]
