"""A DataTable updated in place by row key.

`clear()` + re-add on every tick loses the cursor and scroll and costs a full layout (textual#5273);
this table changes only the cells whose value changed, adds and removes only the rows that came and
went, and keeps the cursor on the same row key when the order changes.
"""

from __future__ import annotations

from typing import Any, Iterable

from rich.text import Text
from textual.widgets import DataTable
from textual._two_way_dict import TwoWayDict  # DataTable's own row-index map; Textual is pinned exactly


class KeyedTable(DataTable):
    def __init__(self, columns: Iterable[tuple[str, str]], **kwargs: Any) -> None:
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", False)
        super().__init__(**kwargs)
        self._column_spec = list(columns)
        self._cells: dict[str, tuple] = {}

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
        """Show exactly `rows` (key, cells), in this order, touching only what changed."""
        selected = self.selected_key
        wanted = dict(rows)
        column_keys = [key for key, _ in self._column_spec]
        for gone in self._cells.keys() - wanted.keys():
            self.remove_row(gone)
            del self._cells[gone]
        for key, cells in rows:
            old = self._cells.get(key)
            if old is None:
                self.add_row(*map(_literal, cells), key=key)
            elif old != cells:
                for column, (before, after) in zip(column_keys, zip(old, cells)):
                    if before != after:
                        self.update_cell(key, column, _literal(after))
            self._cells[key] = cells
        self._apply_order([key for key, _ in rows])
        if selected in wanted:
            self.move_to_key(selected)

    def _apply_order(self, keys: list[str]) -> None:
        current = [self._row_locations.get_key(i).value for i in range(len(keys))] if keys else []
        if current == keys:
            return
        index = {key: i for i, key in enumerate(keys)}
        self._row_locations = TwoWayDict({row_key: index[row_key.value] for row_key in self._data})
        self._update_count += 1
        self.refresh()

    def move_to_key(self, key: str, scroll: bool = False) -> bool:
        try:
            row = self.get_row_index(key)
        except Exception:  # RowDoesNotExist
            return False
        if row != self.cursor_row:
            self.move_cursor(row=row, animate=False, scroll=scroll)
        return True


def _literal(cell: Any) -> Any:
    """Strings are shown as they are: DataTable would read `[kthreadd]` or `[red]` in a command line as markup."""
    return Text(cell, no_wrap=True, overflow="ellipsis") if isinstance(cell, str) else cell
