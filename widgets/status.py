"""The header line: host, uptime, load, CPU, memory, last refresh, and collectors in trouble."""

from __future__ import annotations

import time

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.widgets import Static

from tui.textsafe import visible
from tui.wording import human_duration


def human_bytes(n: float) -> str:
    for unit in ("B", "K", "M", "G", "T"):
        if abs(n) < 1024 or unit == "T":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n:.1f}T"


class LiveText(Static):
    """A Static for text that changes every poll (the header, a summary): `show` repaints only the cells whose
    character or style changed. Textual sends every cell of a repainted region to the terminal, changed or
    not, so a clock ticking in a 200-column line would otherwise send the whole line every second."""

    _cells: list[list[tuple[str, Style]]] | None = None  # what is on screen, line by line, cell by cell
    _changed: tuple[Region, ...] | None = None  # set while `show` updates: what `refresh` repaints

    def show_text(self, text: Text, *, layout: bool = False) -> None:
        """Show `text`; `layout` when its height may change (a line more or less)."""
        old, self._cells = self._cells, _cells(text, self.app.console)
        width = self.content_region.width
        if old is None or layout or len(old) != len(self._cells) or any(len(line) > width for line in self._cells):
            self.update(text, layout=layout)  # wrapped lines, or another height: all of it
            return
        self._changed = tuple(region for y, (before, after) in enumerate(zip(old, self._cells))
                              if (region := _changed_span(before, after, y)) is not None)
        try:
            self.update(text, layout=False)
        finally:
            self._changed = None

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False,
                recompose: bool = False) -> "LiveText":
        if self._changed is not None and not regions and not layout:
            if not self._changed:
                return self  # the same cells as before: nothing to send
            regions = self._changed
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)


def _cells(text: Text, console) -> list[list[tuple[str, Style]]]:
    """Each line of `text` as (character, style) per terminal cell (a wide character's second cell is "")."""
    lines = []
    for line in text.split("\n", allow_blank=True):
        cells: list[tuple[str, Style]] = []
        for segment in line.render(console, end=""):
            for char in segment.text:
                cells.append((char, segment.style))
                cells.extend(("", segment.style) for _ in range(cell_len(char) - 1))
        lines.append(cells)
    return lines


def _changed_span(before: list, after: list, y: int) -> Region | None:
    """The cells of line `y` from the first to the last that differ (a shorter line: its old tail too)."""
    changed = [x for x in range(max(len(before), len(after)))
               if x >= len(before) or x >= len(after) or before[x] != after[x]]
    return Region(changed[0], y, changed[-1] - changed[0] + 1, 1) if changed else None


class StatusHeader(LiveText):
    """Rendered from plain values the app hands over; knows nothing about collectors."""

    _last: dict | None = None  # what was shown, to lay it out again when the terminal is resized

    def on_resize(self) -> None:
        if self._last is not None:
            self.show(**self._last)

    def show(
        self,
        *,
        host: str,
        uptime_s: float | None,
        load: list[float] | None,
        cores: int | None,
        cpu_percent: float | None,
        mem_percent: float | None,
        mem_used: float | None,
        mem_total: float | None,
        refreshed_at: float | None,
        problems: dict[str, str],
        mode: str,
        now: float | None = None,
        numbers_at: float | None = None,
        stale_after_s: float = float("inf"),
    ) -> None:
        """`refreshed_at`: the visible pane's last good poll; `numbers_at`: when load, CPU and memory were read.
        Either older than `stale_after_s` at `now` is followed by its age, so no number looks fresher than it is."""
        self._last = dict(host=host, uptime_s=uptime_s, load=load, cores=cores, cpu_percent=cpu_percent,
                          mem_percent=mem_percent, mem_used=mem_used, mem_total=mem_total, refreshed_at=refreshed_at,
                          problems=problems, mode=mode, now=now, numbers_at=numbers_at, stale_after_s=stale_after_s)
        pieces: list[tuple[int, str, str]] = []  # (drop rank, text, style): in a narrow terminal the highest
        # rank goes first — uptime, the 5/15-minute loads, the core count, the host, the clock — so the
        # numbers, their ages and the collectors in trouble always show
        pieces.append((0, " tshoot ", "bold reverse"))
        if mode:
            pieces.append((0, f" {visible(mode)} ", "bold black on yellow"))  # a replay's time comes from its file
        pieces.append((4, f" {visible(host)}", "bold"))
        if uptime_s is not None:
            pieces.append((7, f"  up {human_duration(uptime_s)}", ""))
        if load is not None and cores:
            pieces.append((0, "  load ", ""))
            pieces.append((0, f"{load[0]:.2f}", "bold red" if load[0] > cores else ""))
            pieces.append((6, "".join(f" {x:.2f}" for x in load[1:]), "bold red" if load[0] > cores else ""))
            pieces.append((5, f" /{cores} cores", ""))
        if cpu_percent is not None:
            pieces.append((0, "  cpu ", ""))
            pieces.append((0, f"{cpu_percent:.0f}%", "bold red" if cpu_percent > 90 else ""))
        if mem_percent is not None and mem_total:
            pieces.append((0, "  mem ", ""))
            style = "bold red" if mem_percent > 95 else ""
            pieces.append((0, f"{human_bytes(mem_used or 0)}/{human_bytes(mem_total)}", style))
            pieces.append((2, f" ({mem_percent:.0f}%)", style))
        if now is not None and numbers_at is not None and now - numbers_at > stale_after_s:
            pieces.append((0, f" ({human_duration(now - numbers_at)} ago)", "yellow"))
        if refreshed_at is not None:
            pieces.append((3, f"  @{time.strftime('%H:%M:%S', time.localtime(refreshed_at))}", "dim"))
            if now is not None and now - refreshed_at > stale_after_s:
                pieces.append((0, f" {human_duration(now - refreshed_at)} old", "bold yellow"))
        for name in problems:
            pieces.append((0, f"  ⚠ {visible(name)}", "bold yellow"))
        if problems:
            pieces.append((1, " (!)", "dim"))  # the key that explains them
        width = self.size.width
        while width and sum(cell_len(piece) for _, piece, _ in pieces) > width and any(rank for rank, _, _ in pieces):
            highest = max(rank for rank, _, _ in pieces)
            pieces.remove(next(p for p in pieces if p[0] == highest))
        text = Text()
        for _, piece, style in pieces:
            text.append(piece, style=style)
        self.show_text(text)  # the app shows the header every second for its clock; most seconds little moved
