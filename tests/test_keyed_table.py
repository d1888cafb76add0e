"""KeyedTable draws the same lines as DataTable and repaints only the rows that changed."""

from __future__ import annotations

from rich.segment import Segment
from rich.text import Text
from textual.app import App, ComposeResult
from textual.render import measure
from textual.strip import Strip

from widgets.keyed_table import KeyedTable, _literal

COLUMNS = [("pid", "PID"), ("name", "NAME"), ("cmd", "COMMAND")]
ROWS = [
    ("1", ("1", "init", "/sbin/init splash")),
    ("2", ("2", "[kthreadd]", "[red]not markup[/red]")),
    ("3", ("3", "長い名前", "x" * 300)),
    ("4", ("4", "tab", "a\tb")),  # not printable: DataTable's own path
]


class TableApp(App):
    def compose(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="table")


def lines(table: KeyedTable, fast: bool) -> list[list[Segment]]:
    """Every line of the table, rendered by the fast cell path or by DataTable's general one."""
    table._line_cache.clear()
    table._row_render_cache.clear()
    table._cell_render_cache.clear()
    render_cell, render_row, data = table._render_cell, table._render_line_in_row, table._data
    if not fast:  # DataTable's renderer, given each text as a Text (a str it would read as markup)
        table._render_cell = super(KeyedTable, table)._render_cell
        table._render_line_in_row = super(KeyedTable, table)._render_line_in_row
        table._data = {row: {column: Text(cell, no_wrap=True, overflow="ellipsis") if isinstance(cell, str) else cell
                             for column, cell in cells.items()} for row, cells in data.items()}
    try:
        return [list(Strip(table._render_line(y, 0, table.size.width, table.rich_style)).simplify())
                for y in range(table.row_count + 1)]
    finally:
        table._render_cell, table._render_line_in_row, table._data = render_cell, render_row, data


async def test_plain_cells_render_exactly_as_datatable_renders_them():
    app = TableApp()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync(ROWS)
        await pilot.pause()
        for index, column in enumerate(table.ordered_columns):  # widths measured as Rich measures them
            cells = [_literal(cells[index]) for _, cells in ROWS] + [column.label]
            assert column.content_width == max(measure(app.console, cell, 1) for cell in cells)
        table.move_to_key("3")  # the cursor row has its own style
        await pilot.pause()
        assert lines(table, fast=True) == lines(table, fast=False)


async def test_short_rows_are_extended_to_the_table_width_as_datatable_extends_them():
    app = TableApp()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync(ROWS[:2])
        table.move_to_key("2")
        await pilot.pause()
        fast = lines(table, fast=True)
        assert fast == lines(table, fast=False)
        blank = fast[2][-1]  # the cursor row ends in the blank that extends it to the table's width
        assert blank.text.strip() == "" and len(blank.text) > 20 and blank.style.meta["out_of_bounds"]


async def test_sync_repaints_only_the_rows_that_changed():
    app = TableApp()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync(ROWS)
        await pilot.pause()
        table._repaint_regions.clear()
        changed = [ROWS[0], ("2", ("2", "kthreadd", "now different")), *ROWS[2:]]
        table.sync(changed)
        assert table._repaint_regions and all(region.height == 1 for region in table._repaint_regions)
        assert {region.y for region in table._repaint_regions} == {table.content_offset.y + 1 + 1}  # header, row 0, row 1
        assert str(table.get_cell("2", "cmd")) == "now different"
        table.sync(list(reversed(changed)))
        await pilot.pause()
        assert [table.row_keys[i] for i in range(4)] == ["4", "3", "2", "1"]
        table.sync(changed[:2])
        await pilot.pause()
        assert table.row_count == 2 and str(table.get_cell("1", "name")) == "init"


async def test_text_that_looks_like_markup_stays_literal_in_a_row_with_a_styled_cell():
    """A styled cell sends the whole row through DataTable's formatter, which reads a str as markup."""
    app = TableApp()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync([("1", (Text("ok", style="green"), "uvicorn[standard]", "query: a=[/x] b"))])
        await pilot.pause()
        assert table.columns[table.ordered_columns[1].key].content_width == len("uvicorn[standard]")
        text = "".join(segment.text for line in lines(table, fast=True) for segment in line)
        assert "uvicorn[standard]" in text and "query: a=[/x] b" in text


async def test_end_goes_to_the_last_row_and_keeps_the_first_columns_in_view():
    """A long command line makes the table wider than the screen: End must not scroll it sideways."""
    app = TableApp()
    async with app.run_test(size=(60, 8)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync([(str(i), (str(i), f"proc{i}", "x" * (300 if i == 7 else 10))) for i in range(30)])
        table.focus()
        await pilot.pause()
        await pilot.press("end")
        assert table.selected_key == "29" and table.scroll_x == 0
        header = "".join(segment.text for segment in table._render_line(0, 0, table.size.width, table.rich_style))
        assert "PID" in header and "NAME" in header
        await pilot.press("home")
        assert table.selected_key == "0" and table.scroll_x == 0 and table.scroll_y == 0


async def test_dropped_columns_come_back_with_the_rows_and_the_cursor_kept():
    app = TableApp()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync(ROWS[:3])
        table.move_to_key("2")
        table.show_only(["pid", "cmd"])
        await pilot.pause()
        assert [c.key.value for c in table.ordered_columns] == ["pid", "cmd"]
        assert [str(c) for c in table.get_row("3")] == ["3", "x" * 300] and table.selected_key == "2"
        table.sync([ROWS[0], ("2", ("2", "renamed", "changed")), ROWS[2]])  # cells of a dropped column change too
        table.show_only(["pid", "name", "cmd"])
        await pilot.pause()
        assert [str(c) for c in table.get_row("2")] == ["2", "renamed", "changed"] and table.selected_key == "2"
