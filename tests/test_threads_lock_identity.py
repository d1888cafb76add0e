"""One lock reached under two names is one lock: attribute chains followed through the target's memory.

Real programs under tests/programs/threads, dumped by real py-spy; the object reader is checked against a live
child that prints the id() of its objects. The reader and the deadlocks that need it run under every CPython
version whose layout it knows (pyenv installs of the others than the tests' own).
"""

from __future__ import annotations

import json
import sys

import pytest

from programs.threads.support import interpreter, program, pyspy_works  # noqa: F401  (fixtures)
from tests.children import READY, python_child
from tests.test_threads_deadlocks import by_name, never_a_deadlock, observe, only_deadlock
from tui.config import Config, Thresholds
from tui.source import section_from_json, section_to_json
from tui.threads import objects
from tui.threads.deadlock import analyze_process, thread_locks, thread_state
from tui.threads.objects import ObjectReader, resolve_lock_chains
from tui.threads.pythonprocs import runtime_of
from tui.threads.records import Frame, LocalVar, LockRef, ProcessThreads, ThreadRecord, ThreadsSection
from tui.threads.source import ThreadsSource

VERSIONS = sorted(objects.LAYOUTS)
THIS_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
# the tests below that start their programs with the tests' own interpreter
runs_here = pytest.mark.skipif(not objects.layout_known(THIS_VERSION),
                               reason=f"the object reader does not know CPython {THIS_VERSION}'s layout")


@pytest.mark.parametrize("version", VERSIONS)
def test_a_registry_lock_taken_as_self_registry_lock_and_as_self_lock_closes_a_deadlock(program, version):
    process = program("deadlock_registry_exporter.py", interpreter(version))
    _, findings = observe(process.pid)
    finding = only_deadlock(findings)
    assert finding.evidence["confidence"] == "confirmed"
    threads = by_name(finding)
    assert set(threads) == {"scrape", "flusher"}
    scrape, flusher = threads["scrape"], threads["flusher"]
    assert scrape["holds"].startswith("self.registry._lock (Registry@")
    assert scrape["held_at"].endswith("deadlock_registry_exporter.py:28")
    assert scrape["waits_for"].startswith("self._buffer_lock (Exporter@")
    assert scrape["waits_at"].endswith("deadlock_registry_exporter.py:32")
    assert flusher["holds"] == scrape["waits_for"] and flusher["held_at"].endswith("deadlock_registry_exporter.py:37")
    assert flusher["waits_for"].startswith("self._lock (Registry@")
    assert flusher["waits_at"].endswith("deadlock_registry_exporter.py:17")
    # the lock is named once: the same Registry object under both expressions
    assert scrape["holds"].split("(")[1] == flusher["waits_for"].split("(")[1]
    assert not [f for f in findings if f.id in ("orphaned-lock", "lock-contention")]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_lock_taken_through_a_local_alias_is_the_lock_its_attribute_names(program, version):
    """`lock = self._lock; with lock:` in one thread, `with self._lock:` in the other: the lock's own address
    (the alias local's, and `_lock` read from the store's memory) makes them one."""
    process = program("deadlock_aliased_lock.py", interpreter(version))
    _, findings = observe(process.pid)
    finding = only_deadlock(findings)
    assert finding.evidence["confidence"] == "confirmed" and "identity" not in finding.evidence
    threads = by_name(finding)
    assert set(threads) == {"expirer", "auditor"}
    assert threads["expirer"]["held_at"].endswith("deadlock_aliased_lock.py:18")
    assert threads["expirer"]["waits_at"].endswith("deadlock_aliased_lock.py:21")
    assert threads["auditor"]["waits_for"].startswith("self._lock (SessionStore@")
    assert threads["auditor"]["waits_at"].endswith("deadlock_aliased_lock.py:29")
    assert not [f for f in findings if f.id in ("orphaned-lock", "lock-contention")]


@runs_here
def test_a_module_global_pool_held_through_a_contextmanager_closes_the_cycle_by_name(program):
    """`with pool.checkout():` (pool a module global: no address in that frame) holds `pool.lock`; the other
    thread waits inside checkout() for `self.lock` of a Pool read from memory. One side has only a name: the
    cycle closes on the attribute and the finding says its identity rests on a name."""
    process = program("deadlock_global_pool_checkout.py")
    _, findings = observe(process.pid)
    finding = only_deadlock(findings)
    assert finding.evidence["confidence"] == "probable"
    assert finding.evidence["identity"].startswith("by name: self.lock (Pool@")
    threads = by_name(finding)
    assert set(threads) == {"order-handler", "cache-refresher"}
    assert threads["order-handler"]["holds"].startswith("pool.lock")
    assert threads["order-handler"]["held_at"].endswith("deadlock_global_pool_checkout.py:26")
    assert threads["cache-refresher"]["waits_at"].endswith("deadlock_global_pool_checkout.py:19")
    assert not [f for f in findings if f.id in ("orphaned-lock", "lock-contention")]


@runs_here
def test_two_registries_of_one_class_stay_two_locks_each_with_its_own_holder(program):
    process = program("registries_contention.py")
    _, findings = observe(process.pid)
    assert sorted(f.id for f in findings) == ["lock-contention", "lock-contention"]
    holders = {f.evidence["waiters"][0]["name"]: f.evidence["holder"]["name"] for f in findings}
    assert holders == {"count-requests": "export-requests", "count-jobs": "export-jobs"}
    assert all(len(f.evidence["waiters"]) == 1 for f in findings)
    assert len({f.evidence["lock"] for f in findings}) == 2  # two Registry addresses


@runs_here
def test_threads_taking_the_registry_lock_under_either_name_in_one_order_are_never_a_deadlock(program):
    never_a_deadlock(program("registry_same_order.py").pid)


@runs_here
def test_replay_keeps_the_identity_read_from_memory_and_an_older_snapshot_falls_back_to_names(program):
    process = program("deadlock_registry_exporter.py")
    config = Config(find_stuck=False, pids=[process.pid], thread_samples=3, thread_sample_interval=0.2,
                    thresholds=Thresholds(stuck_thread_s=0.2))
    source = ThreadsSource(config)
    section = source.collect()
    saved = json.loads(json.dumps(section_to_json(section)))
    replayed = section_from_json(ThreadsSection, saved)
    assert [f.evidence for f in source.analyze(section)] == [f.evidence for f in ThreadsSource(config).analyze(replayed)]
    # a snapshot written before object_addr existed: it loads, and the chain is keyed by its name, saying so
    for thread in saved["processes"][str(process.pid)]["threads"]:
        for frame in thread["frames"]:
            for ref in [frame["waits"], *frame["held"]]:
                if ref:
                    del ref["object_addr"], ref["object_type"], ref["lock_addr"]
    older = section_from_json(ThreadsSection, saved).processes[str(process.pid)]
    findings = analyze_process(older, 0.2)
    assert "deadlock" not in [f.id for f in findings]  # two names, no address: not closed on a common `_lock`
    orphaned = next(f for f in findings if f.id == "orphaned-lock")  # flusher's self._lock: no holder by address ...
    maybe = orphaned.evidence["maybe_held_by"]  # ... but scrape holds a `_lock` known only by its name
    assert [m["name"] for m in maybe] == ["scrape"] and maybe[0]["as"].startswith("self.registry._lock (Exporter@")
    assert maybe[0]["held_at"].endswith("deadlock_registry_exporter.py:28") and '"scrape" holds' in orphaned.title
    scrape = next(t for t in older.threads if t.name == "scrape")
    held = [r for f in scrape.frames for r in f.held if r.expr == "self.registry._lock"]
    assert held and held[0].object_addr == 0
    assert thread_locks(scrape).holds[0].lock.label.endswith(", by name)")
    assert thread_state(next(t for t in older.threads if t.name == "flusher")).startswith("waiting for self._lock")


def _thread(tid: int, name: str, holds: LockRef, waits: LockRef, self_addr: int = 0) -> ThreadRecord:
    local = [LocalVar("self", "<Worker at 0x%x>" % self_addr, addr=self_addr)] if self_addr else []
    frame = Frame("run", "/srv/app/worker.py", 20 + tid, locals=local, waits=waits, held=[holds])
    return ThreadRecord(tid=tid, ident=tid, name=name, active=False, owns_gil=False, frames=[frame], stuck=True,
                        stuck_for_s=10.0, cpu_seconds=0.0, native_lock_wait=True)


def test_a_common_attribute_name_never_closes_a_cycle_by_name():
    """Review: two threads each holding their own `self._lock` and waiting for unrelated module-level
    `CACHE._lock` / `LOG._lock` were reported as a critical deadlock; so was contention beside an unrelated
    `_lock`. Only a lock held through a @contextmanager meets, by name, the wait inside that contextmanager."""
    unrelated = ProcessThreads(pid=1, name="app", samples=2, threads=[
        _thread(11, "t11", LockRef("self._lock", 10), LockRef("CACHE._lock", 21, module_level=True), 0x1000),
        _thread(12, "t12", LockRef("self._lock", 10), LockRef("LOG._lock", 22, module_level=True), 0x2000)])
    assert "deadlock" not in [f.id for f in analyze_process(unrelated, 1.0)]
    contention = ProcessThreads(pid=2, name="app", samples=2, threads=[
        _thread(21, "a", LockRef("cache_lock", 10, module_level=True), LockRef("LOG._lock", 21, module_level=True)),
        _thread(22, "b", LockRef("self._lock", 10), LockRef("cache_lock", 22, module_level=True), 0x3000)])
    assert [f.id for f in analyze_process(contention, 1.0)] in (["lock-contention", "orphaned-lock"],
                                                                  ["orphaned-lock", "lock-contention"])


CHILD = READY + """
import abc, threading, time
class Registry:
    def __init__(self): self._lock = threading.Lock(); self.counts = {}
class Exporter:
    def __init__(self, registry): self.registry = registry
class Base(abc.ABC):
    pass
class Handler(Base):
    def __init__(self, registry): self.registry = registry
class Slotted:
    __slots__ = ("registry",)
    def __init__(self, registry): self.registry = registry
registry = Registry()
inline, materialised, handler, slotted = Exporter(registry), Exporter(registry), Handler(registry), Slotted(registry)
vars(materialised)  # the instance dict becomes a real dict object
crowded = Exporter(registry)
for i in range(40):
    setattr(crowded, f"field{i}", i)  # beyond the class's shared keys: a combined dict
huge = Exporter(registry)
for i in range(600):
    setattr(huge, f"field{i}", i)  # more entries than the reader reads
print(*map(id, (registry, registry._lock, inline, materialised, handler, slotted, crowded, huge)), flush=True)
time.sleep(600)
"""


@pytest.fixture(scope="module", params=VERSIONS)
def child(request):
    """The CHILD program under one CPython version: (version, process, the id() of each of its objects)."""
    process = python_child(CHILD, python=interpreter(request.param))
    addresses = dict(zip(("registry", "lock", "inline", "materialised", "handler", "slotted", "crowded", "huge"),
                         map(int, process.stdout.readline().split())))
    yield request.param, process, addresses
    process.kill()
    process.wait()


def test_the_reader_follows_attributes_however_the_instance_keeps_them(child):
    version, process, at = child
    assert runtime_of(process.pid).version == version  # the version the Threads source passes to the reader
    with ObjectReader(process.pid, version) as reader:
        for holder in ("inline", "materialised", "handler", "crowded"):
            assert reader.attribute(at[holder], "registry") == at["registry"], holder
        assert reader.attribute(at["registry"], "_lock") == at["lock"]
        assert reader.type_name(at["registry"]) == "Registry" and reader.type_name(at["handler"]) == "Handler"
        assert reader.type_name(at["lock"]) == "_thread.lock"


def test_the_reader_gives_up_rather_than_guess(child):
    version, process, at = child
    with ObjectReader(process.pid, version) as reader:
        assert reader.attribute(at["registry"], "missing") is None
        assert reader.attribute(at["slotted"], "registry") is None  # __slots__ are not read
        assert reader.attribute(at["huge"], "registry") is None  # more entries than MAX_ENTRIES
        assert reader.attribute(at["lock"] + 8, "registry") is None  # not an object
        assert reader.attribute(0x10, "registry") is None and reader.type_name(0) is None


@runs_here
def test_resolution_is_skipped_for_an_unknown_layout_or_a_process_that_is_gone(program):
    process = program("deadlock_registry_exporter.py")
    record, _ = observe(process.pid)
    frame = next(f for t in record.threads for f in t.frames if any(r.expr == "self.registry._lock" for r in f.held))
    resolved = next(r for r in frame.held if r.expr == "self.registry._lock")
    assert resolved.object_addr and resolved.object_type == "Registry"

    def read_again(version: str) -> int:
        frame.held = [LockRef(r.expr, r.line) if r.expr == resolved.expr else r for r in frame.held]
        resolve_lock_chains(process.pid, version, record.threads)
        return next(r for r in frame.held if r.expr == "self.registry._lock").object_addr

    assert read_again(THIS_VERSION) == resolved.object_addr
    assert read_again("3.10") == 0  # a layout this reader does not know: identity by name
    process.kill()
    process.wait()
    assert read_again(THIS_VERSION) == 0  # gone: nothing read, no error
