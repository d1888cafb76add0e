"""Half an hour of a shop's logs, merged: nginx's access log (500s and slow requests in the last minutes), the
gunicorn app's log (pid 901, a traceback and an exhausted SQLAlchemy pool), the journal, the kernel (an OOM kill)
and the `worker` container. Clusters, access metrics and findings come from the real Clusterer, AccessMeter and
findings, fed these lines as the Logs source feeds them.
"""

from __future__ import annotations

import time

from tests.samples import FROZEN_NOW
from tui.config import Thresholds
from tui.findings import Finding
from tui.logs.analysis import AccessMeter, Clusterer, findings as logs_findings
from tui.logs.records import LogLine, LogsSection, LogSource

ACCESS = "file:/var/log/nginx/access.log"
APP = "file:/srv/shop/log/app.log"
PATHS = ("/api/cart", "/api/products/1234", "/api/checkout", "/static/app.js")
TRACEBACK = """ERROR shop.views: checkout failed for order 7311
Traceback (most recent call last):
  File "/srv/shop/shop/views.py", line 64, in checkout
    order = orders.place_order(cart, request.POST['card_token'])
  File "/srv/shop/shop/orders.py", line 31, in place_order
    payment = payments.reserve_payment(order.id, card_token)
  File "/srv/shop/shop/payments.py", line 48, in reserve_payment
    raise PaymentTimeout(order_id)
shop.payments.PaymentTimeout: 7311"""


def _stamp(when: float) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(when))


def _lines() -> list[LogLine]:
    lines: list[LogLine] = []
    start = FROZEN_NOW - 30 * 60
    for n in range(300):  # a request every 6 s; in the last 3 minutes half answer 500, all slowly
        when = start + 6 * n
        recent = when > FROZEN_NOW - 180
        status = 500 if recent and n % 2 else 200
        seconds = 2.4 + (n % 10) / 10 if recent else 0.040 + (n % 7) / 100
        path = PATHS[n % len(PATHS)]
        lines.append(LogLine(ACCESS, when, f'10.0.3.{n % 9 + 2} - - [{_stamp(when)}] "GET {path} HTTP/1.1" {status} '
                                           f'{512 + n} "-" "Mozilla/5.0" rt={seconds:.3f}',
                             level="error" if status >= 500 else "info"))
        if n % 10 == 0:
            lines.append(LogLine(APP, when + 1, f"INFO shop.views: served {path} in {int(seconds * 1000)} ms",
                                 level="info", pid=901))
    for ago in (290, 200, 110, 25):
        lines.append(LogLine(APP, FROZEN_NOW - ago, TRACEBACK, level="error", pid=901))
    for ago in (150, 95, 40, 12):
        lines.append(LogLine(APP, FROZEN_NOW - ago, "ERROR sqlalchemy.pool: QueuePool limit of size 5 overflow 10 "
                                                    "reached, connection timed out, timeout 30.00", level="error", pid=901))
    lines += [
        LogLine("journal", FROZEN_NOW - 600, "Started nginx.service - A high performance web server.", level="info",
                pid=1, unit="init.scope"),
        LogLine("journal", FROZEN_NOW - 45, "worker 902 timed out (pid: 902), killing it", level="warning", pid=880,
                unit="gunicorn.service"),
        LogLine("kernel", FROZEN_NOW - 70, "Out of memory: Killed process 4711 (report-builder) total-vm:2845320kB, "
                                           "anon-rss:1923400kB, file-rss:1024kB, shmem-rss:0kB", level="error",
                pid=4711),
        LogLine("container:worker", FROZEN_NOW - 30, "cannot reach db: connection refused (10.0.3.7:5432)",
                level="error", container="worker"),
        LogLine("container:worker", FROZEN_NOW - 8, "retrying in 5s \x1b[31m(attempt 6)\x1b[0m", level="warning",
                container="worker"),
    ]
    lines.sort(key=lambda line: line.time)
    for seq, line in enumerate(lines, 1):
        line.seq = seq
    return lines


def section() -> LogsSection:
    lines = _lines()
    clusterer, meter = Clusterer(), AccessMeter()
    for line in lines:
        clusterer.add(line)
        meter.add(line)
    sources = [
        LogSource(ACCESS, "file", "/var/log/nginx/access.log", "open by pid 880 (nginx)", lines_read=300,
                  bytes_read=38_400),
        LogSource(APP, "file", "/srv/shop/log/app.log", "config", lines_read=38, bytes_read=5_120),
        LogSource("journal", "journal", found_by="default", lines_read=2, bytes_read=640),
        LogSource("kernel", "kernel", "/dev/kmsg", "default", lines_read=1, bytes_read=120),
        LogSource("container:worker", "container", "c3d4" * 16, "running container", lines_read=2, bytes_read=96),
        LogSource("file:/var/log/app/missing.log", "file", "/var/log/app/missing.log", "--log", status="waiting",
                  error="not there yet: followed once it appears"),
    ]
    return LogsSection(taken_at=FROZEN_NOW, sources=sources, lines=lines, clusters=clusterer.clusters(FROZEN_NOW),
                       access=meter.stats(FROZEN_NOW))


def findings() -> list[Finding]:
    return logs_findings(section(), Thresholds())
