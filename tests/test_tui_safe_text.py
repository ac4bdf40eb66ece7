"""Untrusted FACTS text is shown literally: no markup, no control characters, never too wide."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console

from tui.widgets.safe_text import REPLACEMENT, clean_display, safe_text

HOSTILE = [
    "[bold]Bo[/bold]",
    "[link=https://evil.example]click[/link]",
    "<i>Ann</i>",
    "[/]",
    "[red",
    "Zoë Núñez-O'Brien",
    "bell\x07 esc\x1b[31m rlo\u202eevil",
    "x" * 300,
    "tab\there\nnew line",
    "",
]


def render(text: object) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(text, end="")
    return console.export_text()


def test_markup_is_shown_literally() -> None:
    for value in HOSTILE[:5]:
        assert render(safe_text(value)) == value


def test_control_and_bidi_characters_become_a_visible_mark() -> None:
    shown = clean_display("bell\x07 esc\x1b[31m rlo\u202eevil")
    assert "\x07" not in shown and "\x1b" not in shown and "\u202e" not in shown
    assert shown.count(REPLACEMENT) == 3
    assert clean_display("tab\there\nnew  line") == "tab here new line"


def test_cut_to_width_with_an_ellipsis() -> None:
    text = safe_text("x" * 300, 20)
    assert text.cell_len == 20 and text.plain.endswith("…")
    padded = safe_text("Ann", 10, pad=True)
    assert padded.cell_len == 10
    assert safe_text(None, 5, placeholder="none").plain == "none"


@given(st.text(max_size=400), st.integers(min_value=0, max_value=60))
def test_never_raises_and_never_overflows(value: str, width: int) -> None:
    text = safe_text(value, width)
    assert cell_len(text.plain) <= width
    assert all(ord(ch) >= 32 for ch in text.plain)
    render(text)
