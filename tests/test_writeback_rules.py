"""Pure write-back decisions: desired state, notes, reference matching, what to do per row."""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import given
from hypothesis import strategies as st

from core.facts.models import StudentServiceHoursModel
from core.writeback.rules import (
    backoff_seconds,
    by_reference,
    decide,
    desired_state,
    matches,
    needs_lookup,
    note_for,
    patch_ops,
    reference_of,
)


def want(**kw: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "reference": "factsync:1:42",
        "site_name": "Lincoln PTA",
        "person_id": 100001,
        "day": dt.date(2024, 10, 1),
        "hours": 2.5,
        "description": "Book fair",
        "status": "approved",
        "deleted": False,
        "approved_by": "Ms. Admin",
        "verifier": None,
    }
    args.update(kw)
    return desired_state(**args)  # type: ignore[arg-type]


def facts_row(w, sid: int = 7, **kw: object) -> StudentServiceHoursModel:  # type: ignore[no-untyped-def]
    data = w.body().model_dump(mode="json")
    data.update(serviceHoursId=sid, **kw)
    return StudentServiceHoursModel.model_validate(data)


def test_live_entry_body_carries_person_date_hours_description_verifier_and_reference() -> None:
    body = want().body().model_dump(mode="json", exclude_none=True)
    assert body["personId"] == 100001
    assert body["date"] == "2024-10-01T00:00:00Z"
    assert body["hours"] == 2.5
    assert body["description"] == "Book fair"
    assert body["verifiedBy"] == "Ms. Admin"
    assert body["note"].startswith("factsync:1:42 ")
    assert body["serviceHoursId"] == 0


def test_withdrawn_entry_is_zero_hours_with_a_note_saying_why() -> None:
    rejected = want(status="rejected")
    deleted = want(deleted=True)
    assert not rejected.live and rejected.hours == 0
    assert "WITHDRAWN" in rejected.note and "rejected" in rejected.note
    assert "deleted" in deleted.note and deleted.hours == 0
    assert reference_of(deleted.note) == "factsync:1:42"


@given(st.text(max_size=400), st.text(max_size=400))
def test_texts_never_exceed_facts_limits(site: str, description: str) -> None:
    w = want(site_name=site, description=description[:255])
    assert len(w.note) <= 255 and len(w.description) <= 255
    assert reference_of(w.note) == "factsync:1:42"
    assert len(note_for("factsync:99:12345", site, live=False, why=description)) <= 255


def test_reference_matching_is_exact_not_a_prefix() -> None:
    rows = [
        StudentServiceHoursModel(serviceHoursId=1, note="factsync:1:42 volunteer hours"),
        StudentServiceHoursModel(serviceHoursId=2, note="factsync:1:4 volunteer hours"),
        StudentServiceHoursModel(serviceHoursId=3, note="typed by hand: factsync:1:4"),
        StudentServiceHoursModel(serviceHoursId=4, note=None),
    ]
    found = by_reference(rows, {"factsync:1:4"})
    assert [r.serviceHoursId for r in found["factsync:1:4"]] == [2]


def test_matches_compares_hours_date_description_and_note() -> None:
    w = want()
    assert matches(facts_row(w), w)
    assert not matches(facts_row(w, hours=3.0), w)
    assert not matches(facts_row(w, date="2024-10-02T00:00:00Z"), w)
    assert not matches(facts_row(w, description="Other"), w)
    ops = patch_ops(want(status="rejected"))
    assert {"op": "replace", "path": "/hours", "value": 0.0} in ops


def test_decide_adopts_a_found_row_or_patches_it_to_the_entry() -> None:
    w = want()
    same = decide(state="pending", operation="create", service_hours_id=None, looked_up=True,
                  found=[facts_row(w, 9)], want=w)
    assert (same.action, same.service_hours_id) == ("sent", 9)
    edited = want(hours=4.0)
    differ = decide(state="pending", operation="create", service_hours_id=None, looked_up=True,
                    found=[facts_row(w, 9)], want=edited)
    assert (differ.action, differ.service_hours_id) == ("patch", 9)


def test_decide_keeps_the_lowest_id_when_facts_holds_duplicates() -> None:
    w = want()
    d = decide(state="pending", operation="create", service_hours_id=None, looked_up=True,
               found=by_reference([facts_row(w, 12), facts_row(w, 5)], {"factsync:1:42"})[
                   "factsync:1:42"], want=w)
    assert d.service_hours_id == 5 and "2 rows" in d.reason


def test_decide_posts_only_when_nothing_was_found_and_the_entry_is_live() -> None:
    w = want()
    assert decide(state="pending", operation="create", service_hours_id=None, looked_up=True,
                  found=[], want=w).action == "post"
    assert decide(state="pending", operation="create", service_hours_id=None, looked_up=False,
                  found=[], want=w).action == "post"
    assert decide(state="pending", operation="create", service_hours_id=None, looked_up=True,
                  found=[], want=want(status="rejected")).action == "drop"
    # FACTS said 201 but the read-back does not show it: wait, never post again.
    assert decide(state="inflight", operation="create", service_hours_id=None, looked_up=True,
                  found=[], want=w).action == "wait"
    assert decide(state="pending", operation="update", service_hours_id=8, looked_up=False,
                  found=[], want=w).action == "patch"


def test_unknown_outcomes_are_looked_up_first() -> None:
    assert needs_lookup(state="pending", operation="create", outcome_unknown=True,
                        service_hours_id=None)
    assert needs_lookup(state="inflight", operation="create", outcome_unknown=False,
                        service_hours_id=None)
    assert not needs_lookup(state="pending", operation="create", outcome_unknown=False,
                            service_hours_id=None)
    assert not needs_lookup(state="pending", operation="update", outcome_unknown=False,
                            service_hours_id=3)
    assert needs_lookup(state="pending", operation="withdraw", outcome_unknown=False,
                        service_hours_id=None)


def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(1)
    waits = [backoff_seconds(n, 1.0, 30.0, rng) for n in range(1, 10)]
    assert all(0.5 <= w <= 30.0 for w in waits)
    assert waits[5] > waits[0]
    assert max(waits) <= 30.0
