"""The order of the Processes table by CPU, with hysteresis: rows move for real changes, not for noise.

At 1 Hz a process's CPU% is counted in whole clock ticks (1 % each at CLK_TCK 100), so idle processes
flicker between 0.0 and 1.0 and, sorted by CPU, swap places every second: every swap repaints two lines
and sends them to the terminal, and the operator's eye loses the row it was reading. Here a row keeps
the value it was placed by until its CPU% moves more than `CPU_HYSTERESIS` points away from it; rows
are then sorted by those values, ties in the collector's order (stable from one poll to the next).
"""

from __future__ import annotations

from typing import Callable, Iterable, TypeVar

CPU_HYSTERESIS = 1.5  # percentage points: more than one clock tick of noise at 1 Hz

Row = TypeVar("Row")


def sticky_order(rows: Iterable[Row], key: Callable[[Row], object], value: Callable[[Row], float],
                 placed: dict[object, float], reverse: bool,
                 hysteresis: float = CPU_HYSTERESIS) -> tuple[list[Row], dict[object, float]]:
    """`rows` sorted by `value`, each placed by its value at its last move while it stays within `hysteresis`
    of it. `placed` is what the previous call returned ({} for an exact sort); returns the rows and the new one."""
    now: dict[object, float] = {}
    listed = list(rows)
    for row in listed:
        current, before = value(row), placed.get(key(row))
        now[key(row)] = before if before is not None and abs(current - before) <= hysteresis else current
    return sorted(listed, key=lambda row: now[key(row)], reverse=reverse), now
