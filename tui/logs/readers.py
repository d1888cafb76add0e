"""Readers: each source of log lines (a file, the journal, the kernel, the Docker engine), read a little at a time.

A reader's `read()` returns the lines that arrived since its last call. It never waits for more (files are
read to their current end, journalctl and dmesg run with a timeout, the kernel ring is read non-blocking),
reads at most POLL_BYTES and POLL_LINES per call, and never raises for a source that is missing or refused:
its `sources()` then says why (status and error), and the pane shows that instead of a stream.

Every line is decoded with errors="replace" and cut at LINE_CAP characters here. Secrets are masked where lines
are kept or shown (tui/logs/source.py masks the lines its ring keeps; templates, examples and evidence are masked
as the analysis hands them out): at 5,000 lines a second most lines are counted and dropped, never shown.
Reasons and errors a reader reports are masked here.
"""

from __future__ import annotations

import errno
import glob
import json
import os
import re
import shutil
import subprocess
import time
from abc import ABC, abstractmethod
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tui.config import Config
from tui.logs.records import Level, LogLine, LogSource
from tui.redact import redact_text
from tui.safefile import KB, MB, FileRefused, open_regular, open_regular_as
from tui.safefile import Reader as User
from tui.source import SourceUnavailable

if TYPE_CHECKING:
    import docker

LINE_CAP = 16 * KB  # bytes (files) or characters (others) of one line; the rest of a longer line is skipped
CUT_MARK = " … [line cut]"
POLL_BYTES = 4 * MB  # per reader per call: a file growing faster than 2 MB/s is followed with a lag
POLL_LINES = 20_000  # per reader per call
START_TAIL_BYTES = 64 * KB  # a file already there when followed is read from this far before its end
LAG_SKIP_BYTES = 64 * MB  # a file further behind than this is skipped forward to its tail, never read whole
COMMAND_TIMEOUT_S = 3.0  # journalctl and dmesg: a hung journal or kernel must not hold up the poll
JOURNAL_START_ENTRIES = 200  # the journal's last entries shown when following starts
CONTAINER_START_LINES = 200  # each container's last lines shown when following starts
ENGINE_RETRY_S = 30.0  # a Docker engine that could not be reached is tried again this often
JOURNAL_DIRS = ("/run/log/journal", "/var/log/journal")

# syslog priority (0 emerg … 7 debug) as a level; the journal and the kernel both use it
PRIORITY_LEVELS: tuple[Level, ...] = ("critical", "critical", "critical", "error", "warning", "info", "info", "debug")


def cut(text: str) -> str:
    """A line as it is kept: at most LINE_CAP characters."""
    return text[:LINE_CAP] + CUT_MARK if len(text) > LINE_CAP else text


def clean(text: str) -> str:
    """A reader's own message (an error quoting the host): cut and masked."""
    return redact_text(cut(text))


class Reader(ABC):
    """One place lines come from; `sources()` describes it (one LogSource, or one per container)."""

    @abstractmethod
    def read(self) -> list[LogLine]:
        """The lines that arrived since the last call (at most POLL_LINES), oldest first. Never raises OSError."""

    @abstractmethod
    def sources(self) -> list[LogSource]:
        """What is followed, with its status, error and counters."""

    def close(self) -> None:
        """Release the file, process or connection it holds."""


# --- files ---------------------------------------------------------------------------------------------------


class LineSplitter:
    """Bytes in, whole lines out. A line longer than LINE_CAP keeps its first LINE_CAP bytes and the rest is
    skipped as it arrives, never held; a last line without its newline is held until the newline comes."""

    def __init__(self) -> None:
        self.partial = bytearray()
        self.cut = False  # the line being held has been cut: what remains of it until the newline is skipped
        self.dropping = False  # the line being read started before where reading started: dropped whole

    def reset(self, drop_first: bool = False) -> None:
        self.partial.clear()
        self.cut = False
        self.dropping = drop_first

    def feed(self, data: bytes, max_lines: int) -> tuple[list[bytes], int]:
        """Complete lines in `data` (at most `max_lines`) and how many bytes of `data` they consumed."""
        lines: list[bytes] = []
        position = 0
        while len(lines) < max_lines:
            newline = data.find(b"\n", position)
            end = len(data) if newline < 0 else newline
            self._hold(data, position, end)
            if newline < 0:
                return lines, len(data)
            position = newline + 1
            line = self.take()
            if line is not None:
                lines.append(line)
        return lines, position

    def _hold(self, data: bytes, start: int, end: int) -> None:
        if self.dropping or self.cut:
            return
        room = LINE_CAP - len(self.partial)
        if end - start > room:
            self.partial += data[start:start + room]
            self.cut = True
        else:
            self.partial += data[start:end]

    def take(self) -> bytes | None:
        """The line held so far, as complete (None when it is being dropped); the splitter is then empty."""
        line = None if self.dropping else bytes(self.partial).rstrip(b"\r") + (CUT_MARK.encode() if self.cut else b"")
        self.reset()
        return line

    @property
    def holding(self) -> bool:
        return bool(self.partial) or self.cut


class FileReader(Reader):
    """A file followed by inode and offset, as `tail -F`: through rotation (renamed away and a new file made,
    or copied and truncated), truncation, a file that appears later, and writers faster than we read."""

    def __init__(self, path: str, found_by: str, name: str | None = None, reader: User | None = None,
                 root: str = "/", inner: str = "") -> None:
        """`reader`: open (and reopen, after rotation) only what that user could read, walking `inner` from `root`
        as the kernel would for them; None opens `path` with tshoot's own rights (a file the operator named)."""
        self.path = path
        self._as = (reader, root, inner or path) if reader is not None else None
        self.source = LogSource(name=name or f"file:{path}", kind="file", path=path, found_by=found_by,
                                status="waiting")
        self._file: Any = None  # the unbuffered FileIO from safefile.open_regular
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the open file
        self._offset = 0
        self._splitter = LineSplitter()
        self._opened_once = False  # a file first seen after following started is read from its beginning
        self._waited = False

    def sources(self) -> list[LogSource]:
        return [self.source]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def read(self) -> list[LogLine]:
        try:
            return self._read()
        except OSError as exc:  # an I/O error on a bad disk or a dead NFS mount: say so, try again next poll
            self.close()
            self.source.status, self.source.error = "unreadable", clean(f"read failed: {exc.strerror or exc}")
            return []

    def _read(self) -> list[LogLine]:
        now = time.time()
        if self._file is None and not self._open(from_start=self._waited or self._opened_once):
            return []
        raw = self._drain(POLL_LINES)
        replaced = self._replaced_at_path()
        if replaced and not self._behind():  # rotated: the old file is finished, follow the new one from its start
            if self._splitter.holding:  # the old file's last line never got its newline: it is complete now
                if (last := self._splitter.take()) is not None:
                    raw.append(last)
            self.close()
            if self._open(from_start=True):
                raw += self._drain(POLL_LINES - len(raw))
        return [LogLine(self.source.name, now, cut(line.decode("utf-8", errors="replace"))) for line in raw]

    def _open(self, from_start: bool) -> bool:
        try:
            file = open_regular(self.path) if self._as is None else open_regular_as(*self._as)
        except FileRefused as exc:
            missing = exc.problem == "no such file"
            self._waited = self._waited or missing
            self.source.status = "waiting" if missing else "unreadable"
            self.source.error = "not there yet: followed once it appears" if missing else exc.problem
            return False
        status = os.fstat(file.fileno())
        self._file, self._identity = file, (status.st_dev, status.st_ino)
        self._opened_once = True
        self.source.status, self.source.error = "following", ""
        self._offset = 0
        self._splitter.reset()
        if not from_start:
            self._skip_to_tail(status.st_size)
        return True

    def _skip_to_tail(self, size: int) -> None:
        """Read from START_TAIL_BYTES before the end; the line cut by that start is dropped whole."""
        start = max(0, size - START_TAIL_BYTES)
        if start == 0:
            return
        self.source.skipped_bytes += start - self._offset
        after_newline = os.pread(self._file.fileno(), 1, start - 1) == b"\n"
        self._offset = start
        self._splitter.reset(drop_first=not after_newline)

    def _behind(self) -> bool:
        try:
            return os.fstat(self._file.fileno()).st_size > self._offset
        except OSError:
            return False

    def _replaced_at_path(self) -> bool:
        """Whether the path now names another file than the one open (rotation) — False while it names nothing
        (renamed away, the new one not made yet: the old file is still followed)."""
        try:
            status = os.stat(self.path)
        except OSError:
            return False
        return (status.st_dev, status.st_ino) != self._identity

    def _drain(self, max_lines: int) -> list[bytes]:
        fd = self._file.fileno()
        try:
            size = os.fstat(fd).st_size
            if size < self._offset:  # truncated (copytruncate, `> file`): start again from its beginning
                self._offset = 0
                self._splitter.reset()
            if size - self._offset > LAG_SKIP_BYTES:
                self._skip_to_tail(size)
            lines: list[bytes] = []
            budget = min(POLL_BYTES, size - self._offset)
            while budget > 0 and len(lines) < max_lines:
                chunk = os.pread(fd, min(budget, 1 * MB), self._offset)
                if not chunk:
                    break
                found, used = self._splitter.feed(chunk, max_lines - len(lines))
                lines += found
                self._offset += used
                budget -= used
                self.source.bytes_read += used
                if used < len(chunk):  # the line budget ran out inside this chunk
                    break
        except OSError as exc:
            self.source.status, self.source.error = "unreadable", f"read failed: {exc.strerror or exc}"
            self.close()
            return []
        self.source.lines_read += len(lines)
        return lines


# --- the systemd journal ---------------------------------------------------------------------------------------


class JournalReader(Reader):
    """The systemd journal through `journalctl -o json`, one bounded run per poll from the last cursor.

    `journal_path` (a journal file or a directory of them) reads that instead of the system's journal. Kernel
    entries are left out when `skip_kernel` (the kernel reader reads them from the ring itself)."""

    def __init__(self, journal_path: str | None = None, skip_kernel: bool = True, found_by: str = "default") -> None:
        self.journal_path = journal_path
        self.skip_kernel = skip_kernel
        self.source = LogSource(name="journal", kind="journal", path=journal_path or "", found_by=found_by)
        self._cursor: str | None = None

    def sources(self) -> list[LogSource]:
        return [self.source]

    def read(self) -> list[LogLine]:
        command = self._command()
        if command is None:
            return []
        try:
            done = subprocess.run(command, capture_output=True, timeout=COMMAND_TIMEOUT_S, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return self._failed("unreadable", f"journalctl did not answer within {COMMAND_TIMEOUT_S:g} s")
        except OSError as exc:
            return self._failed("unreadable", f"cannot run journalctl: {exc.strerror or exc}")
        if done.returncode != 0:
            said = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
            return self._failed("unreadable", clean(f"journalctl failed: {said[0] if said else done.returncode}"))
        self.source.status, self.source.error = "following", ""
        self.source.bytes_read += len(done.stdout)
        lines = []
        for raw in done.stdout.splitlines():
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(entry, dict):
                continue
            self._cursor = entry.get("__CURSOR") if isinstance(entry.get("__CURSOR"), str) else self._cursor
            if self.skip_kernel and entry.get("_TRANSPORT") == "kernel":
                continue
            lines.append(journal_line(entry))
        self.source.lines_read += len(lines)
        return lines

    def _command(self) -> list[str] | None:
        if shutil.which("journalctl") is None:
            self._failed("absent", "journalctl is not installed: no systemd journal on this machine")
            return None
        command = ["journalctl", "-o", "json", "--no-pager", "-q"]
        if self.journal_path:
            command.append(f"--directory={self.journal_path}" if os.path.isdir(self.journal_path)
                           else f"--file={glob.escape(self.journal_path)}")
        elif not any(glob.glob(os.path.join(d, "**", "*.journal*"), recursive=True) for d in JOURNAL_DIRS):
            self._failed("absent", "no journal files in /run/log/journal or /var/log/journal: journald does not "
                                   "run here (a container?)")
            return None
        if self._cursor is None:
            return [*command, "-n", str(JOURNAL_START_ENTRIES)]
        return [*command, f"--after-cursor={self._cursor}", "-n", str(POLL_LINES)]

    def _failed(self, status: str, error: str) -> list[LogLine]:
        self.source.status, self.source.error = status, error
        return []


def journal_line(entry: dict[str, Any]) -> LogLine:
    """One `journalctl -o json` entry as a line: MESSAGE (a byte array when it is not UTF-8), PRIORITY as the
    level, _PID, the unit (_SYSTEMD_UNIT, else the syslog identifier), __REALTIME_TIMESTAMP (µs)."""
    message = entry.get("MESSAGE")
    if isinstance(message, list):
        message = bytes(b for b in message if isinstance(b, int) and 0 <= b < 256).decode("utf-8", errors="replace")
    text = message if isinstance(message, str) else ""
    level: Level = ""
    priority = _int(entry.get("PRIORITY"))
    if priority is not None and 0 <= priority < len(PRIORITY_LEVELS):
        level = PRIORITY_LEVELS[priority]
    stamp = _int(entry.get("__REALTIME_TIMESTAMP"))
    unit = entry.get("_SYSTEMD_UNIT") or entry.get("SYSLOG_IDENTIFIER") or ""
    return LogLine(source="journal", time=stamp / 1e6 if stamp else time.time(), text=cut(text), level=level,
                   pid=_int(entry.get("_PID")), unit=clean(unit) if isinstance(unit, str) else "")


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 <= number < 2**53 else None


# --- kernel messages -------------------------------------------------------------------------------------------

_OOM_KILLED = re.compile(r"Killed process (\d+) \(")
_OOM_KILL_SUMMARY = re.compile(r"oom-kill:.*\bpid=(\d+)")
_SEGFAULT = re.compile(r"\[(\d+)\]: segfault at ")
_HUNG_TASK = re.compile(r"task \S+:(\d+) blocked for more than \d+ seconds")
_IO_ERROR = re.compile(r"I/O error|EXT4-fs error|XFS \(\S+\): (?:metadata I/O error|Corruption)|"
                       r"Remounting filesystem read-only|nfs: server \S+ not responding|blk_update_request: .*error")
_KMSG_TIME = re.compile(rb"^<(\d+)>\[\s*(\d+\.\d+)\] ?(.*)$")


def kernel_event(text: str, priority: int) -> tuple[Level, int | None]:
    """The level and the process a kernel message is about: OOM kills (the victim), segfaults, hung tasks, disk,
    filesystem and NFS errors rank above what the kernel's own priority says; the rest keep it."""
    level = PRIORITY_LEVELS[priority & 7]
    for pattern, serious in ((_OOM_KILLED, "critical"), (_OOM_KILL_SUMMARY, "error"), (_SEGFAULT, "error"),
                             (_HUNG_TASK, "error")):
        if match := pattern.search(text):
            return serious, int(match[1])
    if _IO_ERROR.search(text):
        return "error", None
    return level, None


class KernelReader(Reader):
    """Kernel messages from /dev/kmsg (non-blocking: one record per read), else from `dmesg --raw`."""

    def __init__(self, kmsg_path: str = "/dev/kmsg") -> None:
        self.kmsg_path = kmsg_path
        self.source = LogSource(name="kernel", kind="kernel", path=kmsg_path, found_by="default")
        self._fd: int | None = None
        self._use_dmesg = False
        self._kmsg_problem = ""
        self._dmesg_after = -1.0  # seconds since boot of the last dmesg line read
        self._boot = time.time() - time.clock_gettime(time.CLOCK_MONOTONIC)  # kmsg stamps count from boot
        self._open()

    def sources(self) -> list[LogSource]:
        return [self.source]

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self) -> None:
        try:
            self._fd = os.open(self.kmsg_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            self._use_dmesg = True
            self.source.path = "dmesg"
            self._kmsg_problem = f"{self.kmsg_path}: {exc.strerror or exc}"

    def read(self) -> list[LogLine]:
        return self._read_dmesg() if self._use_dmesg else self._read_kmsg()

    def _read_kmsg(self) -> list[LogLine]:
        lines: list[LogLine] = []
        while len(lines) < POLL_LINES:
            try:
                record = os.read(self._fd, 16 * KB)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.EPIPE:  # the ring overwrote records before we read them
                    self.source.lost_lines += 1
                    continue
                self.source.status, self.source.error = "unreadable", f"{self.kmsg_path}: {exc.strerror or exc}"
                break
            if not record:
                break
            self.source.bytes_read += len(record)
            header, _, body = record.partition(b";")
            fields = header.split(b",")
            try:
                priority, usec = int(fields[0]), int(fields[2])
            except (IndexError, ValueError):
                continue
            lines.append(self._line(body.split(b"\n", 1)[0], priority, self._boot + usec / 1e6))
        self.source.lines_read += len(lines)
        return lines

    def _read_dmesg(self) -> list[LogLine]:
        if shutil.which("dmesg") is None:
            self.source.status, self.source.error = "unreadable", f"{self._kmsg_problem}, and no dmesg to fall back on"
            return []
        try:
            done = subprocess.run(["dmesg", "--raw"], capture_output=True, timeout=COMMAND_TIMEOUT_S,
                                  stdin=subprocess.DEVNULL)
        except (subprocess.TimeoutExpired, OSError) as exc:
            self.source.status, self.source.error = "unreadable", f"dmesg failed: {exc}"
            return []
        if done.returncode != 0:
            said = done.stderr.decode("utf-8", errors="replace").strip()
            self.source.status = "unreadable"
            self.source.error = clean(f"{self._kmsg_problem}; dmesg: {said or done.returncode} "
                                      "(run as root, or sysctl kernel.dmesg_restrict=0)")
            return []
        self.source.status, self.source.error = "following", ""
        lines = []
        for raw in done.stdout.splitlines():
            match = _KMSG_TIME.match(raw)
            if match is None or (since_boot := float(match[2])) <= self._dmesg_after:
                continue
            lines.append(self._line(match[3], int(match[1]), self._boot + since_boot))
            self._dmesg_after = since_boot
            self.source.bytes_read += len(raw) + 1
            if len(lines) == POLL_LINES:
                break
        self.source.lines_read += len(lines)
        return lines

    def _line(self, message: bytes, priority: int, when: float) -> LogLine:
        text = message.decode("utf-8", errors="replace")
        level, pid = kernel_event(text, priority)
        return LogLine(source="kernel", time=when, text=cut(text), level=level, pid=pid)


# --- Docker containers -----------------------------------------------------------------------------------------

_DOCKER_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d) ?")


class ContainersReader(Reader):
    """The logs of every running container (stdout and stderr), from the engine, one bounded call per container
    per poll from the last timestamp read. A container that stops has its last lines read once more."""

    def __init__(self, config: Config, max_containers: int) -> None:
        self.config = config
        self.max_containers = max_containers
        self._client: docker.DockerClient | None = None
        self._engine = LogSource(name="containers", kind="container", found_by="default", status="waiting")
        self._retry_at = 0.0
        self._followed: dict[str, LogSource] = {}  # container id -> its source
        self._since: dict[str, tuple[float, str]] = {}  # container id -> (unix time, its exact stamp) of the last line

    def sources(self) -> list[LogSource]:
        return [self._engine, *self._followed.values()]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def read(self) -> list[LogLine]:
        client = self._connect()
        if client is None:
            return []
        try:
            running = client.api.containers()[: self.max_containers]
        except Exception as exc:  # the engine went away between polls
            self._lost(exc)
            return []
        current = {c["Id"]: (c.get("Names") or [c["Id"][:12]])[0].lstrip("/") for c in running}
        lines: list[LogLine] = []
        for container_id in [*current, *(i for i in self._followed if i not in current)]:
            source = self._followed.get(container_id)
            if source is None:
                name = current[container_id]
                source = self._followed[container_id] = LogSource(
                    name=f"container:{name}", kind="container", path=container_id, found_by="running container")
            lines += self._read_container(client, container_id, source)
            if container_id not in current:  # stopped: its last lines are read, it is followed no more
                del self._followed[container_id]
                self._since.pop(container_id, None)
        return lines

    def _connect(self) -> docker.DockerClient | None:
        if self._client is not None or time.monotonic() < self._retry_at:
            return self._client
        from tui.containers.engine import connect

        try:
            self._client = connect(self.config)
            self._engine.status, self._engine.error = "following", ""
        except SourceUnavailable as exc:
            self._retry_at = time.monotonic() + ENGINE_RETRY_S
            missing = "socket missing" in exc.reason
            self._engine.status, self._engine.error = ("absent" if missing else "unreadable"), exc.reason
        return self._client

    def _lost(self, exc: Exception) -> None:
        self.close()
        self._retry_at = time.monotonic() + ENGINE_RETRY_S
        self._engine.status, self._engine.error = "unreadable", clean(f"the Docker engine stopped answering: {exc}")

    def _read_container(self, client: docker.DockerClient, container_id: str, source: LogSource) -> list[LogLine]:
        import docker.errors

        since = self._since.get(container_id)
        try:
            raw = client.api.logs(container_id, stdout=True, stderr=True, timestamps=True,
                                  tail=CONTAINER_START_LINES if since is None else POLL_LINES,
                                  since=since[0] if since else None)
        except docker.errors.NotFound:
            source.status, source.error = "rotated", "the container was removed"
            return []
        except Exception as exc:
            source.status, source.error = "unreadable", clean(f"the engine refused its logs: {exc}")
            return []
        source.status, source.error = "following", ""
        source.bytes_read += len(raw)
        name = source.name.removeprefix("container:")
        last_stamp = since[1] if since else ""
        lines = []
        for text in raw.decode("utf-8", errors="replace").splitlines():
            match = _DOCKER_STAMP.match(text)
            if match is None:
                continue
            stamp = f"{match[1]}.{(match[2] or '').ljust(9, '0')[:9]}{match[3]}"
            if stamp <= last_stamp:  # `since` has whole-microsecond precision: lines already read come again
                continue
            when = datetime.fromisoformat(f"{match[1]}.{stamp[20:26]}{match[3].replace('Z', '+00:00')}").timestamp()
            lines.append(LogLine(source=source.name, time=when, text=cut(text[match.end():].rstrip("\r")),
                                 container=name))
            self._since[container_id] = (when, stamp)
        source.lines_read += len(lines)
        return lines
