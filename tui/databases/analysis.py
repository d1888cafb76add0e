"""Findings from collected database records. Pure: it runs the same on a live poll and on a replayed snapshot."""

from __future__ import annotations

from tui import registry
from tui.config import Thresholds
from tui.databases.conncheck import connection_check_finding
from tui.databases.records import DatabasesSection, DbSession, LockWait, TargetResult
from tui.findings import Finding
from tui.wording import count

SOURCE = registry.DATABASES
# PostgreSQL state / MySQL command of a session with a statement in progress (one a cancel can stop)
RUNNING_STATES = {"active", "fastpath function call", "Query", "Execute"}
# missing-index: a table read sequentially this often, this many rows per scan, with few index scans.
MISSING_INDEX_MIN_SEQ_SCANS = 50
MISSING_INDEX_MIN_ROWS_PER_SCAN = 10_000
MISSING_INDEX_MAX_INDEX_SHARE = 0.1  # index scans / sequential scans below this


def analyze(section: DatabasesSection, thresholds: Thresholds) -> list[Finding]:
    """Findings of every target read. When the operator named targets (--db, config file, tshoot's own
    DATABASE_URL), the findings of databases discovered in other processes are marked `discovered` in their
    subject: they are reported apart and never decide a guide's or `doctor`'s exit code (see `reported_apart`)."""
    findings: list[Finding] = []
    named = any(not r.target.discovered for r in section.targets)
    for result in section.targets:
        if result.same_server_as or result.not_connected:
            continue  # another target reports this server; or tshoot did not log in: nothing measured
        found = _target_findings(result, thresholds)
        if named and result.target.discovered:
            for finding in found:
                finding.subject["discovered"] = True
        findings.extend(found)
    return findings


def reported_apart(finding: Finding) -> bool:
    """A finding about a database found in another process while the operator named their own targets."""
    return finding.source == SOURCE and finding.subject.get("discovered") is True


def _target_findings(result: TargetResult, thresholds: Thresholds) -> list[Finding]:
    target = result.target.id
    unreachable = connection_check_finding(result.connection_check) if result.connection_check else None
    if unreachable:
        unreachable.subject = {"target": target}
        return [unreachable]
    if result.state is None:
        return [Finding("db-query-failed", "warning", SOURCE, f"Cannot read {target}", result.error or "unknown error",
                        {"target": target}, {"error": result.error})] if result.error else []
    state = result.state
    sessions = {s.id: s for s in state.sessions}
    # Head blockers first (the sessions to act on), then the others, then the sessions waiting on them.
    heads = {i for depth, i in blocking_tree(state.lock_waits) if depth == 0}
    findings = []
    for session in sorted(state.sessions, key=lambda s: s.id not in heads):
        if session.state.startswith("idle in transaction") and (session.state_age_s or 0) >= \
                thresholds.idle_in_transaction_s:
            findings.append(_idle_in_transaction(target, session, state.lock_waits))
        elif session.state in RUNNING_STATES and not session.blocking_ids and \
                (session.query_age_s or 0) >= thresholds.slow_query_s:
            findings.append(_slow_query(target, session, state.lock_waits))
    findings += [_blocked(target, wait, result, sessions) for wait in state.lock_waits
                 if wait.waited_s >= thresholds.blocked_query_s]
    usage = state.usage
    if usage and usage.max_connections and usage.percent >= thresholds.connection_saturation_percent:
        findings.append(Finding(
            "connection-saturation", "warning", SOURCE,
            f"{usage.connections} of {usage.max_connections} connections in use ({usage.percent:.0f}%) on {target}",
            f"New connections will be refused at max_connections. Biggest users: {top_counts(usage.by_user)}; "
            f"applications: {top_counts(usage.by_application)}; clients: {top_counts(usage.by_client)}. Look for a leaking pool "
            "or idle sessions; use a pooler (PgBouncer) or raise max_connections "
            + ("(a PostgreSQL server restart, which ends every session)." if result.target.dialect == "postgresql"
               else "(SET GLOBAL max_connections, live; also in the server's config to keep it)."),
            {"target": target},
            {"connections": usage.connections, "max_connections": usage.max_connections,
             "percent": round(usage.percent, 1), "by_user": usage.by_user, "by_application": usage.by_application,
             "by_client": usage.by_client},
            guide="db-connection",
        ))
    for table in state.tables:
        rows_per_scan = table.seq_rows_read / table.seq_scan if table.seq_scan else 0
        if (table.seq_scan >= MISSING_INDEX_MIN_SEQ_SCANS and rows_per_scan >= MISSING_INDEX_MIN_ROWS_PER_SCAN
                and table.idx_scan < table.seq_scan * MISSING_INDEX_MAX_INDEX_SHARE):
            findings.append(Finding(
                "missing-index", "info", SOURCE,
                f"{table.table}: {count(table.seq_scan, 'sequential scan')} of ~{rows_per_scan:,.0f} rows, "
                f"{count(table.idx_scan, 'index scan')}",
                "Queries read this table whole again and again. Find them (top statements, EXPLAIN) and add an "
                "index on the columns they filter or join on.",
                {"target": target, "table": table.table},
                {"table": table.table, "seq_scan": table.seq_scan, "seq_rows_read": table.seq_rows_read,
                 "idx_scan": table.idx_scan, "live_rows": table.live_rows, "rows_per_scan": round(rows_per_scan)},
                guide="slow",
            ))
    return findings


def top_counts(counts: dict[str, int], n: int = 3) -> str:
    """The first `n` of a by-user/application/client count, "-" for none; a cut list says how many more."""
    more = f", … {len(counts) - n} more" if len(counts) > n else ""
    return ", ".join(f"{k} {v}" for k, v in list(counts.items())[:n]) + more or "-"


def root_blockers(session_id: int, waits: list[LockWait]) -> list[int]:
    """The sessions at the head of the chain: they block others and wait for nobody."""
    waiting_for = {w.blocked_id: w.blocking_ids for w in waits}
    roots: list[int] = []
    seen = {session_id}
    frontier = list(waiting_for.get(session_id, []))
    while frontier:
        current = frontier.pop(0)
        if current in seen:
            continue
        seen.add(current)
        if waiting_for.get(current):
            frontier.extend(waiting_for[current])
        else:
            roots.append(current)
    return roots


def blocking_tree(waits: list[LockWait]) -> list[tuple[int, int]]:
    """(depth, session id) rows: each head blocker, then the sessions waiting on it, indented, depth first."""
    waiting_on: dict[int, list[int]] = {}
    for wait in waits:
        for blocker in wait.blocking_ids:
            waiting_on.setdefault(blocker, []).append(wait.blocked_id)
    blocked = {w.blocked_id for w in waits}
    heads = [b for b in waiting_on if b not in blocked] or sorted(waiting_on)[:1]  # a pure cycle: start anywhere
    rows: list[tuple[int, int]] = []
    seen: set[int] = set()

    def visit(session_id: int, depth: int) -> None:
        rows.append((depth, session_id))
        if session_id in seen:
            return  # a cycle (deadlock about to be broken): show it once
        seen.add(session_id)
        for child in sorted(waiting_on.get(session_id, [])):
            visit(child, depth + 1)

    for head in sorted(heads):
        visit(head, 0)
    return rows


def chains_first(sessions: list[DbSession], waits: list[LockWait]) -> list[DbSession]:
    """Each blocking chain in tree order — its head blocker, the row to act on, above the sessions waiting on it —
    then the other sessions in the order given."""
    by_id = {s.id: s for s in sessions}
    chained = [by_id[i] for i in dict.fromkeys(i for _, i in blocking_tree(waits)) if i in by_id]
    placed = {s.id for s in chained}
    return chained + [s for s in sessions if s.id not in placed]


def _describe(session: DbSession | None, session_id: int) -> str:
    if session is None:
        return f"session {session_id}"
    local = f", local pid {session.local_pid} ({session.local_process})" if session.local_pid else ""
    age = f" for {session.state_age_s:.0f}s" if session.state_age_s is not None else ""
    return f"session {session_id} ({session.user}@{session.client_addr or 'socket'}{local}, {session.state}{age})"


def _blocked(target: str, wait: LockWait, result: TargetResult, sessions: dict[int, DbSession]) -> Finding:
    waits = result.state.lock_waits if result.state else []
    roots = root_blockers(wait.blocked_id, waits)
    blocked = sessions.get(wait.blocked_id)
    heads = "; ".join(_describe(sessions.get(r), r) for r in roots) or "unknown"
    idle_head = any(sessions[r].state not in RUNNING_STATES for r in roots if r in sessions)
    end_it = ("terminate it here, which rolls it back (it is idle: it runs no query, so cancelling changes "
              "nothing)" if idle_head else "cancel its statement or terminate the session here")
    return Finding(
        "blocked-query", "critical", SOURCE,
        f"Session {wait.blocked_id} waits {wait.waited_s:.0f}s for {', '.join(map(str, wait.blocking_ids))}: "
        f"{wait.lock}",
        f"{_describe(blocked, wait.blocked_id)} waits for a lock ({wait.lock}). Head of the chain: {heads}. "
        f"End the head blocker's transaction: commit in the app, or {end_it}. Then find why it holds its "
        "transaction open.",
        {"target": target, "pid": wait.blocked_id},
        {"blocked_pid": wait.blocked_id, "blocking_pids": list(wait.blocking_ids), "lock": wait.lock,
         "waited_s": wait.waited_s, "root_blocking_pids": roots, "relation": wait.relation,
         "query": blocked.query[:500] if blocked else ""},
        guide="hang",
    )


def _idle_in_transaction(target: str, session: DbSession, waits: list[LockWait]) -> Finding:
    blocks = sorted(w.blocked_id for w in waits if session.id in w.blocking_ids)
    also = f" It blocks session(s) {', '.join(map(str, blocks))}." if blocks else ""
    local = f" The client is local pid {session.local_pid} ({session.local_process})." if session.local_pid else ""
    return Finding(
        "idle-in-transaction", "critical" if blocks else "warning", SOURCE,  # blocking others: as bad as their wait
        f"Session {session.id} idle in transaction for {session.state_age_s:.0f}s ({session.user}, "
        f"{session.application or session.client_addr or 'socket'})",
        "An open transaction that does nothing holds its locks and keeps VACUUM from cleaning up." + also + local +
        " Fix the app to commit or roll back (a missing commit, a slow call inside a transaction); set "
        "idle_in_transaction_session_timeout; terminate the session if it is stuck (its transaction is rolled back).",
        {"target": target, "pid": session.id},
        {"pid": session.id, "idle_s": round(session.state_age_s or 0, 1), "xact_age_s": session.xact_age_s,
         "user": session.user, "application": session.application, "client": session.client_addr,
         "local_pid": session.local_pid, "blocks": blocks, "last_query": session.query[:500]},
        guide="hang",
    )


def _slow_query(target: str, session: DbSession, waits: list[LockWait]) -> Finding:
    blocks = sorted(w.blocked_id for w in waits if session.id in w.blocking_ids)
    also = f" It blocks session(s) {', '.join(map(str, blocks))}." if blocks else ""
    return Finding(
        "slow-query", "critical" if blocks else "warning", SOURCE,  # blocking others: as bad as their wait
        f"Session {session.id} has run one statement for {session.query_age_s:.0f}s",
        f"{_describe(session, session.id)} runs: {session.query[:200]}.{also} EXPLAIN it (key e) to see the plan; "
        "cancel it if it harms others.",
        {"target": target, "pid": session.id},
        {"pid": session.id, "query_age_s": round(session.query_age_s or 0, 1), "user": session.user,
         "query": session.query[:500], "local_pid": session.local_pid, "blocks": blocks},
        guide="slow",
    )
