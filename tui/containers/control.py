"""Start, stop and restart: the `run` behind the pane's confirmed actions, verified by inspecting the container."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from tui.actions import Verified
from tui.containers.details import ContainerNotFound

if TYPE_CHECKING:
    import docker

VERBS = ("start", "stop", "restart")
STOP_TIMEOUT_S = 10  # grace period between SIGTERM and SIGKILL, as `docker stop` uses
STAYS_UP_S = 1.0  # a started container is inspected again after this long: one that dies at once was not started


def container_action(client: docker.DockerClient, container: str, verb: str) -> Verified:
    """Perform `verb` on the container, then inspect it: the effect is a container still running `STAYS_UP_S`
    after start and restart (restart: with a new StartedAt), a stopped one after stop. Raises when the engine
    refuses."""
    if verb not in VERBS:
        raise ValueError(f"unknown container action {verb!r} (known: {', '.join(VERBS)})")
    import docker.errors

    try:
        attrs = client.api.inspect_container(container)
        name, before = (attrs.get("Name") or container).lstrip("/"), attrs.get("State") or {}
        if (verb == "start" and before.get("Running")) or (verb == "stop" and not before.get("Running")):
            # The engine would answer "not modified": nothing was done, so it is not "done".
            return Verified(False, f"{verb}: nothing changed, {name} was already {before.get('Status', '?')}")
        if verb == "start":
            client.api.start(container)
        elif verb == "stop":
            client.api.stop(container, timeout=STOP_TIMEOUT_S)
        else:
            client.api.restart(container, timeout=STOP_TIMEOUT_S)
        started = client.api.inspect_container(container).get("State") or {}  # the run our action began
        if verb != "stop":
            time.sleep(STAYS_UP_S)
        state = client.api.inspect_container(container).get("State") or {}
    except docker.errors.NotFound as exc:
        raise ContainerNotFound(f"no container {container!r}") from exc
    status = state.get("Status", "?")
    if verb == "stop":
        effect = not state.get("Running") and status != "restarting"
    else:  # running, not in a restart loop, and still the run that began (a crash and a policy restart is not)
        effect = (bool(state.get("Running")) and status == "running" and not state.get("Restarting")
                  and state.get("StartedAt") == started.get("StartedAt")
                  and (verb == "start" or state.get("StartedAt") != before.get("StartedAt")))
    if effect:
        return Verified(True, f"{name} is now {status}")
    why = f" (exit code {state.get('ExitCode')}: it exited again at once; read its logs)" \
        if verb != "stop" and status in ("exited", "restarting") else ""
    if verb != "stop" and status == "running" and state.get("StartedAt") != started.get("StartedAt"):
        why = " again: it crashed and its restart policy started it anew within a second; read its logs"
    return Verified(False, f"{verb} sent, but {name} is {status}{why}")
