"""Text from the host, made safe to show or write: control characters visible, never interpreted.

Process names, argv, environment values, paths, SQL, log lines, container fields and snapshot fields are
written by whoever controls the machine. An ESC byte would drive the operator's terminal (retitle it, clear
the screen), a bidi override would reorder what they read, and `[b]` would be read as Textual markup. Every
such string goes through `visible()` before it reaches a screen or a text file; widgets then show it as
literal text (`literal()` gives a `rich.text.Text`, which is never parsed as markup).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

# C0 controls (but newline and tab, handled per call), DEL, C1 controls, lone surrogates (invalid UTF-8 read
# with surrogateescape), and the Unicode bidi and isolate controls ("Trojan source").
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_LINE_BREAKS = re.compile("[\n\t]")
DEFAULT_LIMIT = 100_000  # characters; a longer string is cut and says how much was cut


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape: show the byte
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


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
    text = _CONTROL.sub(_escape, text)
    if not multiline:
        text = _LINE_BREAKS.sub(lambda m: "\\n" if m.group() == "\n" else "\\t", text)
    return text


def literal(text: object, style: str = "", *, multiline: bool = False) -> "Text":
    """A `Text` that shows `text` exactly as written: no markup, control characters visible."""
    from rich.text import Text  # only the UI needs it; reports and the CLI use visible()

    return Text(visible(text, multiline=multiline), style=style)
