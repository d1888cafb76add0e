"""Start the real Python programs of tests/programs/threads and wait until their threads are in place.

Also the pytest fixtures the Threads tests share: `pyspy_works` and `program`, and `interpreter` for a program
run by another CPython version than the tests' own.
"""

from __future__ import annotations

import functools
import os
import selectors
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require_service
from tests.children import program_child
from tui.threads import pyspy

PROGRAMS = Path(__file__).resolve().parent
READY_TIMEOUT_S = 10.0
PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"


@functools.cache
def interpreter(version: str) -> str:
    """A CPython `version` ("3.12") interpreter: this one if it is that version, else a pyenv install of it or
    python3.12 on PATH that says it is that version (a pyenv shim of a version not selected does not run);
    without one the test is skipped (failed under TSHOOT_REQUIRE_SERVICES=1)."""
    if version == f"{sys.version_info.major}.{sys.version_info.minor}":
        return sys.executable
    candidates = [*sorted(PYENV_VERSIONS.glob(f"{version}.*/bin/python{version}"), reverse=True),
                  shutil.which(f"python{version}")]
    for candidate in filter(None, candidates):
        try:
            said = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                  capture_output=True, text=True, timeout=READY_TIMEOUT_S).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            continue
        if said == version:
            return str(candidate)
    require_service(f"CPython {version}",
                    f"no python{version} that runs under {PYENV_VERSIONS} or on PATH (pyenv install {version})")


def start_program(name: str, python: str = sys.executable) -> subprocess.Popen:
    """Run `name` with `python` and return once it printed "ready"; the caller kills it."""
    process = subprocess.Popen([python, str(PROGRAMS / name)], stdout=subprocess.PIPE, text=True)
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

    def start(name: str, python: str = sys.executable) -> subprocess.Popen:
        started.append(start_program(name, python))
        return started[-1]

    yield start
    for process in started:
        stop(process)
