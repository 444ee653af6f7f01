#!/usr/bin/env bash
# Set up (if needed) and run the tests: lint, then the default suite (no slow or GPU tests).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow` or `-m gpu`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The report's browser test renders the page in headless Chromium: install Debian's chromium
# where it is missing and apt-get can (root, or sudo without a password). Skipped with
# ZOOMWATT_NO_CHROMIUM=1; without a Chromium that one test is skipped and says why.
if [ -z "${ZOOMWATT_NO_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1 \
    && ! command -v chromium-browser >/dev/null 2>&1 && ! command -v google-chrome >/dev/null 2>&1 \
    && command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo -n"
    echo "test: installing chromium for the report's browser test (apt-get)..." >&2
    apt_install() { $SUDO apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1; }
    apt_install || { $SUDO apt-get update -q >/dev/null 2>&1 && apt_install; } \
        || echo "test: could not install chromium; the browser test will be skipped" >&2
fi
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
exec .venv/bin/python -m pytest "$@"
