"""A DataTable updated in place by row key, repainting only the lines that changed.

`clear()` + re-add on every tick loses the cursor and scroll and costs a full layout (textual#5273);
this table changes only the cells whose value changed, adds and removes only the rows that came and
went, and keeps the cursor on the same row key when the order changes.

DataTable repaints the whole widget for any change (a cell, a row added or removed, the title), and
a repaint re-renders every visible cell and rewrites every visible line to the terminal. At one
refresh a second that was most of tshoot's CPU and of the bytes crossing the SSH link
(docs/performance.md), so `sync` repaints only the visible lines whose key or cells changed, and a
change of row count repaints nothing but the scrollbar unless the column widths changed. Plain text
cells (all of ours) are drawn as one padded segment instead of through Rich's general renderer, and
the render caches are sized to a few screens: DataTable keys them by a counter that moves on every
change, so at 1 Hz its 10,000-cell cache fills with dead entries (about 20 MB a table).
"""

from __future__ import annotations

from itertools import zip_longest
from typing import Any, Iterable

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.cache import LRUCache
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import Row, RowKey
from textual._two_way_dict import TwoWayDict  # DataTable's own row-index map; Textual is pinned exactly
from textual.content import Content

from tui.textsafe import visible


class KeyedTable(DataTable):
    # DataTable's Home/End scroll sideways in a row table: End jumped to the tail of the longest command
    # line, leaving the header and the key columns off screen. Here they move between the first and last row.
    BINDINGS = [
        Binding("home", "first_row", "First row", show=False),
        Binding("end", "last_row", "Last row", show=False),
    ]
    _layout_without_repaint = False  # set while DataTable lays out after rows came or went
    _style_this_paint: Style | None = None

    def __init__(self, columns: Iterable[tuple[str, str]], **kwargs: Any) -> None:
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", False)
        super().__init__(**kwargs)
        self._column_spec = list(columns)
        self._shown: list[int] | None = None  # indices of the spec's columns on screen; None: all of them
        self._cells: dict[str, tuple] = {}
        self._title: str | None = None
        self._cell_render_cache = LRUCache(2000)
        self._row_render_cache = LRUCache(200)
        self._row_renderable_cache = LRUCache(200)
        self._line_cache = LRUCache(200)
        self._cell_styles: LRUCache[tuple, Style] = LRUCache(2000)  # Style sums with meta are slow to build

    def on_mount(self) -> None:
        for key, label in self._column_spec:
            self.add_column(label, key=key)

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:  # cursor outside the table while it is empty or shrinking
            return None

    def sync(self, rows: list[tuple[str, tuple]]) -> None:
        """Show exactly `rows` (key, cells), in this order, touching only what changed. A key given twice
        is shown once, at its first place with its first cells: a row key names one row."""
        if len({key for key, _ in rows}) < len(rows):
            first: dict[str, tuple] = {}
            for key, cells in rows:
                first.setdefault(key, cells)
            rows = list(first.items())
        selected = self.selected_key
        first, shown_before = self._visible_lines()
        wanted = dict(rows)
        gone = self._cells.keys() - wanted.keys()
        if gone:
            self._remove_rows(gone)
        column_keys = [key for key, _ in self._column_spec]
        changed = widened = False
        new: dict[str, tuple] = {}
        for key, cells in rows:
            old = self._cells.get(key)
            if old is None or key in new:
                new[key] = cells
            elif old != cells:
                data = self._data[RowKey(key)]
                for column, before, after in zip(column_keys, old, cells):
                    if before != after and column in self.columns:  # not a dropped column
                        data[column] = _literal(after)
                        widened |= self._widen(column, after)
                changed = True
            self._cells[key] = cells
        if new:
            self._add_rows(new)
        if changed:
            self._update_count += 1  # DataTable's render caches are keyed by it
        self._apply_order([key for key, _ in rows])
        if selected in wanted:
            self.move_to_key(selected)
        _, shown_after = self._visible_lines(first)
        if widened or len(shown_after) != len(shown_before):
            # a wider column moves every line; lines below the last row must be blanked (refresh_row ignores them)
            self.refresh()
            return
        for offset, (before, after) in enumerate(zip_longest(shown_before, shown_after)):
            if before != after:
                self.refresh_row(first + offset)

    def _add_rows(self, rows: dict[str, tuple]) -> None:
        """What add_row does, for many rows at once: add_row re-validates the cursor and asks for an idle
        check per row, a third of the first paint of a thousand processes."""
        columns = self.ordered_columns
        was_empty = not self.row_count
        for key, cells in rows.items():
            row_key = RowKey(key)
            self._row_locations[row_key] = len(self.rows)
            if self._shown is not None:
                cells = tuple(cells[i] for i in self._shown if i < len(cells))
            self._data[row_key] = {column.key: _literal(cell) for column, cell in zip_longest(columns, cells)}
            self.rows[row_key] = Row(row_key, 1)
            self._new_rows.add(row_key)
        self._require_update_dimensions = True
        self.cursor_coordinate = self.cursor_coordinate
        if was_empty and self.columns and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()
        self._update_count += 1
        self.check_idle()

    def get_row_at(self, row_index: int) -> list[Any]:
        """The row's cells, literal text as Text: DataTable formats a row this way when one of its cells is
        not plain (a styled status, a tab in a command line) and would read a str as markup."""
        return [Text(cell, no_wrap=True, overflow="ellipsis") if type(cell) is _Literal else cell
                for cell in super().get_row_at(row_index)]

    def _widen(self, column_key: str, cell: Any) -> bool:
        """Grow a column whose updated plain-text cell no longer fits (columns never shrink on their own)."""
        literal = _literal(cell)
        if isinstance(literal, _Literal):
            width = cell_len(literal)
        else:
            width = max(map(cell_len, literal.plain.splitlines() or [""])) if isinstance(literal, Text) else None
        column = self.columns.get(column_key)
        if width is None or column is None or width <= column.content_width:
            return False
        column.content_width = width
        self._require_update_dimensions = True
        return True

    def set_title(self, title: str) -> None:
        """Set the border title, literal text (never markup), repainting the top border only
        (`border_title = ...` repaints all)."""
        if title == self._title:
            return
        self._title = title
        self._border_title = Content(visible(title)).expand_tabs(4).split()[0]  # what border_title stores
        left, top = self.content_offset
        super().refresh(Region(-left, -top, self.outer_size.width, 1))

    def _visible_lines(self, first: int | None = None) -> tuple[int, list[tuple[str, tuple | None]]]:
        """The keys and cells of the rows on screen (rows are one line high), from row `first` on."""
        first = int(self.scroll_y) if first is None else first
        last = min(self.row_count, first + self.size.height)
        keys = [self._row_locations.get_key(index).value for index in range(first, last)]
        return first, [(key, self._cells.get(key)) for key in keys]

    def _remove_rows(self, keys: set[str]) -> None:
        """What remove_row does, for many rows at once: remove_row rebuilds the index map per row (O(n²))."""
        for key in keys:
            del self.rows[RowKey(key)]
            del self._data[RowKey(key)]
            del self._cells[key]
        locations = self._row_locations
        kept = sorted((locations.get(row_key), row_key.value) for row_key in locations if row_key.value not in keys)
        self._row_locations = TwoWayDict({RowKey(key): new for new, (_, key) in enumerate(kept)})
        self._updated_cells = {cell for cell in self._updated_cells if cell.row_key.value not in keys}
        self.cursor_coordinate = self.cursor_coordinate  # clamped to the shorter table
        self.hover_coordinate = self.hover_coordinate
        self._update_count += 1
        self._require_update_dimensions = True
        self.check_idle()

    def _apply_order(self, keys: list[str]) -> None:
        current = [self._row_locations.get_key(i).value for i in range(len(keys))] if keys else []
        if current == keys:
            return
        index = {key: i for i, key in enumerate(keys)}
        self._row_locations = TwoWayDict({row_key: index[row_key.value] for row_key in self._data})
        self._update_count += 1

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """Rows came or went: lay out again (scrollbar), but repaint everything only if a column width changed.

        New rows of plain text are measured here (their width is their cell length); DataTable measures
        every cell through Rich, which was most of the first paint of a thousand processes.
        """
        columns = self.ordered_columns
        widths = [column.get_render_width(self) for column in columns]
        measure_with_rich = []
        for row_key in new_rows:
            row = self.rows.get(row_key)
            if row is None:  # removed before the table went idle
                continue
            texts = [_plain_line(self._data[row_key].get(column.key)) for column in columns]
            if row.label is not None or row.auto_height or None in texts:
                measure_with_rich.append(row_key)
                continue
            for column, text in zip(columns, texts):
                column.content_width = max(column.content_width, cell_len(text))
        self._layout_without_repaint = True
        try:
            super()._update_dimensions(measure_with_rich)
        finally:
            self._layout_without_repaint = False
        if [column.get_render_width(self) for column in self.ordered_columns] != widths:
            # every line is drawn anew at the new widths: DataTable keys its line caches by this counter, not by
            # column widths (lines drawn right after show_only rebuilt the table stayed at the labels' widths)
            self._update_count += 1
            self.refresh()

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False, recompose: bool = False) -> "KeyedTable":
        if self._layout_without_repaint and not regions:
            repaint = False
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def render_lines(self, crop: Region) -> list[Strip]:
        """DataTable works out the widget's style (a walk over every ancestor's CSS) for each line it draws;
        within one paint it cannot change, so it is worked out once."""
        self._style_this_paint = super().rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._style_this_paint = None

    @property
    def rich_style(self) -> Style:
        return self._style_this_paint or super().rich_style

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cell_styles.clear()  # CSS (theme, focus) changed: cursor and hover styles with it

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._cell_styles.clear()

    def _render_line_in_row(self, row_key: RowKey, line_no: int, base_style: Style, cursor_location: Coordinate,
                            hover_location: Coordinate) -> tuple[list, list]:
        """A row of plain one-line text cells (all of ours), drawn without DataTable's general machinery.

        In a table sorted by CPU, one process rising to the top moves every row under it, so most
        refreshes redraw a screenful of rows; this path draws one at about half the cost."""
        row_index = self._row_locations.get(row_key)
        if (line_no or row_index is None or self.cursor_type != "row" or self.fixed_columns or self.fixed_rows
                or self.zebra_stripes or (self._labelled_row_exists and self.show_row_labels)
                or self.rows[row_key].height != 1):
            return super()._render_line_in_row(row_key, line_no, base_style, cursor_location, hover_location)
        cells = self._data[row_key]
        columns = self.ordered_columns
        texts = [_plain_line(cells.get(column.key)) for column in columns]
        if None in texts:
            return super()._render_line_in_row(row_key, line_no, base_style, cursor_location, hover_location)
        cursor, hover = cursor_location.row == row_index, hover_location.row == row_index
        padding = self.cell_padding  # reactives: read once per row, not once per cell
        flags = (cursor, hover, self.show_cursor, self._show_hover_cursor, self._pseudo_class_state)
        widths = [2 * padding + (column.content_width if column.auto_width else column.width) for column in columns]
        scrollable = [[self._plain_segment(text, width, padding, self._cell_style(base_style, row_index, index, flags))]
                      for index, (text, width) in enumerate(zip(texts, widths))]
        remaining = max(0, self.size.width - sum(widths) - self._row_label_column_width)
        scrollable.append([Segment(" " * remaining, self._cell_style(base_style, row_index, -1, flags))])
        return [], scrollable

    def _render_cell(self, row_index: int, column_index: int, base_style: Style, width: int,
                     cursor: bool = False, hover: bool = False) -> list[list[Segment]]:
        """A plain one-line text cell as a single segment, styled exactly as DataTable styles it."""
        text = None
        if row_index >= 0 and column_index >= 0:
            row_key = self._row_locations.get_key(row_index)
            if self.rows[row_key].height == 1:
                text = _plain_line(self._data[row_key].get(self._column_locations.get_key(column_index)))
        if text is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        flags = (cursor, hover, self.show_cursor, self._show_hover_cursor, self._pseudo_class_state)
        style = self._cell_style(base_style, row_index, column_index, flags)
        return [[self._plain_segment(text, width, self.cell_padding, style)]]

    @staticmethod
    def _plain_segment(text: str, width: int, padding: int, style: Style) -> Segment:
        inner = width - 2 * padding
        if inner <= 0:
            return Segment(" " * width, style)
        if cell_len(text) > inner:
            text = set_cell_size(text, inner - 1) + "…"
        return Segment(" " * padding + set_cell_size(text, inner) + " " * padding, style)

    def _cell_style(self, base_style: Style, row_index: int, column_index: int, flags: tuple) -> Style:
        """The style DataTable gives a cell (column -1: the blank that extends a row to the table's width).
        `flags`: cursor and hover on this row, then the table's show_cursor, hover and pseudo-class state."""
        key = (base_style, row_index, column_index, flags)
        style = self._cell_styles.get(key)
        if style is None:
            cursor, hover, show_cursor, show_hover_cursor, _ = flags
            if column_index < 0:
                extend_style, _ = self._get_styles_to_render_cell(
                    False, False, False, hover, cursor, show_cursor, show_hover_cursor, False, False)
                meta = Style.from_meta({"row": row_index, "column": 0, "out_of_bounds": True})
                style = base_style + extend_style + meta
            else:
                fixed = row_index < self.fixed_rows or column_index < self.fixed_columns
                component_style, post_style = self._get_styles_to_render_cell(
                    False, False, fixed, hover, cursor, show_cursor, show_hover_cursor,
                    self.cursor_foreground_priority == "css", self.cursor_background_priority == "css",
                )
                meta = Style.from_meta({"row": row_index, "column": column_index})
                style = base_style + meta + component_style + post_style
            self._cell_styles[key] = style
        return style

    def show_only(self, keys: Iterable[str]) -> None:
        """Show only the columns `keys` (in the spec's order), the others dropped until asked for again: a
        narrow terminal keeps the columns that matter whole. Rebuilds the table when the set changes."""
        wanted = set(keys)
        shown = [i for i, (key, _) in enumerate(self._column_spec) if key in wanted]
        if shown == (self._shown if self._shown is not None else list(range(len(self._column_spec)))):
            return
        order = (self._row_locations.get_key(i).value for i in range(self.row_count))
        rows = [(key, self._cells[key]) for key in order]
        selected = self.selected_key
        self._shown = None if len(shown) == len(self._column_spec) else shown
        self.clear(columns=True)
        self._cells = {}
        for index in shown:
            key, label = self._column_spec[index]
            self.add_column(label, key=key)
        self.sync(rows)
        if selected is not None:
            self.move_to_key(selected, scroll=True)

    def action_first_row(self) -> None:
        self._to_row(0)

    def action_last_row(self) -> None:
        self._to_row(self.row_count - 1)

    def _to_row(self, row: int) -> None:
        self._set_hover_cursor(False)
        if self.row_count:
            self.move_cursor(row=row, column=0, animate=False, scroll=True)
        self.scroll_x = 0

    def move_to_key(self, key: str, scroll: bool = False) -> bool:
        try:
            row = self.get_row_index(key)
        except Exception:  # RowDoesNotExist
            return False
        if row != self.cursor_row:
            self.move_cursor(row=row, animate=False, scroll=scroll)
        return True


class _Literal(str):
    """A printable one-line cell, shown exactly as it is. Cheaper than a Text for each of thousands of
    cells; only this table's own renderer sees it (DataTable's would read a str as markup)."""

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
    """Strings are shown as they are, control characters visible: DataTable would read `[kthreadd]` or `[red]`
    in a command line as markup, and an ESC byte would reach the terminal."""
    if isinstance(cell, Text) and not cell.plain.isprintable() and visible(cell.plain) != cell.plain:
        # a styled cell built around host text that kept its control characters: shown, in the cell's style
        return Text(visible(cell.plain), style=cell.style, justify=cell.justify, overflow=cell.overflow,
                    no_wrap=cell.no_wrap)
    if not isinstance(cell, str):
        return cell
    cell = visible(cell)
    return _Literal(cell) if cell.isprintable() else Text(cell, no_wrap=True, overflow="ellipsis")
