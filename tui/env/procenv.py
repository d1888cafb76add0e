"""Running processes against the `.env` file in their working directory: which declared keys never
reached the process (it was started before a key was added, or by a unit that does not load the file).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tui.env.diff import SESSION_KEY
from tui.env.envfile import load_env_file
from tui.env.side import ENV, SideError
from tui.safefile import Reader, reader_of

# Keys that every login environment has: having one of them says nothing about whether the file was loaded.
_COMMON_KEY = re.compile(r"^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|LC_.*|TZ|TMPDIR)$")


@dataclass
class ProcessEnvCheck:
    pid: int
    name: str
    env_file: str
    declared: int  # keys the file declares
    missing: list[str] = field(default_factory=list)  # declared keys absent from the process's environment


@dataclass
class ProcessScan:
    checks: list[ProcessEnvCheck] = field(default_factory=list)
    unreadable: int = 0  # processes next to an env file whose environment we may not read
    problems: list[str] = field(default_factory=list)  # env files that could not be parsed


def scan_processes(configured_files: list[str], exclude_pids: set[int]) -> ProcessScan:
    """Each process whose cwd holds `.env` (or a configured env file) vs that file.

    A process counts when the file is configured, or when it already has one of the file's own keys
    (it did load the file, or part of it): a shell that merely sits in the folder is not flagged.
    """
    configured = {str(Path(p).resolve()) for p in configured_files}
    scan = ProcessScan()
    has_files: dict[str, bool] = {}
    # per folder and per user: a `.env` is read only if the process's user could read it itself (a
    # symlink to root's file in a user's folder must not reveal its key names)
    files_by_dir: dict[tuple[str, Reader | None], list[tuple[str, set[str]]]] = {}
    candidates = []
    for entry in os.listdir("/proc"):  # readlink, not psutil: this runs over every process of the host
        if not entry.isdigit() or int(entry) in exclude_pids:
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue  # exited, or another user's without root
        if cwd not in has_files:
            has_files[cwd] = any(os.path.dirname(p) == cwd for p in configured) or os.path.isfile(
                os.path.join(cwd, ".env"))
        if not has_files[cwd]:
            continue
        key = (cwd, reader_of(int(entry)))
        if key not in files_by_dir:
            files_by_dir[key] = _env_files_in(cwd, configured, scan.problems, key[1])
        if files_by_dir[key]:
            candidates.append((int(entry), key))
    reported: dict[int, tuple[str, tuple[str, ...]]] = {}
    for pid, key in sorted(candidates, key=lambda candidate: candidate[0]):
        try:
            process = psutil.Process(pid)
            name, ppid = process.name(), process.ppid()
            environ = process.environ()
        except (psutil.AccessDenied, psutil.ZombieProcess):
            scan.unreadable += 1
            continue
        except psutil.NoSuchProcess:
            continue
        for path, declared in files_by_dir[key]:
            if path not in configured and not any(_telling(key) and key in environ for key in declared):
                continue
            missing = sorted(declared - environ.keys())
            if not missing or reported.get(ppid) == (path, tuple(missing)):
                continue  # workers of a parent already reported share its environment
            reported[pid] = (path, tuple(missing))
            scan.checks.append(ProcessEnvCheck(pid, name or "?", path, len(declared), missing))
    return scan


def _telling(key: str) -> bool:
    return not _COMMON_KEY.match(key) and not SESSION_KEY.match(key)


def _env_files_in(directory: str, configured: set[str], problems: list[str],
                  reader: Reader | None) -> list[tuple[str, set[str]]]:
    """The env files of a folder: the configured ones (the operator named them), and `.env` if the
    process's user (`reader`; None: the process is gone) could read it."""
    paths = {p for p in configured if os.path.dirname(p) == directory}
    dotenv = os.path.join(directory, ".env")
    if os.path.isfile(dotenv):
        paths.add(dotenv)
    files = []
    for path in sorted(paths):
        if path not in configured and reader is None:
            continue
        try:
            files.append((path, set(load_env_file(path, reader=None if path in configured else reader).domains[ENV])))
        except SideError as exc:
            if str(exc) not in problems:
                problems.append(str(exc))
    return files


def tshoot_family() -> set[int]:
    """tshoot and the shells above it: their environment is the operator's, not an app's. (tshoot's own
    children are short-lived probes; they are not excluded, so a tested child process is seen.)"""
    me = psutil.Process()
    return {me.pid} | {parent.pid for parent in me.parents()}
