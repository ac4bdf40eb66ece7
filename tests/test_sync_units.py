"""Pure pieces: relationship groups, setup document, untrusted text, review flags (design §4b)."""

from __future__ import annotations

import pytest

from core.sync.conflicts import resolve
from core.sync.plan import make_plan
from core.sync.relationships import normalize_relationship
from core.sync.selection import select
from core.sync.setup import Decision, SetupDoc, dump_setup, parse_setup
from core.sync.text import clean_text, email_is_valid
from tests.sync_support import build_school, parent, roster_of, student


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("Mother", "mother"), ("MOTHER ", "mother"), ("mom", "mother"), ("Father", "father"),
        ("Step mother", "stepmother"), ("Step-Mother", "stepmother"), ("stepdad", "stepfather"),
        ("Step Father", "stepfather"), ("Legal Guardian", "guardian"), ("Grand parent", "grandparent"),
        ("Grandmother", "grandparent"), ("Aunt", "other"), ("", "other"), (None, "other"),
    ],
)
def test_relationship_text_is_grouped(text: str | None, group: str) -> None:
    assert normalize_relationship(text) == group


def test_grandparent_flag_groups_unknown_text() -> None:
    assert normalize_relationship("Nana", grandparent_flag=True) == "grandparent"


def test_setup_document_round_trips_and_newer_decisions_replace_older() -> None:
    doc = SetupDoc(kind="parents")
    doc = doc.with_decision(Decision(action="skip", email=" A@X.org"))
    doc = doc.with_decision(Decision(action="assign", email="a@x.org", person_id=4))
    doc = doc.with_decision(Decision(action="skip", person_id=4))
    doc = doc.with_group([3, 1]).with_group([3, 7]).with_override(10, 2, False)
    again = parse_setup(dump_setup(doc))
    assert again == doc
    assert [d.action for d in again.decisions] == ["assign", "skip"]
    assert again.family_groups == ((1, 3, 7),) and again.family_key_map()[7] == 1
    assert again.criteria.statuses == ("Enrolled",)
    with pytest.raises(ValueError):
        doc.with_group([5])


def test_decision_index_finds_each_target_and_the_latest_decision_wins() -> None:
    doc = SetupDoc(
        kind="parents",
        decisions=(
            Decision(action="skip", email="A@x.org"),
            Decision(action="skip", person_id=4),
            Decision(action="accept", person_id=4, family_id=9),
            Decision(action="assign", email=" a@X.org ", person_id=4),  # same email, later
        ),
    )
    index = doc.decision_index()
    email = index.email_decision("a@x.org")
    assert email is not None and (email.action, email.person_id) == ("assign", 4)
    person, family = index.person_decision(4), index.family_decision(4)
    assert person is not None and person.action == "skip"
    assert family is not None and family.family_id == 9
    assert index.email_decision(None) is None and index.person_decision(5) is None


def test_untrusted_text_is_cleaned() -> None:
    assert clean_text(" Ann\x00\u200b  <b>Lee</b>\n") == "Ann <b>Lee</b>"
    assert len(clean_text("x" * 300)) == 100
    assert email_is_valid("a.b+c@school.org") and not email_is_valid("jane@")
    assert not email_is_valid("a b@x.org") and not email_is_valid("x" * 250 + "@x.org")


def flags(kind: str, families: dict) -> dict[str, str]:  # type: ignore[type-arg]
    roster = roster_of(build_school(families))
    setup = SetupDoc(kind=kind)  # type: ignore[arg-type]
    res = resolve(select(roster, setup).candidates, [], setup)
    return {c.key: c.flag for c in res.conflicts}


def test_review_flags_follow_the_traffic_light() -> None:
    got = flags(
        "parents",
        {
            1: [parent(1, "A", "One", "same@x.org"), parent(2, "B", "One", "same@x.org", order=2),
                student(3, "C", "One")],
            2: [parent(4, "D", "Two", "d@x.org"), parent(5, "E", "Two", "e2@x.org", order=2),
                parent(6, "F", "Two", "E2@x.org", order=3), parent(7, "G", "Two", None, order=2),
                student(8, "H", "Two")],
            3: [parent(9, "I", "Three", None), student(10, "J", "Three")],
        },
    )
    assert got == {
        "email:same@x.org": "red",  # shared in a family, one sharer listed first
        "email:e2@x.org": "orange",  # shared by members listed second or lower
        "person:7:missing-email": "orange",  # second or lower, no email
        "person:9:missing-email": "red",  # listed first, no email
    }
    students = flags(
        "students",
        {1: [parent(1, "A", "One", "a@x.org"), student(2, "B", "One", "kids@x.org", order=2),
             student(3, "C", "One", "kids@x.org", order=3)]},
    )
    assert students == {"email:kids@x.org": "red"}  # an email used by two different students


def test_planning_is_deterministic_and_explains_exclusions() -> None:
    roster = roster_of(build_school({1: [parent(1, "A", "B", "a@x.org", rel="Aunt"),
                                         student(2, "C", "B", status="Withdrawn")]}))
    setup = SetupDoc(kind="parents")
    sel = select(roster, setup)
    assert sel.excluded[1].reason == (
        "none of their students matches this site's criteria any more (their student's "
        "enrollment status is Withdrawn; this site rosters Enrolled students)"
    )
    assert make_plan(setup, roster, []) == make_plan(setup, roster, [])


def test_a_plan_a_roster_and_a_selection_are_named_in_a_few_words_not_rendered_whole() -> None:
    """asyncio.run formats the repr of the result of the coroutine it ran (checking its SIGINT
    handler, a partial holding the main task): for a 50,000-family plan that was 100 MB and
    half a second at the end of every 'factsync sync'. Workers, logs and tracebacks name them
    too."""
    from core.demo import roster_from_school
    from core.facts.sandbox import generate_school
    from core.sync.plan import make_plan as plan_of
    from core.sync.selection import select
    from core.sync.setup import SetupDoc

    roster = roster_from_school(generate_school(families=200, seed=3))
    setup = SetupDoc(kind="parents")
    plan = plan_of(setup, roster, [])
    selection = select(roster, setup)
    assert len(plan.of("add")) > 200 and len(selection.candidates) > 200
    for value in (plan, roster, selection):
        assert len(repr(value)) < 300, repr(value)[:300]
    assert "added" in repr(plan) and "students" in repr(roster)
