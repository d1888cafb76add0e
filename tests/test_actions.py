"""The action log's contract: an outcome is what the action verified afterwards, never what it asked for."""

from __future__ import annotations

from tui.actions import Action, ActionLog, Verified

ACTION = Action("SIGTERM", "processes", "pid 42 (app)", {"pid": 42})


def test_only_a_verified_effect_is_done():
    log = ActionLog(read_only=False)
    assert log.perform(ACTION, lambda: Verified(True, "pid 42 exited")).outcome == "done"
    entry = log.perform(ACTION, lambda: Verified(False, "pid 42 is still running after 3s"))
    assert (entry.outcome, entry.message) == ("no effect", "pid 42 is still running after 3s")


def test_a_run_that_reports_nothing_verified_is_never_done():
    entry = ActionLog(read_only=False).perform(ACTION, lambda: "sent SIGTERM")  # an old-style run: unverified
    assert entry.outcome == "failed" and "did not report what it verified" in entry.message


def test_failures_and_read_only_are_logged_as_such():
    def broken() -> Verified:
        raise PermissionError("not allowed")

    assert ActionLog(read_only=False).perform(ACTION, broken).outcome == "failed"
    assert ActionLog(read_only=True).perform(ACTION, lambda: Verified(True, "x")).outcome == "refused"
