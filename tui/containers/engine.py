"""Talking to the Docker engine: where it is, why it cannot be reached, and its event stream.

Every failure to connect becomes a SourceUnavailable that names the case (socket missing, permission
denied, nobody listening, engine answering errors) and what the operator can do about it.
"""

from __future__ import annotations

import errno
import os
import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

from tui.actions import current_user
from tui.config import Config
from tui.source import SourceUnavailable

if TYPE_CHECKING:  # the docker SDK costs ~0.1 s and ~18 MB: imported on the first call that talks to the engine
    import docker

DEFAULT_HOST = "unix:///var/run/docker.sock"
REQUEST_TIMEOUT_S = 5  # one API call; the event stream itself has no read timeout
# Event actions that can change what we show about a container (health_status arrives as "health_status: x").
WATCHED_ACTIONS = ("create", "start", "restart", "die", "oom", "kill", "stop", "pause", "unpause", "destroy",
                   "rename", "update", "health_status")


def resolve_host(config: Config) -> str:
    """config.docker_host, then DOCKER_HOST, then the default socket."""
    return config.docker_host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def socket_path(host: str) -> str | None:
    """The filesystem path of a unix:// host, None for tcp:// and ssh://."""
    parts = urlsplit(host)
    if parts.scheme in ("unix", "http+unix"):
        return parts.path or None
    return None


def connect(config: Config) -> docker.DockerClient:
    """A client that has answered a ping, or SourceUnavailable saying why not and what to do."""
    host = resolve_host(config)
    path = socket_path(host)
    if path is not None and not os.path.exists(path):
        raise _socket_missing(host, path)
    import docker

    try:
        client = docker.DockerClient(base_url=host, timeout=REQUEST_TIMEOUT_S)
        client.ping()
    except Exception as exc:  # the docker SDK wraps every transport failure differently; classify them all
        raise classify_failure(host, exc) from exc
    return client


def classify_failure(host: str, exc: BaseException) -> SourceUnavailable:
    """Name the case behind a failed call to the engine, with its remedy."""
    path = socket_path(host)
    cause = _chain(exc)[-1]
    if isinstance(cause, PermissionError) or getattr(cause, "errno", None) in (errno.EACCES, errno.EPERM):
        return _permission_denied(host)
    if isinstance(cause, FileNotFoundError) and path:
        return _socket_missing(host, path)
    if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == errno.ECONNREFUSED:
        where = f"socket {path} exists but nothing listens on it (stale socket)" if path else f"{host} refuses connections"
        return SourceUnavailable(
            f"Docker engine not running: {where}",
            "Check the daemon: `systemctl status docker` (or `pgrep -a dockerd`); start it with "
            "`sudo systemctl start docker`. If the engine listens elsewhere, set DOCKER_HOST or docker_host in the config.",
        )
    import requests.exceptions

    if isinstance(cause, (TimeoutError, requests.exceptions.Timeout)) or "timed out" in str(cause).lower():
        return SourceUnavailable(
            f"Docker engine at {host} does not answer within {REQUEST_TIMEOUT_S}s",
            "The daemon is hung or overloaded: check `journalctl -u docker` and `docker info`; restart it if needed.",
        )
    status = _http_status(exc)
    if status is not None:
        return SourceUnavailable(
            f"Docker engine at {host} answers with errors: HTTP {status}: {_engine_message(exc)}",
            "The daemon is up but failing: check `journalctl -u docker` and `docker info`.",
        )
    return SourceUnavailable(
        f"Cannot talk to the Docker engine at {host}: {_short(exc)}",
        "Check that DOCKER_HOST (or docker_host in the config) names a running engine: `docker info`.",
    )


def _socket_missing(host: str, path: str) -> SourceUnavailable:
    return SourceUnavailable(
        f"Docker socket missing: {path} does not exist (the daemon is not running, or listens elsewhere)",
        "Check the daemon: `systemctl status docker` (or `pgrep -a dockerd`); start it with "
        "`sudo systemctl start docker`. If it listens on another socket, set DOCKER_HOST or docker_host in the config.",
    )


def _permission_denied(host: str) -> SourceUnavailable:
    user = current_user()
    return SourceUnavailable(
        f"Permission denied on the Docker socket ({host}): user {user} is not in the docker group",
        f"Add the user to the docker group: `sudo usermod -aG docker {user}`, then log in again "
        "(or run tshoot with sudo). Membership in the docker group is equivalent to root.",
    )


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and what it wraps: the SDK wraps OSErrors and HTTP errors several levels deep."""
    chain = [exc]
    for _ in range(10):
        current = chain[-1]
        nested = getattr(current, "reason", None)  # urllib3's MaxRetryError / NewConnectionError
        if not isinstance(nested, BaseException):
            nested = next((arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException)), None)
        nested = nested or current.__cause__ or current.__context__
        if nested is None or nested in chain:
            break
        chain.append(nested)
    return chain


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status the engine answered with, anywhere in the chain; None when it never answered."""
    for link in _chain(exc):
        status = getattr(getattr(link, "response", None), "status_code", None)
        if status:
            return status
    return None


def _engine_message(exc: BaseException) -> str:
    """The engine's own error message (APIError.explanation) when it sent one."""
    for link in _chain(exc):
        if getattr(link, "explanation", None):
            return _short(link)
    return _short(_chain(exc)[-1])


def _short(exc: BaseException) -> str:
    text = getattr(exc, "explanation", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())[:200]


@dataclass
class EngineEvent:
    container_id: str
    action: str  # "die", "start", "health_status", ... (the part before ":")
    at: float  # unix time
    attributes: dict[str, str]


class EventWatcher:
    """Follows the engine's container events in a daemon thread, reconnecting when the engine comes back.

    Events are queued for the source to drain on its next poll; `on_event` (optional, called from the
    watcher thread) lets the pane ask for an early poll so a state change shows within a second.
    """

    RECONNECT_DELAYS_S = (0.5, 1.0, 2.0, 5.0)

    def __init__(self, make_client: Callable[[], docker.DockerClient], on_event: Callable[[], None] | None = None):
        self._make_client = make_client
        self.on_event = on_event
        self.events: queue.SimpleQueue[EngineEvent] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._reconnects = 0  # every (re)connection may have missed events: the source re-syncs fully
        self._lock = threading.Lock()
        self._stream: Any = None
        self._client: docker.DockerClient | None = None
        self._thread = threading.Thread(target=self._run, name="tshoot-docker-events", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def connections(self) -> int:
        """How many times the stream (re)connected; a change means events may have been missed."""
        return self._reconnects

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._close_stream()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._follow()
                failures = 0
            except Exception:  # engine gone or answering errors: wait, then reconnect
                failures += 1
            was_connected = self.connected
            self._connected.clear()
            self._close_stream()
            if was_connected and not self._stop.is_set():
                self._notify()  # the socket is lost: the pane polls now and says so, not at its next turn
            delay = self.RECONNECT_DELAYS_S[min(failures, len(self.RECONNECT_DELAYS_S) - 1)]
            self._stop.wait(delay)

    def _follow(self) -> None:
        client = self._make_client()
        stream = client.events(decode=True, filters={"type": "container"})
        with self._lock:
            self._client, self._stream = client, stream
        if self._stop.is_set():
            return
        self._reconnects += 1
        self._connected.set()
        self._notify()  # the re-sync that follows a (re)connection should happen now, not next tick
        for raw in stream:
            event = parse_event(raw)
            if event is None or self._stop.is_set():
                continue
            self.events.put(event)
            self._notify()

    def _notify(self) -> None:
        if self.on_event is not None:
            try:
                self.on_event()
            except Exception:  # a listener's failure must not kill the watcher
                pass

    def _close_stream(self) -> None:
        with self._lock:
            stream, client = self._stream, self._client
            self._stream = self._client = None
        for closer in (getattr(stream, "close", None), getattr(client, "close", None)):
            if closer is not None:
                try:
                    closer()
                except Exception:  # already closed by the engine going away
                    pass


def parse_event(raw: dict[str, Any]) -> EngineEvent | None:
    """A container event we care about, None for others (exec_create, attach, ...)."""
    action = str(raw.get("Action") or raw.get("status") or "").split(":", 1)[0].strip()
    if action not in WATCHED_ACTIONS:
        return None
    actor = raw.get("Actor") or {}
    container_id = actor.get("ID") or raw.get("id")
    if not container_id:
        return None
    nanos = raw.get("timeNano")
    at = nanos / 1e9 if isinstance(nanos, (int, float)) else float(raw.get("time") or time.time())
    return EngineEvent(container_id, action, at, dict(actor.get("Attributes") or {}))
