"""Holds: the part of a plan that waits for a person, instead of a run that refuses everything.

A plan whose archives need a confirmation (more than the site's threshold) or were withheld (the
roster came back empty, short or halved) is split: everything else is applied, and the archives
are saved as a hold with the reason. ``holds approve`` plans again against the roster as it is now
and applies exactly the held archives, if they still apply; ``holds reject`` drops them, and the
same archives are not held (nor reported as new) again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from core.sync.apply import SyncError
from core.sync.plan import ArchiveSafety, PlanItem, SyncPlan
from core.sync.text import clean_text
from store.models import Hold, Site, utcnow


class HoldError(SyncError):
    """A hold that cannot be approved or rejected, in a sentence."""


@dataclass(frozen=True)
class HeldRow:
    account_id: int
    person_id: int | None
    name: str
    email: str | None
    family_key: str | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"accountId": self.account_id, "personId": self.person_id, "name": self.name,
                "email": self.email, "familyKey": self.family_key, "reason": self.reason}


@dataclass(frozen=True)
class HoldView:
    id: int
    site: str
    kind: str
    reason: str
    state: str
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    run_number: int | None
    rows: tuple[HeldRow, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "site": self.site, "kind": self.kind, "reason": self.reason,
            "state": self.state, "createdAt": self.created_at.isoformat(),
            "resolvedAt": self.resolved_at.isoformat() if self.resolved_at else None,
            "resolvedBy": self.resolved_by, "run": self.run_number, "count": len(self.rows),
            "rows": [r.to_json() for r in self.rows],
        }


# --- the pure part ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """A plan split into what may be applied now and what waits for a person."""

    apply: SyncPlan
    held: tuple[PlanItem, ...]
    reason: str | None


def split_held(plan: SyncPlan, *, confirmed: bool = False) -> Split:
    """The plan without the archives that need a person, and those archives with the reason.

    ``confirmed`` (``sync --confirm-archive``) lets archives over the threshold through; archives
    withheld because the roster looks like a failed fetch are held all the same.
    """
    safety = plan.archive
    if safety.verdict == "refused":
        return Split(plan, plan.withheld, "; ".join(safety.reasons))
    if safety.verdict != "needs-confirmation" or confirmed:
        return Split(plan, (), None)
    held = plan.of("archive")
    rest = {k: v for k, v in plan._by_action.items() if k != "archive"}
    applied = replace(
        plan,
        items=tuple(it for it in plan.items if it.action != "archive"),
        archive=ArchiveSafety("ok", 0, safety.synced_count),
        _by_action=rest,
    )
    return Split(applied, held, "; ".join(safety.reasons))


def archive_only(plan: SyncPlan, items: tuple[PlanItem, ...]) -> SyncPlan:
    """A plan (made now) that archives exactly ``items`` and writes nothing else."""
    return replace(
        plan,
        items=items,
        archive=ArchiveSafety("ok", len(items), plan.archive.synced_count),
        withheld=(),
        _by_action={"archive": items},
    )


def still_applies(hold: HoldView, plan: SyncPlan) -> tuple[tuple[PlanItem, ...], list[str]]:
    """The held archives as ``plan`` (made against the roster now) would make them, and why
    any of them no longer applies."""
    now = {it.account_id: it for it in (*plan.of("archive"), *plan.withheld)}
    actions = {it.account_id: it for it in plan.items}
    items: list[PlanItem] = []
    gone: list[str] = []
    for row in hold.rows:
        found = now.get(row.account_id)
        if found is not None:
            items.append(found)
            continue
        other = actions.get(row.account_id)
        why = {"unchanged": "matches again", "update": "matches again",
               "conflict": "waits on a conflict", "skip": "is skipped by a decision"}.get(
            other.action if other else "", "is no longer an active synced account")
        gone.append(f"{row.name} <{row.email or 'no email'}> {why}")
    return tuple(items), gone


# --- the store ----------------------------------------------------------------------------------


def _rows(items: tuple[PlanItem, ...]) -> list[dict[str, Any]]:
    return [
        HeldRow(it.account_id or 0, it.person_id, it.name, it.email, it.family_key,
                it.reason).to_json()
        for it in items
    ]


def _view(h: Hold, site_name: str) -> HoldView:
    rows = tuple(
        HeldRow(int(r["accountId"]), r.get("personId"), clean_text(str(r.get("name") or "")),
                r.get("email"), r.get("familyKey"), str(r.get("reason") or ""))
        for r in json.loads(h.rows or "[]")
    )
    return HoldView(h.id, site_name, h.kind, h.reason, h.state, h.created_at, h.resolved_at,
                    h.resolved_by, h.run_number, rows)


def list_holds(site: Site, *, state: str | None = "open") -> list[HoldView]:
    """The site's holds, newest first (``state`` None: all of them)."""
    query = Hold.select().where(Hold.site == site)
    if state is not None:
        query = query.where(Hold.state == state)
    return [_view(h, site.name) for h in query.order_by(Hold.id.desc())]


def get_hold(site: Site, hold_id: int) -> HoldView:
    h: Hold | None = Hold.get_or_none((Hold.site == site) & (Hold.id == hold_id))
    if h is None:
        known = ", ".join(str(v.id) for v in list_holds(site)) or "none open"
        raise HoldError(f"site {site.name!r} has no hold {hold_id} (holds: {known})")
    return _view(h, site.name)


def record_hold(site: Site, items: tuple[PlanItem, ...], reason: str) -> tuple[HoldView, bool]:
    """Save the held archives (call inside the run's transaction); returns the hold and whether
    it is new. The same archives as an open hold keep that hold; the same as a rejected one are
    not held again; other archives replace the open hold."""
    ids = sorted(it.account_id or 0 for it in items)
    for h in Hold.select().where((Hold.site == site) & (Hold.kind == "archive")
                                 & Hold.state.in_(["open", "rejected"])).order_by(Hold.id.desc()):
        if sorted(int(r["accountId"]) for r in json.loads(h.rows or "[]")) == ids:
            return _view(h, site.name), False
    supersede_holds(site)
    created: Hold = Hold.create(site=site, kind="archive", reason=reason,
                                rows=json.dumps(_rows(items), ensure_ascii=False))
    return _view(created, site.name), True


def supersede_holds(site: Site) -> int:
    """Open holds a newer plan replaced (or applied): they wait no more."""
    return int(Hold.update(state="superseded", resolved_at=utcnow()).where(
        (Hold.site == site) & (Hold.state == "open")).execute())


def resolve(site: Site, hold_id: int, state: str, by: str, run_number: int | None = None) -> None:
    Hold.update(state=state, resolved_at=utcnow(), resolved_by=by, run_number=run_number).where(
        (Hold.site == site) & (Hold.id == hold_id)).execute()


def require_open(site: Site, hold_id: int) -> HoldView:
    hold = get_hold(site, hold_id)
    if hold.state != "open":
        raise HoldError(f"hold {hold_id} of site {site.name!r} is {hold.state} already")
    return hold
