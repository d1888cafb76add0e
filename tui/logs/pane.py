"""The Logs pane: every followed log in one live stream (lazydocker/k9s/toolong style), its templates, and the
request metrics hiding in the access logs.

The stream is a Line API view of the section's newest lines: one row per event (a traceback is one row with a
"+N lines" mark), coloured by level, one colour per source. It follows new lines until the operator moves up,
then says how many arrived while paused (End or `f` follows again). What is shown is worked out from the
section on every poll: source and minimum level, the `/` filter (a regex, or plain text when it is not one),
a template picked in the clusters view, and N lines of context around the matches.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Callable

from drain3.masking import LogMasker, MaskingInstruction
from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.cache import LRUCache
from textual.containers import Vertical
from textual.events import Click, MouseScrollUp, Resize
from textual.geometry import Size
from textual.message import Message
from textual.screen import ModalScreen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, Static

from tui import registry
from tui.findings import Finding
from tui.logs.analysis import EVIDENCE_CHARS, MASKS, template_input
from tui.logs.parse import LEVEL_RANK
from tui.logs.records import AccessStats, Cluster, LogLine, LogsSection, LogSource
from tui.logs.report import clusters_new_first, is_new
from tui.textsafe import literal, visible
from tui.wording import count
from widgets.column_fit import drop_to_fit
from widgets.dialogs import TextScreen
from widgets.keyed_table import KeyedTable
from widgets.pane import SourcePane
from widgets.status import human_bytes

LEVEL_TAG = {"critical": "CRT", "error": "ERR", "warning": "WRN", "info": "INF", "debug": "DBG", "": "   "}
LEVEL_STYLE = {"critical": "bold red", "error": "red", "warning": "yellow", "info": "", "debug": "dim", "": ""}
# one colour per source, in the order the pane first sees them
SOURCE_COLOURS = ("cyan", "magenta", "green", "bright_blue", "yellow", "bright_magenta", "bright_cyan", "bright_green")
MATCH_STYLE = Style(reverse=True, bold=True)
MIN_LEVELS = ("", "warning", "error")  # what `e` and `w` toggle between: everything, warnings and up, errors and up
CONTEXT_LINES = 3
SPARK_MINUTES = 15  # the sparkline in a cell: the last 15 minutes
SPARK_BLOCKS = " ▁▂▃▄▅▆▇█"
LABEL_WIDTH = 14
TOP_PATHS = 2  # worst paths per access log on the metrics line (the report lists more)
ROW_TEXT_MAX = 2000  # characters of a line's first line rendered on a row: a 1 MB line is cut long before the edge

CLUSTER_COLUMNS = [("new", "NEW"), ("count", "COUNT"), ("level", "LVL"), ("first", "FIRST"), ("last", "LAST"),
                   ("spark", "LAST 15 MIN"), ("template", "TEMPLATE")]
CLUSTER_WIDTH = {"new": 3, "count": 6, "level": 3, "first": 8, "last": 8, "spark": SPARK_MINUTES, "template": 30}
CLUSTER_DROP = ["first", "spark"]


def clock(when: float) -> str:
    """HH:MM:SS in local time; a crafted time from a replayed snapshot shows as dashes, not a crash."""
    try:
        return time.strftime("%H:%M:%S", time.localtime(when))
    except (OverflowError, OSError, ValueError):
        return "--:--:--"


def source_label(line: LogLine) -> str:
    """What the stream's source column says: a file's name, a container's name, the unit for the journal."""
    name = line.source
    if name.startswith("file:"):
        return name.rstrip("/").rsplit("/", 1)[-1]
    if name.startswith("container:"):
        return name.partition(":")[2]
    if name == "journal" and line.unit:
        return line.unit.removesuffix(".service")
    return name


def sparkline(per_minute: list[int]) -> str:
    values = per_minute[-SPARK_MINUTES:]
    top = max(values, default=0)
    if not top:
        return " " * len(values)
    return "".join(SPARK_BLOCKS[0 if not n else max(1, round(n / top * (len(SPARK_BLOCKS) - 1)))] for n in values)


def seconds_text(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f}ms" if value < 1 else f"{value:.2f}s"


def access_line(stats: AccessStats) -> Text:
    """One access log's request rate, error shares, latency and worst paths, on one or two lines."""
    requests = max(stats.requests, 1)
    share = {cls: 100.0 * stats.per_status_class.get(cls, 0) / requests for cls in ("5xx", "4xx")}
    text = Text()
    text.append(visible(stats.source.removeprefix("file:").rsplit("/", 1)[-1]), style="bold")
    text.append(f" {stats.requests / max(stats.window_s, 1.0):.1f} req/s ")
    text.append(f"5xx {share['5xx']:.1f}%", style="bold red" if share["5xx"] >= 1 else "")
    text.append(f" 4xx {share['4xx']:.1f}%", style="yellow" if share["4xx"] >= 10 else "")
    if stats.p50_s is not None:
        text.append(f" · p50 {seconds_text(stats.p50_s)} p95 {seconds_text(stats.p95_s)} p99 {seconds_text(stats.p99_s)}")
    if stats.top_errors:
        text.append(" · 5xx: ", style="dim")
        text.append(visible(", ".join(f"{p.path} {p.errors}" for p in stats.top_errors[:TOP_PATHS])))
    if stats.top_slow:
        text.append(" · slow: ", style="dim")
        text.append(visible(", ".join(f"{p.path} {seconds_text(p.p95_s)}" for p in stats.top_slow[:TOP_PATHS])))
    return text


def compile_filter(text: str) -> tuple[re.Pattern[str] | None, bool]:
    """The `/` filter as a case-insensitive regex; (pattern, False) when the text is not a valid regex and is
    searched as plain text instead."""
    if not text:
        return None, True
    try:
        return re.compile(text, re.IGNORECASE), True
    except re.error:
        return re.compile(re.escape(text), re.IGNORECASE), False


_MASKER = LogMasker([MaskingInstruction(pattern, name) for pattern, name in MASKS], "<", ">")
_MASK = re.compile(r"^<[A-Z*]+>$")


class TemplateMatch:
    """Whether a line belongs to a cluster: its text masked as the clusterer masks it, token by token against the
    template (`<*>` and masks match any token; two words with digits match, as the clusterer groups them)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster_id = cluster.id
        self.template = cluster.template
        self.tokens = cluster.template.split()
        literals = [t for t in self.tokens if "<" not in t and not _has_digit(t)]  # as written in the raw line
        self.needle = max(literals, key=len, default="")  # a cheap test before masking
        self._seen: dict[int, bool] = {}  # by line seq

    def __call__(self, line: LogLine) -> bool:
        known = self._seen.get(line.seq)
        if known is None:
            known = self._seen[line.seq] = self._matches(line.text)
            if len(self._seen) > 50_000:
                self._seen.clear()
        return known

    def _matches(self, text: str) -> bool:
        if self.needle not in text:
            return False
        words = _MASKER.mask(template_input(text)).split()
        if len(words) != len(self.tokens):
            return False
        for word, token in zip(words, self.tokens):
            if word != token and not _MASK.match(token) and not (_has_digit(word) and _has_digit(token)):
                return False
        return True


def _has_digit(text: str) -> bool:
    return any(c.isdigit() for c in text)


@dataclass
class Row:
    line: LogLine
    context: bool = False  # shown around a match, not a match itself


class LogView(ScrollView, can_focus=True):
    """The merged stream: one row per event, a row cursor, and follow mode (the view stays at the newest line
    until the operator moves up)."""

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First line", show=False),
        Binding("end", "follow", "Follow", show=False),
        Binding("enter", "choose", "Open", show=False),
    ]
    COMPONENT_CLASSES = {"logview--cursor"}
    DEFAULT_CSS = """
    LogView { height: 1fr; border: round $primary 40%; background: $surface; overflow-x: hidden; scrollbar-size-vertical: 1; }
    LogView:focus { border: round $accent; }
    LogView > .logview--cursor { background: $block-cursor-blurred-background; }
    LogView:focus > .logview--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    """

    class Moved(Message):
        """The cursor moved, or following started or stopped."""

    class Chosen(Message):
        """Enter on a row."""

        def __init__(self, line: LogLine) -> None:
            super().__init__()
            self.line = line

    def __init__(self, style_row: Callable[[Row, int], Text], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows: list[Row] = []
        self.cursor = 0
        self.following = True
        self._catching_up = False  # a scroll to the end is queued (render_line found it behind)
        self.paused_after = 0  # the newest seq when following stopped: rows after it arrived while paused
        self._style_row = style_row
        self._strips: LRUCache[tuple, Strip] = LRUCache(400)
        self._generation = 0  # bumped when how rows look changes (filter, labels): cached strips are stale

    # ----- what the pane reads -----
    @property
    def selected(self) -> LogLine | None:
        return self.rows[self.cursor].line if self.rows else None

    @property
    def new_since_pause(self) -> int:
        return sum(1 for row in self.rows if row.line.seq > self.paused_after)

    # ----- what the pane sets -----
    def show_rows(self, rows: list[Row], restyled: bool) -> None:
        """Show `rows`; the cursor stays on its line (and on screen where it was) unless following."""
        if restyled:
            self._generation += 1
        before = self.selected
        old_index = self.cursor
        self.rows = rows
        self.virtual_size = Size(self.size.width, len(rows))
        if self.following or before is None:
            self.cursor = max(0, len(rows) - 1)
            self._scroll_to_end()
        else:
            self.cursor = self._index_of(before)
            shift = self.cursor - old_index
            if shift:
                self.scroll_to(y=max(0, self.scroll_y + shift), animate=False, immediate=True)
        self.refresh()

    def move_to(self, index: int, follow: bool | None = None) -> None:
        """Put the cursor on row `index` (scrolled into view); following stops unless it is the last row."""
        if not self.rows:
            return
        self.cursor = max(0, min(index, len(self.rows) - 1))
        at_end = self.cursor == len(self.rows) - 1
        self._set_following(at_end if follow is None else follow)
        height = self.size.height
        if self.cursor < self.scroll_y:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= self.scroll_y + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)
        self.refresh()
        self.post_message(self.Moved())

    def _set_following(self, following: bool) -> None:
        if self.following and not following:
            self.paused_after = max((row.line.seq for row in self.rows), default=0)
        self.following = following

    def _index_of(self, line: LogLine) -> int:
        """The row of `line` now, else of the first line after it (it was dropped from the ring or filtered)."""
        for index, row in enumerate(self.rows):
            if row.line.seq == line.seq:
                return index
        return next((i for i, row in enumerate(self.rows) if (row.line.time, row.line.seq) > (line.time, line.seq)),
                    max(0, len(self.rows) - 1))

    # ----- keys and mouse -----
    def action_cursor(self, step: int) -> None:
        self.move_to(self.cursor + step)

    def action_page(self, pages: int) -> None:
        self.move_to(self.cursor + pages * max(1, self.size.height - 1))

    def action_first(self) -> None:
        self.move_to(0)

    def action_follow(self) -> None:
        self._set_following(True)
        self.move_to(len(self.rows) - 1, follow=True)
        self._scroll_to_end()

    def action_choose(self) -> None:
        if self.selected is not None:
            self.post_message(self.Chosen(self.selected))

    def on_click(self, event: Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None and int(self.scroll_y) + offset.y < len(self.rows):
            self.move_to(int(self.scroll_y) + offset.y)

    def on_mouse_scroll_up(self, event: MouseScrollUp) -> None:
        if self.following:
            self._set_following(False)
            self.post_message(self.Moved())

    # ----- drawing -----
    def render_line(self, y: int) -> Strip:
        top = int(self.scroll_y)
        if self.following:
            # Following shows the newest lines whatever the scroll position says: a pane in a hidden tab is sized
            # when its tab is shown, and its Resize arrives after the first frame is drawn.
            top = max(0, len(self.rows) - self.scrollable_content_region.height)
            if top != int(self.scroll_y) and not self._catching_up:
                self._catching_up = True
                self.call_after_refresh(self._catch_up)
        index = top + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if index >= len(self.rows):
            return Strip.blank(width, base)
        row = self.rows[index]
        on_cursor = index == self.cursor
        key = (row.line.seq, row.context, width, on_cursor, self._generation, self.has_focus)
        strip = self._strips.get(key)
        if strip is None:
            text = self._style_row(row, width)
            text.truncate(width, overflow="ellipsis")
            text.style = base
            fill = base
            if on_cursor:
                cursor = self.get_component_rich_style("logview--cursor")
                text.stylize(cursor)
                fill = base + cursor
            strip = Strip(list(text.render(self.app.console))).crop_extend(0, width, fill)
            self._strips[key] = strip
        return strip.apply_offsets(0, index)

    def on_resize(self, event: Resize) -> None:
        """A new size: the newest line stays in view while following, the cursor's line while paused."""
        self.virtual_size = Size(event.size.width, len(self.rows))
        self.call_after_refresh(self._keep_in_view)

    def _catch_up(self) -> None:
        """The scroll position (and scrollbar) follows what render_line already shows."""
        self._catching_up = False
        self.virtual_size = Size(self.size.width, len(self.rows))
        self._keep_in_view()

    def _keep_in_view(self) -> None:
        if self.following:
            self._scroll_to_end()
        elif self.rows:
            self.move_to(self.cursor, follow=False)

    def _scroll_to_end(self) -> None:
        """To the newest line, now and once the layout has caught up with new rows or a new size."""
        self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
        self.call_after_refresh(lambda: self.following and self.scroll_to(y=self.max_scroll_y, animate=False,
                                                                          immediate=True))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()


class TimeScreen(ModalScreen[str | None]):
    """Asks where to jump: a time of day (HH:MM or HH:MM:SS) or how long ago (-5m, -90s, -2h)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Jump to time: HH:MM[:SS] or -5m / -90s / -2h (Enter jumps, Esc cancels)")
            yield Input(placeholder="-5m", id="logs-time")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


_AGO = re.compile(r"^-\s*(\d+(?:\.\d+)?)\s*([smh]?)$")
_TIME_OF_DAY = re.compile(r"^(\d{1,2}):(\d\d)(?::(\d\d))?$")


def parse_when(text: str, now: float) -> float | None:
    """The unix time `text` names, relative to `now`: "-5m" is five minutes before, "14:05" today's (or, when
    that is still ahead, yesterday's) 14:05 local time. None when it names no time."""
    text = text.strip().lower()
    ago = _AGO.match(text)
    if ago:
        return now - float(ago[1]) * {"": 60, "s": 1, "m": 60, "h": 3600}[ago[2]]
    of_day = _TIME_OF_DAY.match(text)
    if not of_day or int(of_day[1]) > 23 or int(of_day[2]) > 59 or int(of_day[3] or 0) > 59:
        return None
    day = time.localtime(now)
    when = time.mktime((day.tm_year, day.tm_mon, day.tm_mday, int(of_day[1]), int(of_day[2]), int(of_day[3] or 0),
                        0, 0, -1))
    return when - 86400 if when > now + 60 else when


class LogsPane(SourcePane):
    source_name = registry.LOGS

    DEFAULT_CSS = """
    LogsPane #logs-access { height: auto; max-height: 3; padding: 0 1; }
    LogsPane #logs-access.-empty { display: none; }
    LogsPane #logs-clusters { height: 1fr; }
    """

    BINDINGS = [
        Binding("f", "follow", "Follow", tooltip="Follow new lines (End too)"),
        Binding("E", "min_level('error')", "Err+", tooltip="Only errors and worse (again: all levels)"),
        Binding("W", "min_level('warning')", "Warn+", tooltip="Only warnings and worse (again: all levels)"),
        Binding("greater_than_sign", "next_source", "Source", tooltip="Only one source, the next each time (then all)"),
        Binding("plus", "context", "±3", tooltip="3 lines of context around the matches (again: none)"),
        Binding("at", "jump_time", "Time", tooltip="Jump to a time (@): HH:MM or -5m"),
        Binding("C", "clusters", "Clusters", tooltip="Templates (clusters) / the stream"),
        Binding("L", "sources", "Sources", tooltip="The followed log sources: status, errors, how found"),
        Binding("v", "event", "View", tooltip="The whole event (a traceback's every line)"),
        Binding("o", "jump", "Jump", tooltip="Go to the line's process (Processes) or container (Containers)"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pattern: re.Pattern[str] | None = None
        self.pattern_valid = True
        self.filter_text = ""
        self.min_level = ""
        self.only_source = ""
        self.context = 0
        self.cluster: TemplateMatch | None = None
        self.matches = 0
        self._colours: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="logs-banner", classes="banner")
        yield Static(id="logs-access")
        yield LogView(self._style_row, id="logs-stream")
        yield KeyedTable(CLUSTER_COLUMNS, id="logs-clusters")

    def on_mount(self) -> None:
        self.query_one("#logs-access").add_class("-empty")
        for widget in ("#logs-banner", "#logs-clusters"):
            self.query_one(widget).display = False
        self._title()

    def on_resize(self) -> None:
        drop_to_fit(self._clusters(), [key for key, _ in CLUSTER_COLUMNS], CLUSTER_WIDTH, CLUSTER_DROP, 0)

    def _view(self) -> LogView:
        return self.query_one("#logs-stream", LogView)

    def _clusters(self) -> KeyedTable:
        return self.query_one("#logs-clusters", KeyedTable)

    # ----- SourcePane contract -----
    def show_section(self, section: LogsSection) -> None:
        self.query_one("#logs-banner").display = False
        for source in section.sources:
            self._colour(source.name)
        access = self.query_one("#logs-access", Static)
        access.set_class(not section.access, "-empty")
        if section.access:
            access.update(Text("\n").join(access_line(stats) for stats in section.access))
        self._render_stream(restyled=False)
        self._render_clusters()

    def show_unavailable(self, reason: str, remedy: str = "") -> None:
        banner = self.query_one("#logs-banner", Static)
        banner.display = True
        banner.update(literal(f"Logs: {reason}" + (f"\nWhat to do: {remedy}" if remedy else ""), multiline=True))

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self.pattern, self.pattern_valid = compile_filter(text)
        self._render_stream(restyled=True)
        self._render_clusters()  # `/` filters the templates too, when they are shown

    def select_subject(self, subject: dict[str, Any]) -> bool:
        """The newest line the subject names: a finding's evidence lines, a pid, a container, a template, a log."""
        if self.section is None:
            return False
        wanted = self._subject_test(subject)
        if wanted is None:
            return False
        line = next((line for line in reversed(self.section.lines) if wanted(line)), None)
        if line is None:
            return False
        if not any(row.line.seq == line.seq for row in self._view().rows):
            self._clear_filters()  # a jump must land even when a filter hides the line
        self._show_stream()
        view = self._view()
        index = next((i for i, row in enumerate(view.rows) if row.line.seq == line.seq), None)
        if index is None:
            return False
        view.move_to(index, follow=index == len(view.rows) - 1 and view.following)
        view.focus()
        return True

    def selected_subject(self) -> dict[str, Any] | None:
        """The subject of the finding the selected line is evidence of, else the line's process."""
        line = self._view().selected
        if line is None or self._clusters().display:
            return None
        finding = self._finding_for(line)
        if finding is not None:
            return dict(finding.subject)
        return {"pid": line.pid} if line.pid is not None else None

    # ----- what is shown -----
    def _colour(self, source: str) -> str:
        colour = self._colours.get(source)
        if colour is None:
            colour = self._colours[source] = SOURCE_COLOURS[len(self._colours) % len(SOURCE_COLOURS)]
        return colour

    def _is_hit(self, line: LogLine) -> bool:
        if self.min_level and LEVEL_RANK[line.level] < LEVEL_RANK[self.min_level]:
            return False
        if self.pattern is not None and not self.pattern.search(line.text):
            return False
        return self.cluster is None or self.cluster(line)

    def _rows(self) -> list[Row]:
        lines = self.section.lines if self.section is not None else []
        if self.only_source:
            lines = [line for line in lines if line.source == self.only_source]
        filtering = bool(self.min_level or self.pattern or self.cluster)
        if not filtering:
            self.matches = len(lines)
            return [Row(line) for line in lines]
        hits = [index for index, line in enumerate(lines) if self._is_hit(line)]
        self.matches = len(hits)
        if not self.context:
            return [Row(lines[index]) for index in hits]
        shown: dict[int, bool] = {}
        for index in hits:
            for near in range(max(0, index - self.context), min(len(lines), index + self.context + 1)):
                shown.setdefault(near, True)
            shown[index] = False
        return [Row(lines[index], context) for index, context in sorted(shown.items())]

    def _render_stream(self, restyled: bool) -> None:
        self._view().show_rows(self._rows(), restyled)
        self._title()

    def _style_row(self, row: Row, width: int) -> Text:
        """time, source, level, the event's first line (matches highlighted) and how many lines follow it."""
        line = row.line
        label_width = LABEL_WIDTH if width >= 100 else 10 if width >= 60 else 7
        first, _, rest = line.text.partition("\n")
        more = rest.count("\n") + 1 if rest else 0
        shown = visible(first[:ROW_TEXT_MAX], limit=None)
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        text.append(clock(line.time) + " ", style="dim")
        label = visible(source_label(line))
        label = label if len(label) <= label_width else label[: label_width - 1] + "…"
        text.append(f"{label:<{label_width}} ", style=self._colour(line.source))
        text.append(LEVEL_TAG.get(line.level, "   ") + " ", style=LEVEL_STYLE.get(line.level, ""))
        mark = f"  +{count(more, 'line')}" if more else ""
        room = width - len(text) - len(mark)
        if len(shown) > room > 0:  # cut the message, not the mark
            shown = shown[: room - 1] + "…"
        start = len(text)
        text.append(shown, style=LEVEL_STYLE.get(line.level, ""))
        if self.pattern is not None and not row.context:
            for match in self.pattern.finditer(shown):
                if match.end() > match.start():
                    text.stylize(MATCH_STYLE, start + match.start(), start + match.end())
        text.append(mark, style="bold dim")
        if row.context:
            text.stylize("dim")
        return text

    def _title(self) -> None:
        view = self._view()
        section = self.section
        if self.app.is_replay:
            state = "from the snapshot"
        elif view.following:
            state = "following"
        else:
            state = f"PAUSED, {view.new_since_pause} new (End/f follows)"
        total = len(section.lines) if section is not None else 0
        parts = [f"Logs: {state}", count(total, "line")]
        if self.min_level:
            parts.append(f"{self.min_level}s+")
        if self.only_source:
            parts.append(f"only {self.only_source}")
        if self.cluster is not None:
            parts.append(f"template “{self.cluster.template[:40]}”")
        if self.filter_text:
            parts.append(f"/{self.filter_text}/" if self.pattern_valid else
                         f"'{self.filter_text}' (not a regex: plain text)")
        if self.min_level or self.pattern or self.cluster:
            parts.append(f"{count(self.matches, 'match', 'matches')}" + (f" ±{self.context}" if self.context else ""))
        view.border_title = literal(" · ".join(parts))
        view.border_subtitle = literal(self._links(view.selected))

    def _links(self, line: LogLine | None) -> str:
        """Under the stream: where the selected line leads."""
        if line is None:
            return ""
        hints = []
        if line.pid is not None:
            hints.append(f"pid {line.pid}: o")
        elif line.container:
            hints.append(f"{line.container}: o")
        if "\n" in line.text:
            hints.append("whole event: v")
        finding = self._finding_for(line)
        if finding is not None:
            hints.append(f"{finding.id}: g")
        return " · ".join(hints)

    def _finding_for(self, line: LogLine) -> Finding | None:
        tail = line.text[-EVIDENCE_CHARS:]
        for finding in self.findings:
            if tail in (finding.evidence.get("lines") or []):
                return finding
        return next((f for f in self.findings if line.pid is not None and f.subject.get("pid") == line.pid), None)

    def _render_clusters(self) -> None:
        section = self.section
        if section is None:
            return
        now = section.taken_at
        shown = [c for c in clusters_new_first(section.clusters, now)
                 if (self.pattern is None or self.pattern.search(c.template) or self.pattern.search(c.example))
                 and LEVEL_RANK[c.level] >= LEVEL_RANK[self.min_level or ""]]
        self._clusters().sync([(str(c.id), (
            "NEW" if is_new(c, now) else "", str(c.count), LEVEL_TAG.get(c.level, ""),
            clock(c.first_seen), clock(c.last_seen), sparkline(c.per_minute), c.template,
        )) for c in shown])
        filtered = f" ({len(shown)} match the filter)" if len(shown) != len(section.clusters) else ""
        self._clusters().set_title(f"{count(len(section.clusters), 'template')}{filtered}, new in the last 5 minutes "
                                   "first (Enter: its lines, C: the stream)")

    def _show_stream(self) -> None:
        self._clusters().display = False
        self._view().display = True

    def _clear_filters(self) -> None:
        self.pattern, self.pattern_valid, self.filter_text = None, True, ""
        self.min_level, self.only_source, self.cluster = "", "", None
        self._render_stream(restyled=True)

    def _subject_test(self, subject: dict[str, Any]) -> Callable[[LogLine], bool] | None:
        finding = next((f for f in self.findings if f.subject == subject), None)
        evidence = set(finding.evidence.get("lines") or []) if finding is not None else set()
        if evidence:
            return lambda line: line.text[-EVIDENCE_CHARS:] in evidence
        if "pid" in subject:
            pid = subject["pid"]
            return lambda line: line.pid == pid or f"Killed process {pid} (" in line.text
        if "container" in subject:
            name = subject["container"]
            return lambda line: line.container == name or line.source == f"container:{name}"
        if "template_id" in subject and self.section is not None:
            cluster = next((c for c in self.section.clusters if c.id == subject["template_id"]), None)
            return TemplateMatch(cluster) if cluster is not None else None
        if "log" in subject:
            return lambda line: line.source == subject["log"]
        return None

    # ----- live updates -----
    @on(LogView.Moved)
    def _moved(self, message: LogView.Moved) -> None:
        message.stop()
        self._title()

    @on(LogView.Chosen)
    def _chosen(self, message: LogView.Chosen) -> None:
        """Enter: to the line's process or container when it names one, else the whole event."""
        message.stop()
        if not self._jump(message.line):
            self._open_event(message.line)

    @on(KeyedTable.RowSelected, "#logs-clusters")
    def _cluster_chosen(self, message: Message) -> None:
        """Enter on a template: the stream, showing only its lines."""
        message.stop()
        key = self._clusters().selected_key
        cluster = next((c for c in self.section.clusters if str(c.id) == key), None) if self.section else None
        if cluster is None:
            return
        self.cluster = TemplateMatch(cluster)
        self._show_stream()
        self._render_stream(restyled=True)
        self._view().action_follow()
        self._view().focus()

    # ----- key actions -----
    def action_follow(self) -> None:
        self._show_stream()
        self._view().action_follow()
        self._view().focus()

    def action_min_level(self, level: str) -> None:
        self.min_level = "" if self.min_level == level else level
        self._render_stream(restyled=True)
        self._render_clusters()

    def action_next_source(self) -> None:
        names = [s.name for s in self.section.sources] if self.section else []
        names += sorted({line.source for line in self.section.lines} - set(names)) if self.section else []
        position = names.index(self.only_source) + 1 if self.only_source in names else 0
        self.only_source = names[position] if position < len(names) else ""
        self._render_stream(restyled=True)

    def action_context(self) -> None:
        self.context = 0 if self.context else CONTEXT_LINES
        self._render_stream(restyled=True)

    def action_clusters(self) -> None:
        table = self._clusters()
        if table.display:
            self._show_stream()
            self._view().focus()
            return
        self.cluster = None  # back to the templates: the stream no longer shows one of them
        self._render_stream(restyled=True)
        self._view().display = False
        table.display = True
        table.focus()
        self.call_after_refresh(self.on_resize)

    def action_jump_time(self) -> None:
        if self.section is None:
            return

        def jump(answer: str | None) -> None:
            if not answer:
                return
            when = parse_when(answer, self.section.taken_at)
            if when is None:
                self.app.notify(visible(f"'{answer}' is no time: type HH:MM, HH:MM:SS or -5m"), severity="warning",
                                markup=False)
                return
            self._show_stream()
            view = self._view()
            index = next((i for i, row in enumerate(view.rows) if row.line.time >= when), len(view.rows) - 1)
            view.move_to(index, follow=False)
            view.focus()

        self.app.push_screen(TimeScreen(), jump)

    def action_sources(self) -> None:
        section = self.section
        if section is None:
            return
        self.app.push_screen(TextScreen("Followed log sources", sources_text(section, self._colour)))

    def action_event(self) -> None:
        line = self._view().selected
        if line is not None:
            self._open_event(line)

    def action_jump(self) -> None:
        line = self._view().selected
        if line is not None and not self._jump(line):
            self.app.notify("This line names no process or container, and no process was found writing its log",
                            severity="warning")

    def _jump(self, line: LogLine) -> bool:
        """To the process the line names, its container, or else the process found writing its file."""
        if line.pid is not None:
            self.post_message(self.JumpTo(registry.PROCESSES, {"pid": line.pid}))
            return True
        if line.container:
            self.post_message(self.JumpTo(registry.CONTAINERS, {"name": line.container}))
            return True
        writer = next((s.writer_pid for s in self.section.sources if s.name == line.source), None) if self.section \
            else None
        if writer is not None:
            self.post_message(self.JumpTo(registry.PROCESSES, {"pid": writer}))
            return True
        return False

    def _open_event(self, line: LogLine) -> None:
        self.app.push_screen(TextScreen(f"{source_label(line)} at {clock(line.time)}", event_text(line,
                                                                                                   self._finding_for(line))))


def event_text(line: LogLine, finding: Finding | None) -> Text:
    """The whole event (every line of a traceback), where it came from and what it links to."""
    text = Text()
    facts = [f"source {line.source}", f"level {line.level or '-'}"]
    facts += [f"pid {line.pid} (o, Enter: Processes)"] if line.pid is not None else []
    facts += [f"unit {line.unit}"] if line.unit else []
    facts += [f"container {line.container} (o, Enter: Containers)"] if line.container else []
    text.append(visible(" · ".join(facts)) + "\n", style="dim")
    if finding is not None:
        text.append(visible(f"{finding.severity.upper()} {finding.title} (g: its guide)") + "\n", style="bold")
    text.append("\n")
    text.append(visible(line.text, multiline=True), style=LEVEL_STYLE.get(line.level, ""))
    return text


def sources_text(section: LogsSection, colour: Callable[[str], str]) -> Text:
    """Every followed source: status, what was read, how it was found, and why one is not followed."""
    text = Text()
    for source in section.sources:
        text.append("● ", style=colour(source.name))
        text.append(visible(source.name), style="bold")
        text.append(visible(f"  {source.kind}, {source.status}"),
                    style="green" if source.status == "following" else "yellow")
        text.append(visible(f", found by {source.found_by or '-'}") + "\n")
        text.append(visible(_source_numbers(source)) + "\n", style="dim")
        if source.error:
            text.append("  " + visible(source.error) + "\n", style="red")
    if not section.sources:
        text.append("No log source is followed.\n")
    text.append(f"\n{count(len(section.lines), 'line')} kept"
                + (f", {count(section.dropped, 'older line')} dropped (the cap on lines kept)" if section.dropped else ""))
    return text


def _source_numbers(source: LogSource) -> str:
    parts = [f"  {source.path}" if source.path else "", f"{count(source.lines_read, 'line')} read",
             human_bytes(source.bytes_read)]
    if source.skipped_bytes:
        parts.append(f"{human_bytes(source.skipped_bytes)} skipped")
    if source.lost_lines:
        parts.append(f"the ring overran {count(source.lost_lines, 'time')} (lines lost)")
    return ", ".join(part for part in parts if part)
