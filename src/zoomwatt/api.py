"""The Python API: one function per command, named like it, taking its options as keywords.

``zoomwatt.predict(hw="jetson-orin-nano", steps=4)`` is ``zoomwatt predict --hw
jetson-orin-nano --steps 4``: the keywords are the command's long options with underscores, the
defaults are the command's (``zoomwatt COMMAND --help`` lists both; the parser is their one
home), and the function returns the result object the command renders (compute first, render
second). :func:`zoom` lives in :mod:`zoomwatt.pipeline.zoom` (its settings are a dataclass,
:class:`~zoomwatt.pipeline.zoom.ZoomConfig`).

Options of the command line that only choose a rendering (``--format``, ``--layers``,
``--quiet``) or a place to keep files (``measure --results``, ``--no-save``) are not keywords
here: render or save the result yourself.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoomwatt.errors import InputError, shorten

if TYPE_CHECKING:  # pragma: no cover
    from zoomwatt.cli.analyze_command import AnalyzeResult
    from zoomwatt.cli.predict_command import PredictRun
    from zoomwatt.evidence.results import ValidationResult
    from zoomwatt.measurement.results import MeasureResult
    from zoomwatt.optimizer import ExploreResult

#: Command-line options that only decide how a result is shown or where it is kept.
RENDERING_OPTIONS = {"format", "layers", "quiet", "results", "no_save", "func", "command"}


def analyze(**options: Any) -> AnalyzeResult:
    """What the feature asks of a machine: the traced workload and the article's claims
    checked (``zoomwatt analyze``)."""
    from zoomwatt.cli import analyze_command

    return analyze_command.compute(command_options("analyze", options))


def predict(**options: Any) -> PredictRun:
    """Latency, fps, power, energy per frame and battery on each device of ``hw``
    (``zoomwatt predict``)."""
    from zoomwatt.cli import predict_command

    return predict_command.compute(command_options("predict", options))


def optimize(**options: Any) -> ExploreResult:
    """The optimizer's search on the device ``hw`` (``zoomwatt optimize``)."""
    from zoomwatt.cli import optimize_command

    return optimize_command.compute(command_options("optimize", options))


def measure(**options: Any) -> MeasureResult:
    """A zoom measured on this machine, with the prediction beside it when ``validate=True``
    (``zoomwatt measure``); nothing is saved (see
    :func:`zoomwatt.measurement.results.save_result`). With ``plan=PATH`` or ``levers="a,b"``
    the levers are applied and (``validate=True``) checked one by one: a
    :class:`~zoomwatt.measurement.lever_check.LeverCheckResult`."""
    from zoomwatt.cli import measure_command

    return measure_command.compute(command_options("measure", options))


def report(**options: Any) -> Path:
    """Compute the study and write the offline page into the folder ``out``; returns the
    page's path (``zoomwatt report``)."""
    from zoomwatt.cli import report_command

    return report_command.compute(command_options("report", options))


def validate(**options: Any) -> ValidationResult:
    """Every published measurement held against the model, held out leave-one-device-out,
    and the last recorded host check (``zoomwatt validate``)."""
    from zoomwatt.cli import validate_command

    return validate_command.compute(command_options("validate", options))


def command_options(command: str, options: dict[str, Any]) -> argparse.Namespace:
    """The namespace the command line would parse for ``command`` with ``options``: its
    defaults, then the given keywords (names and choices checked; required ones present)."""
    actions = _actions(command)
    known = {a.dest: a for a in actions if a.dest not in RENDERING_OPTIONS}
    for name, value in options.items():
        if name not in known:
            raise InputError(name, value, f"an option of zoomwatt {command}: {', '.join(known)}")
        choices = known[name].choices
        if choices is not None and value not in choices:
            raise InputError(name, value, f"one of {', '.join(map(str, choices))}")
    values = {a.dest: a.default for a in actions if a.dest != "help"}
    values.update(options)
    for name, action in known.items():
        if action.required and values.get(name) is None:
            raise InputError(name, None, f"a value: zoomwatt {command} requires --{_flag(name)}")
    values.setdefault("format", "table")
    values["quiet"] = True  # library code logs, never prints progress
    return argparse.Namespace(**values)


def _actions(command: str) -> list[argparse.Action]:
    from zoomwatt.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if command not in sub.choices:
        raise InputError("command", shorten(command), f"one of {', '.join(sub.choices)}")
    return [a for a in sub.choices[command]._actions if a.dest != "help"]


def _flag(name: str) -> str:
    return name.replace("_", "-")
