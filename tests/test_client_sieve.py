"""Sieve filter strings: escaping, operators, id batches."""

from __future__ import annotations

from datetime import date

import pytest

from core.facts import sieve


def test_escape_commas_and_pipes() -> None:
    assert sieve.escape("Smith, Jr.|Sr") == "Smith\\, Jr.\\|Sr"
    assert sieve.escape(True) == "true"
    assert sieve.escape(date(2024, 5, 1)) == "2024-05-01"
    assert sieve.escape(12) == "12"


@pytest.mark.parametrize("value", ["a==b", "<i>x</i>", " padded", "ends\\"])
def test_unrepresentable_values_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        sieve.escape(value)


def test_term_and_join() -> None:
    assert sieve.eq("personId", 1, 2, 3) == "personId==1|2|3"
    assert sieve.term("lastName", "_=*", "o'b") == "lastName_=*o'b"
    assert sieve.term("school.status", "==", "Enrolled") == "school.status==Enrolled"
    assert sieve.join("a==1", None, "", ["b==2", "c==3"]) == "a==1,b==2,c==3"


@pytest.mark.parametrize(("name", "op"), [("bad name", "=="), ("x", "~="), ("1x", "==")])
def test_bad_names_and_operators(name: str, op: str) -> None:
    with pytest.raises(ValueError):
        sieve.term(name, op, 1)


def test_term_needs_a_value() -> None:
    with pytest.raises(ValueError):
        sieve.eq("personId")


def test_sorts() -> None:
    assert sieve.sorts("lastName", "-personId") == "lastName,-personId"
    with pytest.raises(ValueError):
        sieve.sorts("last name")


def test_id_batches_dedupe_keep_order_and_cap_size() -> None:
    ids = [5, 3, 5, *range(1000, 1320)]
    batches = sieve.id_batches(ids)
    assert [len(b) for b in batches] == [150, 150, 22]
    assert batches[0][:3] == [5, 3, 1000]
    assert sum(batches, []) == list(dict.fromkeys(ids))
    assert sieve.id_batches([]) == []
    with pytest.raises(ValueError):
        sieve.id_batches([1], 0)


def test_id_filters() -> None:
    assert sieve.id_filters("parentID", [1, 2, 3, 4], size=3) == ["parentID==1|2|3", "parentID==4"]
