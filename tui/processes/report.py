"""The Processes part of the Markdown incident report: system load, then the processes that use the most."""

from __future__ import annotations

from typing import Any

from tui.markdown import MIB, clip, table

TOP_BY_CPU = 10
EXTRA_BY_MEMORY = 5  # big-memory processes not already among the CPU top


def markdown(section: dict[str, Any], _findings: list[dict[str, Any]]) -> list[str]:
    """Load, CPU, memory and swap; the top processes by CPU plus the largest by memory; listening ports."""
    s = section["system"]
    rows = section["rows"]
    lines = [
        f"Load {' '.join(str(x) for x in s['load'])} on {s['cores']} cores; CPU {s['cpu_percent']}% "
        f"(iowait {s['iowait_percent']}%); memory {s['mem_percent']}% used, "
        f"{s['mem_available'] / MIB:.0f} MB available; swap {s['swap_used'] / MIB:.0f}/{s['swap_total'] / MIB:.0f} MB.",
        f"{len(rows)} processes.",
        "",
    ]
    top = sorted(rows, key=lambda r: (r["cpu_percent"], r["rss"]), reverse=True)[:TOP_BY_CPU]
    top += [r for r in sorted(rows, key=lambda r: r["rss"], reverse=True)[:TOP_BY_CPU] if r not in top][:EXTRA_BY_MEMORY]
    lines += table(
        ["pid", "user", "name", "CPU%", "RSS MB", "state", "command"],
        [[r["pid"], r["user"], r["name"], r["cpu_percent"], f"{r['rss'] / MIB:.0f}", r["state"], clip(r["cmdline"], 80)]
         for r in top],
    )
    if section.get("listening"):
        lines += ["", "Listening: " + ", ".join(f"{p['proto']}/{p['port']} ({p['process']})" for p in section["listening"])]
    return lines
