"""The report's section "How far to trust these numbers": the model held against published
measurements (held out, ``zoomwatt validate``) and against this machine (the last host check).

:func:`collect_trust` computes it (compute first: a :class:`~zoomwatt.evidence.results.
ValidationResult`, or the reason there is none); :func:`trust_chart` draws predicted against
published on log-log axes by device class; :func:`trust_html` renders the section from the
result alone. Every text from data goes through :func:`html.escape`.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

from zoomwatt.errors import ZoomwattError
from zoomwatt.reporting.plots import plt, to_svg

log = logging.getLogger(__name__)

CLASS_MARKERS = {  # device class -> (colour, marker)
    "datacenter": ("#2171b5", "o"),
    "desktop": ("#e6550d", "s"),
    "laptop": ("#31a354", "D"),
    "phone": ("#756bb1", "^"),
    "embedded": ("#636363", "v"),
}
TITLE = "How far to trust these numbers"


def collect_trust(measurements: str | Path | None) -> tuple[Any, str | None]:
    """The published set held out and the last host check, or None and why."""
    from zoomwatt.evidence.validate import validate

    log.info("report: holding the model against the published measurements")
    try:
        return validate("all", measurements=measurements), None
    except ZoomwattError as exc:
        return None, f"validation failed: {exc}"


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _pct(x: float | None, sign: bool = True) -> str:
    if x is None:
        return "-"
    return f"{x:+.0f}%" if sign else f"{x:.0f}%"


def _value(x: float | None, unit: str) -> str:
    return "-" if x is None else f"{x:.4g} {unit}"


def trust_chart(result: Any) -> str:
    """Predicted (held out) against published, both in the figure's SI unit, log-log, one
    colour per device class; the diagonal, the 35 % band and the 2x lines."""
    cases = [c for c in result.cases if c.predictable]
    fig, ax = plt.subplots(figsize=(6.4, 5.0))
    for device_class, (colour, marker) in CLASS_MARKERS.items():
        for group, filled in (("latency", True), ("energy", False)):
            mine = [c for c in cases if c.device_class == device_class and c.group == group]
            if not mine:
                continue
            x = [c.published for c in mine]
            y = [c.predicted for c in mine]
            label = f"{device_class} ({group}, {len(mine)})"
            face = colour if filled else "none"
            ax.scatter(x, y, s=26, marker=marker, facecolors=face, edgecolors=colour,
                       label=label, zorder=3)  # fmt: skip
    values = [v for c in cases for v in (c.published, c.predicted)]
    lo, hi = min(values) / 2, max(values) * 2
    for factor, style, label in ((1, "-", "predicted = published"), (1.35, ":", "35 %"),
                                 (2, "--", "2x")):  # fmt: skip
        for k in {factor, 1 / factor}:
            ax.plot([lo, hi], [lo * k, hi * k], style, color="#999", lw=0.8,
                    label=label if k >= 1 else None, zorder=1)  # fmt: skip
    ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi))
    ax.set_xlabel("published (its unit: ms, s, it/s, images/s, J)")
    ax.set_ylabel("predicted, held out (same unit)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return to_svg(fig)


def _table(header: list[str], rows: list[list[str]], left: bool = False) -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    cls = ' class="left"' if left else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _summary_table(result: Any) -> str:
    rows = []
    for group, by in result.summary["held_out"].items():
        for name, s in by.items():
            within = "-" if s.within_35_pct_share is None else f"{s.within_35_pct_share:.0%}"
            prior = result.summary["prior"][group][name].median_abs_error_pct
            rows.append([esc(group), esc(name), str(s.cases), _pct(s.median_abs_error_pct, False),
                         _pct(s.p80_abs_error_pct, False), _pct(s.worst_abs_error_pct, False),
                         within, str(s.beyond_2x_cases), _pct(prior, False)])  # fmt: skip
    header = ["group", "class", "cases", "median", "p80", "worst", "within 35%", "beyond 2x",
              "prior median"]  # fmt: skip
    return _table(header, rows)


def _cases_table(result: Any) -> str:
    from zoomwatt.evidence.cases import KIND_NAMES

    rows = []
    for c in result.cases:
        rows.append(
            [
                esc(c.id),
                esc(c.device),
                esc(c.stack),
                esc(KIND_NAMES[c.timed]),
                esc(_value(c.published, c.unit)),
                esc(_value(c.predicted, c.unit)),
                _pct(c.error_pct),
                _pct(c.in_sample_error_pct),
                _pct(c.prior_error_pct),
                f"<span class='note'>{esc(c.reason or '; '.join(c.assumptions))}</span>",
            ]
        )
    header = ["id", "device", "stack", "figure", "published", "predicted", "error", "in-sample",
              "prior", "not predictable because / assumed"]  # fmt: skip
    return (
        f"<details open><summary>The {len(rows)} cases (held-out error first)</summary>"
        + _table(header, rows, left=True)
        + "</details>"
    )


def _stacks(result: Any) -> str:
    items = []
    for s in result.stacks:
        fit = ""
        if s.efficiency_multiplier is not None:
            figure = s.overhead_figure.replace("_", " ")
            fit = (f": efficiency x{s.efficiency_multiplier:g}, {figure}"
                   f" {s.overhead_us:g} us, held-out median "
                   f"{_pct(s.held_out_median_abs_error_pct, False)} (prior "
                   f"{_pct(s.prior_median_abs_error_pct, False)})")  # fmt: skip
        n = len(s.devices)
        devices = f"{n} device{'s' if n != 1 else ''}, {s.figures} figures"
        items.append(f"<li><b>{esc(s.stack)}</b> ({devices}){esc(fit)}; {esc(s.note)}</li>")
    return (
        "<p><b>Fitted stack figures</b> (one efficiency multiplier and one overhead per "
        "stack, the same on every device):</p><ul>" + "".join(items) + "</ul>"
    )


def _targets(result: Any) -> str:
    items = []
    for t in result.targets:
        if t.unit == "share":
            value, limit = ("-" if t.value is None else f"{t.value:.0%}"), f"&ge; {t.threshold:.0%}"
        elif t.unit == "cases":
            value, limit = ("-" if t.value is None else f"{t.value:g}"), f"&le; {t.threshold:g}"
        else:
            value, limit = _pct(t.value, False), f"&le; {t.threshold:g}%"
        verdict = "<span class='ok'>met</span>" if t.met else "<span class='no'>not met</span>"
        caveat = getattr(t, "caveat", "")
        caveat = f" <span class='note'>({esc(caveat)})</span>" if caveat else ""
        items.append(f"<li>{esc(t.name)} {limit}: {esc(value)}, {verdict}{caveat}</li>")
    return "<ul>" + "".join(items) + "</ul>"


def _host(result: Any) -> str:
    h = result.host_check
    if h is None:
        return ""
    line = f"<p><b>This machine:</b> {esc(h.message)}"
    if h.recorded and h.stages:
        stages = ", ".join(f"{s['name']} {_pct(s['error_pct'])}" for s in h.stages)
        line += f" ({esc(stages)})"
    return line + ".</p>"


def trust_html(result: Any, note: str | None = None) -> str:
    """The section, from ``result`` (a ValidationResult) or ``note`` (why there is none)."""
    head = f"<h2>{TITLE}</h2>"
    if result is None:
        return head + f"<p class='note'>{esc(note)}</p>"
    predicted = sum(1 for c in result.cases if c.predictable)
    intro = (
        f"<p>Every published measurement of the evidence set ({len(result.cases)} figures: "
        "Apple Core ML, Qualcomm AI Hub, ML.ENERGY, MLPerf, the diffusers benchmarks, fal-ai's "
        "benchmarks, StreamDiffusion) predicted for its exact workload on its device "
        f"({predicted} predicted, "
        f"{len(result.cases) - predicted} not predictable, with the reason). The software "
        "stacks' fitted figures are <b>held out</b>: each device is predicted by figures fitted "
        "without its own measurements (leave-one-device-out); in-sample and the profiles' own "
        "figures (prior) are shown for contrast. <code>zoomwatt validate</code> prints the "
        "same.</p>"
    )
    return (
        head + intro + _host(result) + trust_chart(result)
        + "<p><b>Targets</b> (held out, published set):</p>" + _targets(result)
        + _summary_table(result) + _stacks(result) + _cases_table(result)
        + "<p class='note'>error = (predicted &minus; published) / published on the figure as "
        "published (a rate's error is the rate's). Filled markers: latency figures; open: "
        f"energy. Computed in {result.seconds:.1f} s.</p>"
    )  # fmt: skip
