"""The headless databases modules (connection check, collectors, analysis, source) load without Textual."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_headless_modules_import_no_textual():
    modules = [p.stem for p in (ROOT / "tui" / "databases").glob("*.py") if p.stem not in ("pane", "__init__")]
    code = "import sys\n" + "".join(f"import tui.databases.{m}\n" for m in modules) + \
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))"
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
    assert {"conncheck", "source", "analysis", "postgres", "mysql", "targets"} <= set(modules)
