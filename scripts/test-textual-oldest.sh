#!/usr/bin/env bash
# The UI tests against the oldest Textual that pyproject.toml allows: the main run has the newest the range
# allows (scripts/install.sh --test upgrades to it), so both ends of the range are tested.
# Usage: bash scripts/test-textual-oldest.sh [pytest args]   (after scripts/install.sh --test and services.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
oldest="$(.venv/bin/python - <<'PY'
import re, tomllib
with open("pyproject.toml", "rb") as f:
    dependencies = tomllib.load(f)["project"]["dependencies"]
print(next(re.search(r">=\s*([\w.]+)", d).group(1) for d in dependencies if re.match(r"textual\b", d)))
PY
)"
venv=.venv-textual-oldest
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q -e ".[test]" "textual==$oldest" 2>&1 | grep -v -i "^warning: location" >&2 || true
# Every test module that drives the UI (imports Textual, the app or the UI helpers).
mapfile -t ui_tests < <(grep -l -E "^(from|import) (textual|tui\.app|tests\.uihelpers)" tests/test_*.py)
echo "UI tests on Textual $oldest: ${#ui_tests[@]} modules" >&2
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "${ui_tests[@]}" "$@"
