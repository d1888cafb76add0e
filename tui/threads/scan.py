"""The machine's Python processes looked at when nobody named one (the `hang` guide's checks).

The same sweep the Threads pane runs (tui/threads/finder.py): every Python process gets two plain dumps a
moment apart, those where something looks stuck a second look, all within the finder's pause budget.
tshoot never dumps itself.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from tui.config import Config
from tui.findings import Finding
from tui.threads.records import ProcessThreads
from tui.threads.source import ThreadsSource


@dataclass
class MachineScan:
    processes: list[ProcessThreads] = field(default_factory=list)  # every Python process looked at
    findings: list[Finding] = field(default_factory=list)
    not_looked_at: int = 0  # Python processes the sweep's time budget left for later


def scan_python_processes(config: Config) -> MachineScan:
    """Sweep every Python process of this machine and analyse each like the Threads pane does."""
    source = ThreadsSource(dataclasses.replace(config, pids=[], find_stuck=True))
    try:
        section = source.collect()
        findings = source.analyze(section)
    finally:
        source.close()
    looked_at = [c for c in section.candidates if source.looked_at(c.pid)]
    processes = [section.processes.get(str(c.pid)) or ProcessThreads(pid=c.pid, name=c.name, cmdline=c.cmdline,
                                                                     python_version=c.python_version)
                 for c in looked_at]
    return MachineScan(processes, findings, len(section.candidates) - len(looked_at))


def describe_process(process: ProcessThreads) -> str:
    """`pid 123 python app.py`, the command line cut to a readable length."""
    command = process.cmdline or process.name
    return f"pid {process.pid} {command[:80]}" + ("…" if len(command) > 80 else "")
