"""Show untrusted FACTS text literally: never markup, never control characters, never too wide.

Names, emails and relationships come from a school's FACTS database and may contain ``[bold]``,
``[link=...]``, ``<i>``, escape sequences, bidi overrides or 300-character strings. Everything the
wizard shows from FACTS goes through :func:`safe_text`, which builds a ``rich.text.Text`` (plain
text, no markup parsing), replaces control and format characters with a visible mark, and cuts the
result to the column width with an ellipsis.
"""

from __future__ import annotations

import unicodedata

from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

REPLACEMENT = "\ufffd"
_WHITESPACE = {"\t", "\n", "\r", "\x0b", "\x0c", "\u2028", "\u2029", "\x85"}


def clean_display(value: object) -> str:
    """The text to show: whitespace runs become one space, other control/format chars a mark."""
    if value is None:
        return ""
    text = str(value)
    if text.isascii() and text.isprintable():
        return " ".join(text.split())
    out: list[str] = []
    last_space = False
    for ch in text:
        if ch in _WHITESPACE or ch == " ":
            if not last_space:
                out.append(" ")
            last_space = True
            continue
        last_space = False
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append(REPLACEMENT)
        else:
            out.append(ch)
    return "".join(out).strip()


def safe_text(
    value: object,
    width: int | None = None,
    style: str | Style = "",
    *,
    pad: bool = False,
    placeholder: str = "",
    wrap: bool = False,
) -> Text:
    """A literal ``Text`` of ``value``, cut to ``width`` cells with an ellipsis (and padded).

    ``wrap`` lets a long message wrap inside its widget (the cut still applies).
    """
    plain = clean_display(value) or placeholder
    text = Text(plain, style=style, no_wrap=not wrap, overflow="ellipsis", end="")
    if width is not None:
        width = max(0, width)
        if width == 0:
            return Text("", style=style, no_wrap=not wrap, end="")
        if cell_len(plain) > width:
            text.truncate(width, overflow="ellipsis")
        if pad:
            text.pad_right(width - text.cell_len)
    return text


def fit(value: str, width: int) -> str:
    """Cut an already safe string to ``width`` cells with an ellipsis (for our own labels)."""
    if cell_len(value) <= width:
        return value
    return safe_text(value, width).plain


def text_only(style: Style) -> Style:
    """``style`` without its background, so it can sit on a row's own background."""
    return Style(color=style.color, bold=style.bold, dim=style.dim, italic=style.italic,
                 strike=style.strike, underline=style.underline, reverse=style.reverse)


def text_segments(text: Text, console: Console) -> list[Segment]:
    """``text`` as segments, its own base style included.

    ``Text.render`` leaves the base style out when a text has no spans, so a row drawn with it
    would lose its colours; the Line API widgets draw rows with this instead.
    """
    base = console.get_style(text.style) if text.style else None
    return list(Segment.apply_style(text.render(console), style=base))
