"""Python runtimes: version, implementation, OS and installed packages of an interpreter, and the pinned
packages of a requirements or lock file, as comparable keys.

The probe that describes an interpreter is one piece of source: tshoot runs it in-process for itself and
with `python -c` (under a timeout) for another interpreter or virtualenv, so both report the same keys.
"""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path
from typing import Any

from tui.env.side import PACKAGES, RUNTIME, Side, SideError, read_text
from tui.safefile import REQUIREMENTS_LIMIT, FileRefused, parse_json, parse_toml

INTERPRETER_TIMEOUT_S = 15.0
LOCK_FILE_NAMES = {"poetry.lock", "uv.lock", "pylock.toml", "pipfile.lock"}

# Runs on the target interpreter, which may be old: plain Python 3 only, no f-strings, no tshoot imports.
_PROBE = r'''
def describe():
    import platform, sys
    runtime = {
        "python.version": platform.python_version(),
        "python.implementation": platform.python_implementation(),
        "os.system": platform.system(),
        "os.release": platform.release(),
        "os.machine": platform.machine(),
    }
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    runtime["os.distribution"] = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    packages = {}
    try:
        from importlib import metadata
        for dist in metadata.distributions():
            name = dist.metadata["Name"]
            if name:
                packages[name] = dist.version
    except ImportError:
        import pkg_resources
        for dist in pkg_resources.working_set:
            packages[dist.project_name] = dist.version
    return {"runtime": runtime, "packages": packages, "executable": sys.executable}
'''
_namespace: dict[str, Any] = {}
exec(compile(_PROBE, "<runtime probe>", "exec"), _namespace)  # noqa: S102 — our own constant source


def normalize_package(name: str) -> str:
    """PEP 503 name, so `Foo_Bar` installed and `foo-bar` pinned are the same package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def this_runtime() -> tuple[dict[str, str], dict[str, str]]:
    """(runtime keys, packages) of the interpreter running tshoot (copies: callers may add to them)."""
    runtime, packages = _described_once()
    return dict(runtime), dict(packages)


@functools.cache
def _described_once() -> tuple[dict[str, str], dict[str, str]]:
    """The interpreter running tshoot does not change while it runs; listing its packages takes ~50 ms."""
    described = _namespace["describe"]()
    return described["runtime"], _normalized(described["packages"])


def _normalized(packages: dict[str, str]) -> dict[str, str]:
    return {normalize_package(name): version for name, version in packages.items()}


def load_interpreter(path: str, spec: str) -> Side:
    """Run the probe on another interpreter (`python:/srv/app/.venv/bin/python`)."""
    if Path(path).is_dir():  # a virtualenv folder
        path = str(Path(path) / "bin" / "python")
    try:
        done = subprocess.run(
            [path, "-I", "-c", _PROBE + "\nimport json\nprint(json.dumps(describe()))"],
            capture_output=True, text=True, timeout=INTERPRETER_TIMEOUT_S, check=False,
        )
    except FileNotFoundError:
        raise SideError(f"{spec}: no such interpreter {path}") from None
    except PermissionError:
        raise SideError(f"{spec}: {path} is not executable") from None
    except OSError as exc:
        raise SideError(f"{spec}: cannot run {path} ({exc.strerror or exc})") from None
    except subprocess.TimeoutExpired:
        raise SideError(f"{spec}: {path} did not answer within {INTERPRETER_TIMEOUT_S:.0f} s") from None
    try:  # whatever the program printed: nesting bounded, and it must have the probe's shape
        described = parse_json(done.stdout, path)
        if not all(isinstance(described[part], dict) for part in ("runtime", "packages")):
            raise TypeError("not the probe's answer")
        runtime = {str(key): str(value) for key, value in described["runtime"].items()}
        packages = _normalized({str(key): str(value) for key, value in described["packages"].items()})
    except (FileRefused, KeyError, TypeError, AttributeError):
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SideError(f"{spec}: {path} is not a Python interpreter tshoot can query ({last[:120]})") from None
    return Side(spec, "python", str(described.get("executable") or path), {RUNTIME: runtime, PACKAGES: packages})


def is_requirements_file(path: str) -> bool:
    name = Path(path).name.lower()
    return name in LOCK_FILE_NAMES or bool(re.match(r"(requirements|constraints).*\.(txt|in)$", name))


def load_requirements(path: str, spec: str) -> Side:
    """Pinned packages of a requirements file or a lock file (poetry.lock, uv.lock, pylock.toml, Pipfile.lock)."""
    text, problems = read_text(path, "requirements file", REQUIREMENTS_LIMIT)
    name = Path(path).name.lower()
    try:
        if name == "pipfile.lock":
            data = parse_json(text, path)
            packages = {normalize_package(n): str(info.get("version", "")).lstrip("=") or "(any)"
                        for group in ("default", "develop") for n, info in data.get(group, {}).items()}
        elif name in LOCK_FILE_NAMES:
            data = parse_toml(text, path)
            packages = {normalize_package(p["name"]): str(p.get("version", "(any)"))
                        for p in data.get("package", data.get("packages", []))}
        else:
            packages, line_problems = parse_requirements(text)
            problems += line_problems
    except FileRefused as exc:
        raise SideError(f"lock file {exc}") from None
    except (AttributeError, KeyError, TypeError) as exc:
        raise SideError(f"lock file {path}: not in the expected format ({exc})") from None
    return Side(spec, "requirements", path, {PACKAGES: packages}, problems=problems)


def parse_requirements(text: str) -> tuple[dict[str, str], list[str]]:
    """`name==1.2` gives `1.2`; a range keeps its specifier (`>=1.2`), compared by whether it is satisfied."""
    from packaging.requirements import InvalidRequirement, Requirement  # here: only requirements files need it

    packages: dict[str, str] = {}
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*", "", raw).strip().rstrip("\\").strip()
        if not line or line.startswith("-"):  # options, -r includes, -e editables
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            problems.append(f"line {number}: not a requirement; skipped")
            continue
        specifiers = list(requirement.specifier)
        pinned = len(specifiers) == 1 and specifiers[0].operator in ("==", "===")
        packages[normalize_package(requirement.name)] = (
            specifiers[0].version if pinned else str(requirement.specifier) or "(any)"
        )
    return packages, problems
