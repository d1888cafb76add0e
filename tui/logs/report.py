"""The Logs part of the Markdown incident report: the sources followed, the templates (new ones first), the
access logs' request metrics, and per finding the last lines that match it (its evidence).

The problems listed are the snapshot's own findings, never recomputed here.
"""

from __future__ import annotations

import time
from typing import Any

from tui.logs.records import AccessStats, Cluster, LogsSection
from tui.markdown import clip, code_block, table
from tui.source import section_from_json

NEW_CLUSTER_S = 300.0  # a template first seen this recently is new: listed first (here and in the pane)
TOP_CLUSTERS = 20


def markdown(section: dict[str, Any], findings: list[dict[str, Any]]) -> list[str]:
    logs = section_from_json(LogsSection, section)
    lines = [f"{len(logs.sources)} log sources followed, {len(logs.lines)} lines kept"
             + (f" ({logs.dropped} older lines dropped)." if logs.dropped else ".")]
    if logs.sources:
        lines += [""] + table(["source", "kind", "status", "found by", "lines read", "error"],
                              [[s.name, s.kind, s.status, s.found_by, s.lines_read, s.error] for s in logs.sources])
    if logs.access:
        lines += ["", "Access logs (the last minutes):", ""]
        lines += table(["log", "requests", "req/s", "5xx", "4xx", "p50", "p95", "p99", "worst paths (5xx)",
                        "slowest paths (p95)"], [_access_row(stats) for stats in logs.access])
    if logs.clusters:
        shown = clusters_new_first(logs.clusters, logs.taken_at)[:TOP_CLUSTERS]
        lines += ["", f"Templates ({len(shown)} of {len(logs.clusters)}, new in the last 5 minutes first):", ""]
        lines += table(["new", "count", "level", "first seen", "last seen", "template"],
                       [["new" if is_new(c, logs.taken_at) else "", c.count, c.level,
                         _utc(c.first_seen), _utc(c.last_seen), clip(c.template, 200)] for c in shown])
    for finding in findings:
        evidence = finding.get("evidence") or {}
        matching = [text for text in evidence.get("lines") or [] if isinstance(text, str)]
        if matching:
            lines += ["", f"Last lines of “{finding.get('title', finding.get('id', ''))}”:", ""]
            lines += code_block("\n".join(matching))
    return lines


def is_new(cluster: Cluster, now: float) -> bool:
    """First seen in the last 5 minutes — known only for lines that carry their time or arrived while watching."""
    return not cluster.undated and now - cluster.first_seen <= NEW_CLUSTER_S


def clusters_new_first(clusters: list[Cluster], now: float) -> list[Cluster]:
    """The templates first seen in the last 5 minutes (newest first), then the others as given (most frequent first)."""
    new = sorted((c for c in clusters if is_new(c, now)), key=lambda c: -c.first_seen)
    return new + [c for c in clusters if not is_new(c, now)]


def _access_row(stats: AccessStats) -> list[Any]:
    requests = max(stats.requests, 1)

    def share(status_class: str) -> str:
        return f"{100.0 * stats.per_status_class.get(status_class, 0) / requests:.1f}%"

    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}s"

    return [stats.source, stats.requests, f"{stats.requests / max(stats.window_s, 1.0):.2f}", share("5xx"),
            share("4xx"), seconds(stats.p50_s), seconds(stats.p95_s), seconds(stats.p99_s),
            ", ".join(f"{p.path} ({p.errors} of {p.requests})" for p in stats.top_errors),
            ", ".join(f"{p.path} ({seconds(p.p95_s)})" for p in stats.top_slow)]


def _utc(when: float) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(when))
    except (OverflowError, OSError, ValueError):
        return "-"
