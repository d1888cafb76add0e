"""A table of rows updated in place by row key, drawn line by line on Textual's public Line API.

Panes hand `sync` the whole list of (key, cells) every tick. The table keeps the cursor on the same row
key when the order changes, and repaints only the parts of the screen whose text changed: a cell that
changed repaints that cell's span of its line, a row that moved its line up to the end of its text, a
title the part of the top border it covers. Textual sends every cell of a repainted region to the
terminal (from the table's left edge), changed or not, so this is what the SSH link carries
(docs/performance.md, "Bytes to the terminal").

It is a `ScrollView` with `render_line` (as Textual's Log and DataTable are), looks and keys like a
row-cursor DataTable (same styles, header, cursor, hover, Home/End between first and last row) and
posts its own RowHighlighted, RowSelected and HeaderSelected messages. Only public Textual API is used,
so Textual upgrades are not ports, but for one hook (`_size_updated`, which keeps layout passes from
redrawing the scrollbar; a test fails if an upgrade stops calling it). The plain text cells of a line
(all of ours) are joined into one segment, so one style sequence reaches the terminal, where DataTable
sends one per cell; styled cells (a Text) go through Rich as DataTable draws them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from rich.cells import cell_len, set_cell_size
from rich.measure import Measurement
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.content import Content
from textual.geometry import Region, Size
from textual.message import Message
from textual.renderables.styled import Styled
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar
from textual.strip import Strip

from tui.textsafe import visible

HEADER_HEIGHT = 1
TITLE_FRAME = 4  # the cells of a left-aligned border title's line around its text: "╭─ " before, " " after


@dataclass
class Column:
    """A shown column. `width` counts when `auto_width` is off (widths a pane fits); else the widest
    cell or label, `content_width`, which grows with the cells and never shrinks on its own."""

    key: str
    label: Text
    width: int
    content_width: int
    auto_width: bool = True

    def render_width(self, padding: int) -> int:
        return 2 * padding + (self.content_width if self.auto_width else self.width)


class KeyedTable(ScrollView, can_focus=True):
    """Rows by key, one line each, a header line, a row cursor."""

    BINDINGS = [
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("right", "scroll_right", "Scroll right", show=False),
        Binding("left", "scroll_left", "Scroll left", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        # Home/End move between the first and last row: scrolling sideways to the tail of the longest
        # command line would leave the header and the key columns off screen.
        Binding("home", "first_row", "First row", show=False),
        Binding("end", "last_row", "Last row", show=False),
    ]
    COMPONENT_CLASSES = {
        "keyed-table--header", "keyed-table--cursor", "keyed-table--hover", "keyed-table--header-hover",
    }
    # DataTable's look, for the parts a row-cursor table without fixed rows or zebra stripes uses
    DEFAULT_CSS = """
    KeyedTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        &:focus {
            background-tint: $foreground 5%;
            & > .keyed-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .keyed-table--header {
                background-tint: $foreground 5%;
            }
        }
        & > .keyed-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .keyed-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .keyed-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .keyed-table--header-hover {
            background: $accent 30%;
        }
        & > .keyed-table--hover {
            background: $block-hover-background;
        }
    }
    """

    class RowHighlighted(Message):
        """The cursor moved to another row (or another row came under it)."""

        def __init__(self, table: "KeyedTable", cursor_row: int, key: str) -> None:
            super().__init__()
            self.table, self.cursor_row, self.key = table, cursor_row, key

        @property
        def control(self) -> "KeyedTable":
            return self.table

    class RowSelected(RowHighlighted):
        """Enter on a row, or a click on it."""

    class HeaderSelected(Message):
        """A click on a column's header."""

        def __init__(self, table: "KeyedTable", column_key: str, column_index: int) -> None:
            super().__init__()
            self.table, self.column_key, self.column_index = table, column_key, column_index

        @property
        def control(self) -> "KeyedTable":
            return self.table

    _title_only: int | None = None  # while the border title changes: the cells of the top line to repaint (0: all)
    _scroll_when_sized = False  # the cursor moved while the table had no size: scroll to it on resize
    _bars_for: Size | None = None  # the scrollable size the scrollbars were last told

    def __init__(self, columns: Iterable[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cell_padding = 1
        self._column_spec = list(columns)
        self.columns: dict[str, Column] = {}
        self._shown: list[int] = list(range(len(self._column_spec)))  # indices of the spec's columns on screen
        self._order: list[str] = []  # row keys, top to bottom
        self._index: dict[str, int] = {}
        self._cells: dict[str, tuple] = {}  # as given, every column of the spec
        self._drawn: dict[str, tuple] = {}  # as shown: the shown columns, literal (see `_literal`)
        self._cursor = 0
        self._hover: int | None = None  # the row under the mouse (-1: the header), while the mouse moves
        self._highlighted: tuple[int, str] | None = None  # what the last RowHighlighted said
        self._title: str | None = None
        self._paint_styles: tuple | None = None  # the styles of the paint in progress
        self._lines: LRUCache[tuple, tuple] = LRUCache(400)  # row key -> (cells drawn, full-width line before scrolling)
        self._build_columns()

    # ----- what panes read -----
    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def row_keys(self) -> list[str]:
        """The row keys, top to bottom."""
        return list(self._order)

    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def selected_key(self) -> str | None:
        return self._order[self._cursor] if self._order else None

    @property
    def ordered_columns(self) -> list[Column]:
        return list(self.columns.values())

    def get_row_index(self, key: str) -> int:
        return self._index[key]

    def get_cell(self, key: str, column: str) -> Any:
        """The cell as shown (strings with control characters escaped)."""
        return self._drawn[key][list(self.columns).index(column)]

    def get_row(self, key: str) -> list[Any]:
        return list(self._drawn[key])

    def get_row_at(self, row: int) -> list[Any]:
        return self.get_row(self._order[row])

    # ----- updates -----
    def sync(self, rows: list[tuple[str, tuple]]) -> None:
        """Show exactly `rows` (key, cells), in this order, repainting only what changed. A key given twice
        is shown once, at its first place with its first cells: a row key names one row."""
        first: dict[str, tuple] = {}
        for key, cells in rows:
            first.setdefault(key, cells)
        selected, old_cursor = self.selected_key, self._cursor
        old_order, old_cells, old_drawn = self._order, self._cells, self._drawn
        widths = self._widths()
        self._cells = first
        self._drawn = {key: old_drawn[key] if key in old_drawn and _same(old_cells[key], cells) else self._draw_cells(cells)
                       for key, cells in first.items()}
        self._order = list(first)
        self._index = {key: i for i, key in enumerate(self._order)}
        for key in self._order:
            if self._drawn[key] is not old_drawn.get(key):
                self._grow_columns(self._drawn[key])
        if selected in self._index:
            self._cursor = self._index[selected]
        self._cursor = max(0, min(self._cursor, len(self._order) - 1))
        if len(old_order) != len(self._order):
            self._resize_virtual()
        if self._widths() != widths:
            self._resize_virtual()
        if self._widths() != widths and not self._only_last_column_grew(widths):
            self.refresh()
        else:
            self._refresh_changed(old_order, old_drawn)
            if self._cursor != old_cursor:
                self._refresh_row(old_cursor)
                self._refresh_row(self._cursor)
        self._after_cursor_change(scroll=self._cursor != old_cursor)

    def _refresh_changed(self, old_order: list[str], old_drawn: dict[str, tuple]) -> None:
        """Repaint, of the rows on screen, the lines whose row changed and the spans of cells that changed."""
        top = int(self.scroll_y)
        shown = self._visible_row_count()
        spans = self._column_spans()
        for row in range(top, min(top + shown, max(len(old_order), len(self._order)))):
            before = old_order[row] if row < len(old_order) else None
            after = self._order[row] if row < len(self._order) else None
            if before != after or after is None:  # another row on this line: past both texts it is blank
                ends = (self._text_end(drawn, spans) for drawn in (old_drawn.get(before), self._drawn.get(after)))
                self._refresh_span(row, 0, max(ends))
                continue
            old, new = old_drawn[before], self._drawn[after]
            if old is new:
                continue
            changed = [span for span, a, b in zip(spans, old, new) if not _same_cell(a, b)]
            if changed:
                x = changed[0][0]
                self._refresh_span(row, x, changed[-1][1] - x)

    def _only_last_column_grew(self, widths: tuple[int, ...]) -> bool:
        """Only the last column widened, to fit its widest cell (a longer command line): every cell stays
        where it was and is drawn as it was (an auto-width column cuts no cell), so only what changed is
        repainted, not the whole table (some 17 KB at 200x50)."""
        now = self._widths()
        last = list(self.columns.values())[-1] if self.columns else None
        return bool(last and last.auto_width and now[:-1] == widths[:-1] and now[-1] > widths[-1])

    def _text_end(self, drawn: tuple | None, spans: list[tuple[int, int]]) -> int:
        """Where a row's text ends on its line (0: no row); past it the line is blank. Textual sends a
        repainted line to the terminal from the table's left edge, so a moved row costs its text, not the
        width of the table."""
        for (start, end), cell in reversed(list(zip(spans, drawn or ()))):
            if type(cell) is not _Literal:
                return end  # a styled cell: all of its span
            if cell.strip():
                return min(end, start + self.cell_padding + cell_len(cell.rstrip()))
        return 0

    def set_title(self, title: str) -> None:
        """Set the border title, literal text (never markup), repainting the top border only: for a
        left-aligned title, only the part of it that the old or the new title covers."""
        if title == self._title:
            return
        shown = Content(visible(title))
        old, self._title = self._title, title
        self._title_only = 0 if old is None else TITLE_FRAME + max(cell_len(visible(old)), shown.cell_length)
        try:
            self.border_title = shown
        finally:
            self._title_only = None

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False,
                recompose: bool = False) -> "KeyedTable":
        if self._title_only is not None and not regions and self.is_mounted:
            # Widget repaints all of itself for a new border title; only the top border line shows it
            left, top = self.content_offset
            width = self.outer_size.width
            if self._title_only and self.styles.border_title_align == "left":
                width = min(width, self._title_only)
            regions = (Region(-left, -top, width, 1),)
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def show_only(self, keys: Iterable[str]) -> None:
        """Show only the columns `keys` (in the spec's order), the others dropped until asked for again: a
        narrow terminal keeps the columns that matter whole."""
        wanted = set(keys)
        shown = [i for i, (key, _) in enumerate(self._column_spec) if key in wanted]
        if shown == self._shown:
            return
        self._shown = shown
        self._build_columns()
        self._drawn = {key: self._draw_cells(cells) for key, cells in self._cells.items()}
        for cells in self._drawn.values():
            self._grow_columns(cells)
        self.update_columns()

    def update_columns(self) -> None:
        """Column widths or labels were changed (see widgets/column_fit.py): lay out and repaint everything."""
        self._lines.clear()
        self._resize_virtual()
        self.refresh()

    def move_cursor(self, *, row: int | None = None, column: int | None = None, animate: bool = False,
                    scroll: bool = True) -> None:
        """Put the cursor on `row` (clamped to the table) and keep it in view. `column` is accepted for
        DataTable's signature: the cursor is a row cursor."""
        if row is None or not self._order:
            return
        row = max(0, min(row, len(self._order) - 1))
        if row != self._cursor:
            self._refresh_row(self._cursor)
            self._cursor = row
            self._refresh_row(row)
        self._after_cursor_change(scroll)

    def move_to_key(self, key: str, scroll: bool = False) -> bool:
        if key not in self._index:
            return False
        self.move_cursor(row=self._index[key], scroll=True)
        return True

    # ----- keys and mouse -----
    def action_cursor_up(self) -> None:
        self._hide_hover()
        self.move_cursor(row=self._cursor - 1)

    def action_cursor_down(self) -> None:
        self._hide_hover()
        self.move_cursor(row=self._cursor + 1)

    def action_page_down(self) -> None:
        """As DataTable: scroll a page and put the cursor a page further."""
        self._hide_hover()
        page = self._visible_row_count()
        self.scroll_relative(y=page, animate=False, force=True)
        self.move_cursor(row=self._cursor + page)

    def action_page_up(self) -> None:
        self._hide_hover()
        page = self._visible_row_count()
        self.scroll_relative(y=-page, animate=False, force=True)
        self.move_cursor(row=self._cursor - page)

    def action_first_row(self) -> None:
        self._to_row(0)

    def action_last_row(self) -> None:
        self._to_row(self.row_count - 1)

    def _to_row(self, row: int) -> None:
        self._hide_hover()
        self.move_cursor(row=row)
        self.scroll_to(x=0, animate=False)

    def action_select_cursor(self) -> None:
        self._hide_hover()
        if self._order:
            self.post_message(self.RowSelected(self, self._cursor, self._order[self._cursor]))

    def on_click(self, event: events.Click) -> None:
        place = self._place(event)
        if place is None:
            return
        row, column = place
        if row < 0:
            if column is not None:
                self.post_message(self.HeaderSelected(self, list(self.columns)[column], column))
            return
        if row == self._cursor:  # as DataTable: the first click highlights the row, a click on it selects it
            self.post_message(self.RowSelected(self, row, self._order[row]))
        self.move_cursor(row=row)
        event.stop()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        place = self._place(event)
        self._set_hover(place[0] if place else None)

    def on_leave(self, _: events.Leave) -> None:
        self._set_hover(None)

    def _place(self, event: events.MouseEvent) -> tuple[int, int | None] | None:
        """(row, column index) under the mouse: row -1 is the header, column None the blank past the columns."""
        offset = event.get_content_offset(self)
        if offset is None:
            return None
        x, y = offset
        row = -1 if y < HEADER_HEIGHT else y - HEADER_HEIGHT + int(self.scroll_y)
        if row >= len(self._order):
            return None
        x += int(self.scroll_x)
        column = next((i for i, (start, end) in enumerate(self._column_spans()) if start <= x < end), None)
        return row, column

    def _set_hover(self, row: int | None) -> None:
        if row != self._hover:
            for old_or_new in (self._hover, row):
                if old_or_new is not None:
                    self._refresh_row(old_or_new)
            self._hover = row

    def _hide_hover(self) -> None:
        self._set_hover(None)

    def on_resize(self) -> None:
        if self._scroll_when_sized:
            self._scroll_to_cursor()

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        """Textual calls this on every widget at every layout pass of the screen, which any widget anywhere
        asks for (a hidden pane's text). ScrollView then redraws its scrollbars whenever `virtual_size` — for
        a Line API widget, its viewport — differs from its own: on every pass, some 2 KB to the terminal
        for a full-height table. Here they are redrawn when the table's own size or scrollable size changed.
        (The one override of a Textual hook: tests/test_keyed_table.py checks that it still takes effect.)"""
        if self._bars_for == self.virtual_size:
            virtual_size = self.virtual_size
        self._bars_for = self.virtual_size
        return super()._size_updated(size, virtual_size, container_size, layout)

    # ----- drawing -----
    def render_lines(self, crop: Region) -> list[Strip]:
        """The widget's style and the component styles cannot change within one paint: worked out once
        (the widget's style walks every ancestor's CSS)."""
        self._paint_styles = (
            self.rich_style,
            self.get_component_styles("keyed-table--header").rich_style,
            self.get_component_rich_style("keyed-table--cursor"),
            self.get_component_rich_style("keyed-table--hover"),
            self.get_component_rich_style("keyed-table--header-hover"),
        )
        try:
            return super().render_lines(crop)
        finally:
            self._paint_styles = None

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        styles = self._paint_styles or (self.rich_style, self.get_component_styles("keyed-table--header").rich_style,
                                        self.get_component_rich_style("keyed-table--cursor"),
                                        self.get_component_rich_style("keyed-table--hover"),
                                        self.get_component_rich_style("keyed-table--header-hover"))
        base = styles[0]
        row = -1 if y < HEADER_HEIGHT else y - HEADER_HEIGHT + int(self.scroll_y)
        if row >= len(self._order):
            return Strip.blank(width, base)
        line = self._line(row, width, styles)
        scroll_x = int(self.scroll_x)
        return Strip(line).crop(scroll_x, scroll_x + width).adjust_cell_length(width, base).simplify()

    def _line(self, row: int, width: int, styles: tuple) -> list[Segment]:
        """A whole row (or the header, row -1) as segments, at least `width` cells wide. The styles carry
        no per-cell metadata (DataTable's "row"/"column" meta; clicks are placed by their offset, see
        `_place`), so a line of plain cells is one segment: Textual sends a style sequence per segment."""
        hover = self._hover == row
        cursor = row == self._cursor and row >= 0
        cells = tuple(column.label for column in self.columns.values()) if row < 0 else self._drawn[self._order[row]]
        widths = self._widths()
        key = (self._order[row] if row >= 0 else None, widths, width, cursor, hover, styles)
        cached = self._lines.get(key)
        if cached is not None and (row < 0 or cached[0] is cells):
            return cached[1]
        base, header, cursor_style, hover_style, header_hover = styles
        component = Style()
        if hover:
            component += hover_style
            if row < 0:
                component += header_hover
        if cursor:
            component += cursor_style
        line_style = (header if row < 0 else base) + component
        padding = self.cell_padding
        text: list[str] = []  # the plain cells since the last styled one, joined into one segment
        line: list[Segment] = []
        for cell, cell_width in zip(cells, widths):
            plain = _plain_line(cell) if row >= 0 else None
            if plain is not None:
                text.append(_padded(plain, cell_width, padding))
                continue
            if text:
                line.append(Segment("".join(text), line_style))
                text = []
            # a styled cell, or a header label: as DataTable draws it, through Rich
            post = Style.from_color(color=component.color) + Style.from_color(bgcolor=component.bgcolor)
            options = self.app.console_options.update_dimensions(cell_width, 1).update(no_wrap=True)
            rendered = self.app.console.render_lines(Styled(Padding(cell, (0, padding)), pre_style=line_style,
                                                            post_style=post), options)
            line.extend(rendered[0])
        text.append(" " * max(0, width - sum(widths)))
        line.append(Segment("".join(text), line_style))
        self._lines[key] = (cells, line) if row >= 0 else (None, line)  # header labels: cache cleared on change
        return line

    # ----- bookkeeping -----
    def _build_columns(self) -> None:
        self.columns = {}
        for index in self._shown:
            key, label = self._column_spec[index]
            text = Text.from_markup(label)
            self.columns[key] = Column(key, text, 0, cell_len(text.plain))
            self.columns[key].width = self.columns[key].content_width

    def _draw_cells(self, cells: tuple) -> tuple:
        return tuple(_literal(cells[i]) if i < len(cells) else "" for i in self._shown)

    def _grow_columns(self, drawn: tuple) -> None:
        for column, cell in zip(self.columns.values(), drawn):
            width = cell_len(cell) if type(cell) is _Literal else self._measure(cell)
            if width > column.content_width:
                column.content_width = width

    def _measure(self, cell: Any) -> int:
        console = self.app.console
        return Measurement.get(console, console.options, cell).maximum

    def _widths(self) -> tuple[int, ...]:
        return tuple(column.render_width(self.cell_padding) for column in self.columns.values())

    def _column_spans(self) -> list[tuple[int, int]]:
        """(start, end) of each shown column, in cells from the table's left edge."""
        spans, x = [], 0
        for width in self._widths():
            spans.append((x, x + width))
            x += width
        return spans

    def _visible_row_count(self) -> int:
        return max(0, self.scrollable_content_region.height - HEADER_HEIGHT)

    def _resize_virtual(self) -> None:
        """Set the scrollable size without repainting: Widget repaints all of itself when `virtual_size`
        is assigned, and a row coming or going changes nothing on screen but the rows we repaint.

        A layout pass is asked for only when the table's height or scrollbars change with it (a table
        shorter than its room, or a scrollbar coming or going): every layout pass redraws the scrollbars of
        every table on screen, and a thousand processes come and go on most polls."""
        size, old = Size(sum(self._widths()), len(self._order) + HEADER_HEIGHT), self.virtual_size
        if size == old:
            return
        self.set_reactive(KeyedTable.virtual_size, size)
        room = self.scrollable_content_region.height  # (of its last layout, while it is hidden)
        if size.width != old.width or not self.show_vertical_scrollbar or min(size.height, old.height) <= room:
            self.refresh(layout=True, repaint=False)
            return
        self.scroll_y = self.validate_scroll_y(self.scroll_y)  # fewer rows: the view may end past the last
        self._move_thumb(self.vertical_scrollbar, size.height)
        self._bars_for = size

    @staticmethod
    def _move_thumb(bar: ScrollBar, rows: int) -> None:
        """Tell the scrollbar how many lines there are; repaint it only when its thumb is drawn elsewhere."""
        def drawn(lines: int) -> list[Segment]:
            return bar.renderer.render_bar(size=bar.size.height, virtual_size=lines, window_size=bar.window_size,
                                           position=bar.position, thickness=bar.thickness).segments

        if drawn(rows) == drawn(bar.window_virtual_size):
            bar.set_reactive(ScrollBar.window_virtual_size, rows)
        else:
            bar.window_virtual_size = rows

    def _refresh_row(self, row: int) -> None:
        self._refresh_span(row, 0, max(sum(self._widths()), self.size.width + int(self.scroll_x)))

    def _refresh_span(self, row: int, x: int, width: int) -> None:
        """Repaint `width` cells of a row's line from `x` (table coordinates), where it is on screen (not
        the scrollbar beside it: Textual would send it again)."""
        y = (-1 if row < 0 else row - int(self.scroll_y)) + HEADER_HEIGHT
        start = max(0, x - int(self.scroll_x))
        end = min(self.scrollable_content_region.width, x - int(self.scroll_x) + width)
        if 0 <= y < self.size.height and start < end:
            self.refresh(Region(start, y, end - start, 1))

    def _after_cursor_change(self, scroll: bool = True) -> None:
        """Keep the cursor in view and tell the pane when another row is under it."""
        if not self._order:
            self._highlighted = None
            return
        if scroll:
            self._scroll_to_cursor()
        now = (self._cursor, self._order[self._cursor])
        if now != self._highlighted:
            self._highlighted = now
            self.post_message(self.RowHighlighted(self, *now))

    def _scroll_to_cursor(self) -> None:
        top, page = int(self.scroll_y), self._visible_row_count()
        self._scroll_when_sized = page <= 0  # hidden or not laid out yet: when it gets a size
        if self._scroll_when_sized:
            return
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, force=True)
        elif self._cursor >= top + page:
            self.scroll_to(y=self._cursor - page + 1, animate=False, force=True)


def _same_cell(a: Any, b: Any) -> bool:
    """Cells draw the same: a Text compares by its text and spans only, not its style."""
    if type(a) is _Literal or type(b) is _Literal:
        return a == b
    return isinstance(a, Text) and isinstance(b, Text) and a.plain == b.plain and a.spans == b.spans \
        and a.style == b.style and a.justify == b.justify and a.overflow == b.overflow or a is b


def _same(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(x is y or (x == y and type(x) is str and type(y) is str) or _same_cell(x, y)
                                    for x, y in zip(a, b))


def _padded(text: str, width: int, padding: int) -> str:
    """A plain one-line cell as DataTable draws it: padded, cut with "…" when it does not fit."""
    inner = width - 2 * padding
    if inner <= 0:
        return " " * width
    if cell_len(text) > inner:
        text = set_cell_size(text, inner - 1) + "…"
    return " " * padding + set_cell_size(text, inner) + " " * padding


class _Literal(str):
    """A printable one-line cell, shown exactly as it is (never read as markup), drawn as one segment."""

    __slots__ = ()


def _plain_line(cell: Any) -> str | None:
    """The text of a cell drawn as it is on one line (no styles, left-aligned, "…" when cut), else None."""
    if type(cell) is _Literal:
        return cell
    if (
        isinstance(cell, Text)
        and not cell.spans
        and not cell.style
        and cell.justify in (None, "default", "left")
        and cell.overflow == "ellipsis"
        and cell.plain.isprintable()
    ):
        return cell.plain
    return None


def _literal(cell: Any) -> Any:
    """Strings are shown as they are, control characters visible: `[kthreadd]` or `[red]` in a command line
    is not markup, and an ESC byte must not reach the terminal."""
    if isinstance(cell, Text) and not cell.plain.isprintable() and visible(cell.plain) != cell.plain:
        # a styled cell built around host text that kept its control characters: shown, in the cell's style
        return Text(visible(cell.plain), style=cell.style, justify=cell.justify, overflow=cell.overflow,
                    no_wrap=cell.no_wrap)
    if not isinstance(cell, str):
        return cell
    cell = visible(cell)
    return _Literal(cell) if cell.isprintable() else Text(cell, no_wrap=True, overflow="ellipsis")
