"""Shared helpers for the Symptoms tests: run one check of a built-in guide against a context."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tui.config import Config
from tui.snapshot import Collection
from tui.symptoms.checks import CheckContext
from tui.symptoms.guides import load_guides
from tui.symptoms.runner import CheckResult, run_check

BOOK = load_guides()


def context(config: Config | None = None, token: str | None = None,
            collection: Collection | None = None) -> CheckContext:
    return CheckContext(config or Config(), token, (lambda: collection) if collection is not None else None)


def result_of(guide_id: str, check_id: str, ctx: CheckContext) -> CheckResult:
    item = next(c for c in BOOK.get(guide_id).checks if c.id == check_id)
    return run_check(item, ctx)


# A real process that has used up its open-file limit (64) but one.
NEAR_LIMIT = """
import resource, time
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
held = []
try:
    while True:
        held.append(open("/dev/null"))
except OSError:
    held.pop().close()
print("ready", flush=True)
time.sleep(60)
"""


@pytest.fixture
def near_file_limit():
    child = subprocess.Popen([sys.executable, "-c", NEAR_LIMIT], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        yield child.pid
    finally:
        child.kill()
        child.wait()
