"""One refresh of a PostgreSQL server with 200 client sessions: how long tshoot's collect + analyze take.

Starts its own throwaway PostgreSQL 15 cluster (max_connections=260, loopback, temp dir; run as root: initdb runs
as the postgres user), opens 200 sessions from this process — idle, active (pg_sleep), idle in transaction, and
a few row-lock waits — then times 30 polls. The client sockets are local, so the local-pid lookup runs too.

    .venv/bin/python benchmarks/bench_databases.py
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tui.config import Config  # noqa: E402
from tui.databases.source import DatabasesSource  # noqa: E402

PGBIN = Path("/usr/lib/postgresql/15/bin")
SESSIONS = 200
POLLS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def as_postgres(*argv: str) -> None:
    subprocess.run(["su", "postgres", "-s", "/bin/sh", "-c", " ".join(argv)], check=True, capture_output=True)


def main() -> None:
    data = Path(tempfile.mkdtemp(prefix="tshoot-bench-pg-"))
    shutil.chown(data, "postgres")
    port = free_port()
    as_postgres(str(PGBIN / "initdb"), "-D", str(data / "db"), "-U", "postgres", "--auth=trust")
    as_postgres(str(PGBIN / "pg_ctl"), "-D", str(data / "db"), "-l", str(data / "log"), "-w", "start", "-o",
                f"'-c listen_addresses=127.0.0.1 -p {port} -k {data} -c max_connections=260'")
    dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    connections: list[psycopg.Connection] = []
    try:
        admin = psycopg.connect(dsn, autocommit=True)
        admin.execute("CREATE TABLE bench (id int PRIMARY KEY, v int)")
        admin.execute("INSERT INTO bench SELECT g, 0 FROM generate_series(1, 20) g")
        for i in range(SESSIONS):
            kind = i % 10
            conn = psycopg.connect(dsn, application_name=f"app-{i % 7}", autocommit=kind != 0)
            connections.append(conn)
            if kind == 0:  # 20 idle in transaction, each holding its own row
                conn.execute("UPDATE bench SET v = v + 1 WHERE id = %s", (i // 10 + 1,))
        for conn in connections[1:40:10]:  # 4 lock waits behind the first holders
            threading.Thread(target=_quietly, args=(conn, "UPDATE bench SET v = 9 WHERE id = 1"), daemon=True).start()
        for conn in connections[5:200:10][:15]:  # 15 active statements
            threading.Thread(target=_quietly, args=(conn, "SELECT pg_sleep(120)"), daemon=True).start()
        time.sleep(1.0)

        source = DatabasesSource(Config(db_urls=[dsn]), scan_processes=False)
        source.collect()  # the first poll connects; it is not what a refresh costs
        wall, cpu = [], []
        for _ in range(POLLS):
            started, started_cpu = time.perf_counter(), time.process_time()
            section = source.collect()
            findings = source.analyze(section)
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        state = section.targets[0].state
        print(f"sessions seen: {len(state.sessions)}, lock waits: {len(state.lock_waits)}, findings: {len(findings)}, "
              f"with local pid: {sum(1 for s in state.sessions if s.local_pid)}")
        for name, values in (("wall", wall), ("cpu (whole process)", cpu)):
            values.sort()
            print(f"{name:20} median {statistics.median(values):6.1f} ms   p95 {values[int(len(values) * 0.95) - 1]:6.1f} "
                  f"ms   max {values[-1]:6.1f} ms")
        source.close()
    finally:
        for conn in connections:
            try:
                conn.cancel()
                conn.close()
            except Exception:
                pass
        as_postgres(str(PGBIN / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "stop")
        shutil.rmtree(data, ignore_errors=True)


def _quietly(conn: psycopg.Connection, sql: str) -> None:
    try:
        conn.execute(sql)
    except Exception:  # cancelled or closed at the end of the benchmark
        pass


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("run as root: initdb and pg_ctl run as the postgres user")
    main()
