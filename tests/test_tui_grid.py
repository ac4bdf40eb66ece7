"""The subset grid: its in-memory source agrees with the engine, and the widget stays literal."""

from __future__ import annotations

from functools import lru_cache

from textual.app import App, ComposeResult

from core.demo import roster_from_school
from core.facts.sandbox import generate_school
from core.roster import Roster
from core.sync.grid import FamilyRow, ParentSlot, grid_counters, review_grid
from core.sync.setup import PRESETS, ParentRules, SetupDoc
from tests.tui_support import screen_text
from tui.grid_source import FamilyRowsSource
from tui.widgets.subset_grid import SubsetGrid, Totals


@lru_cache(maxsize=1)
def roster() -> Roster:
    return roster_from_school(generate_school(families=300, seed=7))


def setup_with(preset: str = "all", **changes: object) -> SetupDoc:
    return SetupDoc(kind="parents", parents=ParentRules.model_validate({"preset": preset}))


def engine_view(doc: SetupDoc) -> tuple[Totals, dict[int, bool]]:
    rows = review_grid(roster(), doc)
    c = grid_counters(rows)
    included = {p.person_id: p.included for r in rows for p in r.parents}
    return Totals(c.families_importable, c.families_excluded, c.users_to_sync,
                  c.users_to_skip), included


def source_view(source: FamilyRowsSource) -> dict[int, bool]:
    out: dict[int, bool] = {}
    for i in range(len(source)):
        for j, slot in enumerate(source.slots(i)):
            out[slot.person_id] = source.state(i, j).included
    return out


def test_every_preset_matches_the_engine() -> None:
    source = FamilyRowsSource(review_grid(roster(), setup_with()), setup_with())
    for preset in (*PRESETS, "all"):
        source.set_preset(preset)
        totals, included = engine_view(setup_with(preset))
        assert source.totals() == totals, preset
        assert source_view(source) == included, preset


def test_toggles_match_the_engine_once_saved() -> None:
    doc = setup_with("mothers-fathers")
    source = FamilyRowsSource(review_grid(roster(), doc), doc)
    changes = []
    # exclude the first parent of three families and include a stepparent the preset left out
    for i in range(3):
        changes.append(source.toggle(i, 0))
    left_out = next(
        (i, j) for i in range(len(source)) for j in range(len(source.slots(i)))
        if not source.state(i, j).included
    )
    changes.append(source.toggle(*left_out))
    changes.append(source.toggle_family(5))
    saved = doc
    for ch in changes:
        assert ch.family_id is not None
        saved = saved.with_override(ch.family_id, ch.person_id, ch.include)
    totals, included = engine_view(saved)
    assert source.totals() == totals
    assert source_view(source) == included
    assert source.setup.parents.overrides == saved.parents.overrides


def test_toggling_back_clears_the_override() -> None:
    doc = setup_with()
    source = FamilyRowsSource(review_grid(roster(), doc), doc)
    before = source.totals()
    first = source.toggle(0, 0)
    assert first.include is False
    assert source.state(0, 0).overridden and not source.state(0, 0).included
    second = source.toggle(0, 0)
    assert second.include is None  # back to what the preset says: no override kept
    assert source.totals() == before and not source.setup.parents.overrides


def test_filter_finds_families_by_parent_email() -> None:
    doc = setup_with()
    source = FamilyRowsSource(review_grid(roster(), doc), doc)
    slot = source.slots(10)[0]
    assert slot.email
    source.set_filter(slot.email.upper())
    assert 1 <= len(source) < 5
    assert any(s.person_id == slot.person_id for i in range(len(source))
               for s in source.slots(i))
    source.set_filter("")
    assert len(source) == len(review_grid(roster(), doc))


HOSTILE = ("[bold]Bo[/bold]", "[link=https://x.example]Ann[/link]", "<i>Zoë</i>",
           "Esc\x1b[31mRed", "L" * 300)


def hostile_rows() -> list[FamilyRow]:
    rows = []
    for i, name in enumerate(HOSTILE):
        parents = tuple(
            ParentSlot(person_id=100 * i + k, name=f"{name} {k}", relationship="mother",
                       relationship_text="[red]Mother[/red]", listed_first=k == 0,
                       custody=True, email=f"{name}@x.example" if k else None, included=True,
                       reason="", override=None)
            for k in range(2)
        )
        rows.append(FamilyRow(family_id=i + 1, family_name=name, students=(f"[b]{i}",),
                              parents=parents, excluded=False))
    return rows


class GridApp(App[None]):
    def __init__(self, source: FamilyRowsSource) -> None:
        super().__init__()
        self.source = source
        self.changes: list[SubsetGrid.Changed] = []

    def compose(self) -> ComposeResult:
        yield SubsetGrid(self.source)

    def on_subset_grid_changed(self, event: SubsetGrid.Changed) -> None:
        self.changes.append(event)


async def test_hostile_text_is_shown_literally_and_space_toggles_in_place() -> None:
    doc = setup_with()
    source = FamilyRowsSource(hostile_rows(), doc)
    app = GridApp(source)
    async with app.run_test(size=(80, 24)) as pilot:
        grid = app.query_one(SubsetGrid)
        grid.focus()
        await pilot.pause()
        text = screen_text(app)
        assert "[bold]Bo[/bold]" in text and "<i>Zoë</i>" in text and "[b]0" in text
        assert "\x1b" not in text and "LLLL…" in text
        await pilot.press("down", "right", "space")
        await pilot.pause()
        assert not source.state(1, 1).included
        assert app.changes[-1].change.person_id == 101
        assert "[ ]*" in screen_text(app)
        await pilot.press("m", "end", "pagedown", "home")
        assert source.preset == "mothers-fathers"
