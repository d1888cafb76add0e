"""The header line: host, uptime, load, CPU, memory, last refresh, and collectors in trouble."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Static


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

    _shown: Text | None = None

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
        now: float | None = None,
        numbers_at: float | None = None,
        stale_after_s: float = float("inf"),
    ) -> None:
        """`refreshed_at`: the visible pane's last good poll; `numbers_at`: when load, CPU and memory were read.
        Either older than `stale_after_s` at `now` is followed by its age, so no number looks fresher than it is."""
        text = Text()
        text.append(" tshoot ", style="bold reverse")
        if mode:
            text.append(f" {mode} ", style="bold black on yellow")
        text.append(f" {host}", style="bold")
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
        if now is not None and numbers_at is not None and now - numbers_at > stale_after_s:
            text.append(f" ({human_duration(now - numbers_at)} ago)", style="yellow")
        if refreshed_at is not None:
            text.append(f"  @{time.strftime('%H:%M:%S', time.localtime(refreshed_at))}", style="dim")
            if now is not None and now - refreshed_at > stale_after_s:
                text.append(f" {human_duration(now - refreshed_at)} old", style="bold yellow")
        for name, reason in problems.items():
            text.append(f"  ⚠ {name}", style="bold yellow")
        if problems:
            text.append(" (!)", style="dim")
        if text == self._shown:
            return  # the app repaints the header every second for its clock; most seconds nothing moved
        self._shown = text
        self.update(text, layout=False)  # one line, fixed height: no screen-wide layout per refresh
