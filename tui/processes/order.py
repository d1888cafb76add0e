"""The order of the Processes table by CPU, with hysteresis: rows move for real changes, not for noise.

At 1 Hz a process's CPU% is counted in whole clock ticks (1 % each at CLK_TCK 100), so idle processes
flicker between 0.0 and 1.0 and, sorted by CPU, swap places every second: every swap repaints two lines
and sends them to the terminal, and the operator's eye loses the row it was reading. Here a row keeps
the value it was placed by until its CPU% moves more than `CPU_HYSTERESIS` points away from it; rows
are then sorted by those values, ties in the collector's order (stable from one poll to the next).

A row climbs at once but falls at most halfway per poll (down to the hysteresis, then to its value): a
process busy every other second (a poller, a monitoring agent) would otherwise drop into the block of
idle processes and climb out again each second, moving every row between — the whole screen, sent to
the terminal each time (docs/performance.md, "Bytes to the terminal"). One that went idle reaches its
place within a few polls (6 % -> 3 -> 1.6 -> 0).

A row among the idle ones (placed at most the hysteresis) stays there while its CPU% is at most
`NOISE_CEILING`: a process waking a few times a second reads 0, 1 or 2 ticks depending on where its
wake-ups fall against the polls, and at 2 % it climbed above the idle block and fell back a poll later,
moving every idle line on screen twice (the most frequent move measured under other people's test runs).
"""

from __future__ import annotations

from typing import Callable, Iterable, TypeVar

CPU_HYSTERESIS = 1.5  # percentage points: more than one clock tick of noise at 1 Hz
NOISE_CEILING = 2.5  # percent: two clock ticks at 1 Hz and a half, what an idle row may show and stay idle

Row = TypeVar("Row")


def sticky_order(rows: Iterable[Row], key: Callable[[Row], object], value: Callable[[Row], float],
                 placed: dict[object, float], reverse: bool,
                 hysteresis: float = CPU_HYSTERESIS,
                 noise_ceiling: float = NOISE_CEILING) -> tuple[list[Row], dict[object, float]]:
    """`rows` sorted by `value`, each placed by its value at its last move while it stays within `hysteresis`
    of it (or, placed at most `hysteresis`, while its value is at most `noise_ceiling`), and by half its last
    placement while that is higher than its value and the hysteresis. `placed` is what the previous call
    returned ({} for an exact sort); returns the rows and the new one."""
    now: dict[object, float] = {}
    listed = list(rows)
    for row in listed:
        current, before = value(row), placed.get(key(row))
        if before is None:
            now[key(row)] = current
        elif abs(current - before) <= hysteresis or before <= hysteresis and current <= noise_ceiling:
            now[key(row)] = before
        else:
            now[key(row)] = max(current, before / 2) if before / 2 > hysteresis else current
    return sorted(listed, key=lambda row: now[key(row)], reverse=reverse), now
