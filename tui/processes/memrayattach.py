"""`memray attach`, for a Python process that can import memray itself: the memory trace's first choice.

memray's attach runs in an interpreter that has memray and injects its payload into the target, which then
imports memray itself; so tshoot runs the target's own interpreter (a venv's `bin/python`, found from the
process's argv[0]) as `python -I -m memray attach`. Its injection is gentler than tshoot's own gdb one: gdb
waits for the target to enter malloc/free or a Python allocator before it calls in (never inside one). It
is told to use gdb on Python 3.14 too: its sys.remote_exec path hands the target a script in a folder private
to root, which a process of another user cannot read.

The rule for running it: tshoot (root) runs a process's interpreter and memray only when root alone can
change what `python -I` would load. "Root alone" means: owned by root and not writable by group or others (a
sticky root-owned folder such as /tmp counts as safe: nobody else can replace root's entries in it), for the
path itself, every folder its resolution passes through and every symlink on the way (a symlink is judged by
what it resolves to, the whole chain). That holds for the interpreter (as started and as resolved), any
pyvenv.cfg next to it or one folder up (it names the base installation), the memray package and everything
directly in it, and every folder the interpreter would put on sys.path, with everything directly in it: the
standard library's zip, folder and lib-dynload under lib/ and lib64/ of the installation's prefix (and of the
venv's `home`), every site-packages/dist-packages folder under lib/ and lib64/ (the venv's own, the base
installation's when the venv includes them), and every folder a path line of a `.pth` file in those adds. A
folder that does not exist must sit in a folder root alone can change (nobody else could create it). The
`.pth` files are read here (never run): one with an `import` line, which the interpreter would run, refuses
memray, as does one that cannot be read within bounds. memray in a venv its user can change is refused, even
when the process is that user's own: whoever can write that venv would get root the moment an operator
traced their process. Anything refused falls back to the tracemalloc trace with the reason in its note. `-I`
keeps the environment, the user's site-packages and the current folder out. The capture, which the target
writes, is read back by the same root-owned memray run as the target's user, never as root.

Only a target in tshoot's own mount and network namespaces is traced this way (the capture path and
memray's localhost control connection mean the same thing on both sides); a containerised process gets the
tracemalloc trace.
"""

from __future__ import annotations

import math
import os
import shutil
import stat
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tui.processes.records import AllocationSite
from tui.safefile import MAX_SYMLINKS, FileRefused, parse_json, read_text

SAFE_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8"}  # gdb from root's own folders
ATTACH_TIMEOUT_S = 30.0  # memray attach: the debugger, then its control connection (memray waits 10 s)
READ_TIMEOUT_S = 60.0
OUTPUT_LIMIT = 2_000_000  # characters of the reader's JSON
SITE_ENTRIES_LIMIT = 20_000  # entries of one site-packages folder checked before giving up
PTH_FILES_LIMIT = 200  # .pth files of one site-packages folder read before giving up
PTH_LINES_LIMIT = 2_000  # lines of one .pth file
PTH_SIZE_LIMIT = 256 * 1024  # bytes of one .pth file
# setuptools' distutils-precedence.pth, in every venv `python3.11 -m venv` makes: its one line imports
# `_distutils_hack` from the same site folder (checked like the rest), so it runs nothing of anyone else's
KNOWN_PTH_CODE = {
    "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == 'local'; "
    "enabled and __import__('_distutils_hack').add_shim();",
}

# Run by the target's memray, as the target's user: the still-live allocations made while it tracked
# (memray's leaks view of an aggregated capture), biggest first, memray's own payload left out.
_READER = r'''
import json, sys, memray
path, top, frames = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
reader = memray.FileReader(path)
def ours(record):  # stack_trace() alone stops short of the payload's frames
    return any(file.endswith("_memray_attach_hook.py") for _, file, _ in record.stack_trace(max_stacks=500))
live = sorted((r for r in reader.get_leaked_allocation_records(merge_threads=True) if not ours(r)),
              key=lambda r: r.size, reverse=True)
meta = reader.metadata
print(json.dumps({
    "seconds": (meta.end_time - meta.start_time).total_seconds(),
    "growth": sum(r.size for r in live),
    "sites": [{"frames": [f"{file}:{line}" for _, file, line in reversed(r.stack_trace(max_stacks=frames))],
               "size": r.size, "count": r.n_allocations} for r in live[:top]],
}))
'''


class MemrayError(Exception):
    """memray was found but the trace with it failed; the message says why."""


@dataclass(frozen=True)
class Memray:
    """memray the traced process can import, in an installation only root can change."""

    python: str  # the target's interpreter as it was started (a venv's bin/python): memray runs with it
    site: str  # the site-packages folder memray is installed in


@dataclass(frozen=True)
class MemrayResult:
    sites: list[AllocationSite]
    growth: int
    seconds: float


def find_memray(pid: int, version: str) -> tuple[Memray | None, str]:
    """memray the target can import and root may run; otherwise None and why not ("" when there is none)."""
    major, _, minor = version.partition(".")
    if not (major.isdigit() and minor.isdigit()) or not _same_namespaces(pid):
        return None, ""
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
        python = _started_as(pid, exe)
    except OSError:
        return None, ""
    version = f"{major}.{minor}"
    config = _venv_config(python)
    prefixes = _prefixes(exe, config)
    sites = _site_folders(python, prefixes, version, config)
    site = next((folder for folder in sites if os.path.isfile(os.path.join(folder, "memray", "__init__.py"))), None)
    if site is None:
        return None, ""
    unsafe = (_not_root_only(python)
              or next((why for cfg in _venv_config_paths(python) if os.path.lexists(cfg)
                       and (why := _not_root_only(cfg))), "")
              or next((why for folder in _stdlib_folders(prefixes, version) + sites
                       if (why := _on_path_unsafe(folder))), "")
              or next((why for folder in sites if os.path.isdir(folder) and (why := _pth_unsafe(folder))), "")
              or _not_root_only(os.path.join(site, "memray"), entries=True))
    if unsafe:
        return None, (f"memray is installed in {site}, but {unsafe}: tshoot will not run it as root "
                      "(whoever can change it would get root)")
    if shutil.which("gdb", path=SAFE_ENV["PATH"]) is None:
        return None, f"memray is installed in {site}, but gdb is not (apt-get install gdb)"
    return Memray(python, site), ""


def cost_of(memray: Memray) -> str:
    return ("gdb stops the process about half a second and injects memray at its next malloc/free call; while "
            "memray tracks, allocations are about twice as slow; afterwards memray's library stays loaded in the "
            "process, inactive")


def trace(memray: Memray, pid: int, seconds: float, top: int, frames: int, capture: str, owner: os.stat_result,
          threads: Callable[[], int]) -> MemrayResult:
    """memray attach for `seconds` into `capture` (the target's own path), wait until its tracker has stopped
    (its threads gone), and read the still-live allocations back as the target's user."""
    whole = max(1, math.ceil(seconds))  # memray counts whole seconds
    threads_before = threads()
    command = [memray.python, "-I", "-m", "memray", "attach", "--method", "gdb", "--aggregate",
               "--no-compress", "--duration", str(whole), "-o", capture, str(pid)]
    started = time.monotonic()
    done = _run(command, ATTACH_TIMEOUT_S, "memray attach")
    if done.returncode != 0:
        raise MemrayError(f"memray attach could not start tracking pid {pid}: {_last_line(done)}")
    time.sleep(max(0.0, started + whole - time.monotonic()))
    deadline = time.monotonic() + ATTACH_TIMEOUT_S
    while threads() > threads_before and time.monotonic() < deadline:
        time.sleep(0.2)  # memray's timer thread ends once the tracker has written its capture and stopped
    if threads() > threads_before:
        raise MemrayError(f"memray's tracker still runs in pid {pid} {whole + ATTACH_TIMEOUT_S:g}s after it "
                          f"started (its threads have not ended): stop it with "
                          f"`{memray.python} -m memray detach {pid}`")
    reader = [memray.python, "-I", "-c", _READER, capture, str(top), str(frames)]
    done = _run(reader, READ_TIMEOUT_S, "reading memray's capture", owner)
    if done.returncode != 0:
        raise MemrayError(f"memray could not read its capture of pid {pid}: {_last_line(done)}")
    return _parsed(done.stdout[:OUTPUT_LIMIT], pid, top)


def _parsed(output: str, pid: int, top: int) -> MemrayResult:
    try:  # the capture was written by the target: any local user's code may have shaped it
        result = parse_json(output, "memray's capture")
        sites = [AllocationSite([str(frame) for frame in site["frames"]], int(site["size"]), int(site["count"]),
                                int(site["size"])) for site in list(result["sites"])[:top]]
        return MemrayResult(sites, int(result["growth"]), float(result["seconds"]))
    except FileRefused as exc:
        raise MemrayError(f"memray's capture of pid {pid} was refused: {exc}") from None
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise MemrayError(f"memray's capture of pid {pid} has an unexpected shape ({type(exc).__name__})") from None


def _run(command: list[str], timeout: float, what: str,
         owner: os.stat_result | None = None) -> subprocess.CompletedProcess[str]:
    as_user = ({"user": owner.st_uid, "group": owner.st_gid, "extra_groups": []}
               if owner is not None and os.geteuid() == 0 else {})  # not root: it runs as tshoot's user anyway
    try:
        return subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=timeout, cwd="/",
                              env=SAFE_ENV, stdin=subprocess.DEVNULL, **as_user)
    except subprocess.TimeoutExpired:
        raise MemrayError(f"{what} did not finish within {timeout:g}s") from None
    except OSError as exc:
        raise MemrayError(f"{what} could not start: {exc.strerror or exc}") from None


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[-1][:300] if lines else f"exit status {done.returncode}"


def _same_namespaces(pid: int) -> bool:
    try:
        return all(os.stat(f"/proc/{pid}/ns/{kind}").st_ino == os.stat(f"/proc/self/ns/{kind}").st_ino
                   for kind in ("mnt", "net"))
    except OSError:
        return False


def _started_as(pid: int, exe: str) -> str:
    """The interpreter path the process was started with (argv[0], from its folder or its PATH) when that is
    the binary it runs, e.g. a venv's bin/python; else the binary itself. A venv is found from this path."""
    argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    if "/" in argv0:
        candidates = [os.path.join(os.readlink(f"/proc/{pid}/cwd"), argv0)]
    else:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        path = next((entry[5:] for entry in environ if entry.startswith(b"PATH=")), b"")
        candidates = [os.path.join(folder, argv0) for folder in path.decode("utf-8", "surrogateescape").split(":")
                      if folder.startswith("/")]
    real = os.path.realpath(exe)
    return next((os.path.normpath(c) for c in candidates if os.path.realpath(c) == real and os.path.isfile(c)), exe)


def _venv_config_paths(python: str) -> list[str]:
    """Where the interpreter looks for pyvenv.cfg: next to itself, then one folder up."""
    return [os.path.join(os.path.dirname(python), "pyvenv.cfg"),
            os.path.join(os.path.dirname(os.path.dirname(python)), "pyvenv.cfg")]


def _venv_config(python: str) -> dict[str, str] | None:
    """The first pyvenv.cfg the interpreter would read, its keys lower-cased; None outside a venv."""
    for path in _venv_config_paths(python):
        try:
            text = read_text(path, 64_000)
        except OSError:
            continue
        return {key.strip().lower(): value.strip() for key, _, value in (line.partition("=") for line in
                                                                          text.splitlines())}
    return None


def _prefixes(exe: str, config: dict[str, str] | None) -> list[str]:
    """Where the standard library may come from: the binary's installation, and the one a venv's `home` names."""
    home = (config or {}).get("home", "")
    named = [os.path.dirname(home)] if home.startswith("/") else []
    return list(dict.fromkeys([os.path.dirname(os.path.dirname(os.path.realpath(exe)))] + named))


def _stdlib_folders(prefixes: list[str], version: str) -> list[str]:
    """The standard library's sys.path entries under each prefix, lib/ and lib64/ alike (present or not)."""
    return [os.path.join(prefix, lib, name) for prefix in prefixes for lib in ("lib", "lib64")
            for name in (f"python{version.replace('.', '')}.zip", f"python{version}",
                         f"python{version}/lib-dynload")]


def _site_folders(python: str, prefixes: list[str], version: str, config: dict[str, str] | None) -> list[str]:
    """The site-packages folders `python -I` would import from (present or not): its venv's, and the base
    installation's unless the venv excludes them (Debian's dist-packages included), lib/ and lib64/ alike."""
    base = [os.path.join(prefix, *tail) for prefix in prefixes for lib in ("lib", "lib64") for tail in (
            (lib, f"python{version}", "site-packages"), ("local", lib, f"python{version}", "dist-packages"),
            (lib, "python3", "dist-packages"), (lib, f"python{version}", "dist-packages"))]
    if config is None:
        return base
    venv = os.path.dirname(os.path.dirname(python))
    own = [os.path.join(venv, lib, f"python{version}", "site-packages") for lib in ("lib", "lib64")]
    shared = base if config.get("include-system-site-packages", "").lower() == "true" else []
    return own + shared


def _on_path_unsafe(path: str) -> str:
    """'' when root alone can change a sys.path entry and everything directly in it; when it does not
    exist, when root alone could create it."""
    if os.path.lexists(path):
        return _not_root_only(path, entries=True)
    parent = os.path.dirname(path)
    while parent != "/" and not os.path.lexists(parent):
        parent = os.path.dirname(parent)
    why = _not_root_only(parent)
    return f"{path} does not exist but could be created: {why}" if why else ""


def _pth_unsafe(site: str) -> str:
    """What the `.pth` files in a site folder would let someone else change, read as the interpreter reads
    them: a line that runs code, or a folder a path line adds that is not root's alone. '' when nothing."""
    try:
        names = sorted(name for name in os.listdir(site) if name.endswith(".pth") and not name.startswith("."))
    except OSError as exc:
        return f"{site} cannot be listed ({exc.strerror or exc})"
    if len(names) > PTH_FILES_LIMIT:
        return f"{site} holds more than {PTH_FILES_LIMIT} .pth files to check"
    for name in names:
        pth = os.path.join(site, name)
        try:
            lines = read_text(pth, PTH_SIZE_LIMIT).splitlines()
        except OSError as exc:
            return f"{pth} cannot be checked ({exc})"
        if len(lines) > PTH_LINES_LIMIT:
            return f"{pth} has more than {PTH_LINES_LIMIT} lines to check"
        for line in lines:
            if line.startswith("#") or not line.strip():
                continue
            if line.rstrip() in KNOWN_PTH_CODE:
                continue  # it imports only from this site folder, already checked
            if line.lstrip().startswith("import"):
                return f"{pth} has an import line, which the interpreter would run"
            folder = os.path.abspath(os.path.join(site, line.rstrip()))
            if why := _on_path_unsafe(folder):
                return f"{pth} puts {folder} on sys.path, and {why}"
    return ""


def _not_root_only(path: str, entries: bool = False) -> str:
    """'' when only root can change `path`: every folder its resolution passes through, every symlink on the
    way and what it resolves to owned by root and not writable by group or others, sticky folders excepted;
    with `entries`, when it is a folder, also everything directly inside it (a symlink judged the same way,
    by what it resolves to). Otherwise what someone else can change."""
    resolved, why = _resolved_root_only(path)
    if why or not entries or not os.path.isdir(resolved):
        return why
    try:
        with os.scandir(resolved) as listing:
            for count, entry in enumerate(listing):
                if count >= SITE_ENTRIES_LIMIT:
                    return f"{path} holds too many entries to check"
                if why := (_resolved_root_only(entry.path)[1] if entry.is_symlink() else _unsafe(entry.path)):
                    return why
    except OSError as exc:
        return f"{path} cannot be listed ({exc.strerror or exc})"
    return ""


def _resolved_root_only(path: str) -> tuple[str, str]:
    """`path` resolved component by component as the kernel does, and '' when each folder passed through
    and each symlink followed is root's alone (else the first that is not, and why)."""
    here, pending, links = "/", os.path.abspath(path).split("/")[::-1], 0
    if why := _unsafe("/"):
        return here, why
    while pending:
        name = pending.pop()
        if name in ("", "."):
            continue
        if name == "..":
            here = os.path.dirname(here)
            continue
        step = os.path.join(here, name)
        if why := _unsafe(step):
            return step, why
        if not os.path.islink(step):
            here = step
            continue
        links += 1
        try:
            target = os.readlink(step)
        except OSError as exc:
            return step, f"{step} cannot be checked ({exc.strerror or exc})"
        if links > MAX_SYMLINKS:
            return step, f"{path} passes through more than {MAX_SYMLINKS} symlinks"
        if target.startswith("/"):
            here = "/"
        pending.extend(target.split("/")[::-1])
    return here, ""


def _unsafe(path: str) -> str:
    try:
        status = os.lstat(path)
    except (OSError, ValueError) as exc:
        return f"{path} cannot be checked ({getattr(exc, 'strerror', None) or exc})"
    if status.st_uid != 0:
        return f"{path} belongs to uid {status.st_uid}"
    sticky_folder = stat.S_ISDIR(status.st_mode) and status.st_mode & stat.S_ISVTX
    if not stat.S_ISLNK(status.st_mode) and status.st_mode & 0o022 and not sticky_folder:
        return f"{path} can be written by group or others"
    return ""
