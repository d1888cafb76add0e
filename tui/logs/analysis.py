"""What the log stream means: templates (Drain, via drain3), access-log metrics, and the findings.

`Clusterer` and `AccessMeter` are fed every line and keep bounded state (a cap on templates, per-minute and
per-10-second buckets, bounded latency samples). `findings` is pure: it reads a LogsSection only, so a replayed
snapshot gives the findings the live app gave.
"""

from __future__ import annotations

import math
import random
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig

from tui import registry
from tui.config import Thresholds
from tui.findings import Finding
from tui.logs.parse import LEVEL_RANK, PY_TRACEBACK, json_object
from tui.logs.records import AccessStats, Cluster, Level, LogLine, LogsSection, PathStats
from tui.redact import redact_text
from tui.wording import count, human_duration

SOURCE = registry.LOGS

# --- templates --------------------------------------------------------------------------------------------------

MAX_CLUSTERS = 500  # drain3 forgets the least recently seen template beyond this; so do we
SPARK_MINUTES = 30
EXAMPLES_KEPT = 3
EXAMPLE_HEAD_CHARS = 1000  # an example is a line or a whole traceback; a longer one keeps its head and its tail:
EXAMPLE_TAIL_CHARS = 3000  # a traceback's innermost frame and exception line are last
TEMPLATE_INPUT_CHARS = 1000  # Drain sees the head of a line (and a traceback's last line): enough to tell kinds apart
_SHAPE_CACHE_MAX = 20_000  # line shapes remembered (hashes: 20,000 ints)
_DIGIT_WORDS = re.compile(r"[\w.:/+-]*\d[\w.:/+-]*")  # a word with a digit: a time, an id, an address, a number

# drain3 masking, configured here rather than in a drain3.ini: the variable parts of a line become <NAME>.
# Order matters: a timestamp before its numbers, a UUID before its hex, an IP before a number.
MASKS = (
    (r"\d{4}[-/]\d\d[-/]\d\d(?:T| {1,2})\d{1,2}:\d\d:\d\d(?:[.,]\d+)?(?: ?(?:Z|UTC|[+-]\d\d:?\d\d)\b)?", "TIME"),
    (r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d(?: [+-]\d{4})?", "TIME"),
    (r"\b[A-Z][a-z]{2} {1,2}\d{1,2} \d\d:\d\d:\d\d\b", "TIME"),
    (r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", "UUID"),
    (r"(?<![\w.:])(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?(?![\w.])", "IP"),
    (r"(?<![\w:])(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{1,4}(?![\w:])", "IP"),
    (r"(?<![\w/])(?:/[\w.@%+~=-]+){2,}/?", "PATH"),
    (r"\b0x[0-9a-fA-F]+\b", "HEX"),
    (r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", "HEX"),
    (r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:[a-zA-Zµ%]{1,3})?(?![\w.])", "NUM"),
)


@dataclass
class _Template:
    """What is kept per template besides drain3's own tokens: counts by minute and the last few lines."""

    count: int = 0
    first_seen: float = 0.0
    undated: bool = False  # created by a line of undated history: its first appearance is unknown
    dated: bool = False  # has counted a line with a time: undated history no longer moves last_seen
    last_seen: float = 0.0
    level: Level = ""
    sources: dict[str, None] = field(default_factory=dict)  # insertion-ordered set, capped
    minutes: deque = field(default_factory=lambda: deque(maxlen=SPARK_MINUTES))  # [minute, count], oldest first
    examples: deque = field(default_factory=lambda: deque(maxlen=EXAMPLES_KEPT))
    shown: tuple[tuple[str, ...], list[str]] = ((), [])  # examples as last redacted: redact only what changed


MAX_SOURCES_PER_TEMPLATE = 8


def _example(text: str) -> str:
    if len(text) <= EXAMPLE_HEAD_CHARS + EXAMPLE_TAIL_CHARS:
        return text
    return f"{text[:EXAMPLE_HEAD_CHARS]}\n…\n{text[-EXAMPLE_TAIL_CHARS:]}"


def template_input(text: str) -> str:
    """What Drain clusters: the first line, and for a multi-line event (a traceback) its last line too."""
    first, newline, rest = text.partition("\n")
    if not newline:
        return text[:TEMPLATE_INPUT_CHARS]
    last = rest.rstrip().rpartition("\n")[2]
    return f"{first[:TEMPLATE_INPUT_CHARS]} | {last[:TEMPLATE_INPUT_CHARS]}"


class Clusterer:
    """Groups lines into templates with drain3 (Drain: a fixed-depth prefix tree over the tokens, similarity
    threshold 0.4), with drain3's masking of numbers, ids, IPs, UUIDs, paths and times."""

    def __init__(self, max_clusters: int = MAX_CLUSTERS) -> None:
        config = TemplateMinerConfig()
        config.drain_max_clusters = max_clusters
        config.masking_instructions = [MaskingInstruction(pattern, name) for pattern, name in MASKS]
        config.parametrize_numeric_tokens = True
        self._miner = TemplateMiner(config=config)
        self._templates: dict[int, _Template] = {}
        self._by_shape: dict[int, int] = {}  # hash of the line's shape -> template id
        self.max_clusters = max_clusters

    def add(self, line: LogLine) -> int:
        """Count the line in its template; returns the template's id."""
        drain = self._miner.drain
        text = template_input(line.text)
        # Lines that differ only in their digit-bearing words (times, ids, numbers) are one template for Drain
        # too (it makes such tokens parameters): the first one goes through masking and the tree, later ones
        # are looked up by their shape. Masking is most of the cost of a line; the lookup is a tenth of it.
        shape = hash(_DIGIT_WORDS.sub("0", text))
        ident = self._by_shape.get(shape)
        if ident is None or drain.id_to_cluster[ident] is None:  # new, or drain3 forgot its template
            ident = drain.add_log_message(self._miner.masker.mask(text))[0].cluster_id
            if len(self._by_shape) >= _SHAPE_CACHE_MAX:
                self._by_shape.clear()
            self._by_shape[shape] = ident
        # (the lookup through drain3's LRU cache above also marks the template recently used, so it is kept)
        state = self._templates.get(ident)
        if state is None:
            if len(self._templates) >= self.max_clusters:
                self._forget_evicted()
            state = self._templates[ident] = _Template(first_seen=line.time, undated=line.undated)
        self._count(state, line)
        return ident

    @staticmethod
    def _count(state: _Template, line: LogLine) -> None:
        state.count += 1
        if LEVEL_RANK[line.level] > LEVEL_RANK[state.level]:
            state.level = line.level
        if line.source not in state.sources and len(state.sources) < MAX_SOURCES_PER_TEMPLATE:
            state.sources[line.source] = None
        when = line.time
        if line.undated:  # history of unknown age: counted and shown, in no minute, and not what was seen last
            if not state.dated:
                state.last_seen = max(state.last_seen, when)
                state.examples.append(_example(line.text))
            return
        if not state.dated:  # the history's read time said nothing of when it was last written
            state.dated, state.last_seen = True, when
        if when < state.first_seen:
            state.first_seen = when
        if when >= state.last_seen:
            state.last_seen = when
            state.examples.append(_example(line.text))
        minute = int(when // 60)
        minutes = state.minutes
        if minutes and minutes[-1][0] == minute:
            minutes[-1][1] += 1
        elif not minutes or minutes[-1][0] < minute:
            minutes.append([minute, 1])
        else:  # an older line (sources merge out of order): count it in its minute if that is still kept
            for slot in minutes:
                if slot[0] == minute:
                    slot[1] += 1
                    break

    def _forget_evicted(self) -> None:
        """Drop our state of the templates drain3 evicted (least recently seen)."""
        alive = self._miner.drain.id_to_cluster
        for ident in [ident for ident in self._templates if ident not in alive]:
            del self._templates[ident]

    def clusters(self, now: float) -> list[Cluster]:
        """Every template, most frequent first, with a per-minute sparkline ending at `now`'s minute."""
        drain = self._miner.drain
        result = []
        last_minute = int(now // 60)
        for ident, state in self._templates.items():
            cluster = drain.id_to_cluster.get(ident)
            if cluster is None:
                continue
            per_minute = [0] * SPARK_MINUTES
            for minute, n in state.minutes:
                index = minute - last_minute + SPARK_MINUTES - 1
                if 0 <= index < SPARK_MINUTES:
                    per_minute[index] += n
            examples = self._shown(state)
            result.append(Cluster(
                template=redact_text(cluster.get_template()), count=state.count, first_seen=state.first_seen,
                last_seen=state.last_seen, level=state.level, sources=list(state.sources),
                per_minute=per_minute, example=examples[-1] if examples else "", id=ident, examples=examples,
                undated=state.undated,
            ))
        result.sort(key=lambda c: (-c.count, c.id))
        return result

    @staticmethod
    def _shown(state: _Template) -> list[str]:
        raw = tuple(state.examples)
        if raw != state.shown[0]:
            state.shown = (raw, [redact_text(text) for text in raw])
        return list(state.shown[1])


# --- access logs ------------------------------------------------------------------------------------------------

WINDOW_S = 300.0  # access metrics cover the last 5 minutes
BUCKET_S = 10  # ... in buckets of 10 seconds
LATENCY_SAMPLES = 256  # per bucket: a uniform sample (reservoir) of the request times
PATHS_PER_BUCKET = 100
PATH_LATENCY_SAMPLES = 16
TOP_PATHS = 5
OTHER_PATHS = "(other paths)"

# `"GET /x HTTP/1.1" 500 1234 "referer" "agent" rest`: combined and common (nginx, Apache, gunicorn), uvicorn
_ACCESS_LINE = re.compile(
    r'"(?P<method>[A-Z]{3,10}) (?P<target>\S+)(?: HTTP/[\d.]+)?" (?P<status>[1-5]\d\d)\b(?: (?:\d+|-))?'
    r'(?: "[^"]*" "[^"]*")?(?P<rest>.*)'
)
# Request time written by a custom log_format: `rt=0.123`, `request_time=0.2`, `urt=0.100`, `upstream_time:12ms`
_TIMING = re.compile(
    r"(?<![\w.])(?P<key>rt|request_time|req_time|response_time|duration|took|urt|uct|uht|ut"
    r"|upstream_response_time|upstream_time)[=:]\s?\"?(?P<value>\d{1,12}(?:\.\d{1,12})?)(?P<unit>ms|us|µs|s)?(?![\w.])"
)
_UPSTREAM_KEYS = ("urt", "uct", "uht", "ut", "upstream_response_time", "upstream_time")
_BARE_NUMBER = re.compile(r"(?:^|\s)(\d{1,12}(?:\.\d{1,12})?)(ms|us|µs|s)?(?=\s|$)")  # 400 digits: float() says inf
BARE_INTEGER_MAX_S = 600  # a bare integer above this is not seconds (Apache's %D is microseconds): not read
_UNITS = {"ms": 1e-3, "us": 1e-6, "µs": 1e-6, "s": 1.0, None: 1.0, "": 1.0}
_JSON_PATH_KEYS = ("request_uri", "uri", "path", "url")
_JSON_TIME_KEYS = ("request_time", "duration", "response_time", "upstream_response_time")
_NUMERIC_SEGMENT = re.compile(
    r"/(?:\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{12,})(?=/|$)"
)
MAX_PATH_CHARS = 200
ACCESS_SOURCES_MAX = 256  # access logs metered at once: containers come and go, each under a new name


@dataclass(frozen=True)
class Request:
    status: int
    path: str  # normalised: no query string, numeric ids masked
    seconds: float | None  # request time, when the log carries it


def parse_access(text: str) -> Request | None:
    """The request an access line records, or None for any other line."""
    if text.startswith("{"):
        return _parse_json_access(text)
    if '" ' not in text:
        return None
    match = _ACCESS_LINE.search(text)
    if not match:
        return None
    return Request(int(match["status"]), normalise_path(match["target"]), _request_seconds(match["rest"]))


def _request_seconds(rest: str) -> float | None:
    """The request time in what follows the status (and bytes, referer, agent): a named field, else a bare number."""
    if not rest or not rest.strip():
        return None
    upstream = None
    for match in _TIMING.finditer(rest):
        value = float(match["value"]) * _UNITS[match["unit"]]
        if match["key"] not in _UPSTREAM_KEYS:
            return value
        if upstream is None:
            upstream = value
    if upstream is not None:
        return upstream
    bare = _BARE_NUMBER.search(rest)
    if bare:
        number, unit = bare.groups()
        value = float(number)
        if unit or "." in number or value <= BARE_INTEGER_MAX_S:
            return value * _UNITS[unit]
    return None


def _parse_json_access(text: str) -> Request | None:
    data = json_object(text)
    if data is None:
        return None
    status = _number(data.get("status"))
    if status is None or not 100 <= status <= 599:
        return None
    target = next((data[key] for key in _JSON_PATH_KEYS if isinstance(data.get(key), str)), None)
    if target is None and isinstance(data.get("request"), str):  # "$request": "GET /x HTTP/1.1"
        parts = data["request"].split(" ")
        target = parts[1] if len(parts) >= 2 else parts[0]
    seconds = next((value for key in _JSON_TIME_KEYS if (value := _number(data.get(key))) is not None), None)
    return Request(int(status), normalise_path(target or "-"), seconds)


def _number(value: object) -> float | None:
    """A JSON number, or a string nginx wrote for one ("0.123", "0.100, 0.050" for retried upstreams)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.split(",")[0].strip())
        except ValueError:
            return None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an int of 400 digits
            return None
        return number if math.isfinite(number) else None  # 1e400, "Infinity", NaN
    return None


def normalise_path(target: str) -> str:
    """`/users/123/orders?page=2` -> `/users/:id/orders`: one row per route, not per user."""
    path = target.split("?", 1)[0].split("#", 1)[0]
    if "/" in path:
        path = _NUMERIC_SEGMENT.sub("/:id", path)
        path = _NUMERIC_SEGMENT.sub("/:id", path)  # adjacent ids: the first pass consumed the shared slash
    return path[:MAX_PATH_CHARS]


class _Sample:
    """A uniform sample of at most `cap` values out of `seen` (reservoir sampling)."""

    __slots__ = ("values", "seen", "cap")

    def __init__(self, cap: int) -> None:
        self.values: list[float] = []
        self.seen = 0
        self.cap = cap

    def add(self, value: float) -> None:
        self.seen += 1
        if len(self.values) < self.cap:
            self.values.append(value)
        else:
            slot = random.randrange(self.seen)
            if slot < self.cap:
                self.values[slot] = value

    def weighted(self) -> list[tuple[float, float]]:
        weight = self.seen / len(self.values) if self.values else 0.0
        return [(value, weight) for value in self.values]


class _PathCounts:
    __slots__ = ("requests", "errors", "times")

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.times = _Sample(PATH_LATENCY_SAMPLES)


class _Bucket:
    __slots__ = ("start", "requests", "classes", "times", "paths")

    def __init__(self, start: int) -> None:
        self.start = start
        self.requests = 0
        self.classes = [0, 0, 0, 0, 0]  # 1xx .. 5xx
        self.times = _Sample(LATENCY_SAMPLES)
        self.paths: dict[str, _PathCounts] = {}

    def add(self, request: Request) -> None:
        self.requests += 1
        self.classes[request.status // 100 - 1] += 1
        path = request.path
        counts = self.paths.get(path)
        if counts is None:
            if len(self.paths) >= PATHS_PER_BUCKET:
                path = OTHER_PATHS
                counts = self.paths.get(path)
            if counts is None:
                counts = self.paths[path] = _PathCounts()
        counts.requests += 1
        if request.status >= 500:
            counts.errors += 1
        if request.seconds is not None:
            self.times.add(request.seconds)
            counts.times.add(request.seconds)


def weighted_quantile(samples: list[tuple[float, float]], q: float) -> float | None:
    """The q-quantile of weighted values (each bucket's sample stands for all the requests it saw)."""
    if not samples:
        return None
    samples = sorted(samples)
    total = sum(weight for _, weight in samples)
    target, running = q * total, 0.0
    for value, weight in samples:
        running += weight
        if running >= target:
            return value
    return samples[-1][0]


class AccessMeter:
    """Request rate, status classes, latency quantiles and the worst paths per access log, over a sliding window."""

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self._buckets: dict[str, deque[_Bucket]] = {}
        self._first_seen: dict[str, float] = {}
        self._max_buckets = int(window_s // BUCKET_S) + 2

    def add(self, line: LogLine) -> bool:
        """Count the line if it is an access line; says whether it was."""
        request = parse_access(line.text)
        if request is None:
            return False
        buckets = self._buckets.get(line.source)
        if buckets is None:
            if len(self._buckets) >= ACCESS_SOURCES_MAX:  # make room: forget the log that wrote least recently
                self._forget(min(self._buckets, key=lambda source: self._buckets[source][-1].start))
            buckets = self._buckets[line.source] = deque()
            self._first_seen[line.source] = line.time
        start = int(line.time // BUCKET_S) * BUCKET_S
        if not buckets or buckets[-1].start < start:
            buckets.append(_Bucket(start))
            if len(buckets) > self._max_buckets:
                buckets.popleft()
            bucket = buckets[-1]
        else:
            bucket = next((b for b in reversed(buckets) if b.start <= start), None)
            if bucket is None or bucket.start != start:
                return True  # older than what is kept, or a gap: too old to matter for the window
        bucket.add(request)
        return True

    def stats(self, now: float) -> list[AccessStats]:
        """One AccessStats per access log with requests in the window; a log silent for the whole window is
        forgotten (it starts afresh if it writes again)."""
        result = []
        since = now - self.window_s
        for source, buckets in list(self._buckets.items()):
            if buckets[-1].start + BUCKET_S <= since:
                self._forget(source)
                continue
            recent = [bucket for bucket in buckets if bucket.start + BUCKET_S > since and bucket.start <= now]
            if not recent:
                continue
            result.append(self._stats(source, recent, now))
        return result

    def _forget(self, source: str) -> None:
        del self._buckets[source], self._first_seen[source]

    def _stats(self, source: str, buckets: list[_Bucket], now: float) -> AccessStats:
        classes = [0, 0, 0, 0, 0]
        times: list[tuple[float, float]] = []
        paths: dict[str, tuple[int, int, list[tuple[float, float]]]] = {}
        for bucket in buckets:
            for index, n in enumerate(bucket.classes):
                classes[index] += n
            times.extend(bucket.times.weighted())
            for path, counts in bucket.paths.items():
                requests, errors, samples = paths.get(path, (0, 0, []))
                samples.extend(counts.times.weighted())
                paths[path] = (requests + counts.requests, errors + counts.errors, samples)
        rows = [PathStats(path, requests, errors, weighted_quantile(samples, 0.95))
                for path, (requests, errors, samples) in paths.items()]
        window = max(float(BUCKET_S), min(self.window_s, now - self._first_seen[source]))
        return AccessStats(
            source=source, window_s=window, requests=sum(classes),
            per_status_class={f"{i + 1}xx": n for i, n in enumerate(classes) if n},
            p50_s=weighted_quantile(times, 0.5), p95_s=weighted_quantile(times, 0.95),
            p99_s=weighted_quantile(times, 0.99),
            top_errors=_masked(sorted((r for r in rows if r.errors), key=lambda r: (-r.errors, r.path))[:TOP_PATHS]),
            top_slow=_masked(sorted((r for r in rows if r.p95_s is not None),
                                    key=lambda r: (-r.p95_s, r.path))[:TOP_PATHS]),
        )


def _masked(rows: list[PathStats]) -> list[PathStats]:
    """Paths are host text read unmasked: mask the few that are shown (a token in a path segment)."""
    for row in rows:
        row.path = redact_text(row.path)
    return rows


# --- findings ---------------------------------------------------------------------------------------------------

RECENT_S = 900.0  # a pattern or traceback last seen longer ago than this is history, not a finding
BURST_RECENT_MIN = 5  # error-burst: the last 5 minutes against the 25 before
BURST_FLOOR_PER_MIN = 0.2  # a template never seen before counts as this rate before the burst
MIN_REQUESTS = 20  # fewer requests in the window are too few for a share or a percentile
EVIDENCE_LINES = 5
EVIDENCE_CHARS = 2000


@dataclass(frozen=True)
class KnownPattern:
    id: str
    regex: re.Pattern[str]
    severity: str
    title: str
    detail: str
    guide: str | None


_DB_HINT = re.compile(r"postgres|psql|psycopg|mysql|mariadb|pymysql|sqlalchemy|:5432|:3306|database|\bdb\b",
                      re.IGNORECASE)
KNOWN_PATTERNS = (
    KnownPattern("queuepool-exhausted", re.compile(r"QueuePool limit .{0,60}reached", re.IGNORECASE), "critical",
                 "SQLAlchemy's connection pool is exhausted",
                 "Requests wait for a database connection and time out: connections are held too long (a slow "
                 "query, a session not closed, a transaction left open) or the pool is too small for the workers.",
                 "db-connection"),
    KnownPattern("too-many-connections", re.compile(
        r"too many connections|too many clients already|remaining connection slots are reserved", re.IGNORECASE),
        "critical", "The database refuses new connections (too many connections)",
        "The server's connection limit is reached: count the connections per client, look for leaks and idle "
        "sessions, put a pooler in front or raise max_connections.", "db-connection"),
    KnownPattern("connection-refused", re.compile(r"connection refused|ECONNREFUSED|\[Errno 111\]", re.IGNORECASE),
                 "warning", "Connections are refused",
                 "Nothing listens on the address the client uses: the service is down or restarting, or the "
                 "host/port is wrong. Check it runs and listens (ss -ltnp) on that address.", "intermittent"),
    KnownPattern("password-auth-failed", re.compile(
        r"password authentication failed|Access denied for user", re.IGNORECASE),
        "warning", "Database logins are rejected (password authentication failed)",
        "A client uses a wrong or rotated password, or the server's auth rules (pg_hba.conf, user@host grants) "
        "do not admit it. (Both wordings are the database servers', PostgreSQL's and MySQL's.)", "db-connection"),
    KnownPattern("jwt-rejected", re.compile(
        r"\bjwt\b.{0,40}\bexpired|token.{0,20}\bexpired|signature has expired|ExpiredSignature"
        r"|invalid signature|signature verification failed|InvalidSignature", re.IGNORECASE),
        "warning", "Tokens are rejected (expired JWT or invalid signature)",
        "Expired: clients do not renew tokens, or the clocks disagree (check NTP). Invalid signature: the "
        "signing key or algorithm differs between issuer and verifier (a rotated secret, one instance behind).",
        "auth"),
    KnownPattern("disk-full", re.compile(r"No space left on device|\bENOSPC\b", re.IGNORECASE), "critical",
                 "A disk is full (No space left on device)",
                 "Writes fail. Find what filled it (df -h, du -xsh /var/* | sort -h), free space (old logs, "
                 "core dumps, docker system df), then fix the growth.", None),
)
# The kernel's OOM report: `Out of memory: Killed process 123 (python3) total-vm:..kB, anon-rss:..kB, ...`
# (also "Memory cgroup out of memory: ...") and `oom-kill:constraint=...,task_memcg=/docker/abc,task=python3,pid=123`
# Every repeat is bounded: a number int() can read (Python refuses 4,300 digits), and a scan that cannot run to
# the end of a long line from each of its `oom-kill:` (quadratic in the line). Kubernetes' cgroup paths are long:
# 400 characters before `task_memcg=`.
_OOM_KILLED = re.compile(
    r"Killed process (?P<pid>\d{1,10}) \((?P<name>[^)]{0,64})\)(?: total-vm:(?P<vm>\d{1,15})kB, "
    r"anon-rss:(?P<anon>\d{1,15})kB(?:, file-rss:(?P<file>\d{1,15})kB)?(?:, shmem-rss:(?P<shmem>\d{1,15})kB)?)?"
)
_OOM_CONTEXT = re.compile(r"oom-kill:[^\n]{0,1000}?task_memcg=(?P<memcg>[^,\s]{0,500})[^\n]{0,200}?,task=(?P<name>"
                          r"[^,\s]{0,64}),pid=(?P<pid>\d{1,10})(?!\d)")
OOM_RECENT_S = 3600.0
# syslog's header of a kernel message in a file: `May  1 10:00:00 host kernel: `, `2024-05-01T10:00:00+00:00 host
# kernel: ` (an access line starts with an address, an application's line names no `kernel` as its writer)
_SYSLOG_KERNEL = re.compile(r"(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S{0,20})"
                            r" \S{1,64} kernel: ")


def findings(section: LogsSection, thresholds: Thresholds) -> list[Finding]:
    """Every finding the logs support at `section.taken_at`."""
    now = section.taken_at
    # a template of undated history with no line in its minutes was not seen recently: it was read at start
    recent = [c for c in section.clusters if now - c.last_seen <= RECENT_S and (not c.undated or any(c.per_minute))]
    found: list[Finding] = []
    found += _error_bursts(section.clusters, thresholds)
    for stats in section.access:
        found += _http_findings(stats, section, thresholds)
    found += _oom_kills(section)
    found += _tracebacks(recent)
    found += _known_patterns(recent)
    return found


def _evidence_lines(texts: list[str]) -> list[str]:
    return [redact_text(text[-EVIDENCE_CHARS:]) for text in texts[-EVIDENCE_LINES:]]


def _error_bursts(clusters: list[Cluster], thresholds: Thresholds) -> list[Finding]:
    """A template of errors whose rate in the last 5 minutes is several times what it was in the 25 before."""
    found = []
    for cluster in clusters:
        if LEVEL_RANK[cluster.level] < LEVEL_RANK["error"] or len(cluster.per_minute) < BURST_RECENT_MIN:
            continue
        if parse_access(cluster.example) or any(p.regex.search(cluster.example) for p in KNOWN_PATTERNS):
            continue  # failing requests are http-5xx-rate's, a message that names its cause has its own finding
        recent = sum(cluster.per_minute[-BURST_RECENT_MIN:])
        before = cluster.per_minute[:-BURST_RECENT_MIN]
        recent_rate = recent / BURST_RECENT_MIN
        before_rate = max(sum(before) / max(len(before), 1), BURST_FLOOR_PER_MIN)
        if recent < thresholds.log_burst_lines or recent_rate < thresholds.log_burst_factor * before_rate:
            continue
        found.append(Finding(
            id="error-burst", severity="critical" if cluster.level == "critical" else "warning", source=SOURCE,
            title=f"Burst of errors: {count(recent, 'line')} in 5 min of “{cluster.template[:80]}”",
            detail=(f"{recent_rate:.1f} a minute over the last 5 minutes, "
                    + (f"against {sum(before) / max(len(before), 1):.1f} a minute in the 25 before" if sum(before) else
                       "and none seen in the 25 minutes before (tshoot may not have been reading this log then)")
                    + ". Read the examples: what started it is usually the first one."),
            subject={"template_id": cluster.id},  # not the text: Drain generalises a template as lines come
            evidence={"template": cluster.template, "lines_last_5_min": recent, "per_minute_before": round(sum(before) / max(len(before), 1), 2),
                      "per_minute": cluster.per_minute, "sources": cluster.sources, "count": cluster.count,
                      "lines": _evidence_lines(cluster.examples or [cluster.example])},
        ))
    return found


def _http_findings(stats: AccessStats, section: LogsSection, thresholds: Thresholds) -> list[Finding]:
    if stats.requests < MIN_REQUESTS:
        return []
    found = []
    errors = stats.per_status_class.get("5xx", 0)
    share = 100.0 * errors / stats.requests
    if errors and share >= thresholds.http_5xx_percent:
        found.append(Finding(
            id="http-5xx-rate", severity="critical" if share >= 4 * thresholds.http_5xx_percent else "warning",
            source=SOURCE,
            title=f"{share:.0f}% of requests fail with 5xx in {stats.source}",
            detail=(f"{errors} of {stats.requests} requests in the last {human_duration(stats.window_s)} answered 5xx "
                    f"({errors / stats.window_s:.2f}/s). The worst paths are in the evidence; the app's log holds "
                    "the tracebacks."),
            subject={"log": stats.source},
            evidence={"errors": errors, "requests": stats.requests, "share_percent": round(share, 1),
                      "errors_per_s": round(errors / stats.window_s, 3),
                      "top_paths": [{"path": p.path, "errors": p.errors, "requests": p.requests}
                                    for p in stats.top_errors],
                      "lines": _evidence_lines(_access_lines(section, stats.source, lambda r: r.status >= 500))},
            guide="http-500",
        ))
    if stats.p95_s is not None and stats.p95_s >= thresholds.slow_request_p95_s:
        found.append(Finding(
            id="slow-requests", severity="warning", source=SOURCE,
            title=f"Slow requests in {stats.source}: p95 {stats.p95_s:.2f}s",
            detail=(f"95% of requests in the last {human_duration(stats.window_s)} took up to {stats.p95_s:.2f}s "
                    f"(p50 {stats.p50_s:.3f}s, p99 {stats.p99_s:.2f}s). Start with the slowest paths."),
            subject={"log": stats.source},
            evidence={"p50_s": stats.p50_s, "p95_s": stats.p95_s, "p99_s": stats.p99_s, "requests": stats.requests,
                      "top_paths": [{"path": p.path, "p95_s": p.p95_s, "requests": p.requests}
                                    for p in stats.top_slow],
                      "lines": _evidence_lines(_access_lines(
                          section, stats.source,
                          lambda r: r.seconds is not None and r.seconds >= thresholds.slow_request_p95_s))},
            guide="slow",
        ))
    return found


def _access_lines(section: LogsSection, source: str, wanted) -> list[str]:
    """The newest kept lines of `source` whose request `wanted` picks, oldest first."""
    picked: list[str] = []
    for line in reversed(section.lines):
        if line.source != source:
            continue
        request = parse_access(line.text)
        if request is not None and wanted(request):
            picked.append(line.text)
            if len(picked) == EVIDENCE_LINES:
                break
    return picked[::-1]


def _kernel_wrote(source: str, unit: str, text: str) -> bool:
    """Written by the kernel: any program can log the words of an OOM report (a User-Agent, a message). The
    kernel's ring, its journal entries, and syslog's copy in a file (kern.log, messages) have it for a writer."""
    if source.startswith("file:"):
        return _SYSLOG_KERNEL.match(text) is not None
    return source == "kernel" or (source == "journal" and unit == "kernel")


def _oom_kills(section: LogsSection) -> list[Finding]:
    """One finding per process the kernel's OOM killer killed in the last hour (kept lines and templates)."""
    now = section.taken_at
    texts = [(line.time, line.text) for line in section.lines if ("Killed process" in line.text
             or "oom-kill:" in line.text) and _kernel_wrote(line.source, line.unit, line.text)]
    for cluster in section.clusters:
        if ("Killed process" in cluster.template or "oom-kill:" in cluster.template) \
                and len(cluster.sources) < MAX_SOURCES_PER_TEMPLATE:  # every source is known
            texts += [(cluster.last_seen, text) for text in cluster.examples
                      if all(_kernel_wrote(source, "", text) for source in cluster.sources)]
    kills: dict[int, dict[str, Any]] = {}
    for when, text in texts:
        if now - when > OOM_RECENT_S:
            continue
        for match in _OOM_KILLED.finditer(text):
            kill = kills.setdefault(int(match["pid"]), {"lines": []})
            kill["process"] = match["name"]
            kill["time"] = max(kill.get("time", 0.0), when)
            if match["anon"]:
                kill["rss_kb"] = int(match["anon"]) + int(match["file"] or 0) + int(match["shmem"] or 0)
                kill["total_vm_kb"] = int(match["vm"])
            if text not in kill["lines"]:
                kill["lines"].append(text)
        for match in _OOM_CONTEXT.finditer(text):
            kill = kills.setdefault(int(match["pid"]), {"lines": []})
            kill.setdefault("process", match["name"])
            kill["time"] = max(kill.get("time", 0.0), when)
            kill["cgroup"] = match["memcg"]
            if text not in kill["lines"]:
                kill["lines"].append(text)
    by_process: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for pid, kill in kills.items():
        if "process" in kill:
            by_process.setdefault(kill["process"], []).append((pid, kill))
    found = []
    for process, victims in sorted(by_process.items()):
        # One finding per program, however many times it was killed: a crash-looping worker killed 8 times is
        # one problem, and its key stays the same as the pids change.
        victims.sort(key=lambda item: item[1]["time"])
        pid, last = victims[-1]
        rss = f", {last['rss_kb'] / 1024:.0f} MiB resident" if "rss_kb" in last else ""
        cgroup = last.get("cgroup", "")
        in_container = any(word in cgroup for word in ("docker", "containerd", "kubepods", "libpod"))
        times = f"{len(victims)} times in the last hour, last as pid {pid}" if len(victims) > 1 else f"pid {pid}"
        found.append(Finding(
            id="kernel-oom-kill", severity="critical", source=SOURCE,
            title=f"The kernel killed {process} ({times}): out of memory{rss}",
            detail=("The OOM killer ended it to free memory"
                    + (f" in cgroup {cgroup} (its memory limit)" if cgroup and cgroup != "/" else " (the machine ran out)")
                    + ". Find what grew (the Processes pane's memory trend), then raise the limit or fix the growth."),
            subject={"process": process},
            evidence={"pids": [p for p, _ in victims], "kills": len(victims), "rss_kb": last.get("rss_kb"),
                      "total_vm_kb": last.get("total_vm_kb"), "cgroup": cgroup, "time": last["time"],
                      "lines": _evidence_lines([line for _, kill in victims for line in kill["lines"]])},
            guide="container-restart" if in_container else None,
        ))
    return found


_PY_FRAME = re.compile(r'^\s*File "(?P<file>[^"]*)", line (?P<line>\d+), in (?P<func>.+)$', re.MULTILINE)
# `ValueError: x`, `mod.CustomError`, `KeyboardInterrupt`: a dotted name whose last part has a capital, then `:`
# or the end (one pass: alternatives after `[\w.]*` backtrack through the whole of a long line)
_PY_EXCEPTION = re.compile(r"(?P<type>[A-Za-z_][\w.]{0,200})(?::|$)")
_EXCEPTION_NAME = re.compile(r"(?:^|\.)\w*[A-Z]\w*$")
_JAVA_EXCEPTION_LINE = re.compile(r"^(?:Caused by: )?(?P<type>(?:[a-z_$][\w$]*\.)+[A-Z][\w$]*)(?::|$)",
                                  re.MULTILINE)
_JAVA_FRAME = re.compile(r"^\s+at (?P<frame>[\w$.<>]+\([^)]*\))", re.MULTILINE)


def traceback_summary(text: str) -> tuple[str, str] | None:
    """(exception type, innermost frame) of a Python traceback or a Java stack trace; None for other text."""
    if PY_TRACEBACK in text:
        last = text[text.rindex(PY_TRACEBACK):]
        frames = list(_PY_FRAME.finditer(last))
        frame = f"{frames[-1]['file']}:{frames[-1]['line']} in {frames[-1]['func']}" if frames else ""
        for line in reversed(last.splitlines()):
            match = _PY_EXCEPTION.match(line)
            if match and _EXCEPTION_NAME.search(match["type"]) and not line.startswith((" ", "\t")):
                return match["type"], frame
        return "exception", frame
    if "\tat " in text or "\n    at " in text:
        causes = list(_JAVA_EXCEPTION_LINE.finditer(text))
        if not causes:
            return None
        root = causes[-1]  # the last "Caused by:" is the root cause; its first frame is the innermost
        frame = _JAVA_FRAME.search(text, root.end())
        return root["type"], frame["frame"] if frame else ""
    return None


def _tracebacks(clusters: list[Cluster]) -> list[Finding]:
    """One finding per (exception type, innermost frame), over the templates whose examples are tracebacks."""
    groups: dict[tuple[str, str], list[Cluster]] = {}
    for cluster in clusters:
        summary = traceback_summary(cluster.example)
        if summary:
            groups.setdefault(summary, []).append(cluster)
    found = []
    for (exception, frame), members in sorted(groups.items()):
        members.sort(key=lambda c: c.last_seen)
        total = sum(c.count for c in members)
        found.append(Finding(
            id="traceback", severity="warning", source=SOURCE,
            title=f"{exception} at {frame or 'an unknown frame'} ({count(total, 'time')})",
            detail=("An exception with its stack trace was logged. The innermost frame is where it was raised; read "
                    "the newest example, then the line before it for the request or job that failed."),
            subject={"exception": exception, "frame": frame},
            evidence={"count": total, "first_seen": min(c.first_seen for c in members),
                      "last_seen": members[-1].last_seen, "sources": sorted({s for c in members for s in c.sources}),
                      "lines": _evidence_lines([text for c in members for text in c.examples][-EVIDENCE_LINES:])},
            guide="http-500",
        ))
    return found


def _known_patterns(clusters: list[Cluster]) -> list[Finding]:
    """Messages that name their cause (a full pool, a refused connection, a full disk), one finding per kind."""
    found = []
    for pattern in KNOWN_PATTERNS:
        members = [c for c in clusters if pattern.regex.search(c.example)]
        if not members:
            continue
        members.sort(key=lambda c: c.last_seen)
        lines = [text for c in members for text in c.examples if pattern.regex.search(text)]
        guide = pattern.guide
        if pattern.id == "connection-refused" and any(_DB_HINT.search(t) for t in lines):
            guide = "db-connection"
        total = sum(c.count for c in members)
        found.append(Finding(
            id=pattern.id, severity=pattern.severity, source=SOURCE,  # type: ignore[arg-type]
            title=f"{pattern.title} ({count(total, 'line')})", detail=pattern.detail,
            subject={"pattern": pattern.id},
            evidence={"count": total, "last_seen": members[-1].last_seen,
                      "sources": sorted({s for c in members for s in c.sources}),
                      "lines": _evidence_lines(lines)},
            guide=guide,
        ))
    return found
