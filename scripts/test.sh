#!/usr/bin/env bash
# Set up (if needed) and run the tests: lint, then the default suite (no slow or GPU tests).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow` or `-m gpu`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
exec .venv/bin/python -m pytest "$@"
