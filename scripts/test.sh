#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: install tshoot with its test tools, install and start
# the real services (Docker engine, PostgreSQL, MariaDB), then run pytest. A missing service fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test
env_file="$(bash scripts/services.sh)"
# shellcheck disable=SC1090
source "$env_file"
export TSHOOT_REQUIRE_SERVICES=1
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
if [ $# -eq 0 ]; then  # the whole suite: also the oldest Textual the range allows (this run had the newest)
  bash scripts/test-textual-oldest.sh
fi
