"""The shipped results of the fit: the fitted stack figures and the held-out errors per class.

Two files, both written from a fresh fit by ``python -m zoomwatt.evidence.fit_stacks --write``
and held to one by a test:

- :data:`FITTED_FILE` (``hardware/data/fitted_stacks.yaml``): for every stack whose fit beats
  the profiles' own figures held out, its figures on every shipped profile that lists the stack
  and whose device class the stack's evidence covers (efficiency per op class = the profile's x
  the fitted multiplier, capped at 1; the fitted overhead), each marked ``fitted:`` with the data
  and its held-out error;
- :data:`HELDOUT_FILE` (``evidence/data/heldout_errors.yaml``): the held-out errors per device
  class, latency and energy, which ``zoomwatt predict`` shows beside each device
  (:func:`zoomwatt.evidence.heldout.class_evidence`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoomwatt.evidence.case_model import OVERHEAD_FIGURE
from zoomwatt.evidence.fit_stacks import StackFit
from zoomwatt.evidence.heldout import HELDOUT_FILE, load_heldout
from zoomwatt.hardware import load_profile, shipped_profile_names
from zoomwatt.hardware.stacks import FITTED_FILE, load_fitted_stacks
from zoomwatt.hardware.yaml_io import dump_yaml
from zoomwatt.perfmodel.device_params import device_params
from zoomwatt.perfmodel.layer_table import OP_CLASSES

WRITER = "python -m zoomwatt.evidence.fit_stacks --write"

_FITTED_HEAD = f"""\
# Software-stack figures fitted to the published measurements (evidence/data/published.yaml),
# kept apart from the hardware profiles: a profile's figures are what a datasheet or a reasoned
# estimate says, this file what the evidence set says. zoomwatt.hardware.stacks lays these over
# the stacks of the shipped profile of the same name (the default stack included; never over a
# user's copy of a profile; `fitted_stacks=False` gives the profile's own figures).
#
# WRITTEN BY `{WRITER}`: do not edit; a test checks that
# this file equals a fresh fit. Per stack, one efficiency multiplier for every op
# class and one overhead figure (the kernel overhead; eager: the host's time to issue a kernel),
# the same for every device, chosen by a grid search on the stack's published latency figures;
# held out leave-one-device-out. A stack whose fit does not beat the profiles' own figures held
# out is left out (see `zoomwatt validate`).
"""
_HELDOUT_HEAD = f"""\
# Held-out errors of zoomwatt's predictions against the published measurements, per device
# class: leave-one-device-out (each device predicted by stack figures fitted without it).
# WRITTEN BY `{WRITER}`: do not edit. `zoomwatt predict`
# shows these beside each device; `zoomwatt validate` shows every case.
"""


def _classes(stack_fit: StackFit, models) -> set[str]:
    return {m.figure.device_class for m in models if m.figure.device in stack_fit.devices}


def _stack_entry(profile, stack_fit: StackFit, held_out_pct: float, prior_pct: float) -> dict:
    fit = stack_fit.fitted
    multiplier = fit.efficiency_multiplier
    base = device_params(profile, stack=stack_fit.stack, fitted=False)
    evidence = (
        f"{stack_fit.stack} fit, {len(stack_fit.figure_ids)} published figures of "
        f"{len(stack_fit.devices)} devices (notes); held-out median |error| {held_out_pct:.0f}% "
        f"(own figures {prior_pct:.0f}%)"
    )
    efficiency = {
        c.value: {"value": min(float(e) * multiplier, 1.0), "unit": "1",
                  "fitted": f"x{multiplier:g} of {float(e):g}, {evidence}"}
        for c, e in zip(OP_CLASSES, base.efficiency, strict=True)
    }  # fmt: skip
    figure = OVERHEAD_FIGURE.get(stack_fit.stack, "kernel_overhead")
    overhead = getattr(fit, f"{figure}_us")
    notes = (
        f"fitted to the latency figures {', '.join(stack_fit.figure_ids)} of "
        f"{', '.join(stack_fit.devices)}: efficiency x {multiplier:g}, {figure} {overhead:g} us"
    )
    return {
        "efficiency": efficiency,
        figure: {"value": overhead, "unit": "us", "fitted": evidence},
        "notes": notes,
    }


def render_fitted(run, summary) -> str:
    """The fitted-stacks file of ``run`` (a :class:`~zoomwatt.evidence.validate.PublishedRun`)."""
    from zoomwatt.evidence.validate import stack_summaries

    by_stack = {s.stack: s for s in stack_summaries(run)}
    profiles: dict[str, dict[str, Any]] = {}
    for name in shipped_profile_names():
        profile = load_profile(name)
        for stack, fit in run.fit.stacks.items():
            if not fit.applied or stack not in profile.stack_names:
                continue
            if profile.device_class not in _classes(fit, run.models):
                continue
            s = by_stack[stack]
            entry = _stack_entry(profile, fit, s.held_out_median_abs_error_pct,
                                 s.prior_median_abs_error_pct)  # fmt: skip
            profiles.setdefault(name, {})[stack] = entry
    # one line per figure (flow mappings): the strict loader reads it in a fraction of the time
    return _FITTED_HEAD + _flow_yaml({"schema": 1, "profiles": profiles})


def _flow_yaml(data: dict[str, Any]) -> str:
    """Block YAML whose innermost mappings (the figures) are one flow line each."""
    import yaml

    return yaml.safe_dump(data, sort_keys=False, width=10**6, default_flow_style=None)


def _rounded(summary_dict: dict[str, Any]) -> dict[str, Any]:
    """Percentages to 0.1, shares to 0.001 (the last bits of a sum may differ by platform)."""
    return {
        k: (round(v, 3 if k.endswith("_share") else 1) if isinstance(v, float) else v)
        for k, v in summary_dict.items()
    }


def render_heldout(summary) -> str:
    """The held-out errors per device class (``summary``: validate's, mode held_out)."""
    data: dict[str, Any] = {"schema": 1}
    for group, by in summary["held_out"].items():
        data[group] = {k: _rounded(s.to_dict()) for k, s in by.items()}
    return _HELDOUT_HEAD + dump_yaml(data)


def texts_of(run, summary) -> dict[Path, str]:
    return {FITTED_FILE: render_fitted(run, summary), HELDOUT_FILE: render_heldout(summary)}


def fresh_texts() -> dict[Path, str]:
    """Both files from a fresh fit of the published set."""
    from zoomwatt.evidence.validate import published_run, summarize

    run = published_run()
    return texts_of(run, summarize(run.cases))


def stale(texts: dict[Path, str]) -> list[Path]:
    """The shipped files that differ from ``texts``."""
    return [p for p, t in texts.items() if not p.is_file() or p.read_text("utf-8") != t]


def write(texts: dict[Path, str]) -> list[Path]:
    for path, text in texts.items():
        path.write_text(text, encoding="utf-8")
    load_fitted_stacks.cache_clear()
    load_heldout.cache_clear()
    return list(texts)
