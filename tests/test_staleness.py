"""No number on screen looks fresher than it is: ages run on at render time, and silence is noticed."""

from __future__ import annotations

import time

from tests.samples import FROZEN_NOW
from tests.samples import processes as sample
from tests.uihelpers import feed
from tui.app import SourceStatus, TshootApp
from tui.config import Config
from tui.processes.source import ProcessesSource
from widgets.status import StatusHeader


def header(app) -> str:
    return str(app.query_one(StatusHeader).render())


async def ticked(pilot) -> None:
    """Let the app's one-second tick run twice (no poll happens in these tests: nothing is live)."""
    ticks = []
    original = pilot.app._watch_hung_polls  # the first thing each tick does

    def counting() -> None:
        ticks.append(1)
        original()

    pilot.app._watch_hung_polls = counting
    try:
        deadline = time.monotonic() + 10
        while len(ticks) < 2 and time.monotonic() < deadline:
            await pilot.pause(0.1)
    finally:
        del pilot.app._watch_hung_polls
    await pilot.pause()


async def test_the_header_uptime_runs_on_and_old_numbers_say_their_age():
    now = [FROZEN_NOW]
    app = TshootApp(Config(interval=2), clock=lambda: now[0], host="web-1")
    async with app.run_test(size=(140, 40)) as pilot:
        feed(app, "processes", sample.section(), [])
        await pilot.pause()
        assert "up 10d00h" in header(app) and "ago" not in header(app) and " old" not in header(app)
        now[0] += 3700  # nothing polled for an hour (paused, a dialog open, a hidden pane)
        await ticked(pilot)  # the header's own one-second tick, no poll
        text = header(app)
        assert "up 10d01h" in text, text
        assert "(1h01m ago)" in text and "1h01m old" in text, text


class SilentProcesses(ProcessesSource):
    """The real collector, except that its second poll stops answering for a while."""

    polls = 0

    def collect(self):
        self.polls += 1
        if self.polls == 2:
            self.silent_since = time.monotonic()
            time.sleep(4)
        return super().collect()


async def test_a_source_that_stops_answering_is_marked_within_two_intervals():
    """It used to wait for the 10 s collector timeout, whatever the interval."""
    config = Config(interval=0.5, collector_timeout=10.0)
    source = SilentProcesses(config)
    app = TshootApp(config, [source])
    async with app.run_test(size=(140, 40)) as pilot:
        deadline = time.monotonic() + 8
        while not (app.status["processes"].error or "").startswith("stale"):
            assert time.monotonic() < deadline, "never marked stale"
            await pilot.pause(0.1)
        # two intervals (or twice the first poll's time on a loaded machine) and a watchdog tick, not 10 s
        assert app._hung_after("processes") == max(2 * config.interval, 2 * app.status["processes"].took_s)
        assert time.monotonic() - source.silent_since < app._hung_after("processes") + 2 < config.collector_timeout
        assert "⚠ processes" in header(app)
        await app.workers.wait_for_complete()


async def test_database_durations_say_how_old_they_are():
    from tests.samples import databases

    now = [FROZEN_NOW]
    app = TshootApp(Config(interval=2), clock=lambda: now[0], host="web-1")
    async with app.run_test(size=(140, 40)) as pilot:
        feed(app, "databases", databases.section(), databases.findings())
        await pilot.pause()
        await pilot.press("3")
        sessions, detail = app.query_one("#db-sessions"), app.query_one("#db-detail-text")
        assert "measured" not in str(sessions.border_title)
        now[0] += 30  # the poll is slow (a failing target's connection check), or the app is paused
        await ticked(pilot)
        assert "(measured 30s ago)" in str(sessions.border_title)
        assert str(detail.render()).startswith("Durations measured 30s ago")
        feed(app, "databases", databases.section(), databases.findings())
        await pilot.pause()
        assert "measured" not in str(sessions.border_title)


async def test_guide_results_carry_the_time_they_were_measured():
    from textual.widgets import Static

    now = [FROZEN_NOW]
    app = TshootApp(Config(interval=2), clock=lambda: now[0], host="web-1")
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()  # the app's initial focus lands first
        await pilot.press("7")
        pane = app.pane("symptoms")
        assert pane.open_guide("dev-prod")
        await app.workers.wait_for_complete()
        await pilot.pause()
        ran = time.strftime("%H:%M:%S", time.localtime(FROZEN_NOW))
        assert f"ran at {ran}, 0s ago" in str(app.query_one("#heading", Static).render())
        now[0] += 180
        await ticked(pilot)
        assert f"ran at {ran}, 3m00s ago" in str(app.query_one("#heading", Static).render())


def test_a_lost_engine_socket_is_told_to_the_pane_at_once():
    """The event stream ending (the engine's socket gone) waited for the pane's next poll: up to 30 s hidden."""
    import threading

    from tui.containers.engine import EventWatcher

    told = threading.Event()
    state_when_told: list[bool] = []

    class LostSocket:  # the engine answers, then its socket goes away under the stream
        def events(self, **_):
            yield {"Type": "container", "Action": "start", "id": "abc", "time": 1, "Actor": {"Attributes": {}}}
            raise ConnectionError("socket closed")

    watcher = EventWatcher(LostSocket)

    def on_event():
        if watcher.connections and not watcher.connected:
            state_when_told.append(watcher.connected)
            told.set()

    watcher.on_event = on_event
    watcher.start()
    try:
        assert told.wait(2), "the pane was not told the stream went down"
        assert state_when_told == [False]
    finally:
        watcher.stop()


async def test_at_80_columns_the_header_keeps_its_numbers_ages_and_problems():
    now = [FROZEN_NOW]
    app = TshootApp(Config(interval=2), clock=lambda: now[0], host="a-rather-long-host-name.example.com")
    async with app.run_test(size=(80, 24)) as pilot:
        feed(app, "processes", sample.section(), [])
        await pilot.pause()
        app.status["processes"] = SourceStatus(last_ok=FROZEN_NOW, error="stale: collector has not answered for 9s")
        now[0] += 60
        await ticked(pilot)
        text = header(app)
        assert len(text) <= 80
        for part in ("load 2.71", "cpu 81%", "mem 6.9G/8.0G", "(1m00s ago)", "1m00s old", "⚠ processes"):
            assert part in text, (part, text)
        await pilot.resize_terminal(200, 24)
        await pilot.pause()
        assert "up 10d00h" in header(app) and "a-rather-long-host-name" in header(app)


async def test_container_ages_run_on_between_polls():
    from tests.samples import containers

    now = [FROZEN_NOW]
    app = TshootApp(Config(interval=2), clock=lambda: now[0], host="web-1")
    async with app.run_test(size=(140, 40)) as pilot:
        feed(app, "containers", containers.section(), containers.findings())
        await pilot.pause()
        await pilot.press("4")
        table = app.query_one("#ct-table")
        since = str(table.get_cell(table.selected_key, "since"))
        now[0] += 3600  # no poll for an hour: the container has been exited an hour longer
        await ticked(pilot)
        later = str(table.get_cell(table.selected_key, "since"))
        assert later != since and "finished 3h46m ago" in str(app.query_one("#ct-why").render())


async def test_thread_stacks_say_how_old_their_dump_is():
    from tests.samples import threads

    now = [FROZEN_NOW]
    app = TshootApp(Config(interval=2), clock=lambda: now[0], host="web-1")
    async with app.run_test(size=(140, 40)) as pilot:
        feed(app, "threads", threads.section(), threads.findings())
        await pilot.pause()
        await pilot.press("2")
        table = app.query_one("#thr-threads")
        assert "ago" not in str(table.border_title)
        now[0] += 45
        await ticked(pilot)
        assert str(table.border_title).endswith(", dumped 45s ago")


def test_a_duration_in_a_title_says_when_it_was_measured():
    from tui.findings import as_of

    at = time.strftime("%H:%M:%S", time.localtime(FROZEN_NOW))
    assert as_of("Session 4102 waits 41s for 4101: UPDATE", FROZEN_NOW) == f"Session 4102 waits 41s as of {at} for 4101: UPDATE"
    assert as_of("x idle in transaction 3m12s", FROZEN_NOW) == f"x idle in transaction 3m12s as of {at}"
    assert as_of("worker stuck ≥ 4.5s (since first seen)", FROZEN_NOW).endswith(f"4.5s as of {at} (since first seen)")
    for title in ("Deadlock in pid 901 (gunicorn)", "cache was killed (exit 137) on 3.11.2", "RSS rising 148.0 MB/min",
                  "lock at 0x7f3a5c2e1f10 in pid 12"):
        assert as_of(title, FROZEN_NOW) == title  # no duration: nothing to date
    assert as_of("waits 41s", None) == "waits 41s"  # a replay: the snapshot's time says it


async def test_overview_durations_carry_the_time_of_the_poll_that_measured_them():
    """`waits 41s` stayed on screen for a minute looking current; now it says when it was 41 s, and moves on
    with the next poll even when that poll measured the same title."""
    from tests.samples import databases
    from tui.findings import Finding

    def waits(seconds: int) -> list[Finding]:
        return [Finding("lock-wait", "critical", "databases", f"Session 4102 waits {seconds}s for 4101", "",
                        subject={"target": "t", "pid": 4102})]

    def overview_text() -> str:
        table = app.query_one("#rows")
        return " | ".join(str(cell) for i in range(table.row_count) for cell in table.get_row_at(i))

    now = [FROZEN_NOW]
    app = TshootApp(Config(interval=2), clock=lambda: now[0], host="web-1")
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        app.action_show_pane("symptoms")
        feed(app, "databases", databases.section(), waits(41))
        await pilot.pause()
        first = time.strftime("%H:%M:%S", time.localtime(FROZEN_NOW))
        assert f"waits 41s as of {first} for 4101" in overview_text(), overview_text()
        now[0] += 60  # a minute on screen without a new poll: still the 41 s of then, not of now
        await ticked(pilot)
        assert f"waits 41s as of {first} for 4101" in overview_text(), overview_text()
        feed(app, "databases", databases.section(), waits(41))  # re-measured: same title, a new time
        await pilot.pause()
        await ticked(pilot)
        later = time.strftime("%H:%M:%S", time.localtime(FROZEN_NOW + 60))
        assert f"waits 41s as of {later} for 4101" in overview_text(), overview_text()
