"""Start, stop and restart: the `run` behind the pane's confirmed actions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui.containers.details import ContainerNotFound

if TYPE_CHECKING:
    import docker

VERBS = ("start", "stop", "restart")
STOP_TIMEOUT_S = 10  # grace period between SIGTERM and SIGKILL, as `docker stop` uses


def container_action(client: docker.DockerClient, container: str, verb: str) -> str:
    """Perform `verb` on the container; returns a short message, raises on failure (the action log records it)."""
    if verb not in VERBS:
        raise ValueError(f"unknown container action {verb!r} (known: {', '.join(VERBS)})")
    import docker.errors

    try:
        if verb == "start":
            client.api.start(container)
        elif verb == "stop":
            client.api.stop(container, timeout=STOP_TIMEOUT_S)
        else:
            client.api.restart(container, timeout=STOP_TIMEOUT_S)
    except docker.errors.NotFound as exc:
        raise ContainerNotFound(f"no container {container!r}") from exc
    attrs = client.api.inspect_container(container)
    name = (attrs.get("Name") or container).lstrip("/")
    return f"{name} is now {(attrs.get('State') or {}).get('Status', '?')}"
