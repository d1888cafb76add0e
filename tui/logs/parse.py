"""What one log line says about itself (time, level, pid), and the joining of multi-line events.

`classify` runs on every line the Logs source reads (5,000 lines/s on a busy box), so it looks only at the
head of a line, tries the cheap tests first and caches the conversion of a timestamp to unix time per second.
Everything here is pure: the lines are host text, never trusted, never executed.
"""

from __future__ import annotations

import calendar
import json
import re
import time
from collections import deque
from dataclasses import replace
from typing import Any

from tui.logs.records import Level, LogLine

HEAD = 160  # characters of a line searched for its time, level and pid: a message can say anything after that

# --- levels ---------------------------------------------------------------------------------------------------

_LEVEL_WORDS: dict[str, Level] = {
    "emerg": "critical", "emergency": "critical", "alert": "critical", "crit": "critical", "critical": "critical",
    "fatal": "critical", "panic": "critical",
    "error": "error", "err": "error", "severe": "error",
    "warning": "warning", "warn": "warning",
    "notice": "info", "info": "info", "information": "info", "log": "info", "note": "info", "system": "info",
    "debug": "debug", "trace": "debug", "fine": "debug", "finer": "debug", "finest": "debug", "verbose": "debug",
    **{f"debug{n}": "debug" for n in range(1, 6)},  # PostgreSQL's DEBUG1..DEBUG5
}
SYSLOG_LEVELS: tuple[Level, ...] = ("critical", "critical", "critical", "error", "warning", "info", "info", "debug")
LEVEL_RANK: dict[str, int] = {"critical": 5, "error": 4, "warning": 3, "info": 2, "debug": 1, "": 0}

# A level is a whole word in upper case (`ERROR`, `ERROR:root:`, `[ERROR]`, PostgreSQL's `LOG:`), or any case
# inside brackets (nginx `[error]`, Apache `[core:error]`, MariaDB `[Warning]`), or a `level=` pair (logfmt).
# "error" in lower case outside brackets is a word of the message ("GET /error", "no error"), never a level.
_LEVEL = re.compile(
    r"(?<![\w/.-])(EMERG|ALERT|CRIT|CRITICAL|FATAL|PANIC|ERROR|ERR|SEVERE|WARNING|WARN|NOTICE|INFO|LOG|DEBUG[1-5]?"
    r"|TRACE|FINE|FINER|FINEST)(?![\w/.-])"
    r"|\[(?:[\w-]+:)?((?i:emerg|alert|crit|critical|fatal|error|err|warn|warning|notice|note|info|system|debug\d?"
    r"|trace\d?))\]"
    r"|(?<![\w.-])(?i:level|lvl|severity)=\"?(\w+)"
)
LEVEL_HEAD = 100  # the level word comes after the time, host, program and pid: within this many characters
_SYSLOG_PRI = re.compile(r"<(\d{1,3})>")
# An HTTP request line and its status: combined/common (nginx, Apache, gunicorn) and uvicorn's access lines.
ACCESS_STATUS = re.compile(r'"(?:[A-Z]{3,10} \S+(?: HTTP/[\d.]+)?|-)" ([1-5]\d\d)\b')

# --- times ------------------------------------------------------------------------------------------------------

_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                       "dec"), 1)}
# ISO 8601 and its relatives: Python logging (`2024-05-01 10:00:00,123`), log4j, PostgreSQL (`... UTC`), MariaDB,
# RFC 5424, nginx's error log (`2024/05/01 10:00:00`), gunicorn's `[2024-05-01 10:00:00 +0000]`; MariaDB pads the hour
# with a space (`2024-05-01  9:00:00`).
_ISO_TIME = re.compile(
    r"(\d{4})[-/](\d\d)[-/](\d\d)(?:T| {1,2})(\d{1,2}):(\d\d):(\d\d)(?:[.,](\d{1,9}))?(?: ?(Z|UTC|GMT|[+-]\d\d:?\d\d)\b)?"
)
# Common Log Format: `[01/May/2024:10:00:00 +0000]`
_CLF_TIME = re.compile(r"\[(\d\d)/([A-Z][a-z]{2})/(\d{4}):(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))? ([+-]\d{4})\]")
# RFC 3164 syslog (no year): `May  1 10:00:00`; Apache's error log: `[Wed May 01 10:00:00.123456 2024]`
_BSD_TIME = re.compile(r"([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?: (\d{4})\])?")

# --- pids -------------------------------------------------------------------------------------------------------

# pids, each form behind a cheap substring test: syslog `sshd[123]:`, nginx's error log `[error] 123#0:`, Apache
# `[pid 123:tid 456]`, gunicorn `[123] [INFO]` and PostgreSQL `[123] LOG:`
_SYSLOG_PID = re.compile(r"\[(\d{1,7})\]:")
_NGINX_PID = re.compile(r"\] (\d{1,7})#\d+:")
_APACHE_PID = re.compile(r"\[pid (\d{1,7})")
_BRACKET_PID = re.compile(r"\[(\d{1,7})\] \[?[A-Z]")
_KILLED_PROCESS = re.compile(r"Killed process (\d{1,10}) \(")

_JSON_LEVEL_KEYS = ("level", "severity", "lvl", "levelname", "log.level", "loglevel")
_JSON_TIME_KEYS = ("time", "timestamp", "ts", "@timestamp", "time_iso8601", "time_local", "msec", "asctime", "t")
_JSON_PID_KEYS = ("pid", "process", "process_id")
JSON_TIMES = (946_684_800.0, 4_102_444_800.0)  # a number read as a time is one of 2000..2100

_epoch_cache: dict[tuple, float] = {}  # (y, m, d, H, M, S, zone) -> unix time of that second
_EPOCH_CACHE_MAX = 4096


def classify(text: str) -> tuple[float | None, Level, int | None]:
    """The line's own time (unix seconds, None when it carries none), its level and the pid that wrote it."""
    head = text[:HEAD]
    if head.startswith("{"):
        found = _classify_json(text)
        if found is not None:
            return found
    pri = _SYSLOG_PRI.match(head)
    level: Level = SYSLOG_LEVELS[int(pri.group(1)) & 7] if pri and int(pri.group(1)) < 192 else ""
    if '" ' in head:  # an access line: its level is the HTTP status
        status = ACCESS_STATUS.search(head)
        if status:
            level = status_level(int(status.group(1)))
    if not level:
        level = _head_level(head)
    if not level and ("Out of memory" in head or "oom-kill:" in head or "segfault at" in head):
        level = "error"  # the kernel's own lines carry no level word
    return line_time(head), level, _pid(head)


def status_level(status: int) -> Level:
    return "error" if status >= 500 else "warning" if status >= 400 else "info"


def _head_level(head: str) -> Level:
    """The first level word of the head, by the rules above `_LEVEL`."""
    match = _LEVEL.search(head, 0, LEVEL_HEAD)
    while match:
        level = _LEVEL_WORDS.get((match.group(1) or match.group(2) or match.group(3)).lower(), "")
        if level:
            return level
        match = _LEVEL.search(head, match.end(), LEVEL_HEAD)
    return ""


def level_of(word: object) -> Level:
    """A level named by a field (JSON `level`, a syslog number): "ERROR", "warn", 3."""
    if isinstance(word, bool):
        return ""
    if isinstance(word, int):
        if 0 <= word <= 7:
            return SYSLOG_LEVELS[word]
        # pino/bunyan numbers: 10 trace .. 60 fatal
        return {10: "debug", 20: "debug", 30: "info", 40: "warning", 50: "error", 60: "critical"}.get(word, "")
    if isinstance(word, str):
        return _LEVEL_WORDS.get(word.strip().lower(), "")
    return ""


def json_object(text: str) -> dict[str, Any] | None:
    """The line as a JSON object (a structured log line), or None."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: valid JSON nested a thousand deep
        return None
    return data if isinstance(data, dict) else None


def _classify_json(text: str) -> tuple[float | None, Level, int | None] | None:
    data = json_object(text)
    if data is None:
        return None
    level: Level = ""
    for key in _JSON_LEVEL_KEYS:
        if key in data:
            level = level_of(data[key])
            break
    status = data.get("status")
    if isinstance(status, str) and len(status) == 3 and status.isascii() and status.isdigit():
        status = int(status)
    if isinstance(status, int) and 100 <= status <= 599:
        level = status_level(status)
    when = None
    for key in _JSON_TIME_KEYS:
        if key in data:
            when = _json_time(data[key])
            break
    pid = None
    for key in _JSON_PID_KEYS:
        value = data.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            pid = value
            break
    return when, level, pid


def _json_time(value: object) -> float | None:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return line_time(value[:64])
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except OverflowError:  # an int of 400 digits
        return None
    if seconds > 1e11:  # milliseconds since the epoch
        seconds /= 1000
    return seconds if JSON_TIMES[0] <= seconds <= JSON_TIMES[1] else None  # not inf (1e400), NaN, a counter


def line_time(head: str) -> float | None:
    """Unix time of the first timestamp in `head`; local time when it names no zone (as the writer meant)."""
    match = _ISO_TIME.search(head, 0, 64)
    if match:
        y, mo, d, h, mi, s, frac, zone = match.groups()
        return _epoch(int(y), int(mo), int(d), int(h), int(mi), int(s), zone) + _fraction(frac)
    if "/" in head:
        match = _CLF_TIME.search(head, 0, 80)
        if match:
            d, mon, y, h, mi, s, frac, zone = match.groups()
            month = _MONTHS.get(mon.lower())
            if month:
                return _epoch(int(y), month, int(d), int(h), int(mi), int(s), zone) + _fraction(frac)
    match = _BSD_TIME.search(head, 0, 64)
    if match:
        mon, d, h, mi, s, frac, year = match.groups()
        month = _MONTHS.get(mon.lower())
        if month:
            y = int(year) if year else _syslog_year(month)
            return _epoch(y, month, int(d), int(h), int(mi), int(s), None) + _fraction(frac)
    return None


def _syslog_year(month: int) -> int:
    """RFC 3164 has no year: this year, or last year for a December line read in January."""
    now = time.localtime()
    return now.tm_year - 1 if month > now.tm_mon + 1 else now.tm_year


def _fraction(digits: str | None) -> float:
    return int(digits) / 10 ** len(digits) if digits else 0.0


def _epoch(y: int, mo: int, d: int, h: int, mi: int, s: int, zone: str | None) -> float:
    key = (y, mo, d, h, mi, s, zone)
    cached = _epoch_cache.get(key)
    if cached is not None:
        return cached
    try:
        if zone is None:
            value = time.mktime((y, mo, d, h, mi, s, 0, 0, -1))
        else:
            value = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) - _zone_offset(zone)
    except (OverflowError, ValueError):
        value = 0.0
    if len(_epoch_cache) >= _EPOCH_CACHE_MAX:
        _epoch_cache.clear()
    _epoch_cache[key] = float(value)
    return float(value)


def _zone_offset(zone: str) -> int:
    if zone in ("Z", "UTC", "GMT"):
        return 0
    digits = zone[1:].replace(":", "")
    offset = int(digits[:2]) * 3600 + int(digits[2:4]) * 60
    return -offset if zone[0] == "-" else offset


def _pid(head: str) -> int | None:
    if "]:" in head:
        match = _SYSLOG_PID.search(head)
        if match and match.start() and head[match.start() - 1] not in " [":
            return int(match.group(1))
    if "#" in head and (match := _NGINX_PID.search(head)):
        return int(match.group(1))
    if "[pid " in head and (match := _APACHE_PID.search(head)):
        return int(match.group(1))
    if "] " in head and (match := _BRACKET_PID.search(head)):
        return int(match.group(1))
    if "Killed process" in head and (match := _KILLED_PROCESS.search(head)):
        return int(match.group(1))
    return None


# --- multi-line events ----------------------------------------------------------------------------------------

PY_TRACEBACK = "Traceback (most recent call last):"
_PY_CHAIN = ("During handling of the above exception", "The above exception was the direct cause")
# `java.lang.IllegalStateException: boom`, `com.x.Y$Inner: ...`, `java.lang.OutOfMemoryError`
_JAVA_EXCEPTION = re.compile(r"(?:[a-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error|Throwable)\b")
_JAVA_FRAME = "\tat "
_JAVA_CONTINUATION = ("\tat ", "Caused by:", "\t... ", "... ", "Suppressed:", "\tSuppressed:", "\tCaused by:")
JOIN_WAIT_S = 0.5  # a pending event is complete when nothing joined it for this long
EVENT_HEAD_LINES = 50  # an event longer than HEAD + TAIL lines keeps both ends: the innermost frame is last
EVENT_TAIL_LINES = 50
EVENT_MAX_CHARS = 64 * 1024


class EventJoiner:
    """Joins the lines of one source into events: a traceback or a Java stack trace becomes one LogLine.

    Every line is held until the next one shows whether it continues it; `flush` releases a line that waited
    `wait` seconds (call it after each read). One joiner per source: lines of two writers never interleave here.
    """

    def __init__(self, wait: float = JOIN_WAIT_S) -> None:
        self.wait = wait
        self._first: LogLine | None = None
        self._mode = ""  # "line", "python" (in the frames), "python-end" (after the exception line), "java"
        self._head: list[str] = []
        self._tail: deque[str] = deque(maxlen=EVENT_TAIL_LINES)
        self._left_out = 0
        self._chars = 0
        self._held_since = 0.0
        self._exception: LogLine | None = None  # `pkg.SomeError: ...` after an ERROR line: joined if frames follow

    def feed(self, line: LogLine, now: float | None = None) -> list[LogLine]:
        """The events this line completes (the one it does not continue), usually zero or one."""
        now = time.time() if now is None else now
        text = line.text
        if self._exception is not None:
            exception, self._exception = self._exception, None
            if text.startswith(_JAVA_FRAME):  # a logged Java exception: the ERROR line, the exception, its frames
                self._mode = "java"
                self._append(exception.text)
                self._append(text)
                self._held_since = now
                return []
            done = self._finish()  # a message that names an exception (`psycopg2.OperationalError: ...`): a line
            self._start(exception, now)
            return done + self.feed(line, now)
        if self._mode == "line" and self._lone_error() and _JAVA_EXCEPTION.match(text):
            self._exception, self._held_since = line, now
            return []
        if self._first is not None and self._continues(text):
            self._append(text)
            self._held_since = now
            return []
        done = self._finish()
        self._start(line, now)
        return done

    @property
    def pending(self) -> bool:
        """Holds lines of an event not yet released."""
        return self._first is not None

    def flush(self, now: float) -> list[LogLine]:
        """The pending event, once nothing joined it for `wait` seconds (`now=math.inf` releases it anyway)."""
        if self._first is not None and now - self._held_since >= self.wait:
            return self._finish()
        return []

    def _start(self, line: LogLine, now: float) -> None:
        text = line.text
        self._first, self._held_since = line, now
        self._head, self._tail, self._left_out, self._chars = [], deque(maxlen=EVENT_TAIL_LINES), 0, 0
        self._mode = "python" if text.startswith(PY_TRACEBACK) else "java" if _JAVA_EXCEPTION.match(text) else "line"
        self._append(text)

    def _lone_error(self) -> bool:
        """The pending event is one ERROR line: a logged exception's trace may follow it."""
        return self._first is not None and self._first.level in ("error", "critical") and self._lines() == 1

    def _continues(self, text: str) -> bool:
        mode = self._mode
        if mode == "line":
            # a logged exception: the ERROR line, then the trace (`logging.exception`, log4j's `logger.error(m, e)`)
            if not self._lone_error():
                return False
            if text.startswith(PY_TRACEBACK):
                self._mode = "python"
                return True
            if text.startswith(_JAVA_FRAME):
                self._mode = "java"
                return True
            return False
        if mode == "python":
            if text[:1] in (" ", "\t"):
                return True
            if text:  # the exception line ends the frames
                self._mode = "python-end"
                return True
            return False
        if mode == "python-end":
            if not text or text.startswith(_PY_CHAIN) or text[:1] in (" ", "\t"):
                return True  # a chained exception follows, or the exception's message goes on
            if text.startswith(PY_TRACEBACK) and self._last_nonblank().startswith(_PY_CHAIN):
                self._mode = "python"
                return True
            return False
        # java
        return text.startswith(_JAVA_CONTINUATION) or text[:1] in (" ", "\t") or bool(
            self._last_nonblank().startswith(("Caused by:", "\tCaused by:")) and _JAVA_EXCEPTION.match(text))

    def _lines(self) -> int:
        return len(self._head) + len(self._tail) + self._left_out

    def _last_nonblank(self) -> str:
        for text in reversed(self._tail or self._head):
            if text.strip():
                return text
        return ""

    def _append(self, text: str) -> None:
        if self._chars + len(text) > EVENT_MAX_CHARS:
            text = text[: max(0, EVENT_MAX_CHARS - self._chars)]
        self._chars += len(text) + 1
        if len(self._head) < EVENT_HEAD_LINES:
            self._head.append(text)
            return
        if len(self._tail) == self._tail.maxlen:
            self._left_out += 1
        self._tail.append(text)

    def _finish(self) -> list[LogLine]:
        first = self._first
        if first is None:
            return []
        self._first = None
        if self._exception is not None:  # nothing followed the exception line: two lines
            exception, self._exception = self._exception, None
            return [first, exception]
        if self._lines() == 1:
            return [first]
        lines = list(self._head)
        if self._left_out:
            lines.append(f"… {self._left_out} lines left out …")
        lines.extend(self._tail)
        while lines and not lines[-1].strip():
            lines.pop()
        level = first.level
        if self._mode != "line" and LEVEL_RANK[level] < LEVEL_RANK["error"]:
            level = "error"
        return [replace(first, text="\n".join(lines), level=level)]
