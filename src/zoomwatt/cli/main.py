"""Entry point of the ``zoomwatt`` command.

Each subcommand lives in its own module with ``add_parser(subparsers)``, which registers the
parser and sets ``func`` (called with the parsed namespace, returns an exit status). Add a new
command by listing its module in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from zoomwatt.errors import ZoomwattError
from zoomwatt.version import __version__

COMMANDS = [
    "zoomwatt.cli.zoom_command",
    "zoomwatt.cli.hardware_command",
    "zoomwatt.cli.predict_command",
    "zoomwatt.cli.analyze_command",
    "zoomwatt.cli.optimize_command",
    "zoomwatt.cli.measure_command",
    "zoomwatt.cli.report_command",
    "zoomwatt.cli.validate_command",
]

log = logging.getLogger("zoomwatt")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoomwatt",
        description="Run, count, measure and predict real-time infinite zoom "
        "(Stable Diffusion 2 inpainting) and its performance per watt.",
    )
    parser.add_argument("--version", action="version", version=f"zoomwatt {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module_name in COMMANDS:
        importlib.import_module(module_name).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        _quiet_libraries()
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in Python's flush at exit
        return code
    except ZoomwattError as exc:
        print(f"zoomwatt {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"zoomwatt {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`zoomwatt optimize | head`): stop quietly
        _stdout_to_devnull()  # so that Python's flush at exit finds no pipe
        return 141  # 128 + SIGPIPE, as a shell reports a command a pipe stopped


def _stdout_to_devnull() -> None:
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # a captured or replaced stdout
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _quiet_libraries() -> None:
    """The model libraries print loading bars and advice to stderr; the command has its own
    progress and one-line errors. They read these settings when they are first imported (the
    commands import them lazily, after this), and a user's own setting wins."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
