"""The report's charts, drawn with matplotlib and returned as inline SVG text.

Each function takes parts of :class:`~zoomwatt.reporting.report_data.ReportData` and returns one
``<svg>`` element (no XML prolog, no external references); dense scatters are rasterized inside
the SVG so the page stays small. Labels that come from data are plain matplotlib text (it
escapes them in SVG).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from zoomwatt.workload.stages import ALL_STAGES, StageName

STAGE_COLOURS = {
    StageName.TEXT_ENCODER: "#8c6bb1",
    StageName.VAE_ENCODER: "#41ab5d",
    StageName.UNET: "#2171b5",
    StageName.VAE_DECODER: "#ef6548",
    StageName.FRAME_OPS: "#737373",
}
CLASS_COLOURS = {
    "conv": "#2171b5",
    "linear": "#6baed6",
    "attention": "#fd8d3c",
    "softmax": "#fdd0a2",
    "norm": "#74c476",
    "activation": "#c7e9c0",
    "elementwise": "#9e9ac8",
    "resample": "#dadaeb",
    "data_movement": "#bdbdbd",
    "other": "#636363",
}
PRETTY = {
    **{stage: stage.display for stage in ALL_STAGES},
    "video_write": "video write",  # measured beside the stages, not one of them
    "keyframe": "whole keyframe",
}

plt.rcParams.update(
    {
        "font.size": 9,
        "svg.fonttype": "none",  # text stays text: searchable, small
        "axes.spines.top": False,
        "axes.spines.right": False,
        "svg.hashsalt": "zoomwatt",  # stable ids
    }
)


def to_svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def fmt_s(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    if seconds >= 100:
        return f"{seconds:.0f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def fmt_count(x: float) -> str:
    for factor, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= factor:
            return f"{x / factor:.3g} {unit}"
    return f"{x:.3g} "


def pipeline_diagram(stages: Sequence[Any], focus: Any, device: str) -> str:
    """Boxes for the stages of one keyframe period, with MACs and the focus device's cost."""
    costs = {s.name: s for s in (focus.per_stage if focus is not None else ())}
    total = sum(c.latency_s for c in costs.values()) or 1.0
    fig, ax = plt.subplots(figsize=(10.5, 2.6))
    ax.set_xlim(0, len(stages) * 2.1)
    ax.set_ylim(0, 2.6)
    ax.axis("off")
    for i, s in enumerate(stages):
        x = i * 2.1 + 0.05
        c = costs.get(s.name)
        colour = STAGE_COLOURS.get(s.name, "#969696")
        box = FancyBboxPatch(
            (x, 0.2), 1.7, 2.1, boxstyle="round,pad=0.03", fc=colour, ec="none", alpha=0.18
        )
        ax.add_patch(box)
        calls = f"x{s.calls_per_keyframe:g} per keyframe"
        per_prompt = s.name == StageName.TEXT_ENCODER and s.calls_per_keyframe == 0
        if per_prompt:
            calls = "once per prompt"
        elif StageName.parse(s.name).per_frame:
            calls = "N frames per keyframe"
        macs = s.macs_per_call if per_prompt else s.macs_per_keyframe
        lines = [
            (PRETTY.get(s.name, s.name), 10.5, "bold"),
            (calls, 8, "normal"),
            (f"{fmt_count(macs)}MAC / {'call' if per_prompt else 'keyframe'}", 8, "normal"),
        ]
        if c is not None and per_prompt:
            lines += [
                (f"{fmt_s(c.latency_per_call_s)} per call", 9.5, "bold"),
                (f"{c.energy_per_call_j:.3g} J, {c.bound}-bound", 8, "normal"),
            ]
        elif c is not None:
            share = c.latency_s / total
            lines += [
                (f"{fmt_s(c.latency_s)}  ({share:.0%})", 9.5, "bold"),
                (f"{c.energy_j:.3g} J, {c.bound}-bound", 8, "normal"),
            ]
        for j, (text, size, weight) in enumerate(lines):
            ax.text(x + 0.85, 2.05 - j * 0.38, text, ha="center", va="center", fontsize=size,
                    fontweight=weight)  # fmt: skip
        if i < len(stages) - 1:
            ax.add_patch(
                FancyArrowPatch(
                    (x + 1.76, 1.25), (x + 2.09, 1.25), arrowstyle="-|>", mutation_scale=12
                )
            )
    ax.set_title(f"one keyframe period on {device} (predicted)", fontsize=10, loc="left")
    return to_svg(fig)


def op_class_chart(stages: Sequence[Any], claims: dict[str, float]) -> str:
    """Share of MACs by op class per model (stacked bars), the article's conv claim as a tick."""
    models = [s for s in stages if StageName.parse(s.name).is_model]
    fig, ax = plt.subplots(figsize=(7.5, 2.4))
    classes = [c for c in CLASS_COLOURS if any(s.macs_share_by_class.get(c) for s in models)]
    for row, s in enumerate(models):
        left = 0.0
        for c in classes:
            share = s.macs_share_by_class.get(c, 0.0)
            if share <= 0:
                continue
            ax.barh(row, share, left=left, color=CLASS_COLOURS[c], label=c if row == 0 else None)
            if share > 0.07:
                ax.text(left + share / 2, row, f"{share:.0%}", ha="center", va="center",
                        fontsize=8, color="white" if c == "conv" else "black")  # fmt: skip
            left += share
        claim = claims.get(s.name)
        if claim is not None:
            conv = s.macs_share_by_class.get("conv", 0.0)
            ax.plot([claim, claim], [row - 0.42, row + 0.42], color="black", lw=2.5)
            ax.text(1.02, row, f"article: {claim:.0%} conv\nmeasured: {conv:.0%}", va="center",
                    fontsize=7.5, transform=ax.get_yaxis_transform())  # fmt: skip
    ax.set_yticks(range(len(models)), [PRETTY.get(s.name, s.name) for s in models])
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel("share of multiply-accumulates (measured on the architecture)")
    handles, labels = [], []
    for c in classes:
        handles.append(plt.Rectangle((0, 0), 1, 1, color=CLASS_COLOURS[c]))
        labels.append(c)
    ax.legend(handles, labels, ncol=len(classes), fontsize=7.5, loc="upper center",
              bbox_to_anchor=(0.5, -0.28), frameon=False)  # fmt: skip
    return to_svg(fig)


def roofline_chart(roofline: Any) -> str:
    """Every layer of every model as a point: operational intensity against attained rate."""
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    by_stage: dict[str, tuple[list[float], list[float]]] = {}
    for p in roofline.points:
        if not math.isfinite(p.intensity_ops_per_byte) or p.attained_ops_per_s <= 0:
            continue
        xs, ys = by_stage.setdefault(p.stage, ([], []))
        xs.append(p.intensity_ops_per_byte)
        ys.append(p.attained_ops_per_s / 1e9)
    lo, hi = 1e-2, 1e5
    for stage, (xs, ys) in by_stage.items():
        lo, hi = min(lo, min(xs)), max(hi, max(xs))
        ax.scatter(xs, ys, s=9, alpha=0.55, color=STAGE_COLOURS.get(stage, "#969696"),
                   label=f"{PRETTY.get(stage, stage)} ({len(xs)})", rasterized=True,
                   edgecolors="none")  # fmt: skip
    peak = roofline.peak_ops_per_s / 1e9
    bw = roofline.bandwidth_bytes_per_s / 1e9
    grid = [lo / 2 * (hi * 4 / lo) ** (i / 200) for i in range(201)]
    ax.plot(grid, [min(peak, bw * x) for x in grid], color="black", lw=1.5, label="roofline")
    ax.axvline(peak / bw, color="black", lw=0.6, ls=":")
    ax.text(peak / bw, peak * 1.15, f" ridge {peak / bw:.0f} op/B", fontsize=7.5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("operational intensity (ops per DRAM byte)")
    ax.set_ylabel("attained rate (G ops/s, predicted)")
    ax.set_title(
        f"{roofline.device}, {roofline.dtype}: peak {peak:.4g} G ops/s, "
        f"{bw:.3g} GB/s; one point per layer",
        fontsize=9,
        loc="left",
    )
    ax.legend(fontsize=7.5, loc="lower right")
    return to_svg(fig)


def device_chart(predictions: Sequence[Any], target_fps: float) -> str:
    """Sustainable output fps per device (log) against the target."""
    preds = sorted((p for p in predictions if hasattr(p, "output_fps")), key=lambda p: p.output_fps)
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(preds) + 0.9))
    colours = ["#31a354" if p.realtime else "#de2d26" for p in preds]
    ax.barh([p.hardware for p in preds], [p.output_fps for p in preds], color=colours)
    ax.axvline(target_fps, color="black", lw=1, ls="--")
    ax.text(target_fps, len(preds) - 0.4, f" target {target_fps:g} fps", fontsize=8)
    for i, p in enumerate(preds):
        ax.text(p.output_fps * 1.08, i, f"{p.output_fps:.3g} fps, {p.avg_power_w:.3g} W",
                va="center", fontsize=7.5)  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("sustainable output fps (predicted; green: real time)")
    return to_svg(fig)


def pareto_chart(result: Any, target_fps: float) -> str:
    """The optimizer's Pareto front: output fps against energy per frame."""
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    front = list(result.pareto)
    for meets, colour, label in (
        (False, "#6baed6", "Pareto front"),
        (True, "#238b45", "meets targets"),
    ):
        pts = [c for c in front if bool(c.meets_targets) == meets]
        if pts:
            ax.scatter([c.output_fps for c in pts], [c.energy_per_frame_j for c in pts], s=18,
                       color=colour, label=f"{label} ({len(pts)})", zorder=2)  # fmt: skip
    base = getattr(result, "baseline", None)
    if base is not None:
        ax.plot([base.output_fps], [base.energy_per_frame_j], "s", color="#de2d26", ms=8,
                label=f"baseline: {base.label}")  # fmt: skip
    best = getattr(result, "best", None)
    if best is not None:
        ax.plot([best.output_fps], [best.energy_per_frame_j], "*", color="#31a354", ms=14,
                label=f"best: {best.label}")  # fmt: skip
    for c in front[: len(front) // 2 : max(2, len(front) // 6)]:
        ax.annotate(c.label, (c.output_fps, c.energy_per_frame_j), fontsize=6.5,
                    xytext=(4, 4), textcoords="offset points")  # fmt: skip
    ax.axvline(target_fps, color="black", lw=1, ls="--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("output fps (predicted)")
    ax.set_ylabel("energy per output frame (J)")
    ax.set_title(
        f"{result.hardware}: {result.candidates_evaluated} candidates evaluated",
        fontsize=9,
        loc="left",
    )
    ax.legend(fontsize=7.5)
    return to_svg(fig)


def measured_chart(measurement: Any) -> str:
    """Predicted against measured latency per stage (log), the error beside each pair."""
    rows = [
        s for s in (*measurement.stages, measurement.keyframe) if s.measured_latency_s is not None
    ]
    fig, ax = plt.subplots(figsize=(7.5, 0.5 * len(rows) + 1.0))
    ys = range(len(rows))
    measured = [s.measured_latency_s for s in rows]
    predicted = [s.predicted_latency_s or 0.0 for s in rows]
    ax.barh([y - 0.2 for y in ys], measured, height=0.38, color="#636363", label="measured")
    ax.barh([y + 0.2 for y in ys], predicted, height=0.38, color="#6baed6", label="predicted")
    for y, s in zip(ys, rows, strict=True):
        err = s.error_pct
        text = "not predicted" if s.predicted_latency_s is None else f"{err:+.0f}%"
        if s.not_compared:  # predicted, but the machine moved under the measurement
            text = f"not comparable: machine {s.not_compared}"
        if s.predicted_latency_s is not None and not s.in_target:
            text += " (not in target)"
        ax.text(max(measured[y], predicted[y]) * 1.1, y, text, va="center", fontsize=8)
    ax.set_yticks(list(ys), [PRETTY.get(s.name, s.name) for s in rows])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("seconds per keyframe (text encoder: per prompt)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return to_svg(fig)


def layer_scatter(layers: Sequence[Any]) -> str:
    """Measured against predicted time of every timed layer (log-log), the y = x line."""
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    classes: dict[str, tuple[list[float], list[float]]] = {}
    for la in layers:
        if la.measured_latency_s <= 0 or la.predicted_latency_s <= 0:
            continue
        xs, ys = classes.setdefault(la.op_class, ([], []))
        xs.append(la.predicted_latency_s)
        ys.append(la.measured_latency_s)
    lo, hi = 1e-6, 1.0
    for op_class, (xs, ys) in classes.items():
        lo, hi = min(lo, *xs, *ys), max(hi, *xs, *ys)
        ax.scatter(xs, ys, s=10, alpha=0.6, color=CLASS_COLOURS.get(op_class, "#636363"),
                   label=f"{op_class} ({len(xs)})", rasterized=True)  # fmt: skip
    ax.plot([lo, hi], [lo, hi], color="black", lw=1, label="measured = predicted")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("predicted seconds per call")
    ax.set_ylabel("measured seconds per call (median)")
    ax.set_title("every UNet layer (leaf module), forward hooks", fontsize=9, loc="left")
    ax.legend(fontsize=7)
    return to_svg(fig)
