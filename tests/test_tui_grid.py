"""The review model agrees with the engine selecting afresh, and the grid shows it literally."""

from __future__ import annotations

from functools import lru_cache

from textual.app import App, ComposeResult

from core.demo import roster_from_school
from core.facts.sandbox import generate_school
from core.roster import Roster
from core.sync.plan import make_plan
from core.sync.review import ReviewModel, Totals
from core.sync.selection import select
from core.sync.setup import PRESETS, ParentRules, SetupDoc
from tests.conftest import screen_text
from tests.sync_support import build_school, parent, roster_of, student
from tui.widgets.subset_grid import SubsetGrid


@lru_cache(maxsize=1)
def roster() -> Roster:
    return roster_from_school(generate_school(families=300, seed=7))


def setup_with(preset: str = "all") -> SetupDoc:
    return SetupDoc(kind="parents", parents=ParentRules.model_validate({"preset": preset}))


def engine_view(doc: SetupDoc) -> tuple[Totals, dict[int, str]]:
    """What selecting from scratch says: the grid's totals and each parent's reason."""
    fresh = ReviewModel(roster(), doc)
    return fresh.totals(), reasons(fresh)


def reasons(model: ReviewModel) -> dict[int, str]:
    sel = model.selection()
    return {c.person_id: c.reason for c in sel.people if c.role == "parent"}


def test_every_preset_matches_the_engine() -> None:
    model = ReviewModel(roster(), setup_with())
    for preset in (*PRESETS, "all"):
        model.set_preset(preset)
        totals, expected = engine_view(setup_with(preset))
        assert model.totals() == totals, preset
        assert reasons(model) == expected, preset
        # what the planner is handed is what selecting again would give
        fresh = {c.person_id: c.reason for c in select(roster(), setup_with(preset)).people}
        assert {c.person_id: c.reason for c in model.selection().people} == fresh


def test_toggles_match_the_engine_once_saved_and_the_plan_is_the_same() -> None:
    doc = setup_with("mothers-fathers")
    model = ReviewModel(roster(), doc)
    changes = [model.toggle(i, 0) for i in range(3)]
    left_out = next(
        (i, j) for i in range(len(model)) for j in range(len(model.slots(i)))
        if not model.state(i, j).included
    )
    changes.append(model.toggle(*left_out))
    changes.append(model.toggle_family(5))
    saved = doc
    for ch in changes:
        assert ch.family_id is not None
        saved = saved.with_override(ch.family_id, ch.person_id, ch.include)
    totals, expected = engine_view(saved)
    assert model.totals() == totals
    assert reasons(model) == expected
    assert model.setup.parents.overrides == saved.parents.overrides
    assert make_plan(saved, roster(), [], selection=model.selection()) == make_plan(
        saved, roster(), [])


def test_toggling_back_clears_the_override() -> None:
    model = ReviewModel(roster(), setup_with())
    before = model.totals()
    first = model.toggle(0, 0)
    assert first.include is False
    assert model.state(0, 0).overridden and not model.state(0, 0).included
    second = model.toggle(0, 0)
    assert second.include is None  # back to what the preset says: no override kept
    assert model.totals() == before and not model.setup.parents.overrides


def test_thousands_of_overrides_are_indexed_once() -> None:
    """A preset change re-decides everyone; with 4,000 overrides it must not be quadratic."""
    doc = setup_with()
    model = ReviewModel(roster(), doc)
    pairs = [(model.family(i)[0], s.person_id) for i in range(len(model))
             for s in model.slots(i)]
    overrides = [{"family_id": f, "person_id": p, "include": k % 2 == 0}
                 for k, (f, p) in enumerate(pairs)]
    many = SetupDoc.model_validate({"kind": "parents", "parents": {"overrides": overrides}})
    model = ReviewModel(roster(), many)
    model.set_preset("listed-first")
    assert reasons(model) == engine_view(many.model_copy(update={
        "parents": many.parents.model_copy(update={"preset": "listed-first"})}))[1]


def test_filter_finds_families_by_parent_email() -> None:
    model = ReviewModel(roster(), setup_with())
    slot = model.slots(10)[0]
    assert slot.email
    model.set_filter(slot.email.upper())
    assert 1 <= len(model) < 5
    assert any(s.person_id == slot.person_id for i in range(len(model)) for s in model.slots(i))
    model.set_filter("")
    assert len(model) == len(ReviewModel(roster(), setup_with()))


HOSTILE = ("[bold]Bo[/bold]", "[link=https://x.example]Ann[/link]", "<i>Zoë</i>",
           "Esc\x1b[31mRed", "L" * 300)


def hostile_roster() -> Roster:
    families = {
        i + 1: [parent(100 * i, name, "", None, rel="[red]Mother[/red]"),
                parent(100 * i + 1, name, "2", f"p{i}@x.example", order=2, rel="Mother"),
                student(100 * i + 50, "[b]" + str(i), "")]
        for i, name in enumerate(HOSTILE)
    }
    tables = build_school(families)
    for fam in tables["families"]:
        fam["familyName"] = HOSTILE[fam["familyID"] - 1]
    return roster_of(tables)


class GridApp(App[None]):
    def __init__(self, source: ReviewModel) -> None:
        super().__init__()
        self.source = source
        self.changes: list[SubsetGrid.Changed] = []

    def compose(self) -> ComposeResult:
        yield SubsetGrid(self.source)

    def on_subset_grid_changed(self, event: SubsetGrid.Changed) -> None:
        self.changes.append(event)


async def test_hostile_text_is_shown_literally_and_space_toggles_in_place() -> None:
    model = ReviewModel(hostile_roster(), setup_with())
    app = GridApp(model)
    async with app.run_test(size=(80, 24)) as pilot:
        grid = app.query_one(SubsetGrid)
        grid.focus()
        await pilot.pause()
        text = screen_text(app)
        assert "[bold]Bo[/bold]" in text and "<i>Zoë</i>" in text and "[b]" in text
        assert "\x1b" not in text and "LLLL…" in text
        await pilot.press("down", "right", "space")
        await pilot.pause()
        assert not model.state(1, 1).included
        assert app.changes[-1].change.person_id is not None
        assert "[ ]*" in screen_text(app)
        await pilot.press("m", "end", "pagedown", "home")
        assert model.preset == "mothers-fathers"
