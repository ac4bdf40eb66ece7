"""A deterministic, FACTS-shaped school with every data quirk of facts-api.md §6.

``generate_school(families, seed)`` builds the same school for the same arguments (one seeded
``random.Random``, no clock, no hash-order dependence). ``families`` counts distinct familyIDs in
``/Families``, historical and second households included. Rates below are targets; rare quirks
use an exact count of ``max(1, round(rate * population))`` so even a small school has them.

=============================  ========  =========================================================
constant                       rate      what
=============================  ========  =========================================================
HISTORICAL_FAMILY_RATE         0.08      families whose children all graduated or withdrew
SECOND_HOUSEHOLD_RATE          0.03      divorced/blended second households sharing children
CHILDREN_WEIGHTS               1.68 avg  enrolled children per current family (~1.5 per family)
PARENT_WEIGHTS                 1.70 avg  parents per family
ALUMNI_SIBLING_RATE            0.15      current families with a graduated/withdrawn child
ADMISSIONS_RATE                0.02      current families with an applicant (status Admissions)
ALUMNI_PEOPLE_RATE             0.50      unlinked people (alumni, ex-staff) per family
STUDENT_EMAIL_MISSING_RATE     0.40      students without email (None, "" or "  ")
PARENT_EMAIL_MISSING_RATE      0.08      parents without email, listed-first members included
FAMILY_SHARED_EMAIL_RATE       0.12      two-parent families whose parents share one email
CROSS_FAMILY_EMAIL_RATE        0.01      families where a parent reuses another family's email
PARENT_STUDENT_EMAIL_RATE      0.02      families where a student has a parent's email
EMAIL_VARIANT_RATE             0.30      shared-email copies differing only in case/spaces
EMAIL_PADDED_RATE              0.01      other emails stored with surrounding spaces
EMAIL2_RATE                    0.15      parents with a second (work) email
EMAIL2_CASE_RATE               0.02      parents whose email2 is their email in other case
DUPLICATE_FAMILY_ROW_RATE      0.01      /Families rows served twice
ADDRESS_ZERO_RATE              0.05      people with addressID 0 (and 0.02 with null)
PADDED_BLANK_RATE              0.10      middle names "  " (nick names " " at half the rate)
GRADE_ALT_SPELLING_RATE        0.20      students with "KG", "01".."05" or "6".."12"
HYPHENATED_NAME_RATE           0.05      hyphenated last names
MARKUP_NAME_RATE               0.005     names like "[b]Bo[/b]", "<i>Ann</i>", "[link=x]"
LONG_NAME_RATE                 0.002     300-character last names
CONTROL_CHAR_NAME_RATE         0.002     names with control characters (BEL, ESC, RLO...)
=============================  ========  =========================================================

Name pools include apostrophes (O'Brien), accents (Núñez, Zoë) and hyphens (Mary-Kate).
As live FACTS sends them: ``ParentStudent.id`` is a GUID-like string, gender is ``Male``/``Female``,
``withdrawReason`` is ``""`` when unset, ``yearName`` mixes ``2025 - 2026``, ``2025-2026`` and
trailing spaces; ``history="live"`` adds a live tenant's history volume (``history.py``).
``personStudentId`` comes from its own counter over the same numeric range as ``personId``, so its
values point at other people. School years cover 2020-2021 .. 2030-2031 (1 Aug - 31 Jul), with
``yearId`` shuffled, so any real date in that span has a current year; grades and class years are
computed for ``reference_date`` (default :data:`REFERENCE_DATE`).
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, TypeVar

from core.facts.sandbox.history import HISTORIES, add_live_history, link_id
from core.facts.sandbox.school import Record, School

T = TypeVar("T")

REFERENCE_DATE = date(2026, 11, 29)
GENDER_NAMES = {"F": "Female", "M": "Male"}
FIRST_YEAR, LAST_YEAR = 2020, 2030

HISTORICAL_FAMILY_RATE = 0.08
SECOND_HOUSEHOLD_RATE = 0.03
CHILDREN_WEIGHTS = {1: 0.45, 2: 0.42, 3: 0.13}
PARENT_WEIGHTS = {1: 0.34, 2: 0.62, 3: 0.04}
ALUMNI_SIBLING_RATE = 0.15
ADMISSIONS_RATE = 0.02
ALUMNI_PEOPLE_RATE = 0.50
STUDENT_EMAIL_MISSING_RATE = 0.40
PARENT_EMAIL_MISSING_RATE = 0.08
FAMILY_SHARED_EMAIL_RATE = 0.12
CROSS_FAMILY_EMAIL_RATE = 0.01
PARENT_STUDENT_EMAIL_RATE = 0.02
EMAIL_VARIANT_RATE = 0.30
EMAIL_PADDED_RATE = 0.01
EMAIL2_RATE = 0.15
EMAIL2_CASE_RATE = 0.02
DUPLICATE_FAMILY_ROW_RATE = 0.01
ADDRESS_ZERO_RATE = 0.05
ADDRESS_NULL_RATE = 0.02
PADDED_BLANK_RATE = 0.10
GRADE_ALT_SPELLING_RATE = 0.20
HYPHENATED_NAME_RATE = 0.05
MARKUP_NAME_RATE = 0.005
LONG_NAME_RATE = 0.002
CONTROL_CHAR_NAME_RATE = 0.002

PERSON_ID_START = 100_000
PERSON_STUDENT_ID_START = 100_000
FAMILY_ID_START = 2_000

SCHOOLS = (
    {"configSchoolID": 1, "schoolCode": "ES", "schoolName": "St. Brendan's Elementary School"},
    {"configSchoolID": 2, "schoolCode": "HS", "schoolName": "St. Brendan's Middle & High School"},
)
RELATIONSHIPS = (
    "Mother", "MOTHER ", "Father", "Step mother", "Stepfather", "Step Father", "Guardian",
    "Grand parent", "Grandmother", "Aunt", "Uncle", "Other",
)  # fmt: skip
MARKUP_SAMPLES = ("[b]Bo[/b]", "<i>Ann</i>", "[link=x]Lee[/link]", "[red]Kim[/]", "<b>Max</b>")
CONTROL_SAMPLES = ("Al\x07ex", "Sam\x1b[31mRed", "Eve\u202etxt.exe", "Tab\tby", "Nul\x00l")

SURNAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "O'Brien", "O'Neil", "D'Angelo",
    "McDonald", "Núñez", "García", "Müller", "Søren", "Ibáñez", "Çelik", "Đặng", "Kowalczyk",
    "Schröder", "Le Blanc", "St. John", "Van der Berg", "MacLeod", "Okafor", "Nakamura", "Kim",
    "Patel", "Singh", "Cohen", "Murphy", "Kelly", "Sullivan", "Bianchi", "Rossi", "Dubois",
)  # fmt: skip
FEMALE_NAMES = (
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah",
    "Karen", "Nancy", "Lisa", "Betty", "Margaret", "Sandra", "Ashley", "Emily", "Michelle",
    "Amanda", "Melissa", "Stephanie", "Rebecca", "Laura", "Emma", "Olivia", "Ava", "Sophia",
    "Isabella", "Mia", "Charlotte", "Amelia", "Harper", "Zoë", "Chloé", "Renée", "Mary-Kate",
    "Anne-Marie", "Siobhán", "Inés", "Léa", "María José", "Aaliyah", "Priya", "Mei", "Fatima",
)  # fmt: skip
MALE_NAMES = (
    "James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas",
    "Charles", "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Paul",
    "Andrew", "Joshua", "Liam", "Noah", "Oliver", "Elijah", "Lucas", "Mason", "Logan", "Ethan",
    "José", "François", "Jean-Luc", "D'Andre", "Seán", "Björn", "Nicolás", "Mateo", "Raj",
    "Wei", "Omar", "Kwame", "Hiroshi", "Jürgen", "Zoltán", "Ángel", "Luca",
)  # fmt: skip
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com")
STUDENT_EMAIL_DOMAIN = "students.stbrendan.example"
WORK_EMAIL_DOMAIN = "work.example.com"
WITHDRAW_REASONS = ("Moved", "Transferred", "Financial", "Other", "  ")

# Grade index: -2 Nur, -1 PK, 0 K, 1..12. ES holds Nur..5, HS holds 6..12.
GRADE_NAMES = {-2: "Nur", -1: "PK", 0: "K"}


def _grade_text(index: int, alt: bool) -> str:
    if index in GRADE_NAMES:
        return "KG" if (index == 0 and alt) else GRADE_NAMES[index]
    if index <= 5:
        return f"{index:02d}" if alt else str(index)
    return str(index) if alt else f"{index:02d}"


def _school_for(index: int) -> dict[str, Any]:
    return SCHOOLS[0] if index <= 5 else SCHOOLS[1]


def _iso(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


@lru_cache(maxsize=4096)
def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in folded.lower() if ch.isalnum())


@dataclass
class _Family:
    family_id: int
    surname: str
    historical: bool
    parents: list[Record] = field(default_factory=list)
    relations: dict[int, str] = field(default_factory=dict)
    """personId of a parent -> relationship text (one spelling per parent)."""
    children: list[Record] = field(default_factory=list)
    """Student records (``/Students``) of this family's children."""
    members: list[tuple[Record, bool]] = field(default_factory=list)
    """(person, is_parent) in familyOrder."""
    address_id: int = 0


class _Builder:
    """Holds the RNG, id counters and tables while one school is generated."""

    def __init__(self, families: int, seed: int, reference_date: date) -> None:
        self.seed = seed
        self.rng = random.Random(f"factsync-sandbox:{seed}")
        self.random = self.rng.random
        self.n_families = families
        self.today = reference_date
        self.current_start = (
            reference_date.year if reference_date.month >= 8 else reference_date.year - 1
        )
        self.next_person = PERSON_ID_START
        self.next_psid = PERSON_STUDENT_ID_START + 3
        self.next_address = 5_000
        self.next_link = 1
        self.people: list[Record] = []
        self.students: list[Record] = []
        self.links: list[Record] = []
        self.person_family: list[Record] = []
        self.family_rows: list[Record] = []
        self.fams: list[_Family] = []
        self.people_by_id: dict[int, Record] = {}
        self.linked: set[tuple[int, int]] = set()
        self._recent_days = [(reference_date - timedelta(days=d)).isoformat() for d in range(1100)]

    # --- small helpers -------------------------------------------------------------------------

    def chance(self, rate: float) -> bool:
        return self.random() < rate

    def weighted(self, weights: dict[int, float]) -> int:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def pick(self, pool: Sequence[T]) -> T:
        """``random.choice`` without its overhead (the generator draws ~300k values)."""
        return pool[int(self.random() * len(pool))]

    def ri(self, low: int, high: int) -> int:
        """A random int in ``[low, high)``, cheaper than ``randrange``."""
        return low + int(self.random() * (high - low))

    def person_id(self) -> int:
        self.next_person += self.pick((1, 1, 1, 2, 3, 7))
        return self.next_person

    def ps_id(self) -> int:
        self.next_psid += self.pick((1, 1, 2, 3))
        return self.next_psid

    def day_between(self, start: date, end: date) -> date:
        return start + timedelta(days=self.ri(0, max(1, (end - start).days)))

    def modified(self) -> str:
        day = self._recent_days[int(self.random() * len(self._recent_days))]
        secs = self.ri(0, 86_400)
        return f"{day}T{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}Z"

    def surname(self) -> str:
        name = self.pick(SURNAMES)
        if self.chance(HYPHENATED_NAME_RATE):
            name = f"{name}-{self.pick(SURNAMES)}"
        return name

    def missing_email(self) -> str | None:
        return self.pick((None, "", "  "))

    def variant(self, email: str) -> str:
        """The same address as typed by someone else: other case, stray spaces."""
        style = self.ri(0, 3)
        if style == 0:
            return email.upper()
        if style == 1:
            local, _, domain = email.partition("@")
            return f"{local[:1].upper()}{local[1:]}@{domain.capitalize()}"
        return f"  {email} "

    def phone(self) -> str:
        if self.chance(0.05):
            return "  "
        return f"({self.ri(200, 999)}) 555-{self.ri(100, 199):04d}"

    # --- people --------------------------------------------------------------------------------

    def new_person(
        self, first: str, last: str, gender: str, birth: date, email: str | None, address_id: int
    ) -> Record:
        pid = self.person_id()
        roll = self.rng.random()
        if roll < ADDRESS_ZERO_RATE:
            address_id = 0
        elif roll < ADDRESS_ZERO_RATE + ADDRESS_NULL_RATE:
            address_id = -1
        middle = (
            "  " if self.chance(PADDED_BLANK_RATE) else self.pick(("", "A.", "Lee", "Marie", "J"))
        )
        nick = " " if self.chance(PADDED_BLANK_RATE / 2) else ""
        person: Record = {
            "personId": pid,
            "firstName": first,
            "lastName": last,
            "middleName": middle,
            "nickName": nick,
            "gender": gender,
            "salutation": {"M": "Mr.", "F": self.pick(("Mrs.", "Ms."))}.get(gender, ""),
            "suffix": self.pick(("", "", "", "", "Jr.", "III", "  ")),
            "email": email,
            "email2": "",
            "username": f"{_ascii(first)[:1]}{_ascii(last)[:12]}{pid % 1000}",
            "homePhone": self.phone(),
            "cellPhone": self.phone(),
            "addressID": None if address_id == -1 else address_id,
            "deceased": False,
            "modifiedDate": self.modified(),
            "birthdate": _iso(birth),
            "pathToPicture": "",
            "legacyPersonId": None,
            "hasProfilePicture": self.chance(0.2),
        }
        self.people.append(person)
        self.people_by_id[pid] = person
        return person

    def email_for(self, first: str, last: str) -> str:
        local = (
            f"{_ascii(first)}.{_ascii(last)}"
            if self.chance(0.6)
            else f"{_ascii(first)[:1]}{_ascii(last)}"
        )
        return f"{local}{self.ri(1, 100)}@{self.pick(EMAIL_DOMAINS)}"

    def new_parent(self, fam: _Family, relation: str) -> Record:
        female = {"Mother": True, "Step mother": True, "Grandmother": True, "Aunt": True}
        male = {"Father": True, "Stepfather": True, "Uncle": True}
        if relation in female:
            gender = "F"
        elif relation in male:
            gender = "M"
        else:
            gender = self.pick(("F", "M"))
        first = self.pick(FEMALE_NAMES if gender == "F" else MALE_NAMES)
        last = fam.surname
        if relation in (
            "Step mother",
            "Stepfather",
            "Grand parent",
            "Grandmother",
            "Aunt",
            "Uncle",
            "Other",
            "Guardian",
        ) or (relation == "Mother" and self.chance(0.2)):
            last = self.surname()
        old = relation in ("Grand parent", "Grandmother")
        age = self.ri(58, 80) if old else self.ri(29, 58)
        birth = self.day_between(
            date(self.today.year - age, 1, 1), date(self.today.year - age, 12, 28)
        )
        email = (
            self.missing_email()
            if self.chance(PARENT_EMAIL_MISSING_RATE)
            else self.email_for(first, last)
        )
        person = self.new_person(first, last, gender, birth, email, fam.address_id)
        if isinstance(email, str) and email.strip():
            if self.chance(EMAIL2_RATE):
                person["email2"] = f"{_ascii(first)[:1]}{_ascii(last)}@{WORK_EMAIL_DOMAIN}"
            if self.chance(0.3):
                person["username"] = email  # the portal login kept the email it was created with
        fam.parents.append(person)
        fam.relations[person["personId"]] = self.spell(relation)
        return person

    def spell(self, relation: str) -> str:
        if relation == "Mother" and self.chance(0.1):
            return "MOTHER "
        if relation == "Stepfather" and self.chance(0.5):
            return "Step Father"
        return relation

    # --- students ------------------------------------------------------------------------------

    def new_student(self, fam: _Family, grade: int, status: str) -> Record:
        """A child and their /Students row; ``grade`` is the grade now (or when they left)."""
        gender = self.pick(("F", "M"))
        first = self.pick(FEMALE_NAMES if gender == "F" else MALE_NAMES)
        age = grade + 6
        class_of = self.current_start + 1 + (12 - grade)
        left_year = self.current_start
        if status in ("Graduate", "Withdrawn"):
            left_year = self.ri(FIRST_YEAR, self.current_start)
            class_of = left_year + 1 + (12 - grade)
            age = grade + 6 + (self.current_start - left_year)
        birth_year = self.current_start - age
        birth = self.day_between(date(birth_year, 9, 1), date(birth_year + 1, 8, 28))
        email: str | None
        if self.chance(STUDENT_EMAIL_MISSING_RATE):
            email = self.missing_email()
        else:
            email = (
                f"{_ascii(first)}.{_ascii(fam.surname)}{class_of % 100:02d}@{STUDENT_EMAIL_DOMAIN}"
            )
        person = self.new_person(first, fam.surname, gender, birth, email, fam.address_id)
        alt = self.chance(GRADE_ALT_SPELLING_RATE)
        school = _school_for(grade)
        enroll_year = max(FIRST_YEAR - 6, left_year - self.ri(0, 6))
        sch: Record = {
            "status": status,
            "substatus": self.pick(("", "", "  ", None)),
            "enrollDate": _iso(date(enroll_year, 8, self.ri(1, 28))),
            "withdrawDate": None,
            "withdrawReason": "",  # FACTS sends "" when no reason was given
            "graduationDate": None,
            "gradeLevel": _grade_text(grade, alt),
            "nextStatus": None,
            "nextSchoolCode": None,
            "nextGradeLevel": None,
        }
        if status == "Graduate":
            sch["graduationDate"] = _iso(date(left_year + 1, 5, self.ri(20, 31)))
        elif status == "Withdrawn":
            sch["withdrawDate"] = _iso(
                self.day_between(date(left_year, 8, 20), date(left_year + 1, 6, 1))
            )
            sch["withdrawReason"] = self.pick(WITHDRAW_REASONS)
        elif status == "Enrolled":
            sch["nextStatus"] = "Graduate" if grade == 12 else "Enrolled"
            if grade < 12:
                sch["nextSchoolCode"] = _school_for(grade + 1)["schoolCode"]
                sch["nextGradeLevel"] = _grade_text(grade + 1, alt)
        elif status == "Admissions":
            sch["enrollDate"] = None
            sch["nextStatus"] = "Enrolled"
            sch["nextSchoolCode"] = school["schoolCode"]
            sch["nextGradeLevel"] = sch["gradeLevel"]
        student: Record = {
            "personStudentId": self.ps_id(),
            "studentId": person["personId"],
            "configSchoolId": school["configSchoolID"],
            "schoolCode": school["schoolCode"],
            "studentUDID": f"S{person['personId']:07d}",
            "classYear": str(class_of),
            "advisorId": str(self.ri(9000, 9100)) if grade >= 6 else None,
            "gender": gender,
            "birthdate": person["birthdate"],
            "homeroom": f"{_grade_text(grade, False)}{self.pick('ABC')}"
            if status == "Enrolled"
            else "",
            "busOrCarpool": self.pick(("", "Bus 3", "Bus 7", "Carpool", "  ")),
            "school": sch,
            "locker": [{"id": self.ri(1, 2000), "name": f"L-{self.ri(100, 999)}"}]
            if grade >= 6 and status == "Enrolled" and self.chance(0.7)
            else [],
            "demographics": None,
        }
        self.students.append(student)
        fam.children.append(student)
        return student

    # --- families ------------------------------------------------------------------------------

    def build_family(self, family_id: int, historical: bool) -> _Family:
        fam = _Family(family_id, self.surname(), historical)
        self.next_address += self.pick((1, 2))
        fam.address_id = self.next_address
        n_parents = self.weighted(PARENT_WEIGHTS)
        if n_parents == 1:
            roles = [
                self.rng.choices(("Mother", "Father", "Guardian", "Grandmother"), (55, 25, 10, 10))[
                    0
                ]
            ]
        else:
            roles = list(
                self.rng.choices(
                    (("Mother", "Father"), ("Step mother", "Father"), ("Mother", "Stepfather"),
                     ("Mother", "Mother"), ("Father", "Father")),
                    (85, 5, 5, 2.5, 2.5),
                )[0]
            )  # fmt: skip
            if n_parents == 3:
                roles.append(self.pick(("Grand parent", "Grandmother", "Aunt", "Uncle", "Other")))
        for role in roles:
            self.new_parent(fam, role)
        if historical:
            for _ in range(self.weighted(CHILDREN_WEIGHTS)):
                if self.chance(0.7):
                    self.new_student(fam, 12, "Graduate")
                else:
                    self.new_student(fam, self.ri(-1, 12), "Withdrawn")
        else:
            grades = self.rng.sample(range(-2, 13), self.weighted(CHILDREN_WEIGHTS))
            for grade in sorted(grades, reverse=True):
                self.new_student(fam, grade, "Enrolled")
            if self.chance(ALUMNI_SIBLING_RATE):
                if self.chance(0.7):
                    self.new_student(fam, 12, "Graduate")
                else:
                    self.new_student(fam, self.ri(0, 12), "Withdrawn")
            if self.chance(ADMISSIONS_RATE):
                self.new_student(fam, self.ri(-2, 9), "Admissions")
        parents = list(fam.parents)
        if len(parents) >= 2 and self.chance(0.4):
            parents[0], parents[1] = (
                parents[1],
                parents[0],
            )  # father (or second parent) listed first
        fam.members = [(p, True) for p in parents]
        fam.members += [(self.people_by_id[s["studentId"]], False) for s in fam.children]
        return fam

    def second_household(self, family_id: int, base: _Family) -> _Family:
        """A divorced parent's new household: the same children, maybe a step-parent."""
        moved = base.parents[1] if len(base.parents) > 1 else base.parents[0]
        fam = _Family(family_id, str(moved["lastName"]), historical=False)
        self.next_address += 1
        fam.address_id = self.next_address
        fam.parents.append(moved)
        fam.relations[moved["personId"]] = base.relations[moved["personId"]]
        if self.chance(0.6):
            self.new_parent(fam, "Step mother" if moved["gender"] == "M" else "Stepfather")
        fam.children = list(base.children)
        if self.chance(0.6) and len(base.parents) > 1:
            # The moved parent leaves the first family's member list (still linked to the kids).
            base.members = [(p, is_parent) for p, is_parent in base.members if p is not moved]
        fam.members = [(p, True) for p in fam.parents]
        fam.members += [(self.people_by_id[s["studentId"]], False) for s in fam.children]
        return fam

    def emit_family(self, fam: _Family) -> None:
        first = fam.members[0][0] if fam.members else None
        second = next((p for p, is_parent in fam.members[1:] if is_parent), None)
        given = " & ".join(str(p["firstName"]) for p in (first, second) if p is not None)
        self.family_rows.append(
            {
                "familyID": fam.family_id,
                "familyName": fam.surname,
                "familyName2": f"{given} {fam.surname}".strip(),
                "familyNameBP": f"{fam.surname}, {given}",
                "familyLetter": fam.surname[:1].upper(),
                "familyUDID": f"F{fam.family_id:06d}",
                "enableWeb": not fam.historical and self.chance(0.95),
                "unlisted": 1 if self.chance(0.05) else 0,
                "note": self.pick(("", "", "  ", "Prefers email")),
                "accounting": not fam.historical,
                "accountingCode": "",
                "parentsWebFinancialBlock": self.chance(0.02),
                "modifiedBy": self.ri(1, 40),
                "modifiedDate": self.modified(),
            }
        )
        n_fin = sum(1 for _, is_parent in fam.members[:2] if is_parent)
        for order, (person, is_parent) in enumerate(fam.members, start=1):
            responsible = is_parent and order <= 2
            self.person_family.append(
                {
                    "personId": person["personId"],
                    "familyId": fam.family_id,
                    "parent": is_parent,
                    "student": not is_parent,
                    "financialResponsibility": responsible,
                    "financialResponsibilityPercent": str(100 // max(1, n_fin))
                    if responsible
                    else "0",
                    "familyOrder": order,
                    "factsCustomer": responsible and order == 1,
                }
            )

    def emit_links(self, fam: _Family) -> None:
        for parent in fam.parents:
            relation = fam.relations[parent["personId"]]
            for child in fam.children:
                key = (parent["personId"], child["studentId"])
                if key in self.linked:
                    continue
                self.linked.add(key)
                kin = relation.strip().lower() in ("grand parent", "grandmother")
                step_or_other = relation.strip().lower() in (
                    "aunt",
                    "uncle",
                    "other",
                    "grand parent",
                    "grandmother",
                )
                self.links.append(
                    {
                        "id": link_id(self.seed, self.next_link),
                        "parentID": parent["personId"],
                        "studentID": child["studentId"],
                        "relationship": relation,
                        "custody": not step_or_other and self.chance(0.95),
                        "correspondence": not step_or_other or self.chance(0.3),
                        "grandparent": kin,
                        "emergencyContact": self.chance(0.9),
                        "reportCard": not step_or_other,
                        "pwBlock": self.chance(0.01),
                        "pickUp": self.chance(0.9),
                        "parentsWeb": self.chance(0.9),
                        "reEnroll": not step_or_other and self.chance(0.8),
                        "demographics": None,
                    }
                )
                self.next_link += 1

    # --- quirks applied across the school ------------------------------------------------------

    def share_emails(self) -> None:
        current = [f for f in self.fams if not f.historical]
        two_parent = [f for f in current if len(f.parents) >= 2]
        for fam in two_parent:
            if self.chance(FAMILY_SHARED_EMAIL_RATE):
                shared = f"{_ascii(fam.surname)}family{self.ri(1, 100)}@{self.pick(EMAIL_DOMAINS)}"
                fam.parents[0]["email"] = shared
                second = shared if not self.chance(EMAIL_VARIANT_RATE) else self.variant(shared)
                fam.parents[1]["email"] = second
        for fam in self._sample(current, CROSS_FAMILY_EMAIL_RATE):
            donor = self.pick(current)
            source = next((p["email"] for p in donor.parents if _has_email(p)), None)
            if donor is fam or source is None:
                continue
            target = self.pick(fam.parents)
            target["email"] = (
                source if not self.chance(EMAIL_VARIANT_RATE) else self.variant(str(source).strip())
            )
        for fam in self._sample(current, PARENT_STUDENT_EMAIL_RATE):
            parent = next((p for p in fam.parents if _has_email(p)), None)
            if parent is None or not fam.children:
                continue
            child = self.people_by_id[self.pick(fam.children)["studentId"]]
            child["email"] = parent["email"]
        for person in self.people:
            if _has_email(person) and self.chance(EMAIL_PADDED_RATE):
                person["email"] = f" {str(person['email']).strip()}  "
        parents = [p for f in current for p in f.parents if _has_email(p)]
        for person in self._sample(parents, EMAIL2_CASE_RATE):
            person["email2"] = str(person["email"]).strip().upper()

    def _sample(self, items: Sequence[Any], rate: float) -> list[Any]:
        count = min(len(items), max(1, round(rate * len(items)))) if items else 0
        return self.rng.sample(list(items), count)

    def odd_names(self) -> None:
        linked = [p for f in self.fams for p, _ in f.members]
        unique = list({p["personId"]: p for p in linked}.values())
        for person in self._sample(unique, MARKUP_NAME_RATE):
            key = self.pick(("firstName", "lastName", "nickName"))
            person[key] = self.pick(MARKUP_SAMPLES)
        for person in self._sample(unique, LONG_NAME_RATE):
            base = f"{person['lastName']}-"
            person["lastName"] = (base * (300 // len(base) + 1))[:299] + "Z"
        for person in self._sample(unique, CONTROL_CHAR_NAME_RATE):
            person["firstName"] = self.pick(CONTROL_SAMPLES)

    def alumni(self) -> None:
        for _ in range(round(self.n_families * ALUMNI_PEOPLE_RATE)):
            gender = self.pick(("F", "M"))
            first = self.pick(FEMALE_NAMES if gender == "F" else MALE_NAMES)
            last = self.surname()
            birth = self.day_between(date(1950, 1, 1), date(2008, 1, 1))
            email = self.email_for(first, last) if self.chance(0.6) else self.missing_email()
            self.next_address += 1
            self.new_person(first, last, gender, birth, email, self.next_address)

    # --- the whole school ----------------------------------------------------------------------

    def build(self) -> School:
        n = self.n_families
        n_hist = round(n * HISTORICAL_FAMILY_RATE)
        n_second = round(n * SECOND_HOUSEHOLD_RATE)
        n_current = max(0, n - n_hist - n_second)
        kinds = ["current"] * n_current + ["historical"] * n_hist + ["second"] * n_second
        if n_current == 0:
            kinds = ["current" if k == "second" else k for k in kinds]
        self.rng.shuffle(kinds)
        family_id = FAMILY_ID_START
        pending_second = 0
        for kind in kinds:
            family_id += self.pick((1, 1, 2, 3))
            if kind == "second":
                pending_second += 1
                continue
            self.fams.append(self.build_family(family_id, kind == "historical"))
        # Second households attach to current two-parent families (ids after the others).
        candidates = [f for f in self.fams if not f.historical and len(f.parents) >= 2]
        for base in self.rng.sample(candidates, min(pending_second, len(candidates))):
            family_id += self.pick((1, 2))
            self.fams.append(self.second_household(family_id, base))
        self.alumni()
        self.share_emails()
        self.odd_names()
        for fam in self.fams:
            self.emit_family(fam)
            self.emit_links(fam)
        for row in self._sample(self.family_rows, DUPLICATE_FAMILY_ROW_RATE):
            self.family_rows.append(dict(row))
        for row in (*self.people, *self.students):
            row["gender"] = GENDER_NAMES.get(row["gender"], row["gender"])
        self.people.sort(key=lambda p: int(p["personId"]))
        self.family_rows.sort(key=lambda f: int(f["familyID"]))
        years, configs = self.calendar()
        return School(
            people=self.people,
            students=self.students,
            parentStudent=self.links,
            personFamily=self.person_family,
            families=self.family_rows,
            schoolYears=years,
            schoolConfigurations=configs,
        )

    def calendar(self) -> tuple[list[Record], list[Record]]:
        starts = list(range(FIRST_YEAR, LAST_YEAR + 1))
        ids = list(range(11, 11 + len(starts) * len(SCHOOLS)))
        self.rng.shuffle(ids)  # yearId is not chronological
        years: list[Record] = []
        by_key: dict[tuple[str, int], int] = {}
        for school in SCHOOLS:
            for start in starts:
                year_id = ids.pop()
                by_key[(str(school["schoolCode"]), start)] = year_id
                years.append(
                    {
                        "yearId": year_id,
                        "yearName": _year_name(start, len(years)),
                        "firstDay": _iso(date(start, 8, 1)),
                        "lastDay": _iso(date(start + 1, 7, 31)),
                        "schoolCode": school["schoolCode"],
                        "allowInquiry": start >= self.current_start,
                        "blockAcademicYear": False,
                    }
                )
        years.sort(key=lambda y: int(y["yearId"]))
        configs: list[Record] = []
        for school in SCHOOLS:
            code = str(school["schoolCode"])
            configs.append(
                {
                    **school,
                    "districtName": "Diocese of Springfield",
                    "defaultYearId": by_key[(code, self.current_start)],
                    "nextYearId": by_key.get((code, self.current_start + 1)),
                    "defaultTermId": 100 + 10 * int(str(school["configSchoolID"])),
                    "parentAlert": False,
                    "pwTermID": 100 + 10 * int(str(school["configSchoolID"])),
                    "pwTermID2": 0,
                    "pwYearID": by_key[(code, self.current_start)],
                    "modifiedBy": 1,
                    "modifiedDate": f"{self.today.isoformat()}T08:00:00Z",
                    "active": True,
                    "schoolLMS": False,
                    "address": "1 Church Rd",
                    "city": "Springfield",
                    "state": "IL",
                    "zip": "62704",
                    "email": f"office.{code.lower()}@stbrendan.example",
                    "phone": "(217) 555-0100",
                    "fax": "  ",
                }
            )
        return years, configs


def _has_email(person: Record) -> bool:
    email = person.get("email")
    return isinstance(email, str) and bool(email.strip())


def _year_name(start: int, index: int) -> str:
    """``yearName`` as schools type it: ``2025 - 2026``, ``2025-2026``, trailing spaces."""
    return (f"{start} - {start + 1}", f"{start}-{start + 1}", f"{start}-{start + 1}  ")[index % 3]


def generate_school(
    families: int = 300,
    seed: int = 7,
    reference_date: date = REFERENCE_DATE,
    history: str = "live",
) -> School:
    """The sandbox school: ``families`` current and recent families, the same for the same seed.

    ``history="live"`` (the default) adds what a live tenant holds besides (``history.py``):
    ~17 people and ~19 parent links per enrolled student. ``"light"`` leaves them out.
    """
    if families < 0:
        raise ValueError("families must be >= 0")
    if history not in HISTORIES:
        raise ValueError(f"history must be one of {', '.join(HISTORIES)}")
    builder = _Builder(families, seed, reference_date)
    school = builder.build()
    if history == "live":
        add_live_history(school, builder.next_person, builder.next_address, seed, reference_date)
    return school
