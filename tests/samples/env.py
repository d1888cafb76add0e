"""The dev `.env` that works, compared with the environment recorded in a prod snapshot of web-1: a database URL
that points at another host and port, a feature flag and a webhook secret that never reached prod, secrets that
are present on both sides but cannot be compared (the snapshot masked them), and a gunicorn worker started without
two keys of its `.env`.

The diff is made by the collector's own `diff_sides` from the two sides as they would load (the snapshot side
already masked, as snapshots are), so the rows are masked and ordered exactly as live ones. The Env pane needs
no `prepare`: `show_section` shows the configured comparison.
"""

from __future__ import annotations

from tui.env.diff import diff_sides
from tui.env.procenv import ProcessEnvCheck
from tui.env.side import ENV, Side
from tui.env.records import EnvSection
from tui.env.source import drift_findings, missing_env_findings
from tui.findings import Finding
from tui.redact import redact_mapping

DEV_ENV_FILE = "/srv/shop/.env.development"
PROD_SNAPSHOT = "/var/lib/tshoot/prod-web-1.json"

# Fake development values: the diff masks the secrets among them, as it does for a real file.
DEV_ENV = {
    "APP_ENV": "development",
    "DEBUG": "true",
    "DATABASE_URL": "postgresql://shop:devpass@localhost:5432/shop_dev",
    "REDIS_URL": "redis://localhost/0",
    "SECRET_KEY": "dev-only-not-secret",
    "STRIPE_API_KEY": "sk_test_0000000000",
    "PAYMENTS_WEBHOOK_SECRET": "whsec_dev",
    "FEATURE_NEW_CHECKOUT": "1",
    "INVENTORY_URL": "http://localhost:8081/api",
    "LOG_LEVEL": "debug",
    "WORKERS": "2",
    "TZ": "UTC",
}
# As a snapshot records a process environment: the whole environment, masked when it was taken.
PROD_ENV = redact_mapping({
    "APP_ENV": "production",
    "DEBUG": "false",
    "DATABASE_URL": "postgresql://shop:prod-password@db-prod.internal:6432/shop",
    "REDIS_URL": "redis://cache-prod.internal:6379/0",
    "SECRET_KEY": "prod-secret",
    "STRIPE_API_KEY": "sk_live_prod",
    "INVENTORY_URL": "http://localhost:8081/api",
    "LOG_LEVEL": "warning",
    "WORKERS": "2",
    "TZ": "UTC",
    "GUNICORN_CMD_ARGS": "--timeout 30 --graceful-timeout 10",
    "PATH": "/srv/shop/.venv/bin:/usr/local/bin:/usr/bin:/bin",
    "HOME": "/var/www",
    "LANG": "C.UTF-8",
})


def section() -> EnvSection:
    dev = Side(DEV_ENV_FILE, "env-file", DEV_ENV_FILE, {ENV: DEV_ENV})
    prod = Side(PROD_SNAPSHOT, "snapshot", f"{PROD_SNAPSHOT} (snapshot of web-1)", {ENV: PROD_ENV}, live=False)
    return EnvSection(
        host="web-1",
        environ=redact_mapping({"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8",
                                "TERM": "xterm-256color", "SSH_CONNECTION": "10.0.0.5 51022 10.0.0.11 22"}),
        runtime={"python.version": "3.11.2", "python.implementation": "CPython", "os.system": "Linux",
                 "os.release": "6.1.0-27-amd64", "os.machine": "x86_64", "os.distribution": "Debian GNU/Linux 12 (bookworm)"},
        packages={"django": "4.2.16", "gunicorn": "22.0.0", "psycopg": "3.2.3", "redis": "5.2.0"},
        baseline=DEV_ENV_FILE,
        diffs=[diff_sides(dev, prod)],
        process_checks=[ProcessEnvCheck(pid=901, name="gunicorn", env_file="/srv/shop/.env", declared=11,
                                        missing=["FEATURE_NEW_CHECKOUT", "PAYMENTS_WEBHOOK_SECRET"])],
        unreadable_processes=1,
    )


def findings() -> list[Finding]:
    """What EnvSource.analyze gives: one `env-drift` (dev against prod) and one `missing-env` (pid 901)."""
    sample = section()
    return drift_findings(sample) + missing_env_findings(sample)
