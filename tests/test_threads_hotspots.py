"""Why is it slow: the functions a busy Python process spends its CPU in, sampled without pausing it."""

from __future__ import annotations

import json
import time

from programs.threads.support import program, pyspy_works  # noqa: F401  (fixtures)
from tui.config import Config, Thresholds
from tui.source import section_from_json, section_to_json
from tui.threads.hotspots import parse_collapsed
from tui.threads.records import ThreadsSection
from tui.threads.source import ThreadsSource


def test_collapsed_stacks_give_self_and_total_shares():
    profile = parse_collapsed(
        "<module> (app.py:20);handle (app.py:14);validate (app.py:10) 75\n"
        "<module> (app.py:20);handle (app.py:13);loads (json/__init__.py:346) 20\n"
        "<module> (app.py:20) 5\n"
        "garbage line without a count\n")
    assert profile.samples == 100
    top = profile.hot[0]
    assert (top.function, top.location, top.self_percent, top.total_percent) == ("validate", "app.py:10", 75.0, 75.0)
    assert [h.function for h in profile.hot] == ["validate", "loads", "<module>"]
    assert profile.stacks[0] == ("<module> → handle → validate", 75.0)
    assert parse_collapsed("").hot == []


def test_a_busy_python_process_is_profiled_and_its_hot_function_named(program):
    process = program("hot_regex.py")
    # the bar is lowered for 2 shared CI cores; what is under test is the profile, not the threshold
    source = ThreadsSource(Config(find_stuck=False, pids=[process.pid], thresholds=Thresholds(cpu_hog_percent=30)))
    profile = None
    for _ in range(6):  # CPU% needs two readings; the profile then takes two seconds
        section = source.collect()
        profile = section.profiles.get(str(process.pid))
        if profile:
            break
        time.sleep(0.5)
    assert profile is not None and profile.samples >= 20
    assert profile.hot[0].function in {"validate", "Pattern.match", "match"}
    assert any(h.function == "validate" and h.location.endswith("hot_regex.py:9") for h in profile.hot)
    finding = next(f for f in source.analyze(section) if f.id == "hot-code" and f.subject == {"pid": process.pid})
    assert "hot_regex" in json.dumps(finding.evidence)
    again = section_from_json(ThreadsSection, json.loads(json.dumps(section_to_json(section))))
    assert again.profiles[str(process.pid)].hot == profile.hot  # snapshots carry it; replays show it


def test_idle_processes_are_never_profiled(program):
    process = program("waits_no_owner.py")
    source = ThreadsSource(Config(find_stuck=False))
    for _ in range(3):
        section = source.collect()
        time.sleep(0.3)
    assert str(process.pid) not in section.profiles


async def test_the_threads_list_puts_hung_and_swept_processes_first_and_h_shows_the_profile():
    import dataclasses

    from tests.samples import threads as sample
    from tests.uihelpers import feed, frozen_app
    from tui.threads.pane import ThreadsPane
    from tui.threads.records import HotSpot, Profile
    from widgets.dialogs import TextScreen
    from widgets.keyed_table import KeyedTable

    section = sample.section()
    swept = dataclasses.replace(section.processes["901"], pid=1200, name="python3", found_by="scan")
    section.processes["1200"] = swept
    section.profiles["902"] = Profile(pid=902, name="gunicorn", cpu_percent=97.0, samples=100, seconds=2.0,
                                      hot=[HotSpot("render", "/srv/shop/views.py:88", 71.0, 80.0)],
                                      stacks=[("handle → render", 71.0)])
    app = frozen_app()
    async with app.run_test(size=(160, 45)) as pilot:
        feed(app, "threads", section, sample.findings())
        app.action_show_pane("threads")
        await pilot.pause()
        table = app.query_one(ThreadsPane).query_one("#thr-processes", KeyedTable)
        order = [table.row_keys[i] for i in range(table.row_count)]
        assert order[:2] == ["901", "1200"]  # the deadlocked one, then the one the sweep found; the rest by pid
        assert order[2:] == sorted(order[2:], key=int)
        table.focus()
        table.move_to_key("902")
        await pilot.press("h")
        assert isinstance(app.screen, TextScreen)
        body = str(app.screen.body)
        assert "97% CPU" in body and "render (/srv/shop/views.py:88)" in body and "handle → render" in body
