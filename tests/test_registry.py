"""The registry is the one list of sources: a source added with one SourceSpec line appears everywhere, the
import graph has no circle, and panes talk to the app only through messages."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from tests import tinysource
from tests.uihelpers import screen_text
from tui import cli, registry
from tui.app import TshootApp, help_text
from tui.config import Config
from tui.snapshot import build_snapshot, collect_all, load_snapshot, markdown_report, write_snapshot
from tui.symptoms.guides import GuideError, parse_guide

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def tiny(monkeypatch):
    """The tiny load-average source, registered with one line for the length of a test."""
    monkeypatch.setattr(registry, "SPECS", [*registry.SPECS, tinysource.SPEC])
    return tinysource.SPEC


async def test_a_registered_source_gets_a_tab_a_key_help_a_palette_entry_and_polls(tiny):
    app = TshootApp(Config(interval=0.3), [tinysource.LoadSource(Config())])
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        await pilot.press(tiny.key)
        await pilot.pause(0.5)
        assert app.query_one("#tabs").active == tiny.name
        for _ in range(30):  # the real poll reaches the pane through the app's message path
            await pilot.pause(0.1)
            if "runnable" in screen_text(app):
                break
        assert "runnable" in screen_text(app)
        assert "Load" in screen_text(app)  # the tab label
        assert f"{tiny.key}=Load" in help_text(app).plain
        commands = [c.title for c in app.get_system_commands(app.screen)]
        assert "Show Load" in commands
        assert any(f.source == tiny.name for f in app.all_findings())


async def test_an_unclaimed_digit_does_nothing_and_a_claimed_one_shows_its_pane():
    app = TshootApp(Config(), [])
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("9")  # no source claims 9
        assert app.query_one("#tabs").active == registry.names()[0]
        await pilot.press(registry.specs()[1].key)
        assert app.query_one("#tabs").active == registry.names()[1]


def test_a_registered_source_is_in_the_snapshot_the_report_and_the_replay(tiny, tmp_path):
    collection = collect_all(Config(), 0.0, [tinysource.LoadSource(Config())])
    doc = build_snapshot(sections=collection.sections, errors=collection.errors, findings=collection.findings,
                         actions=[])
    assert doc[tiny.name]["load1"] >= 0 and doc[tiny.name]["error"] is None
    report = markdown_report(doc)
    assert "## Load" in report and "Load average over 1 minute" in report
    path = write_snapshot(doc, tmp_path / "snap.json", "json")
    loaded = load_snapshot(path)
    section, error = loaded.sections[tiny.name]
    assert error is None and isinstance(section, tinysource.LoadSection)
    assert section.load1 == doc[tiny.name]["load1"]


async def test_a_registered_source_is_shown_in_a_replay(tiny, tmp_path):
    doc = build_snapshot(sections={tiny.name: tinysource.LoadSection(1.0e9, 3.25, 7)}, errors={}, findings=[],
                         actions=[])
    loaded = load_snapshot(write_snapshot(doc, tmp_path / "snap.json", "json"))
    app = TshootApp(Config(), replay=loaded)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        app.action_show_pane(tiny.name)
        await pilot.pause()
        assert "load 3.25, 7 runnable" in screen_text(app)


def test_a_registered_source_is_in_doctor(monkeypatch, capsys):
    monkeypatch.setattr(registry, "SPECS", [tinysource.SPEC])  # doctor collects what the registry lists
    code = cli.main(["doctor", "--observe", "0", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and [f["id"] for f in out["findings"]] == ["load-seen"]


def test_a_guide_may_jump_to_a_registered_pane_and_only_to_one(tiny):
    guide = """id = "g"\ntitle = "t"\nsummary = "s"\nmeaning = "m"\nverify = "v"\n[[checks]]\nid = "c"\ntitle = "t"
check = "findings"\nparams = { ids = ["load-seen"], source = "loadavg" }\njump = "JUMP"\n"""
    assert parse_guide(guide.replace("JUMP", tiny.name), "g.toml").checks[0].jump == tiny.name
    with pytest.raises(GuideError, match="is not a pane"):
        parse_guide(guide.replace("JUMP", "nowhere"), "g.toml")


def test_names_and_keys_are_unique_and_registering_twice_is_refused(tiny):
    assert len(set(registry.names())) == len(registry.specs())
    assert len({s.key for s in registry.specs()}) == len(registry.specs())
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(tiny)


# ---------------------------------------------------------------- structure

def _modules() -> dict[str, Path]:
    found = {}
    for package in ("tui", "widgets"):
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    """Every tui/widgets module `path` imports, at the top or inside a function (a late import is still a circle)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in found if name in known and name != module}


def test_the_import_graph_has_no_circle():
    modules = _modules()
    graph = {name: _imports(path, name, set(modules)) for name, path in modules.items()}
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                circle = path[path.index(target):] + [target]
                pytest.fail("import circle: " + " -> ".join(circle))
            if target not in state:
                visit(target, path + [target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_no_pane_imports_another_pane_or_reaches_into_the_app():
    modules = _modules()
    panes = {name for name in modules if name.endswith(".pane") and name.startswith("tui.")}
    for name in panes:
        text = modules[name].read_text()
        assert not (_imports(modules[name], name, set(modules)) & (panes - {name})), f"{name} imports another pane"
        for private in ("self.app.sections", "self.app.status", "self.app.findings", "self.app.sources",
                        "self.app.jump_to", "self.app.request_action", "self.app.poll_now", "self.app.pane("):
            assert private not in text, f"{name} uses {private}: post a message or read its own reactive state"



def test_no_textual_private_module_is_imported():
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.startswith("textual._") or "._" in n and n.startswith("textual") for n in names), name



def test_source_names_are_written_only_in_the_registry():
    """Finding(source=...), Source.name and SourcePane.source_name come from registry constants, never a literal."""
    names = set(registry.names())
    for module, path in _modules().items():
        if module == "tui.registry":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            literal = None
            if isinstance(node, ast.keyword) and node.arg in ("source", "pane"):
                literal = node.value
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in ("name", "source_name", "SOURCE")
                                                      for t in node.targets):
                literal = node.value
            if isinstance(literal, ast.Constant) and literal.value in names:
                pytest.fail(f"{module}:{node.lineno} writes the source name {literal.value!r}: use tui.registry's constant")
