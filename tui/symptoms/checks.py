"""The named checks that guides run. Each is `check(ctx, **params) -> Outcome`; guides name them in data.

A check reads live state (its own probes, or the sections and findings every source collected) and
says pass / warn / fail / skipped with the evidence behind it. It never raises for a missing tool or
source: it is skipped and says why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from tui import registry
from tui.config import Config
from tui.databases.analysis import reported_apart
from tui.databases.conncheck import diagnose, login_refused, target_commands
from tui.databases.logins import REFUSED_LOGINS
from tui.findings import SEVERITY_RANK, Finding, by_severity
from tui.logs.analysis import traceback_summary
from tui.logs.records import LogsSection, LogSource
from tui.logs.source import LogsSource
from tui.redact import mask_url
from tui.symptoms import probes
from tui.threads import pythonprocs
from tui.threads.scan import describe_process, scan_python_processes
from tui.wording import count, human_duration

if TYPE_CHECKING:
    from tui.snapshot import Collection  # what `collect_all` returns; tui.snapshot imports every source

Status = str  # "pass" | "warn" | "fail" | "skipped"
STATUSES = ("pass", "warn", "fail", "skipped")


@dataclass
class Outcome:
    status: Status
    summary: str  # one line: what was seen, or why the check was skipped
    evidence: dict[str, Any] = field(default_factory=dict)
    subject: dict[str, Any] | None = None  # the row to jump to in the pane the guide names
    pane: str | None = None  # overrides the guide's pane (findings know their own source)
    fix_first: list[str] = field(default_factory=list)  # specific steps, shown before the guide's general fix
    placeholders: dict[str, str] = field(default_factory=dict)  # e.g. IMAGE, when the subject does not say it
    commands: list[str] = field(default_factory=list)  # built for this subject, shown before the guide's commands


def skipped(why: str) -> Outcome:
    return Outcome("skipped", why)


class CheckContext:
    """What checks see: the effective config, the pasted token, and every source's collection (fetched once, lazily)."""

    def __init__(self, config: Config, token: str | None = None,
                 collection: Callable[[], Collection] | None = None) -> None:
        self.config = config
        self.token = token
        self._fetch_collection = collection
        self._collection: Collection | None = None
        self._memo: dict[str, Any] = {}

    @property
    def collection(self) -> Collection | None:
        if self._collection is None and self._fetch_collection is not None:
            self._collection = self._fetch_collection()
        return self._collection

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """One probe per guide run even when several checks read it (the system sample, the logs read)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def findings(self, ids: list[str], source: str | None = None, apart: bool = False) -> list[Finding]:
        """The matching findings; those about databases found in other processes, when the operator named their
        own, only with `apart` (they never decide a check about the named ones)."""
        collection = self.collection
        found = [f for f in (collection.findings if collection else [])
                 if f.id in ids and (source is None or f.source == source) and reported_apart(f) == apart]
        return by_severity(found)

    def source_problem(self, source: str) -> str | None:
        """Why `source` has nothing to say, or None when it collected."""
        collection = self.collection
        if collection is None:
            return "no collection of the other panes' data was made"
        if source in collection.errors:
            reason, remedy = collection.errors[source]
            return f"the {source} source could not collect: {reason}" + (f" ({remedy})" if remedy else "")
        if collection.sections.get(source) is None:
            return f"the {source} source is not available in this build"
        return None


CHECKS: dict[str, Callable[..., Outcome]] = {}
# Checks that read findings besides the generic `findings` check: the guide's live badge counts these too.
READS_FINDINGS: dict[str, list[str]] = {"cpu_saturation": ["cpu-hog"], "request_latency": ["slow-requests"],
                                        "why_containers_died": ["kernel-oom-kill"]}
# Checks that read the finding ids named in their `ids` param.
READS_FINDING_IDS = ("findings", "python_threads", "log_findings")


def check(function: Callable[..., Outcome]) -> Callable[..., Outcome]:
    """Register a check under its function name, the name guides use."""
    CHECKS[function.__name__] = function
    return function


def _worst(statuses: list[Status]) -> Status:
    for status in ("fail", "warn", "pass"):
        if status in statuses:
            return status
    return "skipped"


def _graded(value: float, warn: float, fail: float) -> Status:
    return "fail" if value >= fail else "warn" if value >= warn else "pass"


def _finding_json(finding: Finding) -> dict[str, Any]:
    return {"id": finding.id, "severity": finding.severity, "source": finding.source, "title": finding.title,
            "subject": finding.subject, "evidence": finding.evidence}


# ---------------------------------------------------------------- findings of the other panes

@check
def findings(ctx: CheckContext, ids: list[str], source: str, healthy: str = "nothing found") -> Outcome:
    """The findings another pane reports (by contract id): critical fails, warning warns, info passes."""
    found = ctx.findings(ids, source)
    if found:
        outcome = _graded_findings(found)
        if source == registry.CONTAINERS:
            outcome.placeholders["IMAGE"] = _container_image(ctx, outcome.subject or {})
    else:
        problem = ctx.source_problem(source)
        unread, read = _not_measured(ctx, source, ids)
        if problem or not read:  # a check that measured nothing is never a pass
            outcome = skipped(problem or f"nothing measured: {'; '.join(unread)}")
        else:
            outcome = Outcome("pass", healthy + (f" (not measured: {'; '.join(unread)})" if unread else ""))
    apart = ctx.findings(ids, source, apart=True)
    if apart:
        outcome.evidence["discovered_databases"] = [_finding_json(f) for f in apart]
        outcome.summary += f" [{len(apart)} more on databases found in other processes' settings, not counted]"
    return outcome


def _not_measured(ctx: CheckContext, source: str, ids: list[str]) -> tuple[list[str], int]:
    """What a findings check could not look at (each with why) and how much it did look at: no finding from a
    database that could not be read, or from an env diff without a baseline, is not a healthy result."""
    section = ctx.collection.sections.get(source) if ctx.collection else None
    if source == registry.DATABASES and "db-unreachable" not in ids:
        results = list(getattr(section, "targets", []))
        if any(not r.target.discovered for r in results):
            results = [r for r in results if not r.target.discovered]
        read = [r for r in results if r.state is not None or r.same_server_as]
        unread = [f"{r.target.url}: {r.not_connected or r.error or 'not read'}" for r in results if r not in read]
        return ([f"no database could be read ({'; '.join(unread)})"] if not read and unread else unread), len(read)
    if source == registry.ENV and "env-drift" in ids and not getattr(section, "diffs", None):
        problems = "; ".join(getattr(section, "problems", [])) or "no baseline configured (env_baseline)"
        return [f"env-drift: nothing compared with a baseline ({problems})"], len([i for i in ids if i != "env-drift"])
    return [], 1


def _container_image(ctx: CheckContext, subject: dict[str, Any]) -> str:
    section = ctx.collection.sections.get(registry.CONTAINERS) if ctx.collection else None
    record = next((c for c in getattr(section, "containers", []) if c.name == subject.get("name")), None)
    return record.image if record is not None else ""


def _graded_findings(found: list[Finding], evidence: dict[str, Any] | None = None) -> Outcome:
    """The worst finding decides: critical fails, warning warns, info passes; it is the row to jump to."""
    worst = by_severity(found)[0]
    status = {2: "fail", 1: "warn", 0: "pass"}[SEVERITY_RANK[worst.severity]]
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return Outcome(status, worst.title + more, {"findings": [_finding_json(f) for f in by_severity(found)],
                                                **(evidence or {})},
                   subject=dict(worst.subject), pane=worst.source)


# ---------------------------------------------------------------- Python threads

@dataclass
class _ThreadDumps:
    how: str  # "watched" (named with --pid or chosen in the Threads pane) or "dumped just now" (by this check)
    processes: list[Any]  # ProcessThreads records, dumped or with the error that stopped the dump
    findings: list[Finding]
    problems: list[str] = field(default_factory=list)  # why nothing could be dumped at all, or what was left out


def _thread_dumps(ctx: CheckContext) -> _ThreadDumps:
    """The Threads pane's dumps when it has any (or pids were named); otherwise every Python process of the
    machine, swept now (unless find_stuck is off)."""
    collection = ctx.collection
    section = collection.sections.get(registry.THREADS) if collection else None
    watched = list(getattr(section, "processes", {}).values())
    if watched or ctx.config.pids:
        problem = None if watched else ctx.source_problem(registry.THREADS)
        return _ThreadDumps("watched", watched, [f for f in collection.findings if f.source == registry.THREADS] if collection
                            else [], [problem] if problem else [])
    if not ctx.config.find_stuck:
        return _ThreadDumps("not looked at", [], [], ["find_stuck = false in the config: only named processes are dumped"])
    scan = scan_python_processes(ctx.config)
    problems = [f"{scan.not_looked_at} more Python process(es) not looked at yet (the sweep's time budget): run "
                "the check again, or name one with --pid"] if scan.not_looked_at else []
    hidden = pythonprocs.count_uninspectable({os.getpid()})
    if hidden:  # other users' processes: whether they run Python is unknown, not "no"
        problems.append(f"{hidden} process(es) of other users could not be inspected (permission denied): run "
                        "tshoot as root to look for Python in them")
    return _ThreadDumps("swept just now", scan.processes, scan.findings, problems)


@check
def python_threads(ctx: CheckContext, ids: list[str], healthy: str) -> Outcome:
    """Threads findings (deadlocks, contention, stalls) of the watched Python processes; with none watched, of
    every Python process of the machine, swept now. Nothing dumped is never a pass."""
    dumps = ctx.memo("thread-dumps", lambda: _thread_dumps(ctx))
    dumped = [p for p in dumps.processes if not p.error]
    listed = ctx.memo("thread-dumps-listed", list)  # the guide's checks share one sweep: list it once
    evidence: dict[str, Any] = {
        "dumped": [describe_process(p) for p in dumped] if not listed else
        f"the {len(dumped)} process(es) listed under the first threads check",
        "not_dumped": [f"{describe_process(p)}: {p.error}" for p in dumps.processes if p.error] + dumps.problems}
    listed.append(True)
    if not dumped:
        why = "; ".join(evidence["not_dumped"]) or "no Python process found on this machine"
        return Outcome("skipped", f"no Python process dumped — pass --pid or press Enter in Threads ({why})", evidence)
    found = [f for f in dumps.findings if f.id in ids]
    if found:
        return _graded_findings(found, evidence)
    pids = ", ".join(str(p.pid) for p in dumped)
    unseen = f"; not looked at: {'; '.join(dumps.problems)}" if dumps.problems else ""  # a pass says what it missed
    return Outcome("pass", f"{healthy} in {len(dumped)} Python process(es) {dumps.how} (pid {pids}){unseen}", evidence)


# ---------------------------------------------------------------- databases

@check
def database_connection_check(ctx: CheckContext, timeout: float = 5.0) -> Outcome:
    """The Databases pane's connection check (url, dns, tcp, auth, query), step by step, for every known target."""
    targets = ctx.config.db_urls
    if not targets:
        return skipped("no database to test: pass --db URL or set db_urls in the config")
    reports, statuses, first_failure, fixes = [], [], None, []
    for url in targets:
        try:
            report = diagnose(url, timeout)
            if login_refused(report):  # the Databases source of this run will not try it a second time
                REFUSED_LOGINS.remember(url, report)
        except Exception as exc:  # one target's crash must not hide the others
            reports.append({"url": mask_url(url), "steps": [], "error": f"{type(exc).__name__}: {exc}"})
            statuses.append("fail")
            continue
        statuses += [step.status for step in report.steps]  # pass | warn | fail | skipped, as ours
        steps = [{"name": s.name, "status": s.status, "detail": s.detail, "evidence": s.evidence} for s in report.steps]
        failed = next((step for step in report.steps if step.status in ("fail", "warn")), None)
        if failed is not None:
            first_failure = first_failure or (url, failed)
            if failed.fix:
                fixes.append(f"{mask_url(url)}: {failed.fix}")
        reports.append({"url": mask_url(url), "steps": steps})
    status = _worst(statuses)
    if first_failure is None:
        return Outcome(status, f"{len(targets)} database(s) reachable, authenticated and answering queries",
                       {"targets": reports})
    url, step = first_failure
    return Outcome(status, f"{mask_url(url)}: step '{step.name}' {step.status}: {step.detail}", {"targets": reports},
                   subject={"target": mask_url(url)}, fix_first=fixes, commands=target_commands(url))


# ---------------------------------------------------------------- HTTP

@check
def http_status(ctx: CheckContext, timeout: float = 5.0, with_token: bool = False) -> Outcome:
    """Probe each configured URL like `curl -v`: 5xx or no answer fails, 4xx warns (401/403 fail with a token)."""
    urls = ctx.config.probe_urls
    if not urls:
        return skipped("no URL to probe: pass --url URL or set probe_urls in the config")
    if with_token and not ctx.token:
        return skipped("no token pasted: pass --token-file FILE (or paste one in the pane)")
    results = [probes.http_probe(url, timeout, ctx.token if with_token else None) for url in urls]
    statuses = [_http_grade(result, with_token) for result in results]
    status = _worst(statuses)
    shown = next((r for r, s in zip(results, statuses) if s == status), results[0])
    return Outcome(status, probes.describe_probe(shown), {"probes": [asdict(r) for r in results]})


def _http_grade(result: probes.HttpProbe, with_token: bool) -> Status:
    if result.status is None or result.status >= 500:
        return "fail"
    if result.status in (401, 403) and with_token:
        return "fail"
    return "warn" if result.status >= 400 else "pass"


# ---------------------------------------------------------------- logs (the Logs source)

LOGS = LogsSource.name
LAST_LINES = 20  # of a container that died: the lines before it did


@dataclass
class _LogsRead:
    section: LogsSection | None
    findings: list[Finding]
    problem: str = ""  # why the Logs source has nothing to say


def _logs_read(ctx: CheckContext) -> _LogsRead:
    """The Logs source's section and findings from the collection; when the collection has none (the source is not
    part of it), a LogsSource polled here, twice, so that each log's last event (a traceback) is complete."""
    collection = ctx.collection
    if collection is not None and LOGS in collection.errors:
        return _LogsRead(None, [], ctx.source_problem(LOGS) or "")
    section = collection.sections.get(LOGS) if collection is not None else None
    if section is not None:
        return _LogsRead(section, [f for f in collection.findings if f.source == LOGS])
    source = LogsSource(ctx.config)
    try:
        source.collect()
        section = source.collect()
    finally:
        source.close()
    return _LogsRead(section, source.analyze(section))


def _read_sources(section: LogsSection) -> list[LogSource]:
    """The logs actually followed (not the Docker engine's own entry, which is no log)."""
    return [s for s in section.sources if s.status == "following" and not (s.kind == "container" and not s.path)]


def _source_words(source: LogSource) -> str:
    """`/var/log/nginx/access.log (found: open by pid 812 (nginx))`."""
    name = source.name.removeprefix("file:")
    return f"{name} (found: {source.found_by})" + (f": {source.status}, {source.error}" if source.error else "")


def _logs_evidence(ctx: CheckContext) -> tuple[_LogsRead, list[LogSource], dict[str, Any], str | None]:
    """What the Logs source read, as evidence, and why the check is skipped when it read no log at all."""
    read = ctx.memo("logs", lambda: _logs_read(ctx))
    if read.section is None:
        return read, [], {}, read.problem
    followed = _read_sources(read.section)
    evidence: dict[str, Any] = {"logs_read": [_source_words(s) for s in followed],
                                "logs_not_read": [_source_words(s) for s in read.section.sources
                                                  if s not in followed and s.error]}
    if followed:
        return read, followed, evidence, None
    why = "; ".join(evidence["logs_not_read"]) or "no log found on this machine"
    return read, followed, evidence, f"no log was read ({why}): pass --log FILE or set log_paths in the config"


def _read_words(followed: list[LogSource]) -> str:
    return f"read {count(len(followed), 'log')}: " + ", ".join(_source_words(s) for s in followed[:3]) + (
        f" and {len(followed) - 3} more" if len(followed) > 3 else "")


@check
def log_findings(ctx: CheckContext, ids: list[str], healthy: str) -> Outcome:
    """The Logs source's findings named by id (a 5xx rate, tracebacks, error bursts, known patterns) with the lines
    that matched as evidence: critical fails, warning warns. No log read at all is skipped, never a pass."""
    read, followed, evidence, problem = _logs_evidence(ctx)
    if problem:
        return Outcome("skipped", problem, evidence)
    found = [f for f in read.findings if f.id in ids]
    if found:
        return _graded_findings(found, evidence)
    if all(s.kind == "kernel" for s in followed) and "kernel-oom-kill" not in ids:
        # the kernel's messages hold no request, traceback or application error: nothing was measured
        return Outcome("skipped", "only the kernel's messages were read, no application log: pass --log FILE or "
                                  "set log_paths in the config", evidence)
    return Outcome("pass", f"{healthy}; {_read_words(followed)}", evidence)


@check
def request_latency(ctx: CheckContext) -> Outcome:
    """p50/p95/p99 of the requests in the access logs the Logs source read; p95 above slow_request_p95_s warns."""
    read, followed, evidence, problem = _logs_evidence(ctx)
    if problem:
        return Outcome("skipped", problem, evidence)
    timed = [a for a in read.section.access if a.p95_s is not None]
    evidence["latency"] = [f"{a.source.removeprefix('file:')}: p50 {a.p50_s:.3f}s, p95 {a.p95_s:.3f}s, "
                           f"p99 {a.p99_s:.3f}s over {count(a.requests, 'request')} in the last {human_duration(a.window_s)}"
                           for a in timed]
    if not timed:
        return Outcome("skipped", f"no access log with request times among the logs read ({_read_words(followed)}): "
                                  "log $request_time (nginx) or %D (apache) to measure latency", evidence)
    slow = [f for f in read.findings if f.id == "slow-requests"]
    if slow:
        return _graded_findings(slow, evidence)
    worst = max(timed, key=lambda a: a.p95_s)
    limit = ctx.config.thresholds.slow_request_p95_s
    where = worst.source.removeprefix("file:")
    if worst.p95_s > limit:  # too few requests for a finding, but the number says what it says
        return Outcome("warn", f"p95 {worst.p95_s:.3f}s in {where}, above {limit:g}s (only "
                               f"{count(worst.requests, 'request')}: too few to call it a trend)", evidence)
    return Outcome("pass", f"p95 {worst.p95_s:.3f}s in {where}, under {limit:g}s", evidence)


@check
def why_containers_died(ctx: CheckContext) -> Outcome:
    """The kernel's OOM kills (Logs) and the last lines of each container that crash-looped, exited with an error
    or was OOM-killed (Containers): the exception they end with is usually why it died."""
    read, _, evidence, logs_problem = _logs_evidence(ctx)
    kills = [f for f in read.findings if f.id == "kernel-oom-kill"]
    died = ctx.findings(["crash-loop", "exited-error", "oom-killed"], registry.CONTAINERS)
    containers_problem = ctx.source_problem(registry.CONTAINERS)
    if logs_problem and containers_problem:
        return Outcome("skipped", f"{logs_problem}; {containers_problem}", evidence)
    last = [_last_lines(ctx, read.section, f.subject.get("name", "")) for f in died]
    evidence["containers"] = last
    evidence["findings"] = [_finding_json(f) for f in kills]
    if kills:
        return Outcome("fail", kills[0].title + (f" (and {len(kills) - 1} more)" if len(kills) > 1 else ""), evidence,
                       subject=dict(kills[0].subject), pane=LOGS)
    if last:
        shown = next((c for c in last if c["exception"]), last[0])
        reason = f"its log ends with {shown['exception']}" if shown["exception"] else (
            f"its last line: {shown['lines'][-1]}" if shown["lines"] else "it left no log lines")
        return Outcome("fail" if shown["exception"] else "warn", f"{shown['name']} died: {reason}", evidence,
                       subject={"container": shown["name"]}, pane=LOGS)
    if containers_problem:
        return Outcome("pass", f"no OOM kill in the logs ({containers_problem})", evidence)
    if logs_problem or not any(s.kind == "kernel" for s in _read_sources(read.section) if read.section):
        return Outcome("pass", f"no container died with an error (the kernel's messages were not read, so its OOM "
                               f"kills are unknown{': ' + logs_problem if logs_problem else ''})", evidence)
    return Outcome("pass", "no container died with an error and the kernel killed nothing", evidence)


def _last_lines(ctx: CheckContext, section: LogsSection | None, name: str) -> dict[str, Any]:
    """A dead container's last lines: the Logs source's when it followed the container, else the Containers pane's."""
    lines = [line.text for line in getattr(section, "lines", []) if line.source == f"container:{name}"]
    where = "Logs"
    if not lines:
        containers = ctx.collection.sections.get(registry.CONTAINERS) if ctx.collection else None
        record = next((c for c in getattr(containers, "containers", []) if c.name == name), None)
        lines, where = ([line.text for line in record.last_logs] if record else []), "Containers"
    lines = lines[-LAST_LINES:]
    summary = traceback_summary("\n".join(lines))
    exception = (f"{summary[0]} at {summary[1]}" if summary[1] else summary[0]) if summary else ""
    return {"name": name, "from": where, "exception": exception, "lines": lines}


# ---------------------------------------------------------------- machine resources

def _sample(ctx: CheckContext) -> probes.SystemSample:
    return ctx.memo("system", probes.system_sample)


@check
def cpu_saturation(ctx: CheckContext, warn_percent: float = 80.0, fail_percent: float = 95.0) -> Outcome:
    """How busy all the CPUs are, and who is using them (the busiest processes and the Processes pane's CPU hogs)."""
    sample = _sample(ctx)
    hogs = ctx.findings(["cpu-hog"], registry.PROCESSES)
    status = _graded(sample.cpu_percent, warn_percent, fail_percent)
    if hogs and status == "pass":
        status = "warn"
    users = ", ".join(f"{row['name']} ({row['pid']}) {row['cpu_percent']:.0f}%" for row in sample.top_cpu[:3])
    summary = (f"CPU {sample.cpu_percent:.0f}% busy (of all {sample.cores} cores)"
               + (f"; busiest (% of one core): {users}" if users else ""))
    evidence = {"cpu_percent": sample.cpu_percent, "cores": sample.cores, "steal_percent": sample.steal_percent,
                "top_cpu": sample.top_cpu, "cpu_hogs": [_finding_json(f) for f in hogs]}
    subject = hogs[0].subject if hogs else (
        {"pid": sample.top_cpu[0]["pid"], "name": sample.top_cpu[0]["name"]} if sample.top_cpu else None)
    return Outcome(status, summary, evidence, subject=subject, pane=registry.PROCESSES)


@check
def load_vs_cores(ctx: CheckContext, warn_ratio: float = 1.0, fail_ratio: float = 2.0) -> Outcome:
    """Run-queue length per core: above 1 work waits for a CPU (or, on Linux, for disk in D state)."""
    sample = _sample(ctx)
    if not sample.load:
        return skipped("this platform has no load average")
    ratio = sample.load[0] / sample.cores
    return Outcome(_graded(ratio, warn_ratio, fail_ratio),
                   f"load {sample.load[0]:.2f} on {sample.cores} core(s) ({ratio:.2f} per core)",
                   {"load_1_5_15": sample.load, "cores": sample.cores, "per_core": round(ratio, 2)})


@check
def memory_pressure(ctx: CheckContext) -> Outcome:
    """Available memory and swap traffic, against the thresholds in the config."""
    sample = _sample(ctx)
    limits = ctx.config.thresholds
    swapping = sample.swap_in_out_mb_per_s >= limits.swap_in_out_mb_per_s
    low = sample.memory_available_percent < limits.memory_available_percent
    status = "fail" if low or swapping else (
        "warn" if sample.memory_available_percent < 2 * limits.memory_available_percent else "pass")
    summary = (f"{sample.memory_available_percent:.0f}% memory available, swap {sample.swap_used_percent:.0f}% used, "
               f"swapping {sample.swap_in_out_mb_per_s:.1f} MB/s")
    return Outcome(status, summary, {
        "memory_available_percent": sample.memory_available_percent, "swap_used_percent": sample.swap_used_percent,
        "swap_in_out_mb_per_s": sample.swap_in_out_mb_per_s,
        "thresholds": {"memory_available_percent": limits.memory_available_percent,
                       "swap_in_out_mb_per_s": limits.swap_in_out_mb_per_s}})


@check
def io_wait(ctx: CheckContext, warn_percent: float = 20.0, fail_percent: float = 40.0) -> Outcome:
    """Share of CPU time spent waiting for disk: high iowait makes everything slow while the CPUs look idle."""
    sample = _sample(ctx)
    if sample.iowait_percent is None:
        return skipped("this platform does not report iowait")
    return Outcome(_graded(sample.iowait_percent, warn_percent, fail_percent),
                   f"iowait {sample.iowait_percent:.0f}% of CPU time", {"iowait_percent": sample.iowait_percent})


@check
def open_file_limits(ctx: CheckContext, warn_percent: float = 80.0, fail_percent: float = 95.0) -> Outcome:
    """Descriptors in use vs each process's soft RLIMIT_NOFILE (the chosen --pid processes, else all readable)."""
    rows, problems = probes.file_use(ctx.config.pids)
    if not rows:
        return skipped("; ".join(problems) or "no process's descriptors could be read (run as root?)")
    top = rows[0]
    status = _graded(top.percent, warn_percent, fail_percent)
    return Outcome(status, f"{top.name} ({top.pid}) holds {top.open_files} of {top.limit} files ({top.percent:.0f}%)",
                   {"processes": [asdict(r) for r in rows[:10]], "problems": problems},
                   subject={"pid": top.pid, "name": top.name}, pane=registry.PROCESSES)


@check
def thread_counts(ctx: CheckContext, warn_threads: int = 1000, warn_total_percent: float = 80.0) -> Outcome:
    """Processes with runaway thread counts, and the machine's total against the kernel's threads-max."""
    top, total, threads_max = probes.thread_counts()
    share = total * 100 / threads_max if threads_max else 0.0
    status = "warn" if (top and top[0]["threads"] >= warn_threads) or share >= warn_total_percent else "pass"
    lead = f"; most: {top[0]['name']} ({top[0]['pid']}) with {top[0]['threads']}" if top else ""
    return Outcome(status, f"{total} threads in all{lead}",
                   {"top": top, "total": total, "threads_max": threads_max},
                   subject={"pid": top[0]["pid"], "name": top[0]["name"]} if top else None, pane=registry.PROCESSES)


# ---------------------------------------------------------------- auth

@check
def token_claims(ctx: CheckContext, leeway_s: float = 0.0) -> Outcome:
    """Decode the pasted JWT (never verified, never stored) and compare exp / nbf / iat with this machine's clock."""
    if not ctx.token:
        return skipped("no token pasted: pass --token-file FILE (or paste one in the pane)")
    try:
        info = probes.decode_token(ctx.token, leeway_s=leeway_s)
    except probes.TokenError as exc:
        return Outcome("fail", f"not a usable JWT: {exc}")
    evidence = asdict(info)
    if info.expired:
        return Outcome("fail", f"the token expired at {info.expires_at} ({-info.seconds_left:.0f} s ago by this clock)",
                       evidence)
    if info.not_yet_valid:
        return Outcome("fail", f"the token is not valid before {info.not_before} (this clock says {info.now})", evidence)
    if info.issued_in_future:
        return Outcome("warn", f"the token was issued at {info.issued_at}, later than this clock ({info.now}): "
                               "clocks disagree", evidence)
    left = f", expires in {info.seconds_left:.0f} s" if info.seconds_left is not None else ", never expires"
    return Outcome("pass", f"{info.header.get('alg', '?')} token for {info.claims.get('sub', '?')}{left}", evidence)


@check
def clock_synchronized(ctx: CheckContext, max_offset_s: float = 1.0) -> Outcome:
    """Is this machine's clock NTP-synchronised? A drifting clock makes valid tokens look expired or not yet valid."""
    state = ctx.memo("clock", probes.clock_sync)
    evidence = asdict(state)
    if state.synchronized is None:
        return skipped(f"nothing on this machine reports clock synchronisation ({state.detail})")
    if state.offset_s is not None and abs(state.offset_s) > max_offset_s:
        return Outcome("warn", f"{state.tool}: clock is {state.offset_s:+.3f} s off", evidence)
    if state.synchronized:
        return Outcome("pass", f"{state.tool}: clock synchronised", evidence)
    # The kernel's flag alone also reads "unsynchronised" on VMs whose host keeps time; that is worth a warning only.
    return Outcome("fail" if state.tool != "kernel" else "warn", f"{state.tool}: clock NOT synchronised", evidence)


# ---------------------------------------------------------------- dev vs prod

_RUNTIMES = {"python3": ["python3", "--version"], "node": ["node", "--version"], "java": ["java", "-version"]}


@check
def runtime_versions(ctx: CheckContext) -> Outcome:
    """The language runtimes on PATH here, to compare with the other environment (evidence only)."""
    versions = {"tshoot's python": sys.version.split()[0]}
    for name, argv in _RUNTIMES.items():
        if not shutil.which(argv[0]):
            continue
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=5)
        except (OSError, subprocess.TimeoutExpired) as exc:
            versions[name] = f"cannot run: {exc}"
            continue
        versions[name] = ((done.stdout or done.stderr).strip().splitlines() or ["?"])[0]
    return Outcome("pass", "; ".join(f"{k} {v}" for k, v in versions.items()), {"versions": versions})
