"""Render :class:`~zoomwatt.reporting.report_data.ReportData` as one self-contained HTML page.

Everything is inline: the style, the charts (SVG), the video and its stills (``data:`` URIs).
No script, no font, no image is fetched from anywhere, so the page works offline. Every text
that comes from data or from the user (prompts, labels, notes, paths) goes through
:func:`html.escape`.
"""

from __future__ import annotations

import base64
import html
import math
from typing import Any

from zoomwatt.hardware.host_probe import BUSY_CPU_SHARE
from zoomwatt.reporting import plots
from zoomwatt.reporting.report_data import ReportData
from zoomwatt.workload.article import CONV_SHARE_CLAIMS

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;
background:#fafafa;line-height:1.45}
main{max-width:1080px;margin:0 auto;padding:1.2em 1.6em 3em;background:#fff}
h1{font-size:1.5em;margin:.3em 0}h2{font-size:1.2em;margin-top:1.8em;border-bottom:2px solid
#2171b5;padding-bottom:.2em}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
th,td{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:right;vertical-align:top}
th:first-child,td:first-child{text-align:left}table.left td,table.left th{text-align:left}
tr.yes td{background:#edf8e9}.no{color:#a50f15}.ok{color:#006d2c}
.glance{background:#f0f6fc;border-left:4px solid #2171b5;padding:.6em 1em;margin:1em 0}
.glance li{margin:.25em 0}.note{color:#555;font-size:.85em}.frames{display:flex;gap:6px;
flex-wrap:wrap}.frames figure{margin:0;font-size:.75em;text-align:center}
.frames img{width:150px;height:150px;image-rendering:auto;border:1px solid #ccc}
svg{max-width:100%;height:auto}.side{display:flex;gap:1.2em;flex-wrap:wrap;align-items:flex-start}
.side>div{flex:1 1 420px}code{background:#f3f3f3;padding:0 .25em}
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}g}" if abs(x) < 10**digits else f"{x:,.0f}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:+.0f}%"


def _table(
    header: list[str], rows: list[list[str]], classes: list[str] | None = None, left: bool = False
) -> str:
    """Cells are already escaped HTML; ``left``: every column left-aligned (text tables)."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>")
    cls = ' class="left"' if left else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


# ---------------------------------------------------------------- sections


def _not_comparable(m: Any) -> str | None:
    """The host check's verdict in words where it neither passed nor failed (busy, drifting,
    not checked), with how many stages it still compared and their worst error; None else
    (then the worst error of the compared stages is the verdict)."""
    hc = getattr(m, "host_check", None)
    if hc is None or hc.verdict in ("pass", "fail"):
        return None
    compared = [abs(s.error_pct) for s in hc.stages if s.error_pct is not None]
    if not compared:
        return hc.headline
    return (
        f"{hc.headline}; {len(compared)} of {len(hc.stages)} model stages compared, worst "
        f"error {max(compared):.0f}% (target {_num(hc.target_error_pct)}%)"
    )


def glance(data: ReportData) -> str:
    s = data.settings
    items = []
    f = data.focus
    items.append(
        f"<b>What it costs:</b> one keyframe = {esc(plots.fmt_count(s['macs_per_keyframe']))}"
        f"MAC ({esc(s['steps'])} UNet steps, CFG {'on' if s['cfg'] else 'off'}, "
        f"{esc(s['size'])}x{esc(s['size'])}); with 1 keyframe in {esc(s['every'])} frames, "
        f"{esc(plots.fmt_count(s['macs_per_output_frame']))}MAC per output frame."
    )
    if f is not None:
        kf = [c for c in f.per_stage if not c.per_frame]
        top = max(kf, key=lambda c: c.latency_s)
        share = top.latency_s / max(f.keyframe_latency_s, 1e-30)
        items.append(
            f"<b>Where:</b> on {esc(f.hardware)}, the {esc(plots.PRETTY.get(top.name, top.name))}"
            f" takes {share:.0%} of a keyframe's {esc(plots.fmt_s(f.keyframe_latency_s))} "
            f"({esc(top.bound)}-bound); {_num(f.energy_per_frame_j)} J per output frame."
        )
    realtime = [p.hardware for p in data.predictions if getattr(p, "realtime", False)]
    items.append(
        f"<b>Real time at {esc(s['fps'])} fps:</b> "
        + (esc(", ".join(realtime)) if realtime else "no shipped device")
        + f" (predicted, {esc(s['dtype'])}, 1 keyframe in {esc(s['every'])})."
    )
    opt = data.optimizer
    if opt is not None and getattr(opt, "best", None) is not None and opt.baseline is not None:
        b, base = opt.best, opt.baseline
        items.append(
            f"<b>What optimization buys</b> on {esc(opt.hardware)}: {esc(b.label)} gives "
            f"{_num(b.output_fps / max(base.output_fps, 1e-30))}x the fps and "
            f"{_num(base.energy_per_frame_j / max(b.energy_per_frame_j, 1e-30))}x less energy "
            f"per frame than the baseline ({_num(b.fps_per_watt)} fps/W)."
        )
    elif opt is not None:
        items.append(
            f"<b>What optimization buys:</b> {len(opt.pareto)} Pareto points on "
            f"{esc(opt.hardware)}, none meets every target."
        )
    else:
        items.append(f"<b>What optimization buys:</b> {esc(data.optimizer_note)}.")
    m = data.measurement
    not_comparable = None if m is None else _not_comparable(m)
    if not_comparable is not None:  # the host check's verdict first, then what it compared
        hc = m.host_check
        items.append(
            f"<b>Prediction vs measurement here</b> ({esc(hc.device)}, {esc(hc.date[:10])}): "
            f"{esc(not_comparable)}."
        )
    elif m is not None and m.worst_error_pct is not None:
        verdict = "within" if m.within_target else "outside"
        items.append(
            f"<b>Prediction vs measurement here</b> ({esc(m.device)}, {esc(m.date[:10])}): "
            f"worst model-stage latency error {m.worst_error_pct:.0f}%, {verdict} the "
            f"{_num(m.target_error_pct)}% target; the zoom run's whole keyframe "
            f"{_pct(m.keyframe.error_pct)} (not judged: timed in the zoom before calibration, "
            f"the pipeline around the model stages included)."
        )
        share = m.settings.get("cpu_share")
        if isinstance(share, int | float) and share < BUSY_CPU_SHARE:
            items[-1] += (
                f" <span class='no'>The machine was busy during that run (the measurement got "
                f"{share:.0%} of its CPU threads' time), so it measured slower than a quiet "
                "machine would; rerun <code>zoomwatt measure --validate</code> on a quiet one."
                "</span>"
            )
    else:
        items.append(f"<b>Prediction vs measurement:</b> {esc(data.measurement_note)}.")
    return '<ul class="glance">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def video_section(data: ReportData) -> str:
    v = data.video
    prompt = data.options.prompt
    parts = ["<h2>The zoom</h2>"]
    if prompt:
        parts.append(f"<p>Prompt: <q>{esc(prompt)}</q></p>")
    made_by = data.zoom_pictures.made_by if data.zoom_pictures is not None else None
    parts.append(
        f"<p>Made by {esc(made_by)}.</p>"
        if made_by
        else '<p class="note">What made these pictures is not recorded beside the video.</p>'
    )
    if v is None:
        parts.append(f'<p class="note">No video: {esc(data.video_note)}</p>')
        return "".join(parts)
    if v.video_bytes is not None:
        b64 = base64.b64encode(v.video_bytes).decode("ascii")
        parts.append(
            f'<video controls muted loop playsinline width="384" '
            f'src="data:video/mp4;base64,{b64}"></video>'
        )
    stills = "".join(
        f'<figure><img alt="frame {i}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode("ascii")}"><figcaption>frame {i}</figcaption></figure>'
        for i, png in zip(v.still_indices, v.stills_png, strict=True)
    )
    parts.append(f'<div class="frames">{stills}</div>')
    parts.append(
        f'<p class="note">{esc(v.path)}: {v.frames} frames at {_num(v.fps)} fps. The stills '
        f"are its first {len(v.stills_png)} keyframes (every {esc(data.settings['every'])}th "
        "frame); the contact sheet below has them all.</p>"
    )
    return "".join(parts)


def pipeline_section(data: ReportData) -> str:
    device = data.settings["focus_device"]
    svg = plots.pipeline_diagram(data.stages, data.focus, device)
    rows = []
    costs = {c.name: c for c in (data.focus.per_stage if data.focus else ())}
    for s in data.stages:
        c = costs.get(s.name)
        rows.append(
            [
                esc(s.name),
                esc(s.model),
                esc(plots.fmt_count(s.params)) if s.params else "-",
                f"{s.calls_per_keyframe:g}",
                esc(plots.fmt_count(s.macs_per_call)),
                esc(plots.fmt_s(c.latency_s)) if c else "-",
                _num(c.energy_j) if c else "-",
                esc(c.bound) if c else "-",
            ]
        )
    table = _table(
        ["stage", "model", "params", "calls/keyframe", "MACs/call", "latency", "J", "bound"], rows
    )
    return (
        "<h2>The pipeline and what each stage costs</h2>"
        f"{svg}{table}<p class='note'>Latency and energy per keyframe period predicted on "
        f"{esc(device)} by the roofline and energy model (zoomwatt predict); the text encoder "
        "runs once per prompt change, so 0 calls per keyframe with one prompt.</p>"
    )


def op_class_section(data: ReportData) -> str:
    claims = dict(CONV_SHARE_CLAIMS)
    svg = plots.op_class_chart(data.stages, claims)
    rows = [
        [esc(c.row), esc(c.claim), esc(c.measured), esc(c.verdict), esc(c.note)]
        for c in data.article
    ]
    classes = ["" if c.verdict in ("holds", "setting") else "no" for c in data.article]
    table = _table(["row", "the article says", "measured", "verdict", "note"], rows, classes, True)
    return (
        "<h2>Op classes per model, beside the article's claims</h2>"
        f"{svg}<p class='note'>Black ticks: the share of convolutions the article claims. Rows "
        "of SYSTEM_DESIGN.md; <span class='no'>red</span>: the claim does not hold as "
        f"stated.</p>{table}"
    )


def roofline_section(data: ReportData) -> str:
    r = data.roofline
    if r is None:
        return (
            "<h2>Roofline</h2><p class='note'>The focus device cannot compute "
            f"{esc(data.settings['dtype'])}.</p>"
        )
    bounds: dict[str, int] = {}
    for p in r.points:
        bounds[p.bound] = bounds.get(p.bound, 0) + 1
    counts = ", ".join(f"{esc(k)} {v}" for k, v in sorted(bounds.items()))
    return (
        "<h2>Roofline: every layer as a point</h2>"
        f"{plots.roofline_chart(r)}<p class='note'>{len(r.points)} layers (ops) of all models "
        f"on {esc(r.device)}; bound by {counts}. A point's height is the rate the model "
        "predicts for it (its op class's efficiency, DRAM traffic beyond the on-chip buffer, "
        "the per-kernel overhead).</p>"
    )


def device_section(data: ReportData) -> str:
    rows, classes = [], []
    preds = [p for p in data.predictions if hasattr(p, "output_fps")]
    for p in sorted(preds, key=lambda p: -p.output_fps):
        rows.append(
            [
                esc(p.hardware),
                esc(plots.fmt_s(p.keyframe_latency_s)),
                _num(p.output_fps),
                "yes" if p.realtime else "no",
                "-" if p.min_every_for_target is None else esc(p.min_every_for_target),
                _num(p.ai_power_w),
                _num(p.non_ai_power_w),
                _num(p.avg_power_w),
                _num(p.energy_per_frame_j),
                _num(p.fps_per_watt),
                "n/a" if p.battery_hours is None else f"{p.battery_hours:.1f} h",
                "yes" if p.fits_in_memory else "NO",
            ]
        )
        classes.append("yes" if p.realtime else "")
    unsupported = [
        f"{esc(p.hardware)}: {esc(p.reason)}" for p in data.predictions if hasattr(p, "reason")
    ]
    s = data.settings
    fps = f"{s['fps']:g}"
    table = _table(
        ["device", "keyframe", "max fps", f"{fps} fps?", f"N@{fps}", "AI W", "non-AI W",
         "total W", "J/frame", "fps/W", "battery", "fits"],
        rows,
        classes,
    )  # fmt: skip
    return (
        "<h2>On which device it runs in real time</h2>"
        f"{plots.device_chart(data.predictions, s['fps'])}{table}"
        + ("<p class='note'>" + "; ".join(unsupported) + "</p>" if unsupported else "")
        + f"<p class='note'>{esc(s['dtype'])}, {esc(s['steps'])} steps, 1 keyframe every "
        f"{esc(s['every'])} frames; N@{fps}: the sparsest sampling that reaches {fps} fps. "
        "Predictions, not measurements.</p>"
    )


MAX_PARETO_ROWS = 14


def pareto_rows(opt: Any, limit: int) -> list[Any]:
    """At most ``limit`` points of the front, evenly spread, with the best one included."""
    front = list(opt.pareto)
    if len(front) <= limit:
        return front
    step = (len(front) - 1) / (limit - 1)
    picked = {round(i * step) for i in range(limit)}
    best = getattr(opt, "best", None)
    if best is not None and best in front:
        picked.add(front.index(best))
    return [front[i] for i in sorted(picked)]


def pareto_section(data: ReportData) -> str:
    opt = data.optimizer
    if opt is None:
        return (
            "<h2>What each optimization buys (Pareto front)</h2>"
            f"<p class='note'>{esc(data.optimizer_note)}.</p>"
        )
    rows, classes = [], []
    base = opt.baseline
    shown = pareto_rows(opt, MAX_PARETO_ROWS)
    for c in shown:
        base_knobs = (base.knobs or {}) if base is not None else {}
        changed = {k: v for k, v in (c.knobs or {}).items() if base_knobs.get(k) != v}
        knobs = ", ".join(f"{k}={v}" for k, v in changed.items()) or "(the baseline)"
        gain = c.output_fps / base.output_fps if base and base.output_fps else None
        saving = (
            base.energy_per_frame_j / c.energy_per_frame_j
            if base and c.energy_per_frame_j
            else None
        )
        rows.append(
            [
                esc(c.label),
                f'<span style="font-size:.85em">{esc(knobs)}</span>',
                _num(c.output_fps),
                _num(gain),
                _num(c.energy_per_frame_j),
                _num(saving),
                _num(c.fps_per_watt),
                _num(c.avg_power_w),
                "-" if c.error_db is None else _num(c.error_db),
                "yes" if c.meets_targets else "no",
            ]
        )
        classes.append("yes" if c.meets_targets else "")
    table = _table(
        ["candidate", "changed from the baseline", "fps", "x fps", "J/frame", "x less J",
         "fps/W", "W", "error dB", "meets"],
        rows,
        classes,
    )  # fmt: skip
    return (
        "<h2>What each optimization buys (Pareto front)</h2>"
        f"{plots.pareto_chart(opt, data.settings['fps'])}{table}"
        f"<p class='note'>{esc(opt.candidates_evaluated)} candidates evaluated on "
        f"{esc(opt.hardware)} (zoomwatt optimize); {len(shown)} of the {len(opt.pareto)} "
        "points of the Pareto front shown (spread over the front, the best one included); x fps "
        f"and x less J against the baseline ({esc(base.label if base else '-')}); green rows "
        f"meet every target.</p>"
    )


def measured_section(data: ReportData) -> str:
    m = data.measurement
    head = "<h2>Predicted vs measured on this machine</h2>"
    if m is None:
        return head + f"<p class='note'>{esc(data.measurement_note)}</p>"
    rows, classes = [], []
    for s in (*m.stages, m.keyframe):
        bad = (
            s.in_target
            and s.error_pct is not None
            and abs(s.error_pct) > (m.target_error_pct or math.inf)
        )
        rows.append(
            [
                esc(plots.PRETTY.get(s.name, s.name)),
                f"{s.calls_per_keyframe:g}",
                esc(f"not comparable ({s.not_compared})")
                if s.not_compared
                else esc(plots.fmt_s(s.predicted_latency_s)),
                esc(plots.fmt_s(s.measured_latency_s)),
                _pct(s.error_pct),
                _num(s.predicted_energy_j),
                _num(s.measured_energy_j),
                ("outside" if bad else "within") if s.in_target else "not judged",
            ]
        )
        classes.append("no" if bad else "")
    table = _table(
        ["stage", "calls", "predicted", "measured", "error", "pred. J", "meas. J", "target"],
        rows,
        classes,
    )
    settings = ", ".join(f"{k} {v}" for k, v in m.settings.items())
    notes = "; ".join(
        [f"{s.name}: {s.note}" for s in (*m.stages, m.keyframe) if s.note] + list(m.notes)
    )
    verdict = ""
    not_comparable = _not_comparable(m)
    if not_comparable is not None:
        verdict = f"<p class='no'>Host check: {esc(not_comparable)}.</p>"
    elif m.worst_error_pct is not None:
        ok = "ok" if m.within_target else "no"
        verdict = (
            f"<p class='{ok}'>Worst model-stage latency error: {m.worst_error_pct:.0f}% "
            f"(target {_num(m.target_error_pct)}%).</p>"
        )
    return (
        head + f"<p>{esc(m.device)}, {esc(m.date)}; {esc(settings)}. Energy: "
        f"{esc(m.energy_note or m.energy_meter)}.</p>"
        + plots.measured_chart(m)
        + table
        + verdict
        + (plots.layer_scatter(m.layers) if m.layers else "")
        + f"<p class='note'>{esc(notes)}</p>"
    )


def trust_section(data: ReportData) -> str:
    """How far to trust these numbers (reporting.trust_section)."""
    from zoomwatt.reporting.trust_section import trust_html

    return trust_html(data.trust, data.trust_note)


def levers_section(data: ReportData) -> str:
    """What each lever bought here (reporting.levers_section); empty without a measurement."""
    from zoomwatt.reporting.levers_section import levers_html

    return levers_html(data.levers, data.levers_note)


def zoom_pictures_section(data: ReportData) -> str:
    """The zoom's contact sheet and picture checks (reporting.zoom_section)."""
    from zoomwatt.reporting.zoom_section import zoom_pictures_html

    return zoom_pictures_html(data.zoom_pictures, data.zoom_pictures_note)


def render_html(data: ReportData) -> str:
    """The whole page."""
    sections = [
        glance(data),
        video_section(data),
        zoom_pictures_section(data),
        pipeline_section(data),
        op_class_section(data),
        roofline_section(data),
        device_section(data),
        pareto_section(data),
        measured_section(data),
        levers_section(data),
        trust_section(data),
    ]
    title = esc(data.options.title)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{title}</title><style>{STYLE}</style></head><body><main>"
        f"<h1>{title}</h1><p class='note'>Made by <code>zoomwatt report</code>; every chart "
        "and the video are inside this file (no network needed).</p>"
        + "".join(sections)
        + "</main></body></html>\n"
    )
