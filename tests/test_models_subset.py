"""Every pydantic model of core/facts/models.py against the Swagger digest: names, types, required.

The digest (``shared/docs/facts-openapi-subset.json``) is FACTS's contract; a model that drifts
from it (an int where FACTS sends a string, a missing field, a nullable key) fails here. A
required field is never nullable; every optional one accepts ``None`` (FACTS sends nulls).
"""

from __future__ import annotations

import inspect
import json
import types
import typing
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from core.facts import models

SUBSET = Path(__file__).resolve().parents[2] / "shared" / "docs" / "facts-openapi-subset.json"
for candidate in (SUBSET, Path("/work/shared/docs/facts-openapi-subset.json")):
    if candidate.exists():
        SUBSET = candidate
        break
NOT_IN_SWAGGER = {"FactsModel": "the shared base", "GatewayError": "Azure API Management's shape"}
GENERIC = {"PagedResult": ("PagedResultOfPersonVM", models.PersonVM)}


def definitions() -> dict[str, Any]:
    if not SUBSET.exists():
        pytest.skip("the FACTS Swagger digest is not beside this checkout")
    return dict(json.loads(SUBSET.read_text(encoding="utf-8"))["definitions"])


def spec_fields(defs: dict[str, Any], name: str) -> tuple[dict[str, str], set[str]]:
    """Fields (name -> type) and required names of a definition, its ``extends`` chain included."""
    d = defs[name]
    fields: dict[str, str] = {}
    required: set[str] = set()
    for parent in d.get("extends", []):
        f, r = spec_fields(defs, parent)
        fields |= f
        required |= r
    fields |= {k: v["type"] for k, v in d["fields"].items()}
    required |= set(d.get("required", []))
    return fields, required


def model_classes() -> list[type[BaseModel]]:
    return [
        cls
        for _, cls in inspect.getmembers(models, inspect.isclass)
        if issubclass(cls, BaseModel) and cls.__module__ == models.__name__
    ]


def type_name(annotation: Any) -> tuple[str, bool]:
    """The digest's spelling of an annotation, and whether it accepts None."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        assert len(rest) == 1, annotation
        return type_name(rest[0])[0], True
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is list:
        return f"array<{type_name(args[0])[0]}>", False
    if origin is dict or annotation is dict:
        return "object", False
    simple = {int: "integer", str: "string", bool: "boolean", float: "number", datetime: "string(date-time)"}
    if annotation in simple:
        return simple[annotation], False
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation.__name__, False
    raise AssertionError(f"unmapped annotation {annotation!r}")


def spec_type(text: str) -> str:
    """``integer(int32)`` -> ``integer``; ``number(float)`` -> ``number``; the rest as written."""
    for base in ("integer", "number"):
        if text.startswith(base + "("):
            return base
    return text


def test_every_model_is_checked() -> None:
    defs = definitions()
    for cls in model_classes():
        name = cls.__name__
        assert name in defs or name in NOT_IN_SWAGGER or name in GENERIC, (
            f"{name} is not a FACTS definition: name it as the Swagger does"
        )


@pytest.mark.parametrize("cls", model_classes(), ids=lambda c: c.__name__)
def test_model_matches_the_swagger(cls: type[BaseModel]) -> None:
    defs = definitions()
    name = cls.__name__
    if name in NOT_IN_SWAGGER:
        pytest.skip(NOT_IN_SWAGGER[name])
    model: type[BaseModel] = cls
    if name in GENERIC:
        name, arg = GENERIC[name]
        model = cls[arg]  # type: ignore[index]
    want, required = spec_fields(defs, name)
    have = model.model_fields
    assert set(have) == set(want), f"{cls.__name__}: fields differ from {name}"
    problems = []
    for field, info in have.items():
        got, nullable = type_name(info.annotation)
        if got != spec_type(want[field]):
            problems.append(f"{field}: {got} but the Swagger says {want[field]}")
        if (field in required) == nullable:
            problems.append(
                f"{field}: {'required but nullable' if nullable else 'optional but not nullable'}"
            )
    assert not problems, f"{cls.__name__} vs {name}: " + "; ".join(problems)


def test_parent_student_id_is_a_string_and_nulls_are_accepted() -> None:
    link = models.ParentStudentVM_V1_1.model_validate(
        {"id": "2001-3001", "parentID": 2001, "studentID": 3001}
    )
    assert link.id == "2001-3001"
    assert models.ParentStudentVM_V1_1.model_validate({"id": 7, "parentID": 1, "studentID": 2}).id == "7"
    person = models.PersonVM.model_validate(
        {"personId": 5, "email": None, "legacyPersonId": None, "birthdate": None}
    )
    assert person.email is None and person.birthdate is None
