"""Counted nouns for on-screen text: "1 thread", "2 threads" — never "1 threads"."""

from __future__ import annotations


def count(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and the noun in the number that fits it; `plural` for nouns that do not just take an "s"."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
