"""The Logs source: every reader polled, lines joined into events, clustered and metered, the newest kept.

Each poll reads what every reader has new (bounded per reader), gives file and container lines the time,
level and pid their text carries, joins tracebacks per source, feeds the clusterer and the access meter, and
merges the events into one time-ordered ring of at most `log_lines_kept` lines (ties keep arrival order).
Lines are masked as the ring keeps them (each once): nothing a section carries holds a secret.
"""

from __future__ import annotations

import math
import time
from operator import attrgetter
from typing import ClassVar

from tui import registry
from tui.config import Config
from tui.findings import Finding
from tui.logs.analysis import AccessMeter, Clusterer, findings
from tui.logs.discover import Candidate, discover, named_files
from tui.logs.parse import EventJoiner, classify
from tui.logs.readers import ContainersReader, FileReader, JournalReader, KernelReader, Reader
from tui.logs.records import LogLine, LogsSection
from tui.redact import LineRedactor
from tui.source import Source

REDISCOVER_S = 30.0  # log files processes open are looked for again this often (a /proc walk)
LINES_IN_FILE = 500  # the newest lines a snapshot keeps (the templates keep the shape of the rest, findings their lines)


class LogsSource(Source):
    name: ClassVar[str] = registry.LOGS
    section_type: ClassVar[type] = LogsSection

    def __init__(self, config: Config, only_named: bool = False) -> None:
        """`only_named`: follow the files named in the config and by --log only (no journal, kernel, containers
        or files found by themselves)."""
        super().__init__(config)
        self.only_named = only_named
        self._system: list[Reader] = []
        if not only_named:
            self._system = [JournalReader(config.log_journal, found_by="config" if config.log_journal else "default"),
                            KernelReader(), ContainersReader(config, max_containers=config.log_sources_max)]
        self._files: dict[str, FileReader] = {}  # by the path opened
        self._named = {c.path for c in named_files(config)}
        self._joiners: dict[str, EventJoiner] = {}
        self._lines: list[LogLine] = []
        self._clusterer = Clusterer()
        self._access = AccessMeter()
        self._seq = 0
        self._dropped = 0
        self._discovered_at = -math.inf
        self._polled = False  # the first poll reads the backlog: its last event is complete
        self._redact = LineRedactor()  # most lines of a busy log share a few shapes
        self._read_from: set[str] = set()  # sources read before: their first batch is the history they held

    def collect(self) -> LogsSection:
        now = time.time()
        if time.monotonic() - self._discovered_at >= REDISCOVER_S:
            self._follow(named_files(self.config) if self.only_named else discover(self.config))
            self._discovered_at = time.monotonic()
        events: list[LogLine] = []
        fed: set[str] = set()
        for reader in self._readers():
            for line in reader.read():
                if not line.level:  # files and containers: what the text itself says
                    when, line.level, pid = classify(line.text)
                    line.time = when if when is not None else line.time
                    # a file's history (its first batch) with no time of its own was written at some unknown time
                    line.undated = (when is None and line.source.startswith("file:")
                                    and line.source not in self._read_from)
                    line.pid = line.pid if line.pid is not None else pid
                events += self._joiners.setdefault(line.source, EventJoiner()).feed(line, now)
                fed.add(line.source)
        self._read_from |= fed
        for source, joiner in self._joiners.items():
            # A source that wrote nothing since the last poll has finished its event: release it now. So has every
            # source on the first poll, whose lines are the backlog (a one-poll `doctor` must see its last traceback).
            events += joiner.flush(now if source in fed and self._polled else math.inf)
        self._polled = True
        for event in events:
            self._seq += 1
            event.seq = self._seq
            self._clusterer.add(event)
            self._access.add(event)
        self._keep(events)
        return LogsSection(taken_at=now, sources=[s for reader in self._readers() for s in reader.sources()],
                           lines=list(self._lines), clusters=self._clusterer.clusters(now),
                           access=self._access.stats(now), dropped=self._dropped)

    @classmethod
    def strip_for_file(cls, section_json: dict, keep_locals: bool) -> None:
        """A snapshot carries the newest LINES_IN_FILE lines, not the whole ring; every template stays."""
        lines = section_json.get("lines") or []
        over = len(lines) - LINES_IN_FILE
        if over > 0:
            del lines[:over]
            section_json["dropped"] = section_json.get("dropped", 0) + over

    def analyze(self, section: LogsSection) -> list[Finding]:
        return findings(section, self.config.thresholds)

    def close(self) -> None:
        for reader in self._readers():
            reader.close()

    def _readers(self) -> list[Reader]:
        return [*self._system, *self._files.values()]

    def _follow(self, candidates: list[Candidate]) -> None:
        """Follow the files found (at most log_sources_max); a found file that is gone and found no more is dropped,
        a named one is kept waiting for it to appear."""
        wanted = {c.path: c for c in candidates[: self.config.log_sources_max]}
        for path, reader in list(self._files.items()):
            if path not in wanted and path not in self._named and reader.source.status != "following":
                reader.close()
                del self._files[path]
        for path, candidate in wanted.items():
            if path not in self._files and len(self._files) < self.config.log_sources_max:
                self._files[path] = FileReader(path, candidate.found_by, candidate.name, candidate.reader,
                                                candidate.root, candidate.inner)

    def _keep(self, events: list[LogLine]) -> None:
        """Merge the new events into the time-ordered ring, keeping the newest log_lines_kept."""
        if not events:
            return
        order = attrgetter("time", "seq")
        events.sort(key=order)
        if self._lines and order(events[0]) < order(self._lines[-1]):
            self._lines = sorted([*self._lines, *events], key=order)  # timsort: two sorted runs, linear
        else:
            self._lines += events
        over = len(self._lines) - self.config.log_lines_kept
        if over > 0:
            self._dropped += over
            del self._lines[:over]
        oldest = order(self._lines[0])
        for event in events:  # masked once, as it is kept: a line dropped in the poll that read it is never shown
            if order(event) >= oldest:
                event.text = self._redact(event.text)

