"""Reusable Textual widgets for tshoot's panes."""
