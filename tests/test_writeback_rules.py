"""Pure write-back decisions: desired state, notes, reference matching, what to do per row."""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import given
from hypothesis import strategies as st

from core.facts.models import StudentServiceHoursModel
from core.writeback.reconcile import Seek, classify, reconcile
from core.writeback.rules import (
    backoff_seconds,
    decide,
    desired_state,
    matches,
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


def seek(w, key: object = 1, *, people: tuple[int, ...] = (100001,), hand: bool = True) -> Seek:  # type: ignore[no-untyped-def]
    return Seek(key=key, reference="factsync:1:42" if key == 1 else f"factsync:1:{key}",
                person_ids=frozenset(people), day=w.date, hours=w.hours,
                description=w.description, hand=hand)


def test_reference_matching_is_exact_not_a_prefix() -> None:
    rows = [
        StudentServiceHoursModel(serviceHoursId=1, note="factsync:1:42 volunteer hours"),
        StudentServiceHoursModel(serviceHoursId=2, note="factsync:1:4 volunteer hours"),
        StudentServiceHoursModel(serviceHoursId=3, note="typed by hand: factsync:1:4"),
        StudentServiceHoursModel(serviceHoursId=4, note=None),
    ]
    found = reconcile([seek(want(), 4, hand=False)], rows)
    assert found[4].service_hours_id == 2 and found[4].how == "reference"


def test_matches_compares_hours_date_description_and_note() -> None:
    w = want()
    assert matches(facts_row(w), w)
    assert not matches(facts_row(w, hours=3.0), w)
    assert not matches(facts_row(w, date="2024-10-02T00:00:00Z"), w)
    assert not matches(facts_row(w, description="Other"), w)
    ops = patch_ops(want(status="rejected"))
    assert {"op": "replace", "path": "/hours", "value": 0.0} in ops


def test_duplicates_keep_the_row_holding_the_entry_and_report_the_rest() -> None:
    w = want()
    rows = [facts_row(w, 12), facts_row(w, 5, hours=9.0), facts_row(w, 20, hours=0.0)]
    found = reconcile([seek(w)], rows)[1]
    assert found.service_hours_id == 12  # holds the entry's hours; 5 counts hours too
    assert [r.serviceHoursId for r in found.duplicates] == [5]  # 20 counts nothing


def test_rows_entered_by_hand_are_adopted_once_by_date_hours_and_description() -> None:
    w = want(description="Book fair")
    hand = facts_row(w, 30, note="typed at the front office", description="  BOOK   Fair ")
    other_person = facts_row(w, 31, note=None, personId=5)
    twin = want(description="book fair")
    found = reconcile([seek(w, 1), seek(twin, 2)], [hand, other_person])
    assert found[1].how == "hand" and found[1].service_hours_id == 30
    assert 2 not in found  # one FACTS row is never given to two entries
    assert reconcile([seek(w)], [hand], taken={30}) == {}  # nor one another entry holds
    assert reconcile([seek(w, hand=False)], [hand]) == {}  # nor to a withdrawn entry
    assert reconcile([seek(want(hours=3.0))], [hand]) == {}


def test_classify_counts_new_already_in_facts_and_conflicts() -> None:
    w = want()
    rows = [facts_row(w, 1, note=None), facts_row(w, 2, note=None, hours=7.0,
                                                  date="2024-10-05T00:00:00Z")]
    later = want(day=dt.date(2024, 10, 5))
    fresh = want(day=dt.date(2024, 11, 1))
    out = classify([seek(w, "a"), seek(later, "b"), seek(fresh, "c")], rows)
    assert out.verdicts == {"a": "in_facts", "b": "conflict", "c": "new"}
    assert out.conflicts["b"].serviceHoursId == 2
    assert (out.count("new"), out.count("in_facts"), out.count("conflict")) == (1, 1, 1)


def decision(w, found=None, *, sid=None, state="pending", op="create", hand=False,  # type: ignore[no-untyped-def]
             sent=(None, None)):
    return decide(state=state, operation=op, service_hours_id=sid, found=found, hand=hand,
                  want=w, sent_hours=sent[0], sent_date=sent[1])


def test_decide_adopts_patches_expected_changes_and_reports_unexpected_ones() -> None:
    w = want()
    same = decision(w, facts_row(w, 9))
    assert (same.action, same.service_hours_id) == ("sent", 9)
    edited = want(hours=4.0)
    # FACTS holds what this store sent, the entry changed since: bring FACTS to it
    assert decision(edited, facts_row(w, 9), sent=(2.5, w.date)).action == "patch"
    assert decision(edited, facts_row(w, 9), op="update").action == "patch"
    # FACTS holds what this store never sent (edited in FACTS, or a restored store): a person
    # decides; nothing is overwritten
    odd = decision(edited, facts_row(w, 9))
    assert odd.action == "mismatch" and "2.5 h, the entry 4 h" in odd.reason
    assert decision(edited, facts_row(w, 9, note="by hand"), hand=True).action == "sent"


def test_decide_posts_only_when_nothing_was_found_and_the_entry_is_live() -> None:
    w = want()
    assert decision(w).action == "post"
    assert decision(want(status="rejected")).action == "drop"
    assert decision(want(person_id=None)).action == "drop"
    # FACTS said 201 but the read-back does not show it: wait, never post again.
    assert decision(w, state="inflight").action == "wait"
    assert decision(w, sid=8, op="update").action == "patch"


def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(1)
    waits = [backoff_seconds(n, 1.0, 30.0, rng) for n in range(1, 10)]
    assert all(0.5 <= w <= 30.0 for w in waits)
    assert waits[5] > waits[0]
    assert max(waits) <= 30.0
