"""The report renders in headless Chromium without console errors, and a screenshot is taken.

``scripts/test.sh`` installs Debian's chromium where it is missing and apt can; without a
Chromium the test is skipped and says so. The screenshot is kept in
``$ZOOMWATT_SCREENSHOT_DIR`` when set (to look at it), else in the test's temporary folder.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from zoomwatt.reporting import write_page

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
# With --enable-logging=stderr, Chromium logs every console message of the page (errors,
# uncaught exceptions, warnings, logs) as: ... INFO:CONSOLE:1] "Uncaught ReferenceError: ...".
# The report has no script, so any console line at all is a fault.
CONSOLE = re.compile(r"CONSOLE[:(]\d+")


def chromium() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def render(page: Path, screenshot: Path) -> tuple[int, list[str]]:
    """Load ``page`` headless; return the exit status and the console lines Chromium logged."""
    exe = chromium()
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1200,5200",
        "--virtual-time-budget=4000",
        f"--screenshot={screenshot}",
        page.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    lines = [line for line in proc.stderr.splitlines() if CONSOLE.search(line)]
    return proc.returncode, lines


needs_chromium = pytest.mark.skipif(
    chromium() is None,
    reason="no Chromium on this machine (scripts/test.sh installs Debian's `chromium` with "
    "apt-get where it can; install it to run this test)",
)


@needs_chromium
def test_the_detector_sees_a_console_error(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>console.error('boom'); nowhere();</script></body></html>")
    _code, lines = render(page, tmp_path / "bad.png")
    assert any("boom" in line for line in lines), lines
    assert any("Uncaught" in line for line in lines), lines


@needs_chromium
def test_report_renders_without_console_errors(report_data, tmp_path):
    page = write_page(report_data, tmp_path / "report")
    folder = Path(os.environ.get("ZOOMWATT_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / "report.png"
    code, lines = render(page, shot)
    assert code == 0
    assert lines == []
    assert shot.is_file() and shot.stat().st_size > 50_000  # a real picture, not a blank page
