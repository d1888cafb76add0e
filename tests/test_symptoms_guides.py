"""Guides are data: the built-in ones load and cover the contract ids; operator guides are validated with clear errors."""

from __future__ import annotations

import re

import pytest

from tui.findings import Finding
from tui.symptoms.guides import BUILTIN_ORDER, GuideError, load_guides, parse_guide

CONTRACT_IDS = ["db-connection", "http-500", "slow", "auth", "intermittent", "container-restart", "dev-prod", "hang"]

GOOD = """
id = "disk-full"
title = "Disk full"
summary = "Writes fail with ENOSPC."
meaning = "A filesystem ran out of space or inodes."
verify = "Re-run: the check passes."

[[checks]]
id = "io"
title = "Disks are not the bottleneck"
check = "io_wait"
params = { warn_percent = 10.0 }
[checks.fix]
steps = ["Delete old logs."]
commands = ["df -h"]
"""


def test_builtin_guides_cover_the_contract_ids_in_order():
    book = load_guides()
    assert list(book.guides)[: len(CONTRACT_IDS)] == CONTRACT_IDS == list(BUILTIN_ORDER)
    assert book.problems == []
    for guide in book.guides.values():
        assert guide.meaning and guide.verify and guide.checks
        assert all(c.fix.steps for c in guide.checks), f"{guide.id}: every check needs a fix"


def test_operator_guide_is_added_and_may_replace_a_builtin(tmp_path):
    (tmp_path / "disk.toml").write_text(GOOD)
    (tmp_path / "slow.toml").write_text(GOOD.replace('"disk-full"', '"slow"'))
    book = load_guides(str(tmp_path))
    assert book.get("disk-full").checks[0].params == {"warn_percent": 10.0}
    assert book.get("slow").origin == str(tmp_path / "slow.toml")


@pytest.mark.parametrize(("text", "message"), [
    ("id = [", "invalid TOML"),
    (GOOD.replace('check = "io_wait"', 'check = "no_such_check"'), "unknown check 'no_such_check'"),
    (GOOD.replace("warn_percent = 10.0", "warn_pct = 10.0"), "unknown param(s) warn_pct"),
    (GOOD.replace('id = "disk-full"', 'id = "Disk Full"'), "must be lower-case"),
    (GOOD.replace('title = "Disk full"\n', ""), "'title' must be a non-empty string"),
    (GOOD.replace('commands = ["df -h"]', 'commands = "df -h"'), "fix.commands must be a list of strings"),
    (GOOD + '\n[[checks]]\nid = "x"\ntitle = "x"\ncheck = "findings"\n', "missing param(s) ids, source"),
    (GOOD.replace("[checks.fix]", 'jump = "nowhere"\n[checks.fix]'), "jump 'nowhere' is not a pane"),
])
def test_bad_operator_guides_are_reported_by_file_and_the_rest_still_load(tmp_path, text, message):
    (tmp_path / "bad.toml").write_text(text)
    (tmp_path / "good.toml").write_text(GOOD)
    book = load_guides(str(tmp_path))
    assert "disk-full" in book.guides and "slow" in book.guides
    assert len(book.problems) == 1 and str(tmp_path / "bad.toml") in book.problems[0]
    assert message in book.problems[0]


def test_missing_guides_dir_and_unknown_guide_are_clear_errors(tmp_path):
    book = load_guides(str(tmp_path / "nope"))
    assert book.problems == [f"guides_dir {tmp_path / 'nope'}: not a folder"]
    with pytest.raises(GuideError, match="unknown guide 'nope' \\(known: db-connection, http-500"):
        book.get("nope")
    with pytest.raises(GuideError, match="needs at least one"):
        parse_guide('id="a"\ntitle="a"\nsummary="a"\nmeaning="a"\nverify="a"\n', "x.toml")


def finding(fid: str, source: str, guide: str | None = None) -> Finding:
    return Finding(fid, "warning", source, fid, "", {"pid": 1}, {}, guide)


def test_badges_and_the_guide_of_a_finding():
    book = load_guides()
    assert book.for_finding(finding("crash-loop", "containers")).id == "container-restart"
    assert book.for_finding(finding("cpu-hog", "processes")).id == "slow"
    assert book.for_finding(finding("deadlock", "threads", guide="deadlock")).id == "hang"
    assert book.for_finding(finding("env-drift", "env")).id == "dev-prod"
    assert book.for_finding(finding("made-up", "x")) is None
    found = [finding("deadlock", "threads"), finding("memory-growth", "processes"), finding("x", "y", guide="auth")]
    assert [f.id for f in book.badge(book.get("hang"), found)] == ["deadlock"]
    assert [f.id for f in book.badge(book.get("slow"), found)] == ["memory-growth"]
    assert [f.id for f in book.badge(book.get("auth"), found)] == ["x"]


# Commands that can stop, restart, kill, reconfigure or change data on a production machine.
_DISRUPTIVE = re.compile(r"\bkill\b|\bpkill\b|\brestart\b|\bsystemctl (stop|restart)\b|\bdocker (stop|rm|kill|update)\b"
                         r"|\bDROP\b|\bTRUNCATE\b|\bDELETE\b|\bUPDATE\b|pg_terminate|pg_cancel|\bKILL\b|set-ntp"
                         r"|-X (POST|PUT|PATCH|DELETE)|\breboot\b", re.IGNORECASE)


def test_no_builtin_guide_offers_a_command_that_can_take_production_down_without_saying_so():
    guides = load_guides(None).guides
    offered = [(guide.id, command) for guide in guides.values() for check in guide.checks
               for command in check.fix.commands]
    assert offered
    for guide_id, command in offered:
        if _DISRUPTIVE.search(command.split("#", 1)[0]):
            assert "# DISRUPTIVE: " in command and len(command.split("# DISRUPTIVE: ", 1)[1]) > 20, (guide_id, command)
    assert not any("kill -USR1" in command for _, command in offered)  # SIGUSR1 kills a process without faulthandler
