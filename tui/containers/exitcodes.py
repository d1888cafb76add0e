"""What a container's exit code means and what usually fixes it, so nobody decodes 137 by hand."""

from __future__ import annotations

import signal
from dataclasses import dataclass


@dataclass(frozen=True)
class ExitMeaning:
    summary: str
    fix: str


_KNOWN: dict[int, ExitMeaning] = {
    0: ExitMeaning("exited normally (success)", "Nothing failed; if it should keep running, its main process must not return."),
    1: ExitMeaning(
        "application error (generic failure)",
        "Read the last log lines: the application reported the error itself.",
    ),
    2: ExitMeaning("misuse of a shell builtin or bad arguments", "Check the command line and its arguments."),
    125: ExitMeaning(
        "the container failed to run (docker run itself failed)",
        "Check the run options: unknown flag, bad mount, port in use, invalid memory limit.",
    ),
    126: ExitMeaning(
        "command cannot be invoked (permission denied or not executable)",
        "Make the entrypoint executable (chmod +x) and check the user it runs as.",
    ),
    127: ExitMeaning(
        "command not found",
        "Fix the command/entrypoint: the binary is not in the image or not on PATH.",
    ),
    137: ExitMeaning(
        "killed by SIGKILL (9): the OOM killer, `docker kill`, or a stop that timed out",
        "If OOM-killed, raise the memory limit (-m) or fix the leak; otherwise see who killed it "
        "(a stop timeout means the app ignores SIGTERM).",
    ),
    139: ExitMeaning(
        "segmentation fault (SIGSEGV, 11)",
        "A native crash: check native extensions, library versions and the image's architecture.",
    ),
    143: ExitMeaning(
        "terminated by SIGTERM (15), usually `docker stop` or an orchestrator",
        "Expected after a stop; if unexpected, find who stopped it (`docker events`).",
    ),
}


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def explain_exit(code: int, oom_killed: bool = False) -> ExitMeaning:
    """The meaning of an exit code; OOM-killed overrides, because 137 alone does not say who sent SIGKILL."""
    if oom_killed:
        return ExitMeaning(
            f"killed by the kernel OOM killer (exit {code}): the container hit its memory limit",
            "Raise the memory limit (-m / mem_limit) or reduce the application's memory use (leak, cache sizes).",
        )
    if code in _KNOWN:
        return _KNOWN[code]
    if 128 < code < 128 + 65:
        number = code - 128
        return ExitMeaning(
            f"killed by {signal_name(number)} ({number})",
            "Find out who sent the signal (`docker events`, the host's kernel log).",
        )
    if code < 0:
        return ExitMeaning("the engine reports no exit status", "Inspect the container's error message.")
    return ExitMeaning(f"application-defined exit status {code}", "Read the last log lines for the cause.")
