"""The report's "What each lever bought here": predicted against measured speed-up per lever
(chart and table) and the plan they came from, from the last ``zoomwatt measure --levers/--plan
--validate`` (``levers-latest.json`` in the measurement folder). Shown when one is saved."""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from zoomwatt.errors import InputError


def collect_levers(measurements: str | Path | None) -> tuple[Any, str | None]:
    """The saved lever measurement, or None and why there is none."""
    from zoomwatt.measurement.lever_check import load_lever_check

    if measurements is None:
        return None, "no measurement folder given"
    try:
        return load_lever_check(measurements), None
    except InputError as exc:
        return None, f"no lever measurement yet ({exc})"


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _x(v: float | None) -> str:
    return "-" if v is None or not math.isfinite(v) else f"{v:.2f}x"


def levers_chart(result: Any) -> str:
    """Predicted and measured speed-up per lever (log axis; 1x is the baseline)."""
    from zoomwatt.reporting.plots import plt, to_svg

    rows = [r for r in (*result.levers, result.combined) if r is not None]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(rows) + 1.0))
    ys = range(len(rows))
    measured = [r.measured_speedup or 0.0 for r in rows]
    predicted = [r.predicted_speedup or 0.0 for r in rows]
    ax.barh([y - 0.2 for y in ys], measured, height=0.38, color="#636363", label="measured")
    ax.barh([y + 0.2 for y in ys], predicted, height=0.38, color="#6baed6", label="predicted")
    for y, r in zip(ys, rows, strict=True):
        text = (
            "not measurable here"
            if r.measured_speedup is None
            else ("no prediction" if r.error_pct is None else f"{r.error_pct:+.0f}%")
        )
        ax.text(max(measured[y], predicted[y], 1.0) * 1.05, y, text, va="center", fontsize=8)
    ax.axvline(1.0, color="#999999", lw=0.8)
    ax.set_yticks(list(ys), [r.name for r in rows])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("speed-up per output frame against the baseline")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return to_svg(fig)


def _energy_cell(r: Any) -> str:
    """The energy saving, predicted / measured, or why it was not measured."""
    saving = r.measured_energy_saving
    if saving is None:
        status = r.energy_status or "not measured"
        return _esc("-" if status.startswith("not measurable here") else status)
    err = r.energy_error_pct
    return _esc(
        f"{_x(r.predicted_energy_saving)} / {_x(saving)}"
        + ("" if err is None else f" ({err:+.0f}%)")
    )


def _row(r: Any) -> tuple[list[str], str]:
    err = "-" if r.error_pct is None else f"{r.error_pct:+.0f}%"
    ok = r.status == "within target"  # as the check judged it (the combined: keyframe latency)
    cells = [
        _esc(r.name),
        _x(r.predicted_speedup),
        _x(r.measured_speedup),
        err,
        _energy_cell(r),
        _esc(r.status),
        _esc(r.quality),
    ]
    return cells, ("yes" if ok else "")


def _plan_html(plan: dict[str, Any] | None) -> str:
    if not plan:
        return "<p class='note'>Levers given with --levers (no plan).</p>"
    levers = ", ".join(f"{lv['name']}={lv['value']}" for lv in plan.get("levers", []))
    p = plan.get("predicted", {})
    return (
        f"<p>Plan <b>{_esc(plan.get('label'))}</b> ({_esc(plan.get('pick'))}), made for "
        f"{_esc(plan.get('device', {}).get('hardware'))} ({_esc(plan.get('stack'))}) by "
        f"<code>{_esc(plan.get('made_by'))}</code>: levers {_esc(levers)}; predicted there "
        f"{_esc(round(p.get('output_fps', 0.0), 3))} fps, "
        f"{_esc(round(p.get('energy_per_frame_j', 0.0), 4))} J/frame. Here the levers run at "
        "this run's scale (resolution, steps and N as the same fractions of the baseline).</p>"
    )


def levers_html(result: Any, note: str | None) -> str:
    """The section; empty when no lever measurement was saved."""
    if result is None:
        return ""
    from zoomwatt.reporting.html_page import _table

    rows, classes = [], []
    for r in (*result.levers, result.combined):
        if r is None:
            continue
        cells, cls = _row(r)
        rows.append(cells)
        classes.append(cls)
    header = ["lever", "predicted", "measured", "error", "energy saving (pred. / meas.)",
              "status", "picture"]  # fmt: skip
    table = _table(header, rows, classes)
    kf = result.combined_keyframe_error_pct
    settings = ", ".join(f"{k} {v}" for k, v in result.settings.items())
    return (
        "<h2>What each lever bought here</h2>"
        f"<p>Measured on {_esc(result.device)}, {_esc(result.date)} ({_esc(settings)}): the "
        "baseline, each lever alone and the runnable levers combined, interleaved, medians. "
        "Predicted: the performance model on the host profile for each lever's own traced "
        f"workload. Targets: each lever's speed-up within {result.lever_target_pct:g}%, the "
        f"combined plan's keyframe latency within {result.combined_target_pct:g}%"
        + ("" if kf is None else f"; combined keyframe latency {kf:+.0f}% (predicted vs measured)")
        + ".</p>"
        + levers_chart(result)
        + table
        + _plan_html(result.plan)
        + f"<p class='note'>Energy: {_esc(result.energy_meter or 'not measured')}."
        f" {_esc('; '.join(result.notes))}</p>"
    )
