"""Snapshots: every source collected once (with a short observation window), serialised to a file.

`tshoot snapshot`, `tshoot doctor`, the guides and the app's `S` key all go through `collect_all` /
`build_snapshot`; `tshoot replay` reads the file back into the same section records the panes render.
Everything written passes through redaction first.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tui import registry
from tui import __version__
from tui.actions import ActionRecord
from tui.config import Config
from tui.correlate import correlate
from tui.errorlog import log_exception
from tui.findings import Finding, by_severity
from tui.redact import redact_deep
from tui.safefile import SNAPSHOT_LIMIT, FileRefused, parse_json, read_text, write_atomic
from tui.source import (Source, SourceUnavailable, record_from_json, section_from_json, section_to_json,
                        unavailable_json)
from tui.textsafe import visible

SCHEMA = 1


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
    sources = registry.build_sources(config) if sources is None else sources
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
    for spec in registry.collecting():
        name = spec.name
        if name in errors:
            doc[name] = unavailable_json(*errors[name])
        elif sections.get(name) is not None:
            doc[name] = section_to_json(sections[name])
            spec.source_class.strip_for_file(doc[name], keep_locals)
        else:
            doc[name] = unavailable_json("not collected yet: its first poll had not finished")
    doc["actions"] = [dataclasses.asdict(a) for a in actions]
    doc["findings"] = [dataclasses.asdict(f) for f in by_severity(findings)]
    doc["notes"] = notes or {}
    return redact_deep(doc)


def default_snapshot_name(host: str, fmt: str = "json") -> str:
    return f"tshoot-{host}-{datetime.now().strftime('%Y%m%d-%H%M%S')}.{fmt}"


def write_snapshot(doc: dict[str, Any], path: Path | str, fmt: str) -> Path:
    """Write atomically, owner-only (a snapshot describes the whole machine: processes, sessions,
    environments), never through a link or into a prepared file: `tui.safefile.write_atomic`.
    FileRefused when `path` is a link or not a regular file; OSError when the write fails."""
    text = markdown_report(doc) if fmt == "md" else json.dumps(doc, indent=1, default=str) + "\n"
    return write_atomic(path, text, mode=0o600)


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
    try:  # a regular file of bounded size, JSON of bounded nesting without NaN/Infinity
        raw = parse_json(read_text(path, SNAPSHOT_LIMIT), path)
    except FileRefused as exc:
        raise SnapshotError(str(exc)) from None
    shown = visible(path)
    if not isinstance(raw, dict) or "schema" not in raw:
        raise SnapshotError(f"{shown}: not a tshoot snapshot (no 'schema' key)")
    if type(raw["schema"]) is not int or raw["schema"] != SCHEMA:
        raise SnapshotError(f"{shown}: snapshot schema {visible(repr(raw['schema']), limit=40)}; "
                            f"this tshoot reads schema {SCHEMA}")
    try:
        return _validated(raw, str(path))
    except ValueError as exc:
        raise SnapshotError(f"{shown}: {exc}") from None


def _validated(raw: dict[str, Any], path: str) -> LoadedSnapshot:
    """Every part of the document checked before anything is shown: a field of the wrong type, a number
    that is not finite, an unknown severity is a ValueError naming the field — never a crash in a pane."""
    header = {key: raw.get(key, "?") for key in ("host", "taken_at")}
    for key, value in header.items():
        if not isinstance(value, str):
            raise ValueError(f"'{key}' should be a string, not {type(value).__name__}")
    sections: dict[str, tuple[Any, str | None]] = {}
    for spec in registry.collecting():
        name = spec.name
        data = raw.get(name)
        if data is None:
            sections[name] = (None, "missing from this snapshot")
        elif not isinstance(data, dict):
            raise ValueError(f"section '{name}' should be an object, not {type(data).__name__}")
        elif data.get("error") is not None:
            if not isinstance(data["error"], str):
                raise ValueError(f"section '{name}': 'error' should be a string, not {type(data['error']).__name__}")
            sections[name] = (None, data["error"] or "not collected")
        else:
            try:
                section = section_from_json(spec.section_type, data)
                _check_plausible(section, name)
                sections[name] = (section, None)
            except ValueError as exc:
                raise ValueError(f"section '{name}' is malformed: {exc}") from None
    findings = _records(raw, "findings", Finding)
    actions = _records(raw, "actions", ActionRecord)
    notes = raw.get("notes") or {}
    if not isinstance(notes, dict) or not all(isinstance(v, str) for v in notes.values()):
        raise ValueError("'notes' should be an object of strings")
    try:
        epoch = datetime.fromisoformat(header["taken_at"]).timestamp()
    except (ValueError, OverflowError):
        epoch = 0.0
    return LoadedSnapshot(
        path=path,
        host=header["host"],
        taken_at=header["taken_at"],
        taken_epoch=epoch,
        sections=sections,
        findings=findings,
        actions=[dataclasses.asdict(a) for a in actions],
        notes=notes,
        raw=raw,
    )


# Fields the panes render as dates (epoch seconds), and lists the panes index by position: a value beyond
# these is crafted and would crash the pane that renders it (time.localtime overflows, load[0] is missing).
EPOCH_FIELDS = frozenset({"taken_at", "started", "at", "last_full_sync", "recent_exits"})
LATEST_EPOCH = 4_102_444_800  # 2100-01-01
FIXED_LENGTHS = {("SystemSummary", "load"): 3}  # 1, 5 and 15 minutes


def _check_plausible(record: Any, where: str) -> None:
    """ValueError naming the field when a type-checked record holds a value no host would produce."""
    stack = [(record, where)]
    while stack:
        value, path = stack.pop()
        if dataclasses.is_dataclass(value):
            for f in dataclasses.fields(value):
                item, here = getattr(value, f.name), f"{path}.{f.name}"
                length = FIXED_LENGTHS.get((type(value).__name__, f.name))
                if length is not None and len(item) != length:
                    raise ValueError(f'field "{here}" should have {length} items, not {len(item)}')
                if f.name in EPOCH_FIELDS:
                    for stamp in item if isinstance(item, (list, tuple)) else [item]:
                        if isinstance(stamp, (int, float)) and not 0 <= stamp <= LATEST_EPOCH:
                            raise ValueError(f'field "{here}" is not a time between 1970 and 2100')
                stack.append((item, here))
        elif isinstance(value, (list, tuple)):
            stack.extend((item, f"{path}[{index}]") for index, item in enumerate(value))
        elif isinstance(value, dict):
            stack.extend((item, f"{path}.{key}") for key, item in value.items())


def _records(raw: dict[str, Any], key: str, record_type: type) -> list[Any]:
    """The list under `key` (absent: empty), each item a type-checked `record_type`."""
    items = raw.get(key, [])
    if not isinstance(items, list):
        raise ValueError(f"'{key}' should be a list, not {type(items).__name__}")
    records = []
    for number, item in enumerate(items, start=1):
        try:
            records.append(record_from_json(record_type, item))
        except ValueError as exc:
            raise ValueError(f"{key} item {number} is malformed: {exc}") from None
    return records


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
    for spec in registry.collecting():
        out += [f"## {spec.title}", ""]
        section = doc.get(spec.name) or {}
        if section.get("error"):
            out += [f"Not collected: {section['error']}", ""]
            continue
        out += _section_summary(spec, section, [f for f in findings if f.get("source") == spec.name]) + [""]
    if doc.get("actions"):
        out += ["## Actions taken", ""]
        for a in doc["actions"]:
            out.append(f"- {a['at']} {a['user']}: {a['verb']} {a['target']} -> {a['outcome']} {a.get('message', '')}")
    return visible("\n".join(out) + "\n", multiline=True, limit=None)  # every field is host text: never raw ESC


def _section_summary(spec: registry.SourceSpec, section: dict[str, Any], findings: list[dict[str, Any]]) -> list[str]:
    """The source's own report (it shows the findings the snapshot holds: recomputing them with default thresholds
    could contradict it); a section it cannot render is said so, and the rest of the report is still written."""
    if spec.report is None:
        return []
    try:
        return spec.report(section, findings)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return [f"Could not render this section ({type(exc).__name__}: {exc}); the JSON snapshot holds its data."]
