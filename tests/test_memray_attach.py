"""memray attach on a real leaking Python process whose own venv has memray; refused when others can change it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import metadata

import pytest

from conftest import require_service
from tests.test_memtrace import LEAKER  # the same leaking request handler, traced the other way
from tui.processes import memrayattach
from tui.processes.memtrace import MEMRAY, memtrace_text, plan, trace_action, trace_allocations


@pytest.fixture(scope="session")
def memray_venv(tmp_path_factory):
    """A venv of its own with memray (the version tshoot's test extras installed, so pip's cache has it)."""
    if shutil.which("gdb") is None:
        require_service("gdb", "gdb is not installed (scripts/install.sh installs it)")
    try:
        version = metadata.version("memray")
    except metadata.PackageNotFoundError:
        require_service("memray", "not installed in tshoot's venv (scripts/install.sh --test installs it)")
    venv = tmp_path_factory.mktemp("memray-venv")
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                           f"memray=={version}"], capture_output=True, text=True)
    if done.returncode != 0:
        require_service("memray", f"pip could not install it into a venv: {done.stderr.strip()[-300:]}")
    return venv


@pytest.fixture
def memray_leaker(memray_venv, tmp_path):
    program = tmp_path / "leaker.py"
    program.write_text(LEAKER)
    process = subprocess.Popen([str(memray_venv / "bin" / "python"), str(program)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    yield process
    process.kill()
    process.wait()


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def _capture_folders(pid: int) -> list[str]:
    return [p for p in os.listdir(f"/proc/{pid}/root/tmp") if p.startswith("tshoot-memtrace-")]


def test_memray_finds_the_leaking_line_then_its_tracker_stops_and_nothing_is_left(memray_leaker, memray_venv):
    pid = memray_leaker.pid
    assert plan(pid).startswith("memray attach for") and str(memray_venv) in plan(pid)
    threads_before = _threads(pid)
    trace = trace_allocations(pid, seconds=2)
    assert trace.method == MEMRAY and "gdb stops the process" in trace.cost and not trace.note
    top = trace.sites[0]
    assert top.frames[-1].endswith("leaker.py:5") and top.size_diff > 5 * 2**20 and top.count_diff > 50
    assert trace.growth >= top.size_diff and 1.5 < trace.seconds < 10
    assert not any("_memray_attach_hook" in frame for site in trace.sites for frame in site.frames)
    assert _threads(pid) == threads_before  # memray's tracker and timer threads have ended
    assert memray_leaker.poll() is None
    assert not _capture_folders(pid)  # the capture went with tshoot's folder
    again = trace_allocations(pid, seconds=1)  # the tracker was stopped: memray attaches afresh
    assert again.method == MEMRAY and again.sites[0].frames[-1].endswith("leaker.py:5")
    assert "still live at its end (memray attach, leaks view" in memtrace_text(again)


def test_the_action_says_memray_was_used_and_stopped(memray_leaker):
    kept = {}
    verified = trace_action(memray_leaker.pid, 1, kept)
    assert verified.effect and "with memray attach" in verified.message and "leaker.py:5" in verified.message
    assert "memray's tracker stopped again" in verified.message and kept[memray_leaker.pid].method == MEMRAY


def test_memray_in_a_venv_another_user_can_change_is_never_run_as_root(memray_leaker, memray_venv):
    """Whoever can write the venv would get root the moment an operator traced the process: gdb and
    tracemalloc instead, and the trace says why."""
    site = next((memray_venv / "lib").glob("python*/site-packages"))
    os.chown(site, 65534, 65534)
    try:
        found, why_not = memrayattach.find_memray(memray_leaker.pid, "%d.%d" % sys.version_info[:2])
        assert found is None and f"{site} belongs to uid 65534" in why_not
        assert "Not memray:" in plan(memray_leaker.pid)
        trace = trace_allocations(memray_leaker.pid, seconds=1)
    finally:
        os.chown(site, 0, 0)
    assert trace.method == "gdb" and "uid 65534" in trace.note and trace.sites[0].frames[-1].endswith("leaker.py:5")
    assert "Not memray:" in memtrace_text(trace)


@pytest.fixture
def user_folder(tmp_path):
    """A folder uid 65534 owns, with the sitecustomize.py its owner could leave there."""
    folder = tmp_path / "deploy-app"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text("open('/tmp/owned-by-a-user', 'w')\n")
    os.chown(folder, 65534, 65534)
    return folder


def _why_not(pid: int) -> str:
    found, why_not = memrayattach.find_memray(pid, "%d.%d" % sys.version_info[:2])
    assert found is None
    return why_not


def test_a_pth_file_that_puts_a_user_folder_on_sys_path_refuses_memray(memray_leaker, memray_venv, user_folder):
    """An editable install (`pip install -e /home/deploy/app`) leaves a root-owned .pth naming the user's folder:
    `python -I` would import that user's sitecustomize.py as root."""
    pth = next((memray_venv / "lib").glob("python*/site-packages")) / "__editable__.app-1.0.pth"
    pth.write_text(f"# an editable install\n\n{user_folder}\n")
    try:
        why_not = _why_not(memray_leaker.pid)
        trace = trace_allocations(memray_leaker.pid, seconds=1)
    finally:
        pth.unlink()
    assert f"{pth} puts {user_folder} on sys.path" in why_not and f"{user_folder} belongs to uid 65534" in why_not
    assert trace.method == "gdb" and str(pth) in trace.note and not os.path.exists("/tmp/owned-by-a-user")


def test_a_pth_file_pointing_at_a_missing_folder_a_user_could_create_refuses_memray(memray_leaker, memray_venv,
                                                                                      user_folder):
    pth = next((memray_venv / "lib").glob("python*/site-packages")) / "later.pth"
    pth.write_text(f"{user_folder}/not-yet\n")
    try:
        why_not = _why_not(memray_leaker.pid)
    finally:
        pth.unlink()
    assert f"{user_folder}/not-yet does not exist but could be created" in why_not and str(pth) in why_not


def test_a_pth_file_with_an_import_line_refuses_memray(memray_leaker, memray_venv):
    pth = next((memray_venv / "lib").glob("python*/site-packages")) / "hook.pth"
    pth.write_text("import os; os.system('id')\n")
    try:
        why_not = _why_not(memray_leaker.pid)
    finally:
        pth.unlink()
    assert f"{pth} has an import line" in why_not


def test_setuptools_distutils_precedence_pth_does_not_refuse_memray(memray_leaker, memray_venv):
    """The one import line every `python3.11 -m venv` carries (setuptools) imports from its own, checked folder."""
    pth = next((memray_venv / "lib").glob("python*/site-packages")) / "distutils-precedence.pth"
    pth.write_text(next(iter(memrayattach.KNOWN_PTH_CODE)) + " \n")
    try:
        found, why_not = memrayattach.find_memray(memray_leaker.pid, "%d.%d" % sys.version_info[:2])
    finally:
        pth.unlink()
    assert found is not None, why_not


def test_a_root_owned_symlink_to_a_user_folder_refuses_memray(memray_leaker, memray_venv, user_folder):
    """The symlink is root's, what it leads to is not: judged by what it resolves to."""
    link = next((memray_venv / "lib").glob("python*/site-packages")) / "app"
    link.symlink_to(user_folder)
    try:
        why_not = _why_not(memray_leaker.pid)
    finally:
        link.unlink()
    assert f"{user_folder} belongs to uid 65534" in why_not


def test_a_symlink_through_a_folder_a_user_owns_refuses_memray(memray_leaker, memray_venv, user_folder, tmp_path):
    """Resolving to a root-owned folder is not enough when a link on the way sits where a user can replace it."""
    safe = tmp_path / "root-only"
    safe.mkdir()
    (user_folder / "hop").symlink_to(safe)
    os.lchown(user_folder / "hop", 0, 0)
    link = next((memray_venv / "lib").glob("python*/site-packages")) / "app"
    link.symlink_to(user_folder / "hop")
    try:
        why_not = _why_not(memray_leaker.pid)
    finally:
        link.unlink()
    assert f"{user_folder} belongs to uid 65534" in why_not


def test_a_lib64_site_packages_another_user_owns_refuses_memray(memray_leaker, memray_venv):
    """Where platlibdir is lib64 the interpreter imports from lib64/pythonX.Y/site-packages as well."""
    lib64 = memray_venv / "lib64"
    was_link = lib64.is_symlink()
    if was_link:
        lib64.unlink()
    site = lib64 / ("python%d.%d" % sys.version_info[:2]) / "site-packages"
    site.mkdir(parents=True)
    os.chown(site, 65534, 65534)
    try:
        why_not = _why_not(memray_leaker.pid)
    finally:
        shutil.rmtree(lib64)
        if was_link:
            lib64.symlink_to("lib")
    assert f"{site} belongs to uid 65534" in why_not


@pytest.mark.parametrize("output", [
    "",
    "[" * 100_000 + "]" * 100_000,
    '{"sites": [{"frames": 1, "size": "x"}], "growth": 0, "seconds": 1}',
    '{"sites": [], "growth": {}, "seconds": 1}',
], ids=["empty", "deep", "wrong-site", "wrong-growth"])
def test_a_capture_read_back_in_an_unexpected_shape_is_refused(output):
    with pytest.raises(memrayattach.MemrayError):
        memrayattach._parsed(output, 1, 15)


async def test_the_confirmation_names_memray_and_its_cost(memray_leaker):
    from tests.uihelpers import select_process
    from tui.app import TshootApp
    from tui.config import Config
    from tui.processes.source import ProcessesSource
    from widgets.dialogs import ConfirmScreen

    app = TshootApp(Config(interval=0.3), [ProcessesSource(Config())])
    async with app.run_test(size=(160, 40)) as pilot:
        await select_process(app, pilot, memray_leaker.pid)
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmScreen)
        assert f"pid {memray_leaker.pid} (python" in app.screen.target
        target = app.screen.target
        assert "memray attach for" in target and "gdb stops the process about half a second" in target
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmScreen)
