"""AccessMeter on the access logs a real nginx writes: custom log_format with $request_time, JSON, combined.

A throwaway nginx (the Debian package) runs in a temp dir on a free port: one location answers 500, one proxies to
a slow Python http.server backend. The test makes real requests, then reads what nginx wrote.
"""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tui.logs.analysis import AccessMeter, parse_access
from tui.logs.parse import classify
from tui.logs.records import LogLine

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
SLOW_S = 0.3
FORMATS = {
    # the custom formats people run: request time (and upstream time) appended to the combined format
    "timed": "'$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" "
             "\"$http_user_agent\" rt=$request_time urt=$upstream_response_time'",
    "bare": "'$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" "
            "\"$http_user_agent\" $request_time'",
    "json": "escape=json '{\"time_iso8601\":\"$time_iso8601\",\"status\":$status,\"request\":\"$request\","
            "\"request_uri\":\"$request_uri\",\"request_time\":$request_time,"
            "\"upstream_response_time\":\"$upstream_response_time\"}'",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SlowBackend(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(SLOW_S)
        body = b"slow"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def nginx_logs(tmp_path_factory) -> dict[str, Path]:
    if NGINX is None:
        if os.environ.get("TSHOOT_REQUIRE_SERVICES"):
            pytest.fail("nginx is not installed (apt-get install -y nginx)")
        pytest.skip("nginx is not installed")
    root = tmp_path_factory.mktemp("nginx")
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowBackend)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    port = free_port()
    formats = "\n".join(f"log_format {name} {spec};" for name, spec in FORMATS.items())
    logs = {name: root / f"access-{name}.log" for name in [*FORMATS, "combined"]}
    access = "\n".join(f"access_log {path} {name};" for name, path in logs.items())
    temp = "\n".join(f"{kind}_temp_path {root}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root;" if os.geteuid() == 0 else ""
    (root / "nginx.conf").write_text(f"""
        {user}
        daemon off;
        worker_processes 1;
        pid {root}/nginx.pid;
        error_log {root}/error.log;
        events {{ worker_connections 64; }}
        http {{
            {formats}
            {temp}
            server {{
                listen 127.0.0.1:{port};
                {access}
                location /boom {{ return 500; }}
                location /missing {{ return 404; }}
                location /slow/ {{ proxy_pass http://127.0.0.1:{backend.server_address[1]}; }}
                location / {{ return 200 "ok"; }}
            }}
        }}
    """)
    server = subprocess.Popen([NGINX, "-p", str(root), "-c", str(root / "nginx.conf")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                time.sleep(0.05)
        for path in [f"/api/items/{n}?page=2" for n in range(20)] + ["/boom"] * 5 + ["/missing"] * 3 + \
                [f"/slow/{n}" for n in range(4)]:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10).read()
            except urllib.error.HTTPError:
                pass
        yield logs
    finally:
        server.terminate()
        server.wait(timeout=10)
        backend.shutdown()
        backend.server_close()


@pytest.mark.parametrize("name", ["timed", "bare", "json", "combined"])
def test_every_nginx_format_is_measured(nginx_logs, name):
    lines = nginx_logs[name].read_text().splitlines()
    assert len(lines) == 32
    meter = AccessMeter()
    for text in lines:
        when, level, _ = classify(text)
        assert when is not None and abs(when - time.time()) < 120
        assert level == ("error" if "/boom" in text else "warning" if "/missing" in text else "info")
        assert meter.add(LogLine(f"file:{name}", when, text, level))
    [stats] = meter.stats(time.time())
    assert stats.requests == 32
    assert stats.per_status_class == {"2xx": 24, "4xx": 3, "5xx": 5}
    assert [(p.path, p.errors) for p in stats.top_errors] == [("/boom", 5)]
    assert stats.window_s >= 10
    if name == "combined":  # no request time in the stock format
        assert (stats.p50_s, stats.p95_s, stats.top_slow) == (None, None, [])
        return
    assert stats.p50_s is not None and stats.p50_s < SLOW_S  # most requests are answered by nginx at once
    assert stats.p99_s >= SLOW_S
    slowest = stats.top_slow[0]
    assert (slowest.path, slowest.requests) == ("/slow/:id", 4) and slowest.p95_s >= SLOW_S
    assert "/api/items/:id" in [p.path for p in stats.top_slow]  # ids masked, query string gone


def test_the_upstream_time_is_read_when_the_request_time_is_not_there(nginx_logs):
    slow = [text for text in nginx_logs["timed"].read_text().splitlines() if "/slow/" in text]
    without_rt = [text.replace(" rt=", " x=") for text in slow]
    assert all(parse_access(text).seconds >= SLOW_S for text in without_rt)
