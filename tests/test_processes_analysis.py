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
