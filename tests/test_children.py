"""The test children are readable in /proc as soon as they are handed back (Popen alone is not)."""

from __future__ import annotations

from pathlib import Path

from tests.children import READY, program_child, python_child


def test_a_program_child_shows_its_own_argv_and_environment_at_once():
    for _ in range(100):  # a bare Popen showed an empty environ about once in four spawns
        child = program_child(["sleep", "30"], env={"TSHOOT_MARK": "1"})
        try:
            assert Path(f"/proc/{child.pid}/environ").read_bytes() == b"TSHOOT_MARK=1\0"
            assert Path(f"/proc/{child.pid}/cmdline").read_bytes() == b"sleep\x0030\0"
        finally:
            child.kill()
            child.wait()


def test_a_python_child_is_handed_back_after_it_said_ready():
    child = python_child(f"import time; {READY}; time.sleep(30)", "--flag", env={"TSHOOT_MARK": "2"})
    try:
        assert Path(f"/proc/{child.pid}/cmdline").read_bytes().split(b"\0")[-2] == b"--flag"
        assert b"TSHOOT_MARK=2" in Path(f"/proc/{child.pid}/environ").read_bytes()
    finally:
        child.kill()
        child.wait()
