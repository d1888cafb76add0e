"""Which locks a line of Python source waits for and holds, read from the source itself (pure, `ast`).

A thread blocked in `with X:` or `X.acquire()` shows that line in its innermost frame; the locks it
holds are the items of every `with` block around the current line, and `X.acquire()` calls earlier in
the same function that no `X.release()` undid before the current line (the acquire/try/finally
pattern). `with cond: cond.wait()` does not hold `cond`: Condition.wait releases it while waiting.
"""

from __future__ import annotations

import ast
import re
import threading
from dataclasses import dataclass, field

from tui.threads.records import LockRef

# CPython before 3.11.8/3.12.1 keeps ast.parse's recursion depth in shared state: two threads parsing at once
# can raise "SystemError: AST constructor recursion depth mismatch" (gh-106905). Sources parse one at a time.
_PARSE_LOCK = threading.Lock()
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_RELEASING_WAITS = {"wait", "wait_for"}  # Condition methods that release the lock while they block
_QUEUE_GET_KEYWORDS = {"block", "timeout"}


@dataclass
class LockContext:
    waits: LockRef | None = None
    held: list[LockRef] = field(default_factory=list)
    entered: list[EnteredCall] = field(default_factory=list)  # `with x.checkout():` blocks around the line
    takes_from: list[str] = field(default_factory=list)  # `q` of every `q.get()` in the line's function


@dataclass
class EnteredCall:
    """A `with` block entered through a call (`with pool.checkout():`): it holds whatever the called
    @contextmanager generator holds at its `yield`, which is not on any stack while the block runs."""

    receiver: str  # "pool" in `pool.checkout()`; "" for a plain function call
    name: str  # "checkout"
    line: int


_PYTHON_NEWLINE = re.compile(r"\r\n|\r|\n")


class SourceIndex:
    """One source file; answers `context(line)` for any frame in it.

    The syntax tree is ~1 MB per thousand lines: it is built when a line is first asked about and dropped by
    `release()` once a poll is done with it, keeping only the answers (stuck stacks ask the same lines again)."""

    def __init__(self, text: str) -> None:
        # Split where Python does (a form feed or \x1c is no new line to it, as str.splitlines has it), so a
        # frame's line number is this list's; the text is not kept: parsing re-joins the lines.
        self.lines = _PYTHON_NEWLINE.split(text)
        self._parsed = False
        self._tree: ast.Module | None = None
        self._module_names: set[str] | None = None  # answers about the whole file: worked out on the first parse
        self._contexts: dict[int, LockContext] = {}  # many threads share lines (threading.py above all)
        self._contextmanagers: dict[str, tuple[str, list[LockRef]]] | None = None
        self._condition_locks: dict[str, str] = {}  # `COND = Condition(LOCK)`: "COND" -> "LOCK"

    def _ensure_tree(self) -> None:
        if self._parsed:
            return
        self._parsed = True
        try:
            with _PARSE_LOCK:
                self._tree = ast.parse("\n".join(self.lines))
        except (SyntaxError, ValueError):
            self._tree = None  # a file we cannot parse still shows its lines, without lock analysis
        if self._module_names is None:
            self._module_names = _bound_names(self._tree.body) if self._tree else set()
            self._condition_locks = _condition_locks(self._tree) if self._tree else {}

    def _lock_name(self, expr: str) -> str:
        """The lock a `with`/`acquire()` expression takes: a Condition built on a lock of the program is
        that lock (`with COND:` waits for whoever holds `LOCK`)."""
        return self._condition_locks.get(expr, expr)

    def release(self) -> None:
        """Drop the syntax tree (the answers stay); a later question about a new line parses again."""
        self._tree, self._parsed = None, False

    def line_text(self, line: int) -> str:
        return self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""

    def context(self, line: int) -> LockContext:
        if line not in self._contexts:
            self._contexts[line] = self._analyze(line)
        context = self._contexts[line]
        return LockContext(context.waits, list(context.held), list(context.entered), list(context.takes_from))

    def contextmanagers(self) -> dict[str, tuple[str, list[LockRef]]]:
        """Every @contextmanager function of the file by name: its first parameter and the locks held at
        its `yield` (a lock taken around the yield is held by whoever is inside the `with` block)."""
        if self._contextmanagers is None:
            self._ensure_tree()
            self._contextmanagers = {}
            for node in ast.walk(self._tree) if self._tree else ():
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _is_contextmanager(node):
                    held: list[LockRef] = []
                    for inner in _walk_scope(node.body):
                        if isinstance(inner, (ast.Yield, ast.YieldFrom)):
                            held += [r for r in self.context(inner.lineno).held if r not in held]
                    if held:
                        first = node.args.posonlyargs + node.args.args
                        self._contextmanagers[node.name] = (first[0].arg if first else "", held)
        return self._contextmanagers

    def _analyze(self, line: int) -> LockContext:
        self._ensure_tree()
        if self._tree is None or line <= 0:
            return LockContext()
        scope = self._innermost_scope(line)
        body = scope.body if isinstance(scope, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef)) else [scope.body]
        local_names = set() if isinstance(scope, ast.Module) else _scope_locals(scope)

        def ref(expr: ast.expr, at: int) -> LockRef:
            root = _root_name(expr)
            module_level = root is not None and root in self._module_names and root not in local_names
            return LockRef(expr=self._lock_name(ast.unparse(expr)), line=at, module_level=module_level)

        context = LockContext()
        acquired: list[LockRef] = []
        released_wait: set[str] = set()
        for node in _walk_scope(body):
            if isinstance(node, (ast.With, ast.AsyncWith)):
                lock_items = [item.context_expr for item in node.items if not isinstance(item.context_expr, ast.Call)]
                if not (node.lineno <= line <= node.end_lineno):
                    continue
                if line >= node.body[0].lineno:
                    context.entered += [_entered(item.context_expr, node.lineno) for item in node.items
                                        if isinstance(item.context_expr, ast.Call)]
                if not lock_items:
                    continue
                # executing the `with` statement itself: acquiring. On a one-line `with lock: pass` the body
                # cannot block unless it calls something, so a frame on that line waits for the lock.
                one_line = line == node.lineno == node.body[0].lineno and not _calls(node.body)
                if line < node.body[0].lineno or one_line:
                    if context.waits is None:
                        on_line = [e for e in lock_items if e.lineno <= line <= e.end_lineno]
                        context.waits = ref((on_line or lock_items)[0], node.lineno)
                else:
                    context.held.extend(ref(expr, node.lineno) for expr in lock_items)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                method, target = node.func.attr, node.func.value
                if method == "acquire":
                    if node.lineno <= line <= node.end_lineno:
                        context.waits = context.waits or ref(target, node.lineno)
                    elif node.end_lineno < line:
                        acquired.append(ref(target, node.lineno))
                elif method == "release" and node.end_lineno < line:
                    _drop_last(acquired, self._lock_name(ast.unparse(target)))
                elif method in _RELEASING_WAITS and node.lineno <= line <= node.end_lineno:
                    released_wait.add(self._lock_name(ast.unparse(target)))
                elif _is_queue_get(node) and (taken := ast.unparse(target)) not in context.takes_from:
                    context.takes_from.append(taken)
        acquired.sort(key=lambda r: r.line)
        context.held = [r for r in context.held + acquired if r.expr not in released_wait]
        context.held.sort(key=lambda r: r.line)
        return context


    def _innermost_scope(self, line: int) -> ast.AST:
        """The deepest function around `line` (the module itself outside every function).

        Descends only through the nodes that contain the line: a walk of the whole tree for each line
        asked about was most of the cost of a first look at a host's Python processes."""
        deepest: ast.AST = self._tree
        stack: list[tuple[ast.AST, int]] = [(self._tree, 0)]
        best_depth = -1
        while stack:
            node, depth = stack.pop()
            if isinstance(node, _SCOPES) and depth > best_depth:
                deepest, best_depth = node, depth
            for child in ast.iter_child_nodes(node):
                start = getattr(child, "lineno", None)
                if start is not None and start <= line <= (getattr(child, "end_lineno", None) or start):
                    stack.append((child, depth + 1))
        return deepest


def _walk_scope(body: list[ast.AST]):
    """Every node of a function body in source order, without entering nested functions or classes."""
    nodes = list(body)
    found = []
    while nodes:
        node = nodes.pop()
        found.append(node)
        if not isinstance(node, (*_SCOPES, ast.ClassDef)):
            nodes.extend(ast.iter_child_nodes(node))
    found.sort(key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0)))
    return found


def _calls(body: list[ast.stmt]) -> bool:
    return any(isinstance(node, ast.Call) for statement in body for node in ast.walk(statement))


def _entered(call: ast.Call, line: int) -> EnteredCall:
    func = call.func
    if isinstance(func, ast.Attribute):
        return EnteredCall(ast.unparse(func.value), func.attr, line)
    return EnteredCall("", ast.unparse(func), line)


def _is_queue_get(call: ast.Call) -> bool:
    """`q.get()`, `q.get(timeout=1)`, `q.get(True, 5)`, `q.get_nowait()`: a queue's, not a dict's `d.get(key)`."""
    method = call.func.attr
    if method == "get_nowait":
        return not call.args and not call.keywords
    first_is_block = not call.args or (isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, bool))
    return method == "get" and first_is_block and {k.arg for k in call.keywords} <= _QUEUE_GET_KEYWORDS


def _is_contextmanager(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    names = {d.attr if isinstance(d, ast.Attribute) else getattr(d, "id", "") for d in function.decorator_list}
    return bool(names & {"contextmanager", "asynccontextmanager"})


def _drop_last(acquired: list[LockRef], expr: str) -> None:
    for index in range(len(acquired) - 1, -1, -1):
        if acquired[index].expr == expr:
            del acquired[index]
            return


def _root_name(expr: ast.expr) -> str | None:
    while isinstance(expr, (ast.Attribute, ast.Subscript, ast.Call)):
        expr = expr.func if isinstance(expr, ast.Call) else expr.value
    return expr.id if isinstance(expr, ast.Name) else None


def _bound_names(body: list[ast.stmt]) -> set[str]:
    """Names a module binds at top level (assignments, imports, defs) — including inside if/try blocks."""
    names: set[str] = set()
    for node in _walk_scope(body):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


def _condition_locks(tree: ast.Module) -> dict[str, str]:
    """`COND = threading.Condition(LOCK)` at module level and `self.cond = Condition(self.lock)` anywhere:
    the name of each Condition built on a lock the program names, mapped to that lock's name. A name bound
    to two different locks in one file is left alone (two classes may both call theirs `self._cond`)."""
    found: dict[str, set[str]] = {}
    module_level = set(map(id, _walk_scope(tree.body)))
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and node.value.args):
            continue
        func = node.value.func
        if (func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")) != "Condition":
            continue
        lock = node.value.args[0]
        for target in node.targets:
            on_self = isinstance(target, ast.Attribute) and _root_name(target) == _root_name(lock) == "self"
            global_name = isinstance(target, ast.Name) and isinstance(lock, ast.Name) and id(node) in module_level
            if on_self or global_name:
                found.setdefault(ast.unparse(target), set()).add(ast.unparse(lock))
    return {name: locks.pop() for name, locks in found.items() if len(locks) == 1}


def _scope_locals(scope: ast.AST) -> set[str]:
    """Parameters and names the function assigns, minus those it declares `global`."""
    args = scope.args
    names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    names.update(a.arg for a in (args.vararg, args.kwarg) if a)
    body = scope.body if isinstance(scope.body, list) else [scope.body]
    declared_global: set[str] = set()
    for node in _walk_scope(body):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Global):
            declared_global.update(node.names)
    return names - declared_global
