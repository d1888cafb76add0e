"""The Databases part of the Markdown incident report: per target, whether tshoot could connect (and the
connection check's fix when not), connections against the limit, the sessions that matter, blocking chains and
the top statements.

The section is rebuilt into its records so the chains come from the same `blocking_tree` the pane uses.
"""

from __future__ import annotations

from typing import Any

from tui.databases.analysis import RUNNING_STATES, blocking_tree, chains_first, top_counts
from tui.databases.records import ConnectionReport, DatabasesSection, DbSession, ServerState, TargetResult
from tui.markdown import clip, inline_code, table
from tui.source import section_from_json
from tui.wording import human_duration

LONG_RUNNING_S = 5.0  # a statement running this long is worth a line in an incident report
MAX_SESSIONS = 50
MAX_STATEMENTS = 10
QUERY_CHARS = 160


def markdown(section: dict[str, Any], _findings: list[dict[str, Any]]) -> list[str]:
    databases = section_from_json(DatabasesSection, section)
    if not databases.targets:
        lines = ["No database configured (`--db URL`, `db_urls` in the config, or DATABASE_URL of a process)."]
    else:
        lines = []
        for result in databases.targets:
            lines += _target(result) + [""]
        lines.pop()
    if databases.discovery_notes:
        lines += ["", *(f"- discovery: {note}" for note in databases.discovery_notes)]
    return lines


def _target(result: TargetResult) -> list[str]:
    lines = [f"### {result.target.url}", "", f"Found in {result.target.origin}."]
    if result.same_server_as:
        return lines + ["", f"The same server as {result.same_server_as}, reached by another URL: reported there."]
    if result.not_connected:
        return lines + ["", f"Not logged in: {result.not_connected}."]
    if result.state is None:
        lines += ["", f"**Could not read it:** {result.error or 'unknown error'}"]
        if result.connection_check and not result.connection_check.ok:
            lines += ["", *_connection_check(result.connection_check)]
        return lines
    state = result.state
    lines[-1] += f" {state.version}."
    if state.usage:
        usage = state.usage
        lines.append(f"Connections: {usage.connections} of {usage.max_connections} ({usage.percent:.0f}%); "
                     f"by user: {top_counts(usage.by_user)}; by application: {top_counts(usage.by_application)}; "
                     f"by client: {top_counts(usage.by_client)}.")
    lines += ["", *_sessions(state)]
    if state.lock_waits:
        lines += ["", "**Blocking chains** (head blocker first, the sessions waiting on it below)", "",
                  *_chains(state)]
    if state.top_statements:
        lines += ["", "**Top statements by total time** (pg_stat_statements)", ""]
        lines += table(["total ms", "calls", "mean ms", "rows", "query"],
                       [[f"{s.total_ms:.0f}", s.calls, f"{s.mean_ms:.1f}", s.rows, clip(s.query, QUERY_CHARS)]
                        for s in state.top_statements[:MAX_STATEMENTS]])
    lines += [f"- note: {note}" for note in state.notes]
    return lines


def _connection_check(report: ConnectionReport) -> list[str]:
    return ["Connection check:", ""] + table(
        ["step", "result", "detail", "fix"],
        [[step.name, step.status, step.detail, step.fix if step.status in ("fail", "warn") else ""]
         for step in report.steps],
    )


def _why_it_matters(session: DbSession, blockers: set[int]) -> list[str]:
    reasons = []
    if session.id in blockers:
        reasons.append("blocking")
    if session.blocking_ids:
        reasons.append("blocked by " + ", ".join(map(str, session.blocking_ids)))
    if session.state.startswith("idle in transaction"):
        reasons.append("idle in transaction")
    elif session.state in RUNNING_STATES and not session.blocking_ids and (session.query_age_s or 0) >= LONG_RUNNING_S:
        reasons.append("long-running")
    return reasons


def _sessions(state: ServerState) -> list[str]:
    blockers = {b for w in state.lock_waits for b in w.blocking_ids} | {b for s in state.sessions for b in s.blocking_ids}
    flagged = [(s, why) for s in state.sessions if (why := _why_it_matters(s, blockers))]
    if not flagged:
        return [f"{len(state.sessions)} sessions; none blocked, blocking, idle in transaction or running "
                f"longer than {LONG_RUNNING_S:g}s."]
    flagged.sort(key=lambda pair: (pair[0].id not in blockers, not pair[0].blocking_ids, -(pair[0].state_age_s or 0)))
    order = {s.id: i for i, s in enumerate(chains_first([s for s, _ in flagged], state.lock_waits))}
    flagged.sort(key=lambda pair: order[pair[0].id])  # each chain's head blocker first: the session to act on
    lines = [f"{len(flagged)} of {len(state.sessions)} sessions matter:", ""]
    lines += table(
        ["pid", "why", "user", "application", "client", "state", "wait", "in state", "transaction", "query"],
        [[s.id, "; ".join(why), s.user, s.application, _client(s), s.state, s.wait, human_duration(s.state_age_s),
          human_duration(s.xact_age_s), clip(s.query, QUERY_CHARS)] for s, why in flagged[:MAX_SESSIONS]],
    )
    if len(flagged) > MAX_SESSIONS:
        lines.append(f"… and {len(flagged) - MAX_SESSIONS} more.")
    return lines


def _chains(state: ServerState) -> list[str]:
    sessions = {s.id: s for s in state.sessions}
    waits = {w.blocked_id: w for w in state.lock_waits}
    lines = []
    for depth, session_id in blocking_tree(state.lock_waits):
        session = sessions.get(session_id)
        text = f"{session_id}"
        if session:
            text += f" ({session.user}, {session.application or _client(session)}, {session.state} {human_duration(session.state_age_s)})"
        if session_id in waits:
            text += f" waits {human_duration(waits[session_id].waited_s)} for {waits[session_id].lock}"
        if session and session.query:
            text += f": {inline_code(clip(session.query, 100))}"
        lines.append("  " * depth + f"- {text}")
    return lines


def _client(session: DbSession) -> str:
    client = session.client_addr or "socket"
    if not session.local_pid:
        return client
    return f"{client}, local pid {session.local_pid} {session.local_process or ''}".rstrip()
