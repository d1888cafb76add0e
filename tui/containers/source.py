"""ContainersSource: keeps a live picture of every container from the engine's event stream.

A poll does not re-list and re-inspect everything: it re-inspects only the containers that events
touched since the last poll, reads CPU and memory of the running ones from their cgroups (the stats
API, in the background, for an engine on another host), and re-lists every FULL_SYNC_INTERVAL_S to
catch anything missed.
After the event stream (re)connects, events may have been lost, so everything is re-inspected.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable

from tui import registry
from tui.actions import Verified
from tui.config import Config
from tui.containers import analysis
from tui.containers.cgroups import read_cgroup_sample
from tui.containers.control import container_action
from tui.containers.details import ContainerNotFound, container_processes, fetch_logs
from tui.containers.engine import EventWatcher, classify_failure, connect, resolve_host
from tui.containers.inventory import StatsSample, cpu_percent, parse_stats, record_from_inspect
from tui.containers.records import ContainerProcess, ContainerRecord, ContainersSection, LogLine, MemorySample
from tui.findings import Finding
from tui.source import Source, SourceUnavailable

if TYPE_CHECKING:  # the docker SDK is imported by the first poll (engine.connect), not at start-up
    import docker

FULL_SYNC_INTERVAL_S = 30.0
MEMORY_HISTORY_SAMPLES = 60
EXIT_HISTORY = 20
CARD_LOG_LINES = 20  # last log lines kept in the record of a troubled container, for the card and snapshots
ENGINE_WORKERS = 8  # parallel inspect/stats calls; the engine serves them concurrently
FIRST_EVENT_CONNECT_WAIT_S = 1.0


def engine_errors() -> tuple[type[BaseException], ...]:
    """What a call to an engine that went away raises (the SDK is loaded by then: a client exists)."""
    import docker.errors
    import requests.exceptions

    return docker.errors.DockerException, requests.exceptions.RequestException, OSError


class ContainersSource(Source):
    name = registry.CONTAINERS
    section_type = ContainersSection

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self._client: docker.DockerClient | None = None
        self._engine_version = ""
        self._watcher: EventWatcher | None = None
        self._watcher_connections_seen = 0
        self._pool = ThreadPoolExecutor(max_workers=ENGINE_WORKERS, thread_name_prefix="tshoot-docker")
        self._stats_coordinator = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tshoot-docker-stats")
        self._stats_round: Future[dict[str, StatsSample]] | None = None
        self._records: dict[str, ContainerRecord] = {}
        self._dirty: set[str] = set()
        self._dirty_lock = threading.Lock()
        self._inspect_everything = True
        self._last_full_sync = 0.0
        self._previous_stats: dict[str, StatsSample] = {}
        self._live: dict[str, tuple[float | None, int]] = {}  # id -> (cpu %, memory used) of the last sample
        self._memory_history: dict[str, deque[MemorySample]] = {}
        self._exits: dict[str, deque[float]] = {}
        self._change_listener: Callable[[], None] | None = None

    # -- the Source contract -------------------------------------------------------------------

    def collect(self) -> ContainersSection:
        host = resolve_host(self.config)
        client = self._ensure_client()
        try:
            if not self._engine_version:
                self._engine_version = str(client.version().get("Version", ""))
            self._ensure_watcher()
            self._drain_events()
            now = time.time()
            self._resync_if_due(client, now)
            self._reinspect(client, self._take_dirty())
            self._sample_stats(client, now)
        except SourceUnavailable:
            raise
        except engine_errors() as exc:  # the engine went away mid-poll: reconnect (and re-inspect) next time
            self._drop_client()
            raise classify_failure(host, exc) from exc
        return ContainersSection(
            engine_host=host,
            engine_version=self._engine_version,
            taken_at=now,
            containers=[self._live_record(record) for record in sorted(self._records.values(), key=lambda r: r.name)],
            watching_events=self.watching_events,
            last_full_sync=self._last_full_sync,
        )

    def analyze(self, section: ContainersSection) -> list[Finding]:
        return analysis.analyze(section, self.config.thresholds)

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        self._stats_coordinator.shutdown(wait=True, cancel_futures=True)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._drop_client()

    # -- for the pane: early polls, on-demand details, actions -----------------------------------

    @property
    def watching_events(self) -> bool:
        """False while the engine's event stream is down: changes then show at each re-list only."""
        return self._watcher is not None and self._watcher.connected

    def set_change_listener(self, callback: Callable[[], None] | None) -> None:
        """`callback` runs in the watcher thread after each engine event (the pane asks for an early poll)."""
        self._change_listener = callback
        if self._watcher is not None:
            self._watcher.on_event = callback

    def logs(self, container_id: str, tail: int = 500, since: float | None = None) -> list[LogLine]:
        return self._with_engine(lambda client: fetch_logs(client, container_id, tail=tail, since=since))

    def processes(self, container_id: str) -> list[ContainerProcess]:
        return self._with_engine(lambda client: container_processes(client, container_id))

    def run_action(self, container_id: str, verb: str) -> Verified:
        """start / stop / restart, verified by inspecting it; the container is re-read on the next poll too."""
        message = self._with_engine(lambda client: container_action(client, container_id, verb))
        self._mark_dirty([container_id])
        return message

    # -- internals -------------------------------------------------------------------------------

    def _with_engine(self, call: Callable[[docker.DockerClient], Any]) -> Any:
        client = self._ensure_client()
        try:
            return call(client)
        except engine_errors() as exc:
            import docker.errors

            if isinstance(exc, docker.errors.APIError) and exc.status_code and exc.status_code < 500:
                raise  # the engine answered: a client error about this container, not an outage
            self._drop_client()
            raise classify_failure(resolve_host(self.config), exc) from exc

    def _ensure_client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = connect(self.config)
            self._engine_version = ""
            self._inspect_everything = True
        return self._client

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # closing a broken connection can fail too; nothing to do about it
                pass

    def _ensure_watcher(self) -> None:
        if self._watcher is None:
            self._watcher = EventWatcher(lambda: connect(self.config), self._change_listener)
            self._watcher.start()
            self._watcher.wait_connected(FIRST_EVENT_CONNECT_WAIT_S)  # so the first sync misses no event

    def _drain_events(self) -> None:
        assert self._watcher is not None
        if self._watcher.connections != self._watcher_connections_seen:
            self._watcher_connections_seen = self._watcher.connections
            self._inspect_everything = True
        touched: list[str] = []
        while not self._watcher.events.empty():
            event = self._watcher.events.get_nowait()
            if event.action == "destroy":
                self._forget(event.container_id)
                continue
            if event.action == "die":
                self._exits.setdefault(event.container_id, deque(maxlen=EXIT_HISTORY)).append(event.at)
            touched.append(event.container_id)
        self._mark_dirty(touched)

    def _resync_if_due(self, client: docker.DockerClient, now: float) -> None:
        """List all containers when due (or every poll while the event stream is down); inspect what changed."""
        if not (self._inspect_everything or not self.watching_events or now - self._last_full_sync >= FULL_SYNC_INTERVAL_S):
            return
        listed = {summary["Id"]: summary.get("State") for summary in client.api.containers(all=True)}
        for gone in set(self._records) - set(listed):
            self._forget(gone)
        changed = [
            cid for cid, state in listed.items()
            if self._inspect_everything or cid not in self._records or self._records[cid].state != state
        ]
        self._mark_dirty(changed)
        self._inspect_everything = False
        self._last_full_sync = now

    def _reinspect(self, client: docker.DockerClient, ids: list[str]) -> None:
        for container_id, record in zip(ids, self._pool.map(lambda cid: self._inspect_one(client, cid), ids)):
            if record is None:
                self._forget(container_id)
            else:
                self._records[record.id] = record

    def _inspect_one(self, client: docker.DockerClient, container_id: str) -> ContainerRecord | None:
        """The fresh record; None when the container is gone. One container's error never fails the poll."""
        import docker.errors

        try:
            record = record_from_inspect(client.api.inspect_container(container_id))
        except docker.errors.NotFound:
            return None  # removed since the event or the listing
        except docker.errors.APIError:
            return self._records.get(container_id)  # the engine answered, about this container only: keep what we had
        if _troubled(record):
            try:
                record.last_logs = fetch_logs(client, container_id, tail=CARD_LOG_LINES)
            except (ContainerNotFound, docker.errors.APIError):
                record.last_logs = []  # removed meanwhile, or a logging driver that cannot be read back
        return record

    def _sample_stats(self, client: docker.DockerClient, now: float) -> None:
        """CPU and memory of running containers: from their cgroups when local, else from the engine."""
        running = {cid: record for cid, record in self._records.items() if record.state == "running"}
        samples: dict[str, StatsSample] = {}
        for container_id, record in running.items():
            sample = read_cgroup_sample(container_id, record.host_pid)
            if sample is not None:
                samples[container_id] = sample
        samples.update(self._engine_stats(client, [cid for cid in running if cid not in samples]))
        for container_id, sample in samples.items():
            cpu = cpu_percent(self._previous_stats.get(container_id), sample)
            self._previous_stats[container_id] = sample
            self._live[container_id] = (cpu, sample.memory_used_bytes)
            history = self._memory_history.setdefault(container_id, deque(maxlen=MEMORY_HISTORY_SAMPLES))
            history.append(MemorySample(at=now, used_bytes=sample.memory_used_bytes))
        for stopped in set(self._live) - set(running):
            del self._live[stopped]
            self._previous_stats.pop(stopped, None)

    def _engine_stats(self, client: docker.DockerClient, ids: list[str]) -> dict[str, StatsSample]:
        """Stats API samples, gathered in the background: a poll takes the last finished round and starts
        the next, because the engine answers each request only at its next 1-second collection tick."""
        finished: dict[str, StatsSample] = {}
        if self._stats_round is not None and self._stats_round.done():
            try:
                finished = self._stats_round.result()
            except engine_errors():
                finished = {}  # the engine went away meanwhile; this poll's own calls will say so
            self._stats_round = None
        if ids and self._stats_round is None:
            self._stats_round = self._stats_coordinator.submit(self._engine_stats_round, client, ids)
        return {cid: sample for cid, sample in finished.items() if cid in ids}

    def _engine_stats_round(self, client: docker.DockerClient, ids: list[str]) -> dict[str, StatsSample]:
        import docker.utils

        one_shot = docker.utils.version_gte(client.api.api_version, "1.41")
        samples = self._pool.map(lambda cid: _stats(client, cid, one_shot), ids)
        return {cid: sample for cid, sample in zip(ids, samples) if sample is not None}

    def _live_record(self, record: ContainerRecord) -> ContainerRecord:
        """The inspected record plus what we sampled and remembered about it (copied: sections are snapshots)."""
        cpu, memory = self._live.get(record.id, (None, None))
        return replace(
            record,
            cpu_percent=cpu,
            memory_used_bytes=memory,
            memory_history=list(self._memory_history.get(record.id, ())),
            recent_exits=list(self._exits.get(record.id, ())),
        )

    def _mark_dirty(self, ids: list[str]) -> None:
        with self._dirty_lock:
            self._dirty.update(ids)

    def _take_dirty(self) -> list[str]:
        with self._dirty_lock:
            ids, self._dirty = list(self._dirty), set()
        return ids

    def _forget(self, container_id: str) -> None:
        for state in (self._records, self._previous_stats, self._live, self._memory_history, self._exits):
            state.pop(container_id, None)


def _stats(client: docker.DockerClient, container_id: str, one_shot: bool) -> StatsSample | None:
    """One stats sample; engines older than API 1.41 have no one-shot and take ~2 s per call."""
    import docker.errors

    try:
        if one_shot:
            raw = client.api.stats(container_id, stream=False, one_shot=True)
        else:
            raw = client.api.stats(container_id, stream=False)
    except (docker.errors.NotFound, docker.errors.APIError):
        return None  # stopped or removed since the listing
    return parse_stats(raw)


def _troubled(record: ContainerRecord) -> bool:
    """Containers whose card needs their last log lines."""
    return (
        record.state in ("restarting", "dead")
        or record.oom_killed
        or record.health == "unhealthy"
        or (record.state != "running" and record.exit_code != 0)
    )
