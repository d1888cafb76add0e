"""Collectors and analysis import no Textual: they must run headless (snapshot, doctor, cron)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import tui

ROOT = Path(__file__).resolve().parent.parent
UI_MODULES = {"tui.app"}  # plus every `pane` module: the Textual views


def headless_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(tui.__path__, "tui."):
        if info.name in UI_MODULES or info.name.rsplit(".", 1)[-1] == "pane":
            continue
        names.append(info.name)
    return names


def test_there_are_headless_modules_to_check():
    names = headless_modules()
    assert "tui.processes.collect" in names and "tui.snapshot" in names and "tui.cli" in names


def test_headless_modules_do_not_import_textual():
    code = (
        "import importlib, sys\n"
        f"for name in {headless_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "    bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.') or m == 'widgets' or m.startswith('widgets.'))\n"
        "    assert not bad, f'{name} pulled in {bad[:3]}'\n"
        "print('clean')\n"
    )
    assert "clean" in fresh_interpreter(code)


def test_starting_the_app_imports_neither_sqlalchemy_nor_docker():
    """They cost ~0.25 s of start-up and ~45 MB: loaded only once a database or the Docker engine is used."""
    code = (
        "import sys\n"
        "import tui.cli, tui.app, tui.registry, tui.snapshot\n"
        "from tui.config import Config\n"
        "sources = tui.registry.build_sources(Config())\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'docker', 'requests'}))\n"
    )
    assert fresh_interpreter(code).strip() == "[]"


def fresh_interpreter(code: str) -> str:
    """What `code` prints in a new interpreter (imports are only observable in one)."""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout
