"""Column widths that fit a table into its width: one column (a query, a URL) takes what the others leave.

KeyedTable sizes a column to the widest cell it has shown and never narrower again, so a long free-text
column pushes the table wider than the screen. A pane describes its columns once — fixed width
(numbers and ages, right-aligned), fitted to content up to a cap (names), or the one flexible column — and
calls `fit_columns` when its rows or its size change.

When even the narrowest widths do not fit (an 80-column SSH window), columns are dropped in the order each
pane states (`drop`: the highest number goes first; 0 is never dropped), so the ones that matter stay whole.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text

from widgets.keyed_table import KeyedTable

SHORT = 8  # a fitted column is not cut below this many cells of its content


@dataclass(frozen=True)
class ColumnFit:
    key: str
    label: str
    width: int = 0  # > 0: always this wide (numbers, ages); 0: as wide as the content, up to `cap`
    cap: int = 30
    right: bool = False  # right-aligned: cells are padded by `align`, the header by its justification
    flexible: bool = False  # takes the width the other columns leave, at least `cap`
    drop: int = 0  # when the table is too narrow for every column: dropped highest first; 0 is always shown
    least: int = 0  # a fitted column is not cut below this many cells (else: its label, or `SHORT`); the
    # flexible column gets `cap` when the others can give it that, else at least `least`

    def align(self, value: str) -> str:
        """The cell text as this column shows it: right-aligned columns are padded to their width."""
        return value.rjust(self.width) if self.right else value


def columns_spec(columns: list[ColumnFit]) -> list[tuple[str, str]]:
    """(key, label) pairs, as KeyedTable takes them."""
    return [(column.key, column.label) for column in columns]


def aligned(columns: list[ColumnFit], values: tuple) -> tuple:
    """A row's cells as the columns show them (right-aligned ones padded)."""
    return tuple(column.align(value) for column, value in zip(columns, values))


def fitted_widths(columns: list[ColumnFit], rows: list[tuple], available: int, padding: int = 1) -> list[int]:
    """The width of each column's content so that the row fits `available` cells, when it can.

    Fitted columns get their widest cell (or label) up to their cap; if that leaves the flexible column
    less than its minimum, the widest fitted columns give up cells first — never below their label, nor
    below `SHORT` cells of their content, so short values ("app", "shop") stay whole.
    """
    widths, floors = [], {}
    for index, column in enumerate(columns):
        if column.width or column.flexible:
            widths.append(column.width)
            continue
        content = max((cell_len(str(row[index])) for row in rows), default=0)
        label = cell_len(column.label)
        widths.append(min(column.cap, max(content, label)))
        floors[index] = min(widths[-1], max(label, min(content, column.least or SHORT)))
    flexible = next((i for i, column in enumerate(columns) if column.flexible), None)
    if flexible is None:
        return widths
    minimum = columns[flexible].cap
    spare = available - sum(widths) - 2 * padding * len(columns)
    if spare + sum(widths[i] - floors[i] for i in floors) < minimum:
        minimum = columns[flexible].least or minimum  # narrow: the others keep what they can, it gets `least`
    while spare < minimum:
        shrinkable = [i for i in floors if widths[i] > floors[i]]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: widths[i])
        widths[widest] -= 1
        spare += 1
    widths[flexible] = max(minimum, spare)
    return widths


def columns_kept(columns: list[ColumnFit], rows: list[tuple], available: int, padding: int = 1) -> list[int]:
    """The indices of the columns to show in `available` cells: all when their narrowest widths fit, else
    without the ones with the highest `drop` until the rest fits (or only the never-dropped ones are left)."""
    def narrowest(index: int) -> int:
        column = columns[index]
        if column.width or column.flexible:
            return column.width or column.least or column.cap
        content = max((cell_len(str(row[index])) for row in rows), default=0)
        label = cell_len(column.label)
        return min(column.cap, max(content, label), max(label, min(content, column.least or SHORT)))

    kept = list(range(len(columns)))
    while sum(narrowest(i) + 2 * padding for i in kept) > available:
        droppable = [i for i in kept if columns[i].drop]
        if not droppable:
            break
        kept.remove(max(droppable, key=lambda i: columns[i].drop))
    return kept


def drop_to_fit(table: KeyedTable, keys: list[str], usual: dict[str, int], drop_order: list[str], room: int) -> None:
    """For a table whose columns size to their content: drop the columns of `drop_order`, in order, until the
    others at their `usual` widths leave `room` cells (for the last, free-text column), and show the rest.
    The choice depends on the width alone, so rows coming and going never make columns flicker."""
    available = table.scrollable_content_region.width
    if available <= 0:  # not laid out yet: the next resize fits it
        return
    kept = list(keys)
    padding = 2 * table.cell_padding
    for key in drop_order:
        if sum(usual.get(k, 0) + padding for k in kept) + room <= available:
            break
        kept.remove(key)
    table.show_only(kept)


def fit_columns(table: KeyedTable, columns: list[ColumnFit], rows: list[tuple]) -> None:
    """Give `table`'s columns the widths that fit its current width, dropping the columns the pane lets go
    first when they cannot all fit; repaint only when something changed."""
    available = table.scrollable_content_region.width
    if available <= 0:  # not laid out yet: the next resize fits it
        return
    kept = columns_kept(columns, rows, available, table.cell_padding)
    table.show_only([columns[i].key for i in kept])
    columns = [columns[i] for i in kept]
    rows = [tuple(row[i] for i in kept) for row in rows]
    changed = False
    for column, width in zip(columns, fitted_widths(columns, rows, available, table.cell_padding)):
        shown = table.columns[column.key]
        if shown.auto_width or shown.width != width:
            shown.auto_width, shown.width = False, width
            if column.right:
                shown.label = Text(column.label, justify="right")
            changed = True
    if changed:
        table.update_columns()
