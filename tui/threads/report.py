"""The Threads part of the Markdown incident report: per dumped process, its deadlocks (jstack-style),
the stuck threads with their innermost frames, and what could not be dumped.

The deadlocks and contention shown are the snapshot's own findings (the thresholds it was taken with), never
recomputed here.
"""

from __future__ import annotations

from typing import Any

from tui.findings import Finding
from tui.markdown import clip, code_block, table
from tui.source import section_from_json
from tui.threads.deadlock import format_deadlock_report, program_frame, stuck_words, thread_state
from tui.threads.records import ProcessThreads, ThreadRecord, ThreadsSection

STUCK_FRAMES = 6  # innermost frames shown per stuck thread: where it waits and how it got there
MAX_CANDIDATES = 10


def markdown(section: dict[str, Any], findings: list[dict[str, Any]]) -> list[str]:
    threads = section_from_json(ThreadsSection, section)
    hot = _profiles(threads)
    if not threads.processes:
        return _no_dumps(threads) + hot
    found = [Finding(**f) for f in findings]
    lines: list[str] = []
    for process in sorted(threads.processes.values(), key=lambda p: p.pid):
        lines += _process(process, [f for f in found if f.subject.get("pid") == process.pid]) + [""]
    return lines[:-1] + hot


def _profiles(section: ThreadsSection) -> list[str]:
    """Where the busy Python processes spend their CPU."""
    lines = []
    for profile in sorted(section.profiles.values(), key=lambda p: -p.cpu_percent):
        lines += ["", f"### Where the CPU goes: pid {profile.pid} ({profile.name or '?'}), "
                      f"{profile.cpu_percent:.0f}% CPU, {profile.samples} samples over {profile.seconds:g}s", ""]
        lines += table(["function", "where", "self %", "total %"],
                       [[h.function, h.location, h.self_percent, h.total_percent] for h in profile.hot])
    return lines


def _no_dumps(section: ThreadsSection) -> list[str]:
    if section.swept:
        lines = [f"Nothing stuck in the {section.swept} Python process(es) tshoot looked at"
                 + (f"; {section.unswept} not looked at yet (busy host)." if section.unswept else ".")]
    else:
        lines = ["No process was dumped (name one with `--pid`, or choose it in the Threads pane)."]
    if section.candidates:
        lines += ["", f"Python processes on the host ({len(section.candidates)}):", ""]
        lines += table(["pid", "name", "Python", "command"],
                       [[c.pid, c.name, c.python_version, clip(c.cmdline, 100)]
                        for c in section.candidates[:MAX_CANDIDATES]])
        if len(section.candidates) > MAX_CANDIDATES:
            lines.append(f"… and {len(section.candidates) - MAX_CANDIDATES} more.")
    return lines


def _process(process: ProcessThreads, findings: list[Finding]) -> list[str]:
    stuck = [t for t in process.threads if t.stuck]
    found_by = " — found by tshoot's sweep, no --pid needed" if process.found_by == "scan" else ""
    lines = [f"### pid {process.pid} ({process.name or '?'}){found_by}", ""]
    facts = [f"`{clip(process.cmdline, 200)}`"] if process.cmdline else []
    if process.python_version:
        facts.append(f"Python {process.python_version}")
    if process.threads:
        facts.append(f"{len(process.threads)} threads, {len(stuck)} stuck; {process.samples} dump(s) "
                     f"{process.sample_interval:g}s apart, the process paused {process.paused_seconds * 1000:.0f} ms")
    lines += ["; ".join(facts) + ".", ""] if facts else []
    if process.error:
        lines += [f"**Could not dump it:** {process.error}" + (f" — {process.remedy}" if process.remedy else ""), ""]
    lines += [f"- warning: {warning}" for warning in process.warnings]
    if process.warnings:
        lines.append("")
    for finding in (f for f in findings if f.id == "deadlock"):
        lines += ["**Deadlock**", ""] + code_block(format_deadlock_report(finding)) + [""]
    stalls = [f for f in findings if f.id != "deadlock"]  # contention and the hangs that are not cycles
    lines += [f"- {f.id.replace('-', ' ')}: {f.title}" for f in stalls] + ([""] if stalls else [])
    if stuck:
        lines += ["**Stuck threads** (stack unchanged across every dump; innermost frame first)", ""]
        lines += code_block("\n".join(_stuck_thread(t) for t in stuck)) + [""]
    if process.threads:
        lines += table(["thread", "tid", "state", "where", "code"], [_thread_row(t) for t in process.threads]) + [""]
    if process.jstack:
        lines += ["**JVM thread dump (jstack)**", ""] + code_block(process.jstack) + [""]
    return lines[:-1] if lines[-1] == "" else lines


def _stuck_thread(thread: ThreadRecord) -> str:
    lines = [f'"{thread.name}" (tid {thread.tid}): {_state(thread)}']
    for frame in thread.frames[:STUCK_FRAMES]:
        lines.append(f"  at {frame.function} ({frame.filename}:{frame.line})")
        if frame.line_text:
            lines.append(f"      {frame.line_text}")
    if len(thread.frames) > STUCK_FRAMES:
        lines.append(f"  … {len(thread.frames) - STUCK_FRAMES} outer frames")
    return "\n".join(lines) + "\n"


def _thread_row(thread: ThreadRecord) -> list[Any]:
    frame = program_frame(thread)
    where = f"{frame.function} ({frame.filename}:{frame.line})" if frame else "-"
    return [thread.name, thread.tid, _state(thread), where, clip(frame.line_text, 100) if frame else ""]


def _state(thread: ThreadRecord) -> str:
    """The pane's state, always saying how long a stuck thread has not moved."""
    state = thread_state(thread)
    return f"{state}, {stuck_words(thread.stuck_for_s)}" if thread.stuck and "stuck" not in state else state
