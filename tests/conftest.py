"""Shared test fixtures: the real services started by scripts/services.sh.

With TSHOOT_REQUIRE_SERVICES=1 (as in CI) a missing service fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import shlex
import time
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["TZ"] = "UTC"  # times on screen are local: screenshots must not depend on the machine's zone
time.tzset()
SERVICES_ENV = Path(os.environ.get("TSHOOT_SERVICES_DIR", "/tmp/tshoot-services")) / "env"


def _load_services_env() -> None:
    """Pick up the URLs scripts/services.sh wrote, unless the environment already names them."""
    if not SERVICES_ENV.exists():
        return
    for line in SERVICES_ENV.read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line[len("export "):].partition("=")
            os.environ.setdefault(key, shlex.split(value)[0] if value else "")


_load_services_env()


@pytest.fixture(autouse=True)
def _error_log_in_tmp(tmp_path_factory, monkeypatch) -> None:
    """Tests that plant a bug must not write tshoot's error log into the home directory of whoever runs them."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


def require_service(what: str, why: str) -> None:
    """Skip (locally) or fail (CI) a test whose real service is not there."""
    message = f"{what} unavailable: {why} (run scripts/services.sh)"
    if os.environ.get("TSHOOT_REQUIRE_SERVICES") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_url() -> str:
    url = os.environ.get("TSHOOT_TEST_PG_URL")
    if not url:
        require_service("PostgreSQL", "TSHOOT_TEST_PG_URL is not set")
    return url


@pytest.fixture(scope="session")
def mysql_url() -> str:
    url = os.environ.get("TSHOOT_TEST_MYSQL_URL")
    if not url:
        require_service("MariaDB", "TSHOOT_TEST_MYSQL_URL is not set")
    return url


@pytest.fixture(scope="session")
def docker_client():
    import docker

    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:
        require_service("Docker engine", str(exc))
    yield client
    client.close()


@pytest.fixture(scope="session")
def docker_image() -> str:
    return os.environ.get("TSHOOT_TEST_DOCKER_IMAGE", "tshoot-busybox:latest")
