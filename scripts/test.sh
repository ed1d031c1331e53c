#!/usr/bin/env bash
# The whole test suite: creates/reuses .venv with pinned versions, then runs pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh -k roundtrip).
source "$(dirname "$0")/_env.sh"
ensure_venv "$ROOT/requirements-test.txt"
cd "$ROOT"
exec "$VENV/bin/python" -m pytest -q "$@"
