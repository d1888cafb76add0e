"""The header line: host, uptime, load, CPU, memory, last refresh, and collectors in trouble."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Static

from tui.textsafe import visible


def human_bytes(n: float) -> str:
    for unit in ("B", "K", "M", "G", "T"):
        if abs(n) < 1024 or unit == "T":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n:.1f}T"


def human_duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class StatusHeader(Static):
    """Rendered from plain values the app hands over; knows nothing about collectors."""

    def show(
        self,
        *,
        host: str,
        uptime_s: float | None,
        load: list[float] | None,
        cores: int | None,
        cpu_percent: float | None,
        mem_percent: float | None,
        mem_used: float | None,
        mem_total: float | None,
        refreshed_at: float | None,
        problems: dict[str, str],
        mode: str,
    ) -> None:
        text = Text()
        text.append(" tshoot ", style="bold reverse")
        if mode:
            text.append(f" {visible(mode)} ", style="bold black on yellow")  # a replay's time comes from its file
        text.append(f" {visible(host)}", style="bold")
        if uptime_s is not None:
            text.append(f"  up {human_duration(uptime_s)}")
        if load is not None and cores:
            style = "bold red" if load[0] > cores else ""
            text.append("  load ")
            text.append(" ".join(f"{x:.2f}" for x in load), style=style)
            text.append(f" /{cores} cores")
        if cpu_percent is not None:
            text.append("  cpu ")
            text.append(f"{cpu_percent:.0f}%", style="bold red" if cpu_percent > 90 else "")
        if mem_percent is not None and mem_total:
            text.append("  mem ")
            text.append(
                f"{human_bytes(mem_used or 0)}/{human_bytes(mem_total)} ({mem_percent:.0f}%)",
                style="bold red" if mem_percent > 95 else "",
            )
        if refreshed_at is not None:
            text.append(f"  @{time.strftime('%H:%M:%S', time.localtime(refreshed_at))}", style="dim")
        for name, reason in problems.items():
            text.append(f"  ⚠ {visible(name)}", style="bold yellow")
        if problems:
            text.append(" (!)", style="dim")
        self.update(text, layout=False)  # one line, fixed height: no screen-wide layout per refresh
