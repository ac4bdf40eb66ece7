"""The FACTS routes the sandbox serves, matched case-insensitively, and their permission domain."""

from __future__ import annotations

from dataclasses import dataclass

PEOPLE = "People"
ACADEMICS = "Academics"


@dataclass(frozen=True)
class RouteDef:
    name: str
    template: tuple[str, ...]
    """Canonical segments; ``{id}`` is an integer parameter."""
    methods: frozenset[str]
    domain: str


def _r(name: str, path: str, methods: str, domain: str = PEOPLE) -> RouteDef:
    return RouteDef(name, tuple(path.strip("/").split("/")), frozenset(methods.split()), domain)


# Literal segments win over {id}: /People/ParentStudent is not person "ParentStudent".
ROUTES: tuple[RouteDef, ...] = (
    _r("people", "/People", "GET"),
    _r("parentStudent", "/People/ParentStudent", "GET"),
    _r("personFamily", "/People/PersonFamily", "GET"),
    _r("person", "/People/{id}", "GET PUT PATCH"),
    _r("students", "/Students", "GET"),
    _r("studentHours", "/Students/ServiceHours", "GET POST"),
    _r("studentHoursItem", "/Students/ServiceHours/{id}", "GET PUT PATCH"),
    _r("student", "/Students/{id}", "GET"),
    _r("parentHours", "/Parents/ServiceHours", "GET POST"),
    _r("parentHoursItem", "/Parents/ServiceHours/{id}", "GET PUT PATCH"),
    _r("families", "/Families", "GET"),
    _r("family", "/Families/{id}", "GET"),
    _r("schoolYears", "/SchoolYears", "GET", ACADEMICS),
    _r("schoolYear", "/SchoolYears/{id}", "GET", ACADEMICS),
    _r("schoolConfigurations", "/SchoolConfigurations", "GET", ACADEMICS),
)


@dataclass(frozen=True)
class Match:
    route: RouteDef
    ident: int | None
    canonical: str
    """The path with FACTS's casing, e.g. ``/People/ParentStudent`` for ``/people/parentstudent``."""


def _match_segments(route: RouteDef, parts: list[str]) -> tuple[bool, int | None]:
    if len(parts) != len(route.template):
        return False, None
    ident: int | None = None
    for want, have in zip(route.template, parts, strict=True):
        if want == "{id}":
            try:
                ident = int(have)
            except ValueError:
                return False, None
        elif want.lower() != have.lower():
            return False, None
    return True, ident


def match(path: str) -> Match | None:
    """Route for ``path`` regardless of method, or None (the gateway's 404)."""
    parts = [p for p in path.split("/") if p]
    for route in ROUTES:
        ok, ident = _match_segments(route, parts)
        if ok:
            segments = [str(ident) if t == "{id}" else t for t in route.template]
            return Match(route, ident, "/" + "/".join(segments))
    return None
