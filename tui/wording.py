"""Words for on-screen and report text: counted nouns ("1 thread", never "1 threads") and durations."""

from __future__ import annotations


def count(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and the noun in the number that fits it; `plural` for nouns that do not just take an "s"."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def human_duration(seconds: float | None) -> str:
    """A duration as an operator reads it: 4s, 12m30s, 3h05m, 2d03h; "-" when unknown.

    The one formatter for every pane, the header and the reports; a negative span (clocks apart) reads 0s.
    """
    if seconds is None:
        return "-"
    whole = int(max(0.0, seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
