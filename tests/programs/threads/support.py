"""Start the real Python programs of tests/programs/threads and wait until their threads are in place.

Also the pytest fixtures the Threads tests share: `pyspy_works` and `program`.
"""

from __future__ import annotations

import selectors
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require_service
from tests.children import program_child
from tui.threads import pyspy

PROGRAMS = Path(__file__).resolve().parent
READY_TIMEOUT_S = 10.0


def start_program(name: str) -> subprocess.Popen:
    """Run `name` with this interpreter and return once it printed "ready"; the caller kills it."""
    process = subprocess.Popen([sys.executable, str(PROGRAMS / name)], stdout=subprocess.PIPE, text=True)
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(READY_TIMEOUT_S) or process.stdout.readline().strip() != "ready":
            process.kill()
            process.wait()
            raise RuntimeError(f"{name} did not get ready within {READY_TIMEOUT_S}s")
    return process


def stop(process: subprocess.Popen) -> None:
    process.kill()
    process.wait()
    process.stdout.close()


@pytest.fixture(scope="module")
def pyspy_works():
    """py-spy installed and allowed to attach here (root or ptrace permitted); else skip/fail via require_service."""
    if pyspy.find_pyspy() is None:
        require_service("py-spy", "the py-spy binary is not installed")
    probe = program_child(["sleep", "30"])  # not still inside exec: py-spy would see the Python parent
    try:
        pyspy.dump(probe.pid, locals_=False, native=False, timeout=5)
    except pyspy.DumpError as exc:
        if not exc.not_python:
            require_service("py-spy", exc.reason)
    finally:
        probe.kill()
        probe.wait()


@pytest.fixture
def program(pyspy_works):
    started = []

    def start(name: str) -> subprocess.Popen:
        started.append(start_program(name))
        return started[-1]

    yield start
    for process in started:
        stop(process)
