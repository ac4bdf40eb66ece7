"""A live tenant's history, added to a generated school: the volume FACTS really serves.

Live FACTS tenants hold about 17 people and 19 parent links per *enrolled* student (facts-api.md
§6): alumni from before the school's current student records, their former parents and other
contacts (grandparents, aunts...), inquiries that never enrolled, staff. None of them is on
``/Students`` (the generated school keeps its own recent graduates and withdrawals there), but they
fill ``/People``, ``/People/ParentStudent``, ``/People/PersonFamily`` and ``/Families``, so a
roster fetch must read past them: an unfiltered read of those tables is mostly history.

Former families have two parents (sometimes one), up to two more linked contacts and one to four
children, every adult linked to every child; families are added until the links reach 19 per
enrolled student, then staff and other unlinked people until the people reach 17. Its own seeded
RNG draws after the base school is built, so ``history="light"`` and ``"live"`` share every base
record.
"""

from __future__ import annotations

import random
import uuid
from datetime import date
from typing import Any

from core.facts.sandbox.school import Record, School

HISTORIES = ("live", "light")
PEOPLE_PER_ENROLLED = 17
LINKS_PER_ENROLLED = 19
_PARENTS = (2, 2, 2, 2, 2, 2, 1, 1)
_CONTACTS = (0, 0, 1, 1, 1, 2, 2)
_CHILDREN = (1, 2, 2, 2, 3, 3, 3, 4)
_CONTACT_RELATIONS = ("Grand parent", "Grandmother", "Aunt", "Uncle", "Other")
_FIRST = ("Mary", "John", "Linda", "James", "Susan", "Robert", "Karen", "Michael", "Nancy", "David",
          "Lisa", "Paul", "Renée", "José", "Siobhán", "Björn", "Zoë", "D'Andre", "Mei", "Omar")  # fmt: skip
_LAST = ("Smith", "Brown", "Garcia", "O'Brien", "Núñez", "Kowalczyk", "Nguyen", "Müller", "Patel",
         "Okafor", "Le Blanc", "Van der Berg", "MacLeod", "Rossi", "Schröder", "Kim", "Cohen")  # fmt: skip
_DOMAINS = ("example.com", "example.net", "example.org")
_LINK_NAMESPACE = uuid.UUID("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f")


def link_id(seed: int, n: int) -> str:
    """A ParentStudent ``id``: a string (FACTS's EntityOfString), GUID-like, stable per seed."""
    return str(uuid.uuid5(_LINK_NAMESPACE, f"{seed}:{n}"))


class _History:
    def __init__(self, school: School, next_person: int, next_address: int, seed: int,
                 today: date) -> None:  # fmt: skip
        self.school = school
        self.rng = random.Random(f"factsync-sandbox-history:{seed}")
        self.seed = seed
        self.next_person = next_person + 1000
        self.next_address = next_address + 1000
        ids = [f.get("familyID") for f in school.families]
        self.next_family = max((i for i in ids if isinstance(i, int)), default=2000) + 1000
        self.next_link = 10_000_000
        self.stamp = f"{today.isoformat()}T06:00:00Z"
        self.years = today.year

    def pick(self, pool: tuple[Any, ...]) -> Any:
        return pool[int(self.rng.random() * len(pool))]

    def person(self, gender: str, age: int, address: int, email: bool = True) -> Record:
        self.next_person += 1 + int(self.rng.random() * 3)
        pid = self.next_person
        first, last = self.pick(_FIRST), self.pick(_LAST)
        ascii_last = "".join(c for c in last.lower() if c.isascii() and c.isalnum()) or "x"
        row: Record = {
            "personId": pid, "firstName": first, "lastName": last, "middleName": "",
            "nickName": "", "gender": gender, "salutation": "", "suffix": "",
            "email": f"{first[0].lower()}{ascii_last}{pid % 10_000}@{self.pick(_DOMAINS)}"
            if email else self.pick((None, "", "  ")),
            "email2": "", "username": f"{ascii_last[:10]}{pid % 1000}", "homePhone": "",
            "cellPhone": "", "addressID": address, "deceased": False, "modifiedDate": self.stamp,
            "birthdate": f"{self.years - age}-0{1 + pid % 9}-1{pid % 9}T00:00:00Z",
            "pathToPicture": "", "legacyPersonId": None, "hasProfilePicture": False,
        }  # fmt: skip
        self.school.people.append(row)
        return row

    def family(self) -> int:
        """One former family; returns the links it added."""
        rng = self.rng
        self.next_family += 1 + int(rng.random() * 2)
        self.next_address += 1
        fid, address = self.next_family, self.next_address
        adults: list[tuple[Record, str, bool]] = []
        for n in range(self.pick(_PARENTS)):
            gender = ("Female", "Male")[n % 2]
            adults.append(
                (self.person(gender, 40 + int(rng.random() * 40), address, rng.random() > 0.15),
                 ("Mother", "Father")[n % 2], True)
            )  # fmt: skip
        for _ in range(self.pick(_CONTACTS)):
            adults.append(
                (self.person(self.pick(("Female", "Male")), 60 + int(rng.random() * 25), 0,
                             rng.random() > 0.5),
                 self.pick(_CONTACT_RELATIONS), False)
            )  # fmt: skip
        children = [
            self.person(self.pick(("Female", "Male")), 6 + int(rng.random() * 30), address,
                        rng.random() > 0.6)
            for _ in range(self.pick(_CHILDREN))
        ]  # fmt: skip
        members = [a for a, _, in_family in adults if in_family] + children
        self.school.personFamily.extend(
            {
                "personId": p["personId"], "familyId": fid, "parent": n < len(members) - len(children),
                "student": n >= len(members) - len(children), "financialResponsibility": n == 0,
                "financialResponsibilityPercent": "100" if n == 0 else "0", "familyOrder": n + 1,
                "factsCustomer": n == 0,
            }
            for n, p in enumerate(members)
        )  # fmt: skip
        surname = str(members[0]["lastName"])
        self.school.families.append(
            {
                "familyID": fid, "familyName": surname, "familyName2": surname,
                "familyNameBP": surname, "familyLetter": surname[:1].upper(),
                "familyUDID": f"F{fid:06d}", "enableWeb": False, "unlisted": 0, "note": "",
                "accounting": False, "accountingCode": "", "parentsWebFinancialBlock": False,
                "modifiedBy": 1, "modifiedDate": self.stamp,
            }
        )  # fmt: skip
        for adult, relation, parent in adults:
            for child in children:
                self.next_link += 1
                self.school.parentStudent.append(
                    {
                        "id": link_id(self.seed, self.next_link),
                        "parentID": adult["personId"], "studentID": child["personId"],
                        "relationship": relation, "custody": parent, "correspondence": parent,
                        "grandparent": relation in ("Grand parent", "Grandmother"),
                        "emergencyContact": True, "reportCard": parent, "pwBlock": False,
                        "pickUp": rng.random() < 0.5, "parentsWeb": parent, "reEnroll": False,
                        "demographics": None,
                    }
                )  # fmt: skip
        return len(adults) * len(children)


def add_live_history(
    school: School, next_person: int, next_address: int, seed: int, today: date
) -> None:
    """Append former families and unlinked people until the school has live volume."""
    enrolled = sum(
        1
        for s in school.students
        if isinstance(s.get("school"), dict) and s["school"].get("status") == "Enrolled"
    )
    history = _History(school, next_person, next_address, seed, today)
    links = len(school.parentStudent)
    while links < LINKS_PER_ENROLLED * enrolled:
        links += history.family()
    while len(school.people) < PEOPLE_PER_ENROLLED * enrolled:
        history.person(history.pick(("Female", "Male")), 25 + int(history.rng.random() * 50),
                       0, history.rng.random() > 0.3)  # fmt: skip
    school.people.sort(key=lambda p: int(p["personId"]))
    school.families.sort(key=lambda f: int(f["familyID"]))
