"""Text from the host, made safe to show or write: control characters visible, never interpreted.

Process names, argv, environment values, paths, SQL, log lines, container fields and snapshot fields are
written by whoever controls the machine. An ESC byte would drive the operator's terminal (retitle it, clear
the screen), a bidi override would reorder what they read, and `[b]` would be read as Textual markup. Every
such string goes through `visible()` before it reaches a screen or a text file; widgets then show it as
literal text (`literal()` gives a `rich.text.Text`, which is never parsed as markup).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

# C0 controls (but newline and tab, handled per call), DEL, C1 controls, lone surrogates (invalid UTF-8 read
# with surrogateescape), and the Unicode bidi and isolate controls ("Trojan source").
_CONTROLS = [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F,
             *range(0x202A, 0x202F), *range(0x2066, 0x206A), *range(0xD800, 0xE000)]
DEFAULT_LIMIT = 100_000  # characters; a longer string is cut and says how much was cut


def _escape(code: int) -> str:
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape: show the byte
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


# str.translate tables (a huge argv full of ESC bytes is escaped at C speed)
_MULTILINE = {code: _escape(code) for code in _CONTROLS}
_SINGLE_LINE = {**_MULTILINE, ord("\n"): "\\n", ord("\t"): "\\t"}


def visible(text: object, *, multiline: bool = False, limit: int | None = DEFAULT_LIMIT) -> str:
    """`text` with every control character shown as an escape (`\\x1b`), cut to `limit` characters.

    Single-line text (a table cell, a title) shows newline and tab as `\\n` and `\\t` too; `multiline`
    keeps them as line breaks. `limit=None` never cuts (a whole report written to a file).
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    too_long = limit is not None and len(text) > limit
    if not too_long and text.isprintable():  # the common case, cheap: nothing to escape or cut
        return text
    if too_long:
        text = text[:limit] + f"… ({len(text) - limit} more characters)"
    return text.translate(_MULTILINE if multiline else _SINGLE_LINE)


def literal(text: object, style: str = "", *, multiline: bool = False) -> "Text":
    """A `Text` that shows `text` exactly as written: no markup, control characters visible."""
    from rich.text import Text  # only the UI needs it; reports and the CLI use visible()

    return Text(visible(text, multiline=multiline), style=style)
