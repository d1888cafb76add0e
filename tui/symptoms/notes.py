"""Incident notes: one line per step of the workflow, carried by snapshots (`notes` key) and the Markdown report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WORKFLOW = ("reproduce", "isolate", "collect", "hypothesis", "test", "fix", "verify", "document")
PROMPTS = {
    "reproduce": "Can you make it happen on demand? How?",
    "isolate": "The smallest case that still shows it",
    "collect": "Logs, metrics, stacks, environment gathered",
    "hypothesis": "What you think causes it",
    "test": "How you tested that, and what happened",
    "fix": "What was changed",
    "verify": "How you know it is fixed (guide re-run, monitoring)",
    "document": "Why it happened and how to prevent it",
}
MAX_LINE_CHARS = 500


@dataclass
class IncidentNotes:
    lines: dict[str, str] = field(default_factory=dict)  # workflow step -> the operator's line

    def set(self, step: str, text: str) -> None:
        if step not in WORKFLOW:
            raise ValueError(f"unknown step '{step}' (steps: {', '.join(WORKFLOW)})")
        line = " ".join(text.split())[:MAX_LINE_CHARS]
        if line:
            self.lines[step] = line
        else:
            self.lines.pop(step, None)

    def to_json(self) -> dict[str, str]:
        """Steps in workflow order, only those written: the snapshot's `notes` object."""
        return {step: self.lines[step] for step in WORKFLOW if step in self.lines}

    @classmethod
    def from_json(cls, data: Any) -> IncidentNotes:
        """Notes from a snapshot; unknown steps and non-text values are dropped rather than failing the replay."""
        notes = cls()
        if isinstance(data, dict):
            for step, text in data.items():
                if step in WORKFLOW and isinstance(text, str):
                    notes.set(step, text)
        return notes
