"""Check results as plain text lines, the same for the terminal (`tshoot guide`) and the pane's detail view.

The evidence dict is shown the way an operator reads it: an HTTP probe like `curl -v`, a finding with the log
lines that matched, a dead container with its last lines, anything else as compact `key: value` lines. Every line is made
visible (`tui.textsafe.visible`): evidence quotes what hosts, logs and servers said.
"""

from __future__ import annotations

import json
from typing import Any

from tui.symptoms.guides import Fix
from tui.symptoms.runner import CheckResult
from tui.textsafe import visible

STATUS_LABEL = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skipped": "SKIP"}
MAX_VALUE_CHARS = 160
EVENT_TAIL_LINES = 8  # of a quoted traceback


def evidence_lines(evidence: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for key, value in evidence.items():
        if key == "probes":
            for probe in value:
                lines += probe_lines(probe)
        elif key == "findings":
            for f in value:
                lines.append(f"{f['severity']:<8} {f['source']}: {f['title']}  ({subject_words(f['subject'])})")
                lines += quoted_lines(f["evidence"].get("lines", []))
        elif key == "containers" and isinstance(value, list):
            for died in value:
                ends = f": ends with {died['exception']}" if died["exception"] else ""
                lines.append(f"container {died['name']}, its last {len(died['lines'])} line(s) "
                             f"(from {died['from']}){ends}")
                lines += quoted_lines(died["lines"])
        elif key == "targets":
            for target in value:
                lines.append(f"{target['url']}" + (f"  error: {target['error']}" if target.get("error") else ""))
                lines += [f"  {s['status']:<7} {s['name']:<14} {s['detail']}" for s in target["steps"]]
        elif isinstance(value, list) and value and all(isinstance(item, str) for item in value):
            lines.append(f"{key.replace('_', ' ')}:")
            lines += [f"  {_compact(item)}" for item in value]
        elif value not in (None, [], {}, ""):
            lines.append(f"{key}: {_compact(value)}")
    return [visible(line) for line in lines]


def probe_lines(probe: dict[str, Any]) -> list[str]:
    """The exchange as `curl -v` shows it: > request, < status and headers, then timings and a body excerpt."""
    lines = [f"* {probe['url']}" + (f" (connected to {probe['remote']})" if probe["remote"] else ""),
             f"> {probe['method']} {'with' if probe['sent_token'] else 'without'} a bearer token"]
    if probe["status"] is None:
        return [visible(line) for line in lines + [f"* {probe['error']}"]]
    lines.append(f"< {probe['http_version']} {probe['status']} {probe['reason']}")
    lines += [f"< {name}: {value}" for name, value in probe["headers"]]
    lines.append(f"* connect {probe['connect_ms']} ms, total {probe['total_ms']} ms")
    if probe["body_excerpt"]:
        lines.append("body: " + probe["body_excerpt"].strip().replace("\n", " ")[:MAX_VALUE_CHARS])
    return [visible(line) for line in lines]


def quoted_lines(texts: list[str]) -> list[str]:
    """Log lines quoted under what they are evidence of. An event (a traceback) keeps its first line and its last
    EVENT_TAIL_LINES, where the innermost frames and the exception are."""
    quoted = []
    for text in texts:
        lines = text.splitlines()
        if len(lines) > EVENT_TAIL_LINES + 2:
            lines = [lines[0], f"… {len(lines) - 1 - EVENT_TAIL_LINES} lines …", *lines[-EVENT_TAIL_LINES:]]
        quoted += [f"  | {_compact(line)}" for line in lines]
    return quoted


def fix_lines(fix: Fix) -> list[str]:
    lines = [f"- {step}" for step in fix.steps]
    lines += [f"$ {command}" for command in fix.commands]
    if fix.code:
        lines.append("code:")
        lines += [f"    {line}" for line in fix.code.strip("\n").splitlines()]
    return [visible(line) for line in lines]


def result_lines(result: CheckResult) -> list[str]:
    """A check result as a block: status and title, what was seen, evidence, fix and where to look."""
    lines = [f"[{STATUS_LABEL[result.status]}] {result.title}", f"       {result.summary}"]
    if result.status in ("warn", "fail"):
        lines += [f"       {line}" for line in evidence_lines(result.evidence)]
    if result.fix and (result.fix.steps or result.fix.commands or result.fix.code):
        lines.append("       fix:")
        lines += [f"         {line}" for line in fix_lines(result.fix)]
    if result.jump:
        lines.append(f"       see: {jump_words(result.jump.pane, result.jump.subject)}")
    return [visible(line) for line in lines]


def subject_words(subject: dict[str, Any]) -> str:
    """A finding's subject as an operator says it: `pid 21732, lock self._lock`."""
    return ", ".join(f"{key.replace('_', ' ')} {_compact(value)}" for key, value in subject.items())


def jump_words(pane: str, subject: dict[str, Any]) -> str:
    """Where a check points: `Threads pane, pid 21732`."""
    words = subject_words(subject)
    return f"{pane.capitalize()} pane" + (f", {words}" if words else "")


def _compact(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 1] + "…"
