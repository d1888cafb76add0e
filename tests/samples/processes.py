"""A sick web server: a leaking worker, a CPU-bound job, a zombie, a process stuck in D state."""

from __future__ import annotations

from tests.samples import FROZEN_NOW
from tui.config import Thresholds
from tui.findings import Finding
from tui.processes.analysis import analyze
from tui.processes.records import ListeningPort, ProcessesSection, ProcessRow, SystemSummary, Trend

MB = 2**20


def _row(pid, ppid, name, user, state, cpu, rss_mb, threads, age_s, cmdline, trend=None) -> ProcessRow:
    return ProcessRow(
        pid=pid, ppid=ppid, name=name, user=user, state=state, cpu_percent=cpu, rss=int(rss_mb * MB),
        mem_percent=round(rss_mb * MB / (8 * 2**30) * 100, 2), threads=threads, started=FROZEN_NOW - age_s,
        cmdline=cmdline, trend=trend or Trend(samples=30, window_s=60, rss_first=int(rss_mb * MB), cpu_min_percent=cpu * 0.8,
                                          cpu_median_percent=cpu * 0.9),
    )


def section() -> ProcessesSection:
    rows = [
        _row(1, 0, "systemd", "root", "sleeping", 0.0, 12, 1, 864000, "/sbin/init"),
        _row(612, 1, "postgres", "postgres", "sleeping", 1.2, 220, 1, 86000, "/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main"),
        _row(640, 612, "postgres", "postgres", "sleeping", 0.4, 35, 1, 3600, "postgres: shop shop 127.0.0.1(50412) idle in transaction"),
        _row(900, 1, "gunicorn", "www-data", "sleeping", 2.0, 80, 3, 7200, "gunicorn shop.wsgi --workers 2 --bind 127.0.0.1:8000"),
        _row(901, 900, "gunicorn", "www-data", "sleeping", 12.5, 1450, 9, 7100, "gunicorn shop.wsgi --workers 2 --bind 127.0.0.1:8000",
             Trend(samples=30, window_s=60, rss_first=1300 * MB, rss_slope_mb_per_min=148.0, rss_rising_fraction=1.0, cpu_min_percent=8.0)),
        _row(902, 900, "gunicorn", "www-data", "sleeping", 3.1, 160, 9, 7100, "gunicorn shop.wsgi --workers 2 --bind 127.0.0.1:8000"),
        _row(1200, 1, "python3", "deploy", "running", 99.7, 64, 1, 1800, "python3 /opt/jobs/reindex.py --all",
             Trend(samples=30, window_s=60, rss_first=64 * MB, cpu_min_percent=97.0, cpu_median_percent=99.0)),
        _row(1301, 1, "rsync", "backup", "disk-sleep", 0.3, 9, 1, 600, "rsync -a /srv/media /mnt/nfs/backup",
             Trend(samples=30, window_s=60, rss_first=9 * MB, d_state_samples=12)),
        _row(1400, 900, "sh", "www-data", "zombie", 0.0, 0, 1, 300, "[sh]"),
        _row(2222, 1, "sshd", "root", "sleeping", 0.0, 8, 1, 900, "sshd: ops@pts/0"),
    ]
    system = SystemSummary(
        hostname="web-1", uptime_s=864000, cores=2, load=[2.71, 2.40, 1.98], cpu_percent=81.0, per_cpu_percent=[99.0, 63.0],
        iowait_percent=4.2, mem_total=8 * 2**30, mem_available=int(1.1 * 2**30), mem_percent=86.3, swap_total=2 * 2**30,
        swap_used=int(0.4 * 2**30), swap_in_bytes_s=0.0, swap_out_bytes_s=0.0, disk_read_bytes_s=1.2 * MB,
        disk_write_bytes_s=5.5 * MB, net_recv_bytes_s=310_000, net_sent_bytes_s=2.1 * MB,
    )
    listening = [
        ListeningPort("tcp", "0.0.0.0", 22, 2222, "sshd"),
        ListeningPort("tcp", "127.0.0.1", 5432, 612, "postgres"),
        ListeningPort("tcp", "127.0.0.1", 8000, 900, "gunicorn"),
    ]
    return ProcessesSection(taken_at=FROZEN_NOW, system=system, rows=rows, listening=listening)


def findings() -> list[Finding]:
    return analyze(section(), Thresholds())
