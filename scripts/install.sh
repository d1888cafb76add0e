#!/usr/bin/env bash
# Install tshoot into ./.venv (and link it as /usr/local/bin/tshoot when run as root).
# Usage: bash scripts/install.sh [--test]   (--test adds the test tools)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
  echo "install: tshoot needs Python 3.11 or newer as python3" >&2; exit 1
fi
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq python3-venv >&2
  else
    echo "install: python3 venv support is missing: sudo apt-get install python3-venv" >&2; exit 1
  fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
extra=""
[ "${1:-}" = "--test" ] && extra="[test]"
upgrade=""  # tests run against the newest of every dependency its range allows (Textual above all)
[ -n "$extra" ] && upgrade="--upgrade --upgrade-strategy eager"
# shellcheck disable=SC2086
.venv/bin/python -m pip install -q $upgrade -e ".$extra" 2>&1 | grep -v -i "^warning: location" >&2 || true
.venv/bin/tshoot --version >/dev/null
if [ "$(id -u)" = 0 ]; then
  ln -sf "$PWD/.venv/bin/tshoot" /usr/local/bin/tshoot
  # gdb lets the memory trace (Processes pane, a) run tracemalloc inside Python processes older than 3.14,
  # and memray attach (any version) inject; a fresh machine has no package lists yet, hence the update
  command -v gdb >/dev/null || { { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gdb; } \
    >/dev/null 2>&1 || echo "install: gdb not installed; memory traces of Python < 3.14 will say so" >&2; }
fi
echo "installed: $PWD/.venv/bin/tshoot" >&2
