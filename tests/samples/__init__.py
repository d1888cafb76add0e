"""Prepared records for UI tests and screenshots, built from the same record types the collectors produce.

Each module `tests/samples/<pane>.py` exposes `section()` and `findings()` for its pane.
"""

FROZEN_NOW = 1_795_000_000.0  # a fixed clock: 2026-11-18 11:06:40 UTC
