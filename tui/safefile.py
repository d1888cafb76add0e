"""Every file tshoot reads because someone named it, and every file it writes.

A path given to tshoot (a replay file, an env-diff side, `--config`, `guide --log`, `--token-file`, an env
file in another user's working directory) may be a FIFO that never sends end-of-file, `/dev/zero`, a
watchdog device whose mere opening arms a reboot, a file growing while it is read, or a small document that
expands to gigabytes (a YAML alias bomb) or nests deeper than the parser's stack. Reading goes through
`open_regular` / `read_bytes`: only regular files are opened (the path is resolved with O_PATH, which
opens nothing, and only a regular file is then reopened for reading), at most `limit` bytes are read, and
the parsers below bound nesting and expansion. Every refusal is one `FileRefused` naming the file and
the problem.

Writing goes through `write_atomic`: an unpredictable temporary name in the destination's directory created
with O_EXCL|O_NOFOLLOW and mode 0600 set on the descriptor, fsync, then an atomic rename. A destination that
is a symbolic link is refused; the rename itself replaces a link planted later, never writes through it.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from tui.textsafe import visible

KB, MB = 1024, 1024 * 1024
# Caps per kind of file: far above any real one, far below what would exhaust a sick machine's memory.
CONFIG_LIMIT = 1 * MB  # tshoot's own TOML config and the operator's guide files
TOKEN_LIMIT = 64 * KB  # `guide --token-file`: a token, a JWT, at most a certificate chain
ENV_FILE_LIMIT = 4 * MB  # .env files
CONFIG_SIDE_LIMIT = 16 * MB  # an application's YAML/JSON/TOML/INI config compared by env-diff
REQUIREMENTS_LIMIT = 16 * MB  # requirements and lock files
SNAPSHOT_LIMIT = 100 * MB  # a snapshot of a 10,000-process host with thread stacks is a few MB
SOURCE_FILE_LIMIT = 8 * MB  # a Python source file a stack frame points at
MAX_DEPTH = 100  # nesting of any parsed document: far below the interpreter's recursion limit
MAX_YAML_NODES = 500_000  # nodes of a YAML document once its aliases are expanded


class FileRefused(OSError):
    """A file tshoot will not read or write; `str()` is "<path>: <problem>", ready to show.

    An OSError whose `strerror` is the problem, so code that reports a failed write as
    "cannot write PATH: {exc.strerror}" reports a refusal the same way."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        super().__init__(f"{visible(str(path))}: {problem}")
        self.path = str(path)
        self.problem = self.strerror = problem


def _size(n: float) -> str:
    return f"{n / MB:.1f} MB" if n >= MB else f"{n / KB:.0f} KB"


def _limit(n: int) -> str:
    return f"{n // MB} MB" if n >= MB else f"{n // KB} KB"


_KINDS = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")]


def _require_regular(status: os.stat_result, path: str | os.PathLike[str]) -> None:
    if not stat.S_ISREG(status.st_mode):
        kind = next((name for test, name in _KINDS if test(status.st_mode)), "not a regular file")
        raise FileRefused(path, f"is {kind}, not a regular file")


def _reopen_through_proc() -> bool:
    return hasattr(os, "O_PATH") and os.path.isdir("/proc/self/fd")


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """The file opened for reading (binary, unbuffered) if it is a regular file; FileRefused otherwise.

    Nothing else is ever opened: with O_PATH the path is resolved without opening the file, and only once
    fstat says it is regular is that same inode reopened (through /proc/self/fd), so a FIFO cannot block,
    a device cannot be read or armed, and swapping the path between check and open changes nothing.
    """
    flags = os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        if _reopen_through_proc():
            handle = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                _require_regular(os.fstat(handle), path)
                fd = os.open(f"/proc/self/fd/{handle}", flags)
            finally:
                os.close(handle)
        else:
            fd = os.open(path, flags)
        try:
            _require_regular(os.fstat(fd), path)
        except FileRefused:
            os.close(fd)
            raise
    except FileRefused:
        raise
    except FileNotFoundError:
        raise FileRefused(path, "no such file") from None
    except PermissionError:
        raise FileRefused(path, "permission denied (run tshoot as a user who can read it)") from None
    except OSError as exc:
        raise FileRefused(path, f"cannot open it ({exc.strerror or exc})") from None
    return os.fdopen(fd, "rb", buffering=0)


def read_bytes(path: str | os.PathLike[str], limit: int) -> bytes:
    """A regular file's bytes, at most `limit` of them: a bigger file, or one that grows past it while
    being read, is refused rather than read."""
    with open_regular(path) as file:
        return _read_open(file, path, limit)


def _read_open(file: BinaryIO, path: str | os.PathLike[str], limit: int) -> bytes:
    size = os.fstat(file.fileno()).st_size
    if size > limit:
        raise FileRefused(path, f"{_size(size)}, larger than the {_limit(limit)} such a file can sensibly be"
                                " — is it the right file?")
    chunks, total = [], 0
    try:
        while total <= limit:
            chunk = file.read(min(1 * MB, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise FileRefused(path, f"cannot read it ({exc.strerror or exc})") from None
    if total > limit:
        raise FileRefused(path, f"grew past the {_limit(limit)} such a file can sensibly be while it was read")
    return b"".join(chunks)


@dataclass(frozen=True)
class Reader:
    """The user a file is read for. tshoot runs as root, but a path another user's process names (a stack
    frame's file: any string its code object holds) must not make tshoot read what that user cannot."""

    uid: int
    gids: frozenset[int]


def reader_of(pid: int) -> Reader | None:
    """The filesystem uid and groups a process opens files with (/proc/PID/status); None once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
        uid = int(fields["Uid"].split()[3])
        gids = {int(fields["Gid"].split()[3]), *map(int, fields.get("Groups", "").split())}
    except (OSError, KeyError, ValueError, IndexError):
        return None
    return Reader(uid, frozenset(gids))


def _allows(status: os.stat_result, reader: Reader, user_bit: int, group_bit: int, other_bit: int) -> bool:
    if reader.uid == 0:
        return True
    if status.st_uid == reader.uid:
        return bool(status.st_mode & user_bit)
    if status.st_gid in reader.gids:
        return bool(status.st_mode & group_bit)
    return bool(status.st_mode & other_bit)


MAX_SYMLINKS = 40  # as the kernel's own path walk


def _resolve_as(reader: Reader, root: str, path: str) -> str:
    """`path` resolved below `root` one component at a time, the way the kernel walks it for the process:
    a symbolic link is followed by hand (an absolute one from `root`, never from tshoot's own /), and every
    folder actually walked through must be searchable by `reader`. Checking only the folders the path names
    let a link (`/tmp/link -> /root/project`) skip a folder the reader may not search."""
    pending = [p for p in path.split("/") if p and p != "."]
    real: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            if real:
                real.pop()
            continue
        here = os.path.join(root, *real)
        try:
            if not _allows(os.stat(here), reader, stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH):
                raise FileRefused(path, f"its folder {visible(here)} is not open to uid {reader.uid}")
            link = os.path.join(here, part)
            if not stat.S_ISLNK(os.lstat(link).st_mode):
                real.append(part)
                continue
            target = os.readlink(link)
        except FileNotFoundError:
            raise FileRefused(path, "no such file") from None
        except FileRefused:
            raise
        except OSError as exc:
            raise FileRefused(path, f"cannot follow it ({exc.strerror or exc})") from None
        hops += 1
        if hops > MAX_SYMLINKS:
            raise FileRefused(path, "too many levels of symbolic links")
        if target.startswith("/"):
            real = []
        pending[:0] = [p for p in target.split("/") if p and p != "."]
    return os.path.join(root, *real)


def read_bytes_as(reader: Reader, root: str, path: str, limit: int) -> bytes:
    """`root`/`path` read only if `reader` could read it: search permission on each folder walked from
    `root` down (links followed inside `root`), read permission on the file (mode bits; ACLs are not
    consulted, so this errs on refusing)."""
    resolved = _resolve_as(reader, root, path)
    with open_regular(resolved) as file:  # the file checked is the file read
        if not _allows(os.fstat(file.fileno()), reader, stat.S_IRUSR, stat.S_IRGRP, stat.S_IROTH):
            raise FileRefused(path, f"not readable by uid {reader.uid}")
        return _read_open(file, path, limit)


def open_regular_as(reader: Reader, root: str, path: str) -> BinaryIO:
    """`root`/`path` opened for reading (to follow it) only if `reader` could open it: the folders walked from
    `root` down searchable, links followed by hand inside `root`, read permission on the file itself."""
    resolved = _resolve_as(reader, root, path)
    file = open_regular(resolved)
    if not _allows(os.fstat(file.fileno()), reader, stat.S_IRUSR, stat.S_IRGRP, stat.S_IROTH):
        file.close()
        raise FileRefused(path, f"not readable by uid {reader.uid}" if reader.uid >= 0 else "not readable by its group")
    return file


def read_text(path: str | os.PathLike[str], limit: int) -> str:
    """A regular file's text, which must be UTF-8."""
    data = read_bytes(path, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FileRefused(path, f"not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line})") from None


# --- parsers with bounded nesting and expansion ------------------------------------------------------------

_JSON_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_TOML_STRINGS = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"[^"\\\n]*(?:\\.[^"\\\n]*)*"|\'[^\'\n]*\'|#[^\n]*')
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_OPEN_RUN = re.compile(r"\(+")


def _bracket_depth_exceeds(text: str, strings: re.Pattern[str], limit: int) -> bool:
    """Whether brackets outside strings nest deeper than `limit` (an upper bound for invalid documents).

    Done with whole-string operations (no per-character Python loop), so a 100 MB document costs a few
    passes: innermost pairs are removed once per level, and a run of more than `limit` openers is too deep.
    """
    parens = _NOT_BRACKETS.sub("", strings.sub("", text))
    parens = parens.replace("[", "(").replace("{", "(").replace("]", ")").replace("}", ")")
    for _ in range(limit + 1):
        if max(map(len, _OPEN_RUN.findall(parens)), default=0) > limit:
            return True
        reduced = parens.replace("()", "")
        if reduced == parens:  # what is left never closes: invalid, the parser reports where
            return False
        parens = reduced
    return bool(parens)


def _check_parsed(data: Any, path: str | os.PathLike[str], fmt: str) -> Any:
    """`data` when it nests at most MAX_DEPTH deep (TOML dotted keys nest without brackets) and holds no
    integer beyond 64 bits (hex `0xfff…` is parsed, but a huge one cannot even be printed)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise _too_deep(path, fmt)
            stack.extend((child, depth + 1) for child in (value.values() if isinstance(value, dict) else value))
        elif isinstance(value, int) and value.bit_length() > 64:
            raise FileRefused(path, f"invalid {fmt}: an integer larger than 64 bits")
    return data


def _too_deep(path: str | os.PathLike[str], fmt: str) -> FileRefused:
    return FileRefused(path, f"invalid {fmt}: nested deeper than {MAX_DEPTH} levels")


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number tshoot accepts")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def parse_json(text: str, path: str | os.PathLike[str]) -> Any:
    """JSON with nesting bounded, and without NaN, Infinity or numbers that overflow to them."""
    if _bracket_depth_exceeds(text, _JSON_STRINGS, MAX_DEPTH):
        raise _too_deep(path, "JSON")
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise FileRefused(path, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise _too_deep(path, "JSON") from None
    except ValueError as exc:  # our refusals above, and integers longer than Python converts
        raise FileRefused(path, f"invalid JSON: {str(exc).splitlines()[0]}") from None


def parse_toml(text: str, path: str | os.PathLike[str]) -> dict[str, Any]:
    """TOML with nesting bounded (arrays and inline tables, and dotted keys)."""
    if _bracket_depth_exceeds(text, _TOML_STRINGS, MAX_DEPTH):
        raise _too_deep(path, "TOML")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FileRefused(path, f"invalid TOML: {exc}") from None
    except RecursionError:
        raise _too_deep(path, "TOML") from None
    except ValueError as exc:  # an integer longer than Python converts
        raise FileRefused(path, f"invalid TOML: {str(exc).splitlines()[0]}") from None
    return _check_parsed(data, path, "TOML")


class BoundedYamlLoader(yaml.SafeLoader):
    """SafeLoader that refuses documents nesting deeper than MAX_DEPTH, recursive aliases, and documents
    whose aliases expand to more than MAX_YAML_NODES nodes (the "billion laughs"). Anchors and aliases
    themselves are allowed: Rails' database.yml and docker-compose files use `<<: *default`."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels",
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self) -> Any:
        node = super().get_single_node()
        if node is not None:
            _check_expansion(node)
        return node


def _check_expansion(root: yaml.Node) -> None:
    """Count nodes and depth as if every alias were copied, each shared node once (memoised), iteratively."""
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded nodes, expanded depth)
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        children = _children(node)
        if children_done:
            on_path.discard(id(node))
            size = 1 + sum(sizes[id(c)][0] for c in children)
            depth = 1 + max((sizes[id(c)][1] for c in children), default=0)
            if size > MAX_YAML_NODES:
                raise yaml.composer.ComposerError(
                    None, None, f"its aliases expand to more than {MAX_YAML_NODES} nodes", node.start_mark)
            if depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"its aliases nest deeper than {MAX_DEPTH} levels", node.start_mark)
            sizes[id(node)] = (size, depth)
            continue
        if id(node) in sizes:
            continue
        on_path.add(id(node))
        stack.append((node, True))
        for child in children:
            if id(child) in on_path:
                raise yaml.composer.ComposerError(None, None, "an alias refers to a node that contains it",
                                                  child.start_mark)
            if id(child) not in sizes:
                stack.append((child, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def parse_yaml(text: str, path: str | os.PathLike[str]) -> Any:
    """YAML (safe types only) with nesting and alias expansion bounded."""
    try:
        data = yaml.load(text, Loader=BoundedYamlLoader)  # noqa: S506 — a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise FileRefused(path, f"invalid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    except RecursionError:
        raise _too_deep(path, "YAML") from None
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:  # a scalar its constructor chokes on
        raise FileRefused(path, f"invalid YAML: a value that cannot be read ({str(exc).splitlines()[0]})") from None
    return _check_parsed(data, path, "YAML")


# --- writing -----------------------------------------------------------------------------------------------


def write_atomic(path: str | os.PathLike[str], data: bytes | str, mode: int = 0o600) -> Path:
    """Write `data` to `path` so that it is whole or absent, owner-only by default, and never written
    through a link or into a file someone prepared.

    The temporary file has an unpredictable name in the same directory, is created with O_EXCL|O_NOFOLLOW
    (mkstemp), gets its mode on the descriptor (fchmod: the umask and any leftover file do not matter), is
    fsynced, then renamed over `path`. A `path` that is a symbolic link is refused; one planted after that
    check is replaced by the rename, never followed. FileRefused for those; OSError for the rest.
    """
    target = Path(path)
    try:
        existing = os.lstat(target)
    except FileNotFoundError:
        existing = None
    if existing is not None and stat.S_ISLNK(existing.st_mode):
        raise FileRefused(target, "is a symbolic link; tshoot does not write through links (remove it or "
                                  "name another file)")
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        _require_regular(existing, target)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(temporary, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        directory = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError:
        pass
    return target
