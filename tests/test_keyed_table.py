"""KeyedTable, row by row through a real Pilot: it draws what DataTable draws, keeps the cursor on its row
key, moves with the keys and the mouse, and repaints only what changed."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.scroll_view import ScrollView
from textual.widgets import DataTable

from widgets.keyed_table import KeyedTable

COLUMNS = [("pid", "PID"), ("name", "NAME"), ("cmd", "COMMAND")]
ROWS = [
    ("1", ("1", "init", "/sbin/init splash")),
    ("2", ("2", "[kthreadd]", "[red]not markup[/red]")),
    ("3", ("3", "長い名前", "x" * 300)),
    ("4", ("4", "ok", Text("styled", style="green"))),
]


class Recorder(ScrollView):
    """Remembers the regions KeyedTable asks Textual to repaint (None: all of it)."""

    repainted: list[Region | None] = []

    def refresh(self, *regions, **kwargs):
        if kwargs.get("repaint", True) and not kwargs.get("layout"):
            self.repainted.extend(regions or [None])
        return super().refresh(*regions, **kwargs)


class RecordingTable(KeyedTable, Recorder):
    """KeyedTable first: what is recorded is what it passes on."""


class TableApp(App):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list = []

    def compose(self) -> ComposeResult:
        yield RecordingTable(COLUMNS, id="table")

    def on_keyed_table_row_highlighted(self, event: KeyedTable.RowHighlighted) -> None:
        self.messages.append(("highlighted", event.key))

    def on_keyed_table_row_selected(self, event: KeyedTable.RowSelected) -> None:
        self.messages.append(("selected", event.key))

    def on_keyed_table_header_selected(self, event: KeyedTable.HeaderSelected) -> None:
        self.messages.append(("header", event.column_key))


class BothApp(App):
    """A KeyedTable above a DataTable with the same rows, for comparing what they draw."""

    def compose(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="keyed")
        yield DataTable(id="data", cursor_type="row")


def text_lines(table: KeyedTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


def numbered(count: int) -> list[tuple[str, tuple]]:
    return [(str(i), (str(i), f"proc{i}", f"cmd {i}")) for i in range(count)]


async def test_lines_are_drawn_as_datatable_draws_them():
    app = BothApp()
    async with app.run_test(size=(80, 20)) as pilot:
        keyed, data = app.query_one(KeyedTable), app.query_one(DataTable)
        keyed.styles.height = data.styles.height = 8
        keyed.sync(ROWS)
        data.add_columns(*(label for _, label in COLUMNS))
        for _, cells in ROWS:  # DataTable reads a str as markup: given as Text, as KeyedTable shows it
            data.add_row(*(Text(c, no_wrap=True, overflow="ellipsis") if isinstance(c, str) else c for c in cells))
        keyed.move_cursor(row=2)
        data.move_cursor(row=2)
        app.set_focus(None)
        await pilot.pause()
        for y in range(6):  # header, four rows (one styled, the cursor on a wide one), a blank line
            ours, theirs = keyed.render_line(y), data.render_line(y)
            assert drawn_cells(ours) == drawn_cells(theirs), y
        # DataTable sends a style sequence per cell; a line of plain cells here is one segment
        assert [len(keyed.render_line(y)) for y in (1, 2, 3)] == [1, 1, 1]
        assert len(keyed.render_line(4)) > 1  # the styled cell keeps its own style


def drawn_cells(strip) -> list[tuple[str, Style]]:
    """What a line shows, cell by cell: each character and its style (DataTable's per-cell metadata, which
    the terminal never sees, left out)."""
    return [(char, segment.style.clear_meta_and_links()) for segment in strip for char in segment.text]


async def test_keys_move_the_cursor_and_scroll():
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync([(str(i), (str(i), f"proc{i}", "x" * (300 if i == 7 else 10))) for i in range(100)])
        table.focus()
        await pilot.pause()
        page = table.scrollable_content_region.height - 1  # rows under the header
        await pilot.press("down", "down")
        assert table.selected_key == "2" and table.scroll_y == 0
        await pilot.press("pagedown")
        assert table.cursor_row == 2 + page and table.cursor_row < table.scroll_y + page
        await pilot.press("end")  # the last row, and the first columns still in view
        assert table.selected_key == "99" and table.scroll_y == 100 - page and table.scroll_x == 0
        assert "PID" in table.render_line(0).text and "99" in table.render_line(page).text
        await pilot.press("pageup")
        assert table.cursor_row == 99 - page
        await pilot.press("right")  # sideways: the long command line
        assert table.scroll_x > 0 and table.cursor_row == 99 - page
        await pilot.press("home")
        assert table.selected_key == "0" and table.scroll_x == 0 and table.scroll_y == 0
        assert ("highlighted", "99") in app.messages


async def test_the_cursor_stays_on_its_row_when_rows_move_or_go():
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(KeyedTable)
        rows = numbered(30)
        table.sync(rows)
        table.move_to_key("5")
        await pilot.pause()
        table.sync(list(reversed(rows)))  # sorted the other way: the row moved to 24, the cursor with it
        assert table.selected_key == "5" and table.cursor_row == 24
        assert 24 - table.scroll_y < table.scrollable_content_region.height - 1  # and in view
        table.sync([row for row in reversed(rows) if row[0] != "5"])  # the row went: the cursor keeps its place
        assert table.cursor_row == 24 and table.selected_key == "4"
        table.sync([("4", ("4", "filtered", "in"))])  # a filter left one row
        assert table.selected_key == "4" and table.row_count == 1
        table.sync([])
        assert table.selected_key is None and table.row_count == 0
        await pilot.pause()
        assert table.render_line(1).text.strip() == ""


async def test_sorting_and_filtering_as_the_panes_do():
    """Panes sort and filter their records and sync the result: order, cells and cursor follow."""
    app = TableApp()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(KeyedTable)
        records = [(pid, name, cpu) for pid, name, cpu in [("10", "nginx", 5.0), ("11", "postgres", 40.0),
                                                             ("12", "redis", 12.5), ("13", "nginx-w", 1.0)]]
        by_cpu = sorted(records, key=lambda r: r[2], reverse=True)
        table.sync([(pid, (pid, name, f"{cpu:5.1f}")) for pid, name, cpu in by_cpu])
        table.move_to_key("12")
        assert table.row_keys == ["11", "12", "10", "13"]
        by_name = sorted(records, key=lambda r: r[1])
        table.sync([(pid, (pid, name, f"{cpu:5.1f}")) for pid, name, cpu in by_name])
        assert table.row_keys == ["10", "13", "11", "12"] and table.selected_key == "12"
        table.sync([(pid, (pid, name, f"{cpu:5.1f}")) for pid, name, cpu in by_name if "nginx" in name])
        assert table.row_keys == ["10", "13"] and table.get_cell("13", "name") == "nginx-w"
        await pilot.pause()
        assert [line.split()[:2] for line in text_lines(table)[1:3]] == [["10", "nginx"], ["13", "nginx-w"]]


async def test_sync_repaints_only_the_cells_and_rows_that_changed():
    app = TableApp()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(RecordingTable)
        table.sync(ROWS[:3])
        await pilot.pause()
        table.repainted = []
        table.sync([ROWS[0], ("2", ("2", "kthread", "[red]not markup[/red]")), ROWS[2]])  # one cell of row 1
        name = table.columns["name"]
        start = table.columns["pid"].render_width(1)
        assert table.repainted == [Region(start, 2, name.render_width(1), 1)]  # line 0 is the header
        table.repainted = []
        table.sync([ROWS[0], ROWS[2], ("2", ("2", "kthread", "[red]not markup[/red]"))])  # rows 1 and 2 swapped
        assert sorted(region.y for region in table.repainted) == [2, 3] and all(
            region.x == 0 and region.width >= 80 for region in table.repainted)
        table.repainted = []
        table.set_title("3 processes")  # the top border line only
        assert table.repainted == [Region(0, 0, 80, 1)]  # this table has no border: its top line
        assert table.border_title == "3 processes"
        table.repainted = []
        table.sync([ROWS[0], ROWS[2], ("2", ("2", "kthread", "[red]not markup[/red]"))])  # nothing changed
        assert table.repainted == []


async def test_a_click_highlights_a_row_a_second_selects_it_and_a_header_click_names_its_column():
    app = TableApp()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync(numbered(5))
        await pilot.pause()
        app.messages.clear()
        await pilot.click(KeyedTable, offset=(3, 3))  # the header, rows 0, 1, 2
        assert table.selected_key == "2" and app.messages == [("highlighted", "2")]
        await pilot.click(KeyedTable, offset=(3, 3))
        assert app.messages[-1] == ("selected", "2")
        await pilot.click(KeyedTable, offset=(table.columns["pid"].render_width(1) + 3, 0))
        assert app.messages[-1] == ("header", "name")
        await pilot.press("enter")
        assert app.messages[-1] == ("selected", "2")


async def test_columns_dropped_on_a_narrow_terminal_come_back_with_the_rows_and_the_cursor_kept():
    app = TableApp()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync(ROWS[:3])
        table.move_to_key("2")
        table.show_only(["pid", "cmd"])
        await pilot.pause()
        assert list(table.columns) == ["pid", "cmd"] and table.get_row("3") == ["3", "x" * 300]
        line = table.render_line(1).text
        assert line.startswith(" 1    /sbin/init splash ") and len(line) == table.size.width == 80
        table.sync([ROWS[0], ("2", ("2", "renamed", "changed")), ROWS[2]])  # cells of a dropped column change too
        table.show_only(["pid", "name", "cmd"])
        await pilot.pause()
        assert table.get_row("2") == ["2", "renamed", "changed"] and table.selected_key == "2"
        assert table.columns["cmd"].content_width == 300  # measured from the rows it shows


async def test_host_text_is_shown_literally_control_characters_escaped():
    app = TableApp()
    async with app.run_test(size=(100, 12)) as pilot:
        table = app.query_one(KeyedTable)
        hostile = "evil\x1b[2J\x07\tname\n[bold]x[/bold]"
        table.sync([("1", ("1", hostile, Text("down \x1b]0;pwned\x07", style="red")))])
        await pilot.pause()
        line = table.render_line(1).text
        assert "\x1b" not in line and "\x07" not in line and "\n" not in line
        assert "\\x1b[2J" in line and "[bold]x[/bold]" in line and "\\x1b]0;pwned" in line


async def test_rows_coming_and_going_in_a_full_table_ask_for_no_layout_and_move_the_scrollbar_only_when_drawn():
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(RecordingTable)
        table.sync(numbered(100))
        await pilot.pause()
        bar = table.vertical_scrollbar
        layouts, bar_repaints = [], []
        table.refresh = lambda *regions, **kw: (layouts.append(kw) if kw.get("layout") else None,
                                                RecordingTable.refresh(table, *regions, **kw))[1]
        bar.refresh = lambda *regions, **kw: (bar_repaints.append(regions), type(bar).refresh(bar, *regions, **kw))[1]
        table.repainted = []
        table.sync(numbered(100) + [("new", ("100", "late", "cmd"))])  # a row more, below the view
        assert layouts == [] and table.repainted == [] and bar.window_virtual_size == 102
        await pilot.pause()
        assert bar_repaints == []  # one line in a hundred does not move the thumb by a cell
        table.sync(numbered(50))  # half of them went: the thumb grows, and is redrawn
        assert layouts == [] and bar.window_virtual_size == 51 and bar_repaints
        await pilot.press("end")
        table.sync(numbered(20))  # the view ended past the last row: it moves up to it
        assert table.scroll_y == table.max_scroll_y and "19" in text_lines(table)[-1]


async def test_a_layout_pass_for_another_widget_does_not_redraw_the_scrollbar():
    """Textual redraws a Line API widget's scrollbars at every layout pass unless KeyedTable's
    `_size_updated` keeps them: this fails if a Textual upgrade stops calling it."""
    from textual.widgets import Static

    class WithText(TableApp):
        def compose(self) -> ComposeResult:
            yield Static("a hidden pane's text", id="text")
            yield from super().compose()

    app = WithText()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(RecordingTable)
        table.sync(numbered(100))
        await pilot.pause()
        bar = table.vertical_scrollbar
        repaints = []
        bar.refresh = lambda *regions, **kw: (repaints.append(regions), type(bar).refresh(bar, *regions, **kw))[1]
        app.query_one("#text", Static).update("new text, a layout pass")
        await pilot.pause()
        assert repaints == []
        table.sync(numbered(100) + [("wide", ("100", "x" * 70, "wider than the screen"))])  # a new column width
        await pilot.pause()
        assert repaints  # the table's own sizes changed: its scrollbars are told


async def test_a_moved_row_repaints_its_line_up_to_the_longer_text_and_a_new_title_its_span():
    app = TableApp()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(RecordingTable)
        top = ("0", ("0", "c", "the cursor's"))
        table.sync([top, ("1", ("1", "a", "short")), ("2", ("2", "b", "a longer command"))])
        table.set_title("2 processes")
        await pilot.pause()
        table.repainted = []
        table.sync([top, ("2", ("2", "b", "a longer command")), ("1", ("1", "a", "short"))])
        start = sum(column.render_width(1) for column in table.ordered_columns[:2])
        end = start + 1 + len("a longer command")
        assert end < table.size.width  # past the text, the blank rest of the line is not sent again
        assert sorted(table.repainted) == [Region(0, 2, end, 1), Region(0, 3, end, 1)]
        table.repainted = []
        table.set_title("10 processes")
        assert table.repainted == [Region(0, 0, len("10 processes") + 4, 1)]  # not the rest of the top line


async def test_a_wider_last_column_repaints_what_changed_a_wider_middle_column_everything():
    app = TableApp()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(RecordingTable)
        rows = numbered(20)
        table.sync(rows)
        await pilot.pause()
        table.repainted = []
        rows[3] = ("3", ("3", "proc3", "a command longer than any before it"))
        table.sync(rows)  # the command column widens: nothing else moves
        assert None not in table.repainted and [region.y for region in table.repainted] == [4]
        await pilot.pause()
        assert text_lines(table)[4].split()[:3] == ["3", "proc3", "a"]
        table.repainted = []
        rows[3] = ("3", ("3", "a-longer-name", "cmd 3"))
        table.sync(rows)  # the name column widens: every command moves right
        assert table.repainted == [None]
