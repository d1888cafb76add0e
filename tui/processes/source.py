"""The Processes source: the collector plus its analysis behind the common Source contract."""

from __future__ import annotations

from tui import registry
from tui.config import Config
from tui.findings import Finding
from tui.processes.analysis import analyze
from tui.actions import Verified
from tui.processes import memtrace
from tui.processes.collect import ProcessCollector, process_detail
from tui.processes.records import MemTrace, ProcessDetail, ProcessesSection
from tui.source import Source


class ProcessesSource(Source):
    name = registry.PROCESSES
    section_type = ProcessesSection

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.collector = ProcessCollector()
        self._prefetched: ProcessesSection | None = None
        self.memtraces: dict[int, MemTrace] = {}  # the operator's memory traces, newest per pid

    def prefetch(self) -> None:
        """Take the first poll now, before the UI loads, for the next collect() to return: polled while
        Textual starts, it took twice as long (both want the interpreter), and it is most of the first paint.
        Listening sockets wait for the next poll: they are not on the first screen. A failure is left to
        that poll, which reports it in the pane like any other."""
        try:
            self._prefetched = self.collector.poll(listening=False)
        except Exception:
            self._prefetched = None

    def collect(self) -> ProcessesSection:
        section, self._prefetched = self._prefetched, None
        section = section or self.collector.poll()
        section.memtraces = list(self.memtraces.values())
        return section

    def trace_memory(self, pid: int, seconds: float = memtrace.DEFAULT_SECONDS) -> Verified:
        """The `trace memory` action: memray or tracemalloc inside `pid` for `seconds`; kept for the pane and snapshots."""
        return memtrace.trace_action(pid, seconds, self.memtraces)

    def analyze(self, section: ProcessesSection) -> list[Finding]:
        return analyze(section, self.config.thresholds)

    def close(self) -> None:
        self.collector.close()

    def detail(self, pid: int) -> ProcessDetail:
        return process_detail(pid, self.collector)
