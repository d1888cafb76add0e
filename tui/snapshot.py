"""Snapshots: every source collected once (with a short observation window), serialised to a file.

`tshoot snapshot`, `tshoot doctor`, the guides and the app's `S` key all go through `collect_all` /
`build_snapshot`; `tshoot replay` reads the file back into the same section records the panes render.
Everything written passes through redaction first.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tui import __version__
from tui.actions import ActionRecord
from tui.config import Config
from tui.correlate import correlate
from tui.containers import report as containers_report
from tui.databases import report as databases_report
from tui.env import report as env_report
from tui.errorlog import log_exception
from tui.findings import Finding, by_severity
from tui.processes import report as processes_report
from tui.redact import redact_deep
from tui.source import Source, SourceUnavailable, section_from_json, section_to_json, unavailable_json
from tui.sources import SOURCE_CLASSES, build_sources
from tui.textsafe import visible
from tui.threads import report as threads_report
from tui.threads.records import locals_for_file

SCHEMA = 1
SECTION_NAMES = ("processes", "threads", "databases", "containers", "env")
# name -> markdown(section JSON, the snapshot's findings of that pane as JSON) -> lines, for `snapshot --format md`.
# A report shows the findings the snapshot holds: recomputing them (default thresholds) could contradict it.
SECTION_REPORTS = {
    "processes": processes_report.markdown,
    "threads": threads_report.markdown,
    "databases": databases_report.markdown,
    "containers": containers_report.markdown,
    "env": env_report.markdown,
}


class SnapshotError(Exception):
    """A snapshot file that cannot be read; the message names the file and the problem."""


@dataclass
class Collection:
    """What one collection of every source produced."""

    sections: dict[str, Any] = field(default_factory=dict)  # name -> section record (None when it failed)
    errors: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (reason, remedy)
    idle: set[str] = field(default_factory=set)  # sources with nothing to watch (not a failure)
    findings: list[Finding] = field(default_factory=list)


def collect_all(config: Config, observe: float, sources: list[Source] | None = None) -> Collection:
    """Poll every source for `observe` seconds (so rates and trends exist), each in its own thread.

    A source that raises is recorded as unavailable; one that does not finish within
    observe + collector_timeout is recorded as timed out. Neither affects the others.
    """
    owned = sources is None
    sources = build_sources(config) if sources is None else sources
    results: dict[str, tuple[Any, list[Finding], tuple[str, str] | None]] = {}
    idle: set[str] = set()
    step = max(0.25, min(1.0, observe / 8)) if observe > 0 else 0  # enough samples for a trend

    def run(source: Source) -> None:
        deadline = time.monotonic() + observe
        try:
            section = source.collect()
            while time.monotonic() + step <= deadline:
                time.sleep(step)
                section = source.collect()
            results[source.name] = (section, source.analyze(section), None)
        except SourceUnavailable as exc:
            results[source.name] = (None, [], (exc.reason, exc.remedy))
            if exc.idle:
                idle.add(source.name)
        except Exception as exc:  # a collector bug: say so, keep the others
            logged = log_exception(f"the {source.name} collector", exc)
            results[source.name] = (None, [], (f"collector failed: {type(exc).__name__}: {exc}",
                                               f"this is a tshoot bug; please report it with the traceback in {logged}"))

    threads = [threading.Thread(target=run, args=(s,), daemon=True, name=f"collect-{s.name}") for s in sources]
    for t in threads:
        t.start()
    deadline = time.monotonic() + observe + config.collector_timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    collection = Collection(idle=idle)
    for source in sources:
        section, findings, error = results.get(
            source.name, (None, [], (f"timed out after {observe + config.collector_timeout:.0f}s", "the source is slow or hung"))
        )
        collection.sections[source.name] = section
        collection.findings += findings
        if error:
            collection.errors[source.name] = error
    if owned:
        for source in sources:
            try:
                source.close()
            except Exception:  # closing must not lose the collection
                pass
    collection.findings = by_severity(correlate(collection.findings, collection.sections))
    return collection


def build_snapshot(
    *,
    host: str | None = None,
    sections: dict[str, Any],
    errors: dict[str, tuple[str, str]],
    findings: list[Finding],
    actions: list[ActionRecord],
    notes: dict[str, Any] | None = None,
    keep_locals: bool = False,
) -> dict[str, Any]:
    """The snapshot document. Every pane's key is present: its records, or why it could not collect.

    Python locals' values stay out unless `keep_locals` (config `snapshot_locals`): a local often holds a secret.
    """
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "host": host or socket.gethostname(),
        "taken_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "tshoot_version": __version__,
    }
    for name in SECTION_NAMES:
        if name in errors:
            doc[name] = unavailable_json(*errors[name])
        elif sections.get(name) is not None:
            doc[name] = section_to_json(sections[name])
            if name == "threads":
                locals_for_file(doc[name], keep_locals)
        else:
            doc[name] = unavailable_json("not collected yet: its first poll had not finished")
    doc["actions"] = [dataclasses.asdict(a) for a in actions]
    doc["findings"] = [dataclasses.asdict(f) for f in by_severity(findings)]
    doc["notes"] = notes or {}
    return redact_deep(doc)


def default_snapshot_name(host: str, fmt: str = "json") -> str:
    return f"tshoot-{host}-{datetime.now().strftime('%Y%m%d-%H%M%S')}.{fmt}"


def write_snapshot(doc: dict[str, Any], path: Path | str, fmt: str) -> Path:
    """Write atomically (temp file + rename) so an interrupted write never leaves half a snapshot; mode 0600."""
    path = Path(path)
    text = markdown_report(doc) if fmt == "md" else json.dumps(doc, indent=1, default=str) + "\n"
    tmp = path.with_name(f".{path.name}.tmp")
    # owner-only: a snapshot describes the whole machine (process lists, sessions, environments)
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)
    return path


@dataclass
class LoadedSnapshot:
    path: str
    host: str
    taken_at: str
    taken_epoch: float
    sections: dict[str, tuple[Any, str | None]]  # name -> (section record or None, error)
    findings: list[Finding]
    actions: list[dict[str, Any]]
    notes: dict[str, Any]
    raw: dict[str, Any]


def load_snapshot(path: str | Path) -> LoadedSnapshot:
    """Read a snapshot file back into records; SnapshotError names the file and what is wrong."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SnapshotError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"{path}: cannot read it ({exc})") from None
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"{path}: not a tshoot snapshot: invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})") from None
    if not isinstance(raw, dict) or "schema" not in raw:
        raise SnapshotError(f"{path}: not a tshoot snapshot (no 'schema' key)")
    if raw["schema"] != SCHEMA:
        raise SnapshotError(f"{path}: snapshot schema {raw['schema']!r}; this tshoot reads schema {SCHEMA}")
    types = {cls.name: cls.section_type for cls in SOURCE_CLASSES}
    sections: dict[str, tuple[Any, str | None]] = {}
    for name in SECTION_NAMES:
        data = raw.get(name)
        if not isinstance(data, dict):
            sections[name] = (None, "missing from this snapshot")
        elif data.get("error"):
            sections[name] = (None, str(data["error"]))
        elif name in types:
            try:
                sections[name] = (section_from_json(types[name], data), None)
            except ValueError as exc:
                raise SnapshotError(f"{path}: section '{name}' is malformed: {exc}") from None
        else:
            sections[name] = (None, "this tshoot version cannot show this section")
    try:
        findings = [Finding(**f) for f in raw.get("findings", [])]
    except TypeError as exc:
        raise SnapshotError(f"{path}: a finding is malformed: {exc}") from None
    taken_at = str(raw.get("taken_at", "?"))
    try:
        epoch = datetime.fromisoformat(taken_at).timestamp()
    except ValueError:
        epoch = 0.0
    return LoadedSnapshot(
        path=str(path),
        host=str(raw.get("host", "?")),
        taken_at=taken_at,
        taken_epoch=epoch,
        sections=sections,
        findings=findings,
        actions=list(raw.get("actions", [])),
        notes=raw.get("notes") or {},
        raw=raw,
    )


def markdown_report(doc: dict[str, Any]) -> str:
    """A readable incident report: findings first (most severe first, each with its fix), then each pane."""
    out = [f"# tshoot report: {doc['host']}", "", f"Taken {doc['taken_at']} by tshoot {doc['tshoot_version']}.", ""]
    findings = doc.get("findings", [])
    out.append(f"## Findings ({len(findings)})")
    out.append("")
    if not findings:
        out.append("Nothing above normal was found.")
    for f in findings:
        subject = ", ".join(f"{k}={v}" for k, v in f["subject"].items())
        out.append(f"### [{f['severity'].upper()}] {f['title']}")
        out.append("")
        out.append(f"- pane: {f['source']}; id: `{f['id']}`" + (f"; subject: {subject}" if subject else ""))
        if f.get("guide"):
            out.append(f"- guide: `tshoot guide {f['guide']}`")
        out.append("")
        out.append(f["detail"])
        if f.get("evidence"):
            out += ["", "```json", json.dumps(f["evidence"], indent=1, default=str), "```"]
        out.append("")
    notes = doc.get("notes") or {}
    if notes:
        out += ["## Incident notes", ""]
        for step, text in notes.items():
            if text:
                out.append(f"- **{step}**: {text}")
        out.append("")
    for name in SECTION_NAMES:
        out += [f"## {name.capitalize()}", ""]
        section = doc.get(name) or {}
        if section.get("error"):
            out += [f"Not collected: {section['error']}", ""]
            continue
        out += _section_summary(name, section, [f for f in findings if f.get("source") == name]) + [""]
    if doc.get("actions"):
        out += ["## Actions taken", ""]
        for a in doc["actions"]:
            out.append(f"- {a['at']} {a['user']}: {a['verb']} {a['target']} -> {a['outcome']} {a.get('message', '')}")
    return visible("\n".join(out) + "\n", multiline=True, limit=None)  # every field is host text: never raw ESC


def _section_summary(name: str, section: dict[str, Any], findings: list[dict[str, Any]]) -> list[str]:
    """The pane's own report; a section it cannot render is said so, and the rest of the report is still written."""
    try:
        return SECTION_REPORTS[name](section, findings)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return [f"Could not render this section ({type(exc).__name__}: {exc}); the JSON snapshot holds its data."]
