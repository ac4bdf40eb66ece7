"""The generated sandbox school: deterministic, FACTS-shaped, quirks at their documented rates."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from core.facts import models
from core.facts.sandbox import REFERENCE_DATE, School, generate_school
from core.facts.sandbox import generator as gen

N = 1000


@pytest.fixture(scope="module")
def school() -> School:
    """The base school (its current and recent families): the rates below are about it."""
    return generate_school(families=N, seed=7, history="light")


@pytest.fixture(scope="module")
def live() -> School:
    return generate_school(families=N, seed=7)


def norm(email: Any) -> str:
    return email.strip().lower() if isinstance(email, str) else ""


def family_sets(school: School) -> dict[int, set[int]]:
    out: dict[int, set[int]] = defaultdict(set)
    for row in school.personFamily:
        out[row["personId"]].add(row["familyId"])
    return out


def test_deterministic() -> None:
    assert generate_school(80, seed=3).to_json() == generate_school(80, seed=3).to_json()
    assert generate_school(80, seed=3).to_json() != generate_school(80, seed=4).to_json()


def test_json_round_trip(tmp_path: Path) -> None:
    school = generate_school(30, seed=1)
    path = tmp_path / "school.json"
    school.save(path)
    assert School.load(path).to_json() == school.to_json()
    assert School.from_json(school.to_json()) == school
    assert set(school.to_json()) == {
        "people",
        "students",
        "parentStudent",
        "personFamily",
        "families",
        "schoolYears",
        "schoolConfigurations",
    }


def test_empty_school() -> None:
    school = generate_school(0, seed=1)
    assert school.people == [] and len(school.schoolConfigurations) == 2


@pytest.mark.parametrize(
    ("table", "model"),
    [
        ("people", models.PersonVM),
        ("students", models.StudentModelV1_3),
        ("parentStudent", models.ParentStudentVM_V1_1),
        ("personFamily", models.PersonFamilyVM),
        ("families", models.FamilyConfigVmOutV1_1),
        ("schoolYears", models.SchoolYearModel),
        ("schoolConfigurations", models.SchoolConfigVmOut),
    ],
)
def test_every_record_validates(school: School, table: str, model: type[BaseModel]) -> None:
    for row in getattr(school, table):
        model.model_validate(row)


def test_proportions(school: School) -> None:
    family_ids = {f["familyID"] for f in school.families}
    assert len(family_ids) == N
    enrolled = [s for s in school.students if s["school"]["status"] == "Enrolled"]
    assert 1.35 < len(enrolled) / N < 1.65
    parents = {link["parentID"] for link in school.parentStudent}
    assert 1.55 < len(parents) / N < 1.85
    status = {s["studentId"]: s["school"]["status"] for s in school.students}
    historical = [s for s in school.students if s["school"]["status"] in ("Graduate", "Withdrawn")]
    assert 0.10 < len(historical) / len(school.students) < 0.20
    old_links = [
        link
        for link in school.parentStudent
        if status[link["studentID"]] in ("Graduate", "Withdrawn")
    ]
    assert 0.10 < len(old_links) / len(school.parentStudent) < 0.20
    linked = {r["personId"] for r in school.personFamily} | parents | set(status)
    unlinked = [p for p in school.people if p["personId"] not in linked]
    assert abs(len(unlinked) - gen.ALUMNI_PEOPLE_RATE * N) <= 1
    assert {s["schoolCode"] for s in school.students} == {"ES", "HS"}
    assert {"Enrolled", "Graduate", "Withdrawn", "Admissions"} <= set(status.values())


def test_duplicate_family_rows(school: School) -> None:
    counts = Counter(f["familyID"] for f in school.families)
    dups = [fid for fid, n in counts.items() if n > 1]
    assert len(dups) == round(gen.DUPLICATE_FAMILY_ROW_RATE * N)


def test_missing_emails(school: School) -> None:
    people = {p["personId"]: p for p in school.people}
    enrolled = [s["studentId"] for s in school.students if s["school"]["status"] == "Enrolled"]
    missing = sum(1 for sid in enrolled if not norm(people[sid]["email"]))
    assert 0.34 < missing / len(enrolled) < 0.46
    parents = {link["parentID"] for link in school.parentStudent}
    missing_parents = sum(1 for pid in parents if not norm(people[pid]["email"]))
    assert 0.04 < missing_parents / len(parents) < 0.11
    first_without = [
        r
        for r in school.personFamily
        if r["familyOrder"] == 1 and not norm(people[r["personId"]]["email"])
    ]
    assert first_without
    raw_missing = {people[pid]["email"] for pid in parents if not norm(people[pid]["email"])}
    assert raw_missing == {None, "", "  "}


def test_shared_emails(school: School) -> None:
    people = {p["personId"]: p for p in school.people}
    families = family_sets(school)
    parents = {link["parentID"] for link in school.parentStudent}
    students = {s["studentId"] for s in school.students}
    by_email: dict[str, set[int]] = defaultdict(set)
    for person in school.people:
        if norm(person["email"]):
            by_email[norm(person["email"])].add(person["personId"])
    shared = {e: ids for e, ids in by_email.items() if len(ids) > 1}
    in_family = [
        ids for ids in shared.values() if len(set.intersection(*(families[i] for i in ids))) > 0
    ]
    two_parent_current = N * (1 - gen.HISTORICAL_FAMILY_RATE - gen.SECOND_HOUSEHOLD_RATE) * 0.66
    expected = gen.FAMILY_SHARED_EMAIL_RATE * two_parent_current
    assert 0.6 * expected < len(in_family) < 1.5 * expected
    across = [ids for ids in shared.values() if len(set.union(*(families[i] for i in ids))) > 1]
    assert across
    assert any(ids & parents and ids & students for ids in shared.values())
    spellings: dict[str, set[str]] = defaultdict(set)
    for person in school.people:
        if norm(person["email"]):
            spellings[norm(person["email"])].add(person["email"])
    assert any(len(s) > 1 for s in spellings.values())  # differ only in case or spaces
    same_person = [
        p for p in people.values() if norm(p["email"]) and norm(p["email"]) == norm(p["email2"])
    ]
    assert len(same_person) >= 1
    padded = [
        p
        for p in school.people
        if isinstance(p["email"], str) and p["email"] != p["email"].strip() and p["email"].strip()
    ]
    assert padded


def test_people_in_two_families(school: School) -> None:
    families = family_sets(school)
    multi = [pid for pid, fams in families.items() if len(fams) > 1]
    assert len(multi) >= gen.SECOND_HOUSEHOLD_RATE * N
    parents = {link["parentID"] for link in school.parentStudent}
    assert any(pid in parents for pid in multi)
    orders: dict[tuple[int, int], int] = {
        (r["personId"], r["familyId"]): r["familyOrder"] for r in school.personFamily
    }
    assert len(orders) == len(school.personFamily)  # one familyOrder per membership
    for fid_rows in _by_family(school).values():
        assert sorted(r["familyOrder"] for r in fid_rows) == list(range(1, len(fid_rows) + 1))


def _by_family(school: School) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in school.personFamily:
        out[row["familyId"]].append(row)
    return out


def test_person_student_id_collides(school: School) -> None:
    person_ids = {p["personId"] for p in school.people}
    collisions = [
        s
        for s in school.students
        if s["personStudentId"] in person_ids and s["personStudentId"] != s["studentId"]
    ]
    assert len(collisions) > 0.2 * len(school.students)
    assert len({s["personStudentId"] for s in school.students}) == len(school.students)


def test_grade_spellings_and_blanks(school: School) -> None:
    grades = Counter(s["school"]["gradeLevel"] for s in school.students)
    assert {"K", "KG", "Nur", "PK", "08", "8", "3", "03"} <= set(grades)
    assert any(p["middleName"] == "  " for p in school.people)
    zero = sum(1 for p in school.people if p["addressID"] == 0)
    assert 0.03 < zero / len(school.people) < 0.07
    assert any(p["addressID"] is None for p in school.people)


def test_relationships_and_flags(school: School) -> None:
    seen = Counter(link["relationship"] for link in school.parentStudent)
    assert set(seen) <= set(gen.RELATIONSHIPS)
    assert {"Mother", "MOTHER ", "Father", "Step mother", "Stepfather", "Step Father"} <= set(seen)
    assert len(seen) >= 10
    assert {link["custody"] for link in school.parentStudent} == {True, False}
    assert any(link["grandparent"] for link in school.parentStudent)


def test_odd_names_at_their_rates(school: School) -> None:
    linked = {r["personId"] for r in school.personFamily}
    people = [p for p in school.people if p["personId"] in linked]
    texts = [f"{p['firstName']}|{p['lastName']}|{p['nickName']}" for p in people]
    markup = [t for t in texts if any(m in t for m in gen.MARKUP_SAMPLES)]
    assert len(markup) == max(1, round(gen.MARKUP_NAME_RATE * len(people)))
    long_names = [p for p in people if len(p["lastName"]) == 300]
    assert len(long_names) == max(1, round(gen.LONG_NAME_RATE * len(people)))
    control = [p for p in people if p["firstName"] in gen.CONTROL_SAMPLES]
    assert len(control) == max(1, round(gen.CONTROL_CHAR_NAME_RATE * len(people)))
    names = [p["lastName"] + p["firstName"] for p in people]
    assert any("'" in n for n in names)
    assert any("-" in n for n in names)
    assert any(any(ord(ch) > 127 for ch in n) for n in names)


def test_small_school_still_has_rare_quirks() -> None:
    school = generate_school(families=25, seed=2, history="light")
    texts = [f"{p['firstName']}{p['lastName']}{p['nickName']}" for p in school.people]
    assert any(any(m in t for m in gen.MARKUP_SAMPLES) for t in texts)
    assert any(len(p["lastName"]) == 300 for p in school.people)
    assert len({f["familyID"] for f in school.families}) < len(school.families)


def test_school_years(school: School) -> None:
    years = school.schoolYears
    assert len(years) == 22
    by_start = sorted(years, key=lambda y: (y["schoolCode"], y["firstDay"]))
    assert [y["yearId"] for y in by_start] != sorted(y["yearId"] for y in by_start)

    def current(day: date, code: str) -> list[dict[str, Any]]:
        stamp = (
            datetime(day.year, day.month, day.day, tzinfo=UTC).isoformat().replace("+00:00", "Z")
        )
        return [
            y for y in years if y["schoolCode"] == code and y["firstDay"] <= stamp <= y["lastDay"]
        ]

    for code in ("ES", "HS"):
        assert len(current(date.today(), code)) == 1
        assert len(current(REFERENCE_DATE, code)) == 1
    for config in school.schoolConfigurations:
        (year,) = current(REFERENCE_DATE, config["schoolCode"])
        assert config["defaultYearId"] == year["yearId"]


def test_class_year_matches_grade(school: School) -> None:
    for s in school.students:
        if s["school"]["status"] == "Enrolled" and s["school"]["gradeLevel"] == "12":
            assert s["classYear"] == "2027"


def test_generation_is_fast() -> None:
    started = time.process_time()
    generate_school(families=2000, seed=1, history="light")
    assert time.process_time() - started < 2.0


def test_live_history_volume_by_default(school: School, live: School) -> None:
    """~17 people and ~19 parent links per enrolled student, as on live tenants; the base school
    is the same record for record, and /Students holds no one more."""
    enrolled = sum(1 for s in live.students if s["school"]["status"] == "Enrolled")
    assert 16.5 < len(live.people) / enrolled < 17.5
    assert 18.5 < len(live.parentStudent) / enrolled < 19.5
    assert live.students == school.students
    base = {p["personId"] for p in school.people}
    assert [p for p in live.people if p["personId"] in base] == school.people
    assert all(link in live.parentStudent for link in school.parentStudent)
    people = {p["personId"] for p in live.people}
    assert all(link["parentID"] in people and link["studentID"] in people
               for link in live.parentStudent)
    families = {f["familyID"] for f in live.families}
    assert all(m["familyId"] in families for m in live.personFamily)
    for table, model in (
        ("people", models.PersonVM),
        ("parentStudent", models.ParentStudentVM_V1_1),
        ("personFamily", models.PersonFamilyVM),
        ("families", models.FamilyConfigVmOutV1_1),
    ):
        for row in getattr(live, table)[-50:]:
            model.model_validate(row)
    with pytest.raises(ValueError):
        generate_school(3, history="heavy")


def test_values_as_live_facts_sends_them(school: School) -> None:
    ids = [link["id"] for link in school.parentStudent]
    assert all(isinstance(i, str) and len(i) == 36 and i.count("-") == 4 for i in ids)
    assert len(set(ids)) == len(ids)
    assert {p["gender"] for p in school.people} == {"Male", "Female"}
    assert {s["gender"] for s in school.students} == {"Male", "Female"}
    names = {y["yearName"] for y in school.schoolYears}
    assert "2025 - 2026" in names and "2026-2027" in names or "2026 - 2027" in names
    assert any(n.endswith("  ") for n in names) and any(" - " in n for n in names)
    unset = [s["school"]["withdrawReason"] for s in school.students
             if s["school"]["status"] != "Withdrawn"]
    assert unset and set(unset) == {""}
    config = school.schoolConfigurations[0]
    assert {"defaultTermId", "parentAlert", "pwTermID", "pwTermID2", "pwYearID", "modifiedBy",
            "modifiedDate"} <= set(config)
