"""Judging a processes section: what counts as a leak, a hog, and who is never judged."""

from __future__ import annotations

import dataclasses

from tests.samples import processes as sample
from tui.config import Thresholds
from tui.processes.analysis import analyze

MB = 2**20


def ids_for(section, pid):
    return sorted(f.id for f in analyze(section, Thresholds()) if f.subject.get("pid") == pid)


def test_the_sample_leak_and_hog_are_found():
    section = sample.section()
    assert ids_for(section, 901) == ["memory-growth"] and ids_for(section, 1200) == ["cpu-hog"]


def test_a_small_warm_up_is_not_a_leak_however_steep():
    section = sample.section()
    row = next(r for r in section.rows if r.pid == 901)
    # 1 MB more in 3 seconds is 20 MB/min, but only 1 MB: start-up, not a leak
    row.trend = dataclasses.replace(row.trend, window_s=3, rss_first=row.rss - MB, rss_slope_mb_per_min=20)
    assert ids_for(section, 901) == []


def test_tshoot_never_judges_itself():
    section = sample.section()
    section.inspector_pid = 1200
    assert ids_for(section, 1200) == []
    assert ids_for(section, 901) == ["memory-growth"]


def test_cpu_order_moves_a_row_only_for_a_change_beyond_the_hysteresis():
    from tui.processes.order import CPU_HYSTERESIS, sticky_order

    cpu = {1: 0.0, 2: 1.0, 3: 0.0, 4: 30.0}
    ordered, placed = sticky_order(cpu, lambda pid: pid, cpu.get, {}, reverse=True)
    assert ordered == [4, 2, 1, 3]
    noisy = {1: 1.0, 2: 0.0, 3: 1.0, 4: 29.0}  # a clock tick either way: nobody moves
    ordered, placed = sticky_order(noisy, lambda pid: pid, noisy.get, placed, reverse=True)
    assert ordered == [4, 2, 1, 3]
    woke = {1: 1.0 + CPU_HYSTERESIS + 0.5, 2: 0.0, 3: 1.0, 4: 29.0}  # pid 1 really woke up: it climbs
    ordered, placed = sticky_order(woke, lambda pid: pid, woke.get, placed, reverse=True)
    assert ordered == [4, 1, 2, 3] and placed[1] == woke[1]
    assert sticky_order(woke, lambda pid: pid, woke.get, {}, reverse=True)[0] == [4, 1, 3, 2]  # exact when asked


def test_cpu_order_lets_a_row_fall_halfway_per_poll_so_the_idle_block_stays_put():
    from tui.processes.order import sticky_order

    idle = {pid: 0.0 for pid in range(10, 20)}  # the screenful of idle processes under the busy ones
    placed: dict = {}
    for busy in (6.4, 0.0, 6.2, 0.0, 6.4):  # a poller busy every other second
        cpu = idle | {99: busy}
        ordered, placed = sticky_order(cpu, lambda pid: pid, cpu.get, placed, reverse=True)
        assert ordered == [99, *idle]  # it stays on top: the lines under it do not move
    gone_idle = idle | {99: 0.0}
    for still_above in (True, True, False):  # 6.4 -> 3.2 -> 1.6 -> its place among the idle (0)
        ordered, placed = sticky_order(gone_idle, lambda pid: pid, gone_idle.get, placed, reverse=True)
        assert (ordered[0] == 99) is still_above
    assert ordered == [*idle, 99] and placed[99] == 0.0


def test_cpu_order_keeps_a_process_reading_two_ticks_among_the_idle_but_lets_a_busy_one_climb():
    from tui.processes.order import NOISE_CEILING, sticky_order

    idle = {pid: 0.0 for pid in range(10, 20)}
    busy = {1: 40.0, 2: 12.0}
    placed: dict = {}
    for ticks in (0.0, 2.0, 0.0, 1.9, 2.0, 1.0, NOISE_CEILING):  # a process waking a few times a second
        cpu = busy | idle | {15: ticks}
        ordered, placed = sticky_order(cpu, lambda pid: pid, cpu.get, placed, reverse=True)
        assert ordered == [1, 2, *idle]  # never above the idle block: no idle line moves
    assert placed[15] == 0.0
    newcomer = busy | idle | {15: 0.0, 99: 0.0}  # first seen: the collector has no rate yet
    ordered, placed = sticky_order(newcomer, lambda pid: pid, newcomer.get, placed, reverse=True)
    woke = busy | idle | {15: NOISE_CEILING + 0.5, 99: 30.0}  # then really busy, both of them
    ordered, placed = sticky_order(woke, lambda pid: pid, woke.get, placed, reverse=True)
    assert ordered[:4] == [1, 99, 2, 15]  # at once, each by its value
    assert sticky_order(cpu, lambda pid: pid, cpu.get, {}, reverse=True)[0][2] == 15  # exact when asked
