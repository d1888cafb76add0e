"""Which log files to follow: the ones named (`--log`, `log_paths`), the ones running processes are writing,
and the usual places of nginx, apache, PostgreSQL and MariaDB logs. Each says how it was found.

A process's log file is found through /proc/PID/fd: a link to a file ending in .log/.err/_log or under /var/log,
opened for writing (fdinfo flags). A process in another mount namespace (a container) names a path in its own
tree: it is opened through /proc/PID/root, so the file read is the one the process writes.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass

from tui.config import Config
from tui.safefile import Reader, reader_of

LOG_NAME = re.compile(r"(?:\.log|\.err|_log)$")
# Binary files under /var/log (login records, the journal), MariaDB's binary recovery logs, and Docker's own
# copies of container output (read from the engine instead) are not log lines.
NOT_TEXT = re.compile(r"^/var/log/journal/|\.journal~?$|/(?:wtmp|btmp|lastlog|faillog)(?:\.\d+)?$|"
                      r"/(?:ddl_recovery|tc)\.log$|/containers/[0-9a-f]{64}/[0-9a-f]{64}-json\.log$")
WELL_KNOWN: tuple[tuple[str, str], ...] = (
    ("/var/log/nginx/access.log", "nginx's usual place"),
    ("/var/log/nginx/error.log", "nginx's usual place"),
    ("/var/log/apache2/access.log", "apache's usual place"),
    ("/var/log/apache2/error.log", "apache's usual place"),
    ("/var/log/httpd/access_log", "apache's usual place"),
    ("/var/log/httpd/error_log", "apache's usual place"),
    ("/var/log/postgresql/postgresql-*.log", "PostgreSQL's usual place"),
    ("/var/log/mysql/error.log", "MariaDB's usual place"),
    ("/var/log/mariadb/mariadb.log", "MariaDB's usual place"),
)
_WRITABLE = (os.O_WRONLY, os.O_RDWR)


@dataclass(frozen=True)
class Candidate:
    path: str  # what to open
    found_by: str  # "--log", "config", "open by pid 123 (nginx)", "nginx's usual place"
    name: str  # the LogSource name: "file:" and the path as the writer names it
    # Whose rights the file is opened with (tshoot runs as root): a file found by itself is read only if its writer
    # (or the adm group, for the usual places) could read it — the path may be swapped for a link to /etc/shadow.
    # None: named by the operator, opened as tshoot.
    reader: Reader | None = None
    root: str = "/"  # the writer's filesystem root (another mount namespace: /proc/PID/root)
    inner: str = ""  # the path below `root`


def discover(config: Config) -> list[Candidate]:
    """Every log file to follow, named ones first, one entry per file (the same inode found twice is one)."""
    found: list[Candidate] = []
    seen: set[tuple[int, int] | str] = set()
    for candidate in [*named_files(config), *written_files(), *well_known_files()]:
        try:
            status = os.stat(candidate.path)
            key: tuple[int, int] | str = (status.st_dev, status.st_ino)
        except OSError:  # a named file not there yet: followed once it appears
            key = os.path.abspath(candidate.path)
        if key not in seen:
            seen.add(key)
            found.append(candidate)
    return found


def named_files(config: Config) -> list[Candidate]:
    return [Candidate(path, "--log" if path in config.log_path_flags else "config", f"file:{path}")
            for path in config.log_paths]


def well_known_files() -> list[Candidate]:
    reader = Reader(-1, frozenset({_ADM_GID})) if _ADM_GID is not None else Reader(-1, frozenset())
    return [Candidate(path, why, f"file:{path}", reader, "/", path)
            for pattern, why in WELL_KNOWN for path in sorted(glob.glob(pattern)) if os.path.isfile(path)]


def _adm_gid() -> int | None:
    """Debian's group for reading system logs (nginx, apache, PostgreSQL and MariaDB logs are group adm)."""
    try:
        import grp

        return grp.getgrnam("adm").gr_gid
    except (KeyError, ImportError):
        return None


_ADM_GID = _adm_gid()


def written_files() -> list[Candidate]:
    """Log files some running process (not tshoot) holds open for writing, in pid order."""
    own_namespace = _mount_namespace("self")
    found = []
    for entry in sorted(os.scandir("/proc"), key=lambda e: int(e.name) if e.name.isdigit() else 0):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        found += _written_by(int(entry.name), own_namespace)
    return found


def _written_by(pid: int, own_namespace: str | None) -> list[Candidate]:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:  # gone, or another user's process tshoot may not look into
        return []
    found = []
    elsewhere: bool | None = None
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if not target.startswith("/") or target.endswith(" (deleted)") or NOT_TEXT.search(target):
            continue
        if not (LOG_NAME.search(target) or target.startswith("/var/log/")) or not _open_for_writing(pid, fd):
            continue
        if elsewhere is None:
            elsewhere = _mount_namespace(str(pid)) != own_namespace
        reader = reader_of(pid)
        if reader is None:  # gone
            continue
        root = f"/proc/{pid}/root" if elsewhere else "/"
        path = f"{root}{target}" if elsewhere else target
        name = f"file:{target} (pid {pid}'s mount namespace)" if elsewhere else f"file:{target}"
        found.append(Candidate(path, f"open by pid {pid} ({_comm(pid)})", name, reader, root, target))
    return found


def _open_for_writing(pid: int, fd: str) -> bool:
    try:
        with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii") as info:
            for line in info:
                if line.startswith("flags:"):
                    flags = int(line.split()[1], 8)
                    return (flags & os.O_ACCMODE) in _WRITABLE or bool(flags & os.O_APPEND)
    except (OSError, ValueError, IndexError):
        pass
    return False


def _mount_namespace(pid: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as comm:
            return comm.read().strip()
    except OSError:
        return "?"
