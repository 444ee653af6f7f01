"""A reader that goes away (`zoomwatt optimize | head`) ends the command quietly."""

from __future__ import annotations

import subprocess
import sys


def test_a_closed_pipe_is_exit_141_without_a_traceback(monkeypatch, capsys):
    from zoomwatt.cli import main as cli_main
    from zoomwatt.cli import optimize_command

    def closed(_args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(optimize_command, "run", closed)
    assert cli_main.main(["optimize", "--hw", "jetson-orin-nano"]) == 141  # 128 + SIGPIPE
    assert "Traceback" not in capsys.readouterr().err


def test_through_a_real_pipe_closed_early():
    # `zoomwatt hardware list` into a reader that closes at once: no traceback on stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "zoomwatt", "hardware", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # the reader goes away before the command writes
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err
