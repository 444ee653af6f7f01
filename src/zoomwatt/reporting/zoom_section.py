"""The report's "Keyframes and picture checks" section: the zoom's contact sheet and the checks
``zoomwatt zoom`` wrote beside the video (``NAME_keyframes.png``, ``NAME_checks.json``).

:func:`collect_zoom_pictures` reads them (compute first: the zoom computed the checks; nothing
is judged here), :func:`zoom_pictures_html` renders them.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MAX_SHEET_BYTES = 8 * 2**20  # a larger contact sheet is linked, not embedded


@dataclass(frozen=True)
class ZoomPictures:
    """What the zoom wrote beside its video."""

    checks: dict[str, Any] | None  # ZoomChecks.to_dict(), as written
    checks_path: str
    sheet_png: bytes | None
    sheet_path: str

    @property
    def made_by(self) -> str | None:
        """What made the pictures, as the zoom wrote it beside its checks (None: not said)."""
        made_by = (self.checks or {}).get("made_by")
        return made_by if isinstance(made_by, str) else None


def collect_zoom_pictures(video: str | Path | None) -> dict[str, Any]:
    """``zoom_pictures`` (a :class:`ZoomPictures`, or None) and ``zoom_pictures_note`` (why
    there is none) for the video's files."""
    from zoomwatt.pipeline.contact_sheet import sheet_path
    from zoomwatt.pipeline.picture_checks import checks_path

    if video is None:
        return {"zoom_pictures": None, "zoom_pictures_note": "no video given"}
    checks_file, sheet_file = checks_path(video), sheet_path(video)
    checks, sheet = None, None
    try:
        checks = json.loads(checks_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.info("report: no picture checks at %s (%s)", checks_file, exc)
    try:
        data = sheet_file.read_bytes()
        sheet = data if len(data) <= MAX_SHEET_BYTES else None
    except OSError as exc:
        log.info("report: no contact sheet at %s (%s)", sheet_file, exc)
    if checks is None and sheet is None:
        note = (
            f"neither {checks_file} nor {sheet_file} was found (`zoomwatt zoom` writes them "
            "beside the video unless --no-checks)"
        )
        return {"zoom_pictures": None, "zoom_pictures_note": note}
    pictures = ZoomPictures(checks, str(checks_file), sheet, str(sheet_file))
    return {"zoom_pictures": pictures, "zoom_pictures_note": None}


# (check, the value shown, its threshold's key, how the value is judged: an HTML entity)
_COLUMNS = (
    ("detail", "energy_ratio", "min_energy_ratio", "&ge;"),
    ("coherence", "excess", "max_excess", "&le;"),
    ("rays", "ray_index", "max_ray_index", "&le;"),
    ("copies", "copied_block_fraction", "max_copied_fraction", "&le;"),
    ("colour", "lab_distance", "max_lab_distance", "&le;"),
    ("seam", "jump_ratio", "max_jump_ratio", "&le;"),
)


def zoom_pictures_html(pictures: ZoomPictures | None, note: str | None) -> str:
    """The section: the contact sheet, a table of every keyframe's checks (a failed value
    marked), the drift, and each check's threshold with its reason."""
    parts = ["<h2>Keyframes and picture checks</h2>"]
    if pictures is None:
        parts.append(f'<p class="note">{escape(note or "none")}</p>')
        return "".join(parts)
    if pictures.sheet_png is not None:
        b64 = base64.b64encode(pictures.sheet_png).decode("ascii")
        parts.append(
            f'<figure><img alt="the keyframes" style="max-width:100%" '
            f'src="data:image/png;base64,{b64}"><figcaption>every keyframe of the zoom, in '
            f"order ({escape(pictures.sheet_path)})</figcaption></figure>"
        )
    checks = pictures.checks
    if checks is None:
        parts.append(f'<p class="note">No picture checks at {escape(pictures.checks_path)}.</p>')
        return "".join(parts)
    verdict = "all passed" if checks.get("passed") else "some failed (marked)"
    parts.append(
        f"<p>No-reference checks of each keyframe's border against its centre (the keyframe "
        f"before, shrunk), measured by <code>zoomwatt zoom</code>: {verdict}.</p>"
    )
    parts.append(_keyframe_table(checks.get("keyframes", [])))
    parts.append(_drift_table(checks.get("drift", [])))
    parts.append(_reasons(checks))
    return "".join(parts)


def _cell(check: dict[str, Any], value_key: str) -> str:
    value = check.get(value_key)
    text = "-" if value is None else f"{value:.2f}"
    return text if check.get("passed", True) else f"<b>{text} (fails)</b>"


def _keyframe_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<p class="note">One keyframe only: no border to check.</p>'
    head = "".join(
        f"<th>{name} ({rule} {rows[0][name][limit]:g})</th>" for name, _, limit, rule in _COLUMNS
    )
    body = "".join(
        f"<tr><td>{row['index']}</td>"
        + "".join(f"<td>{_cell(row[name], key)}</td>" for name, key, _, _ in _COLUMNS)
        + "</tr>"
        for row in rows
    )
    return (
        f"<table><tr><th>keyframe</th>{head}</tr>{body}</table>"
        '<p class="note">detail: border over centre mid-frequency energy; coherence: border '
        "minus centre (below 0: the border's gradients point in more directions than the "
        "centre's); rays: +1 all the border's gradient energy across rays from the centre, 0 "
        "none preferred, -1 rings; copies: share of textured border blocks that copy the "
        "centre; colour: Lab distance of border and centre statistics; seam: the jump at the "
        "pasted edge over the jumps beside it.</p>"
    )


def _drift_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    first = rows[0]
    low, high = first["std_l_ratio_range"]
    body = "".join(
        f"<tr><td>{d['keyframe']}</td><td>{d['mean_l']:.1f}</td><td>{d['mean_l_change']:+.1f}"
        f"</td><td>{d['std_l']:.1f}</td><td>{d['std_l_ratio']:.2f}</td>"
        f"<td>{'yes' if d['passed'] else '<b>no</b>'}</td></tr>"
        for d in rows
    )
    return (
        f"<p>Drift against keyframe 0 (mean lightness within {first['max_mean_l_change']:g} L, "
        f"spread x{low:g}..{high:g}):</p><table><tr><th>keyframe</th><th>mean L</th>"
        f"<th>change</th><th>spread L</th><th>ratio</th><th>passed</th></tr>{body}</table>"
    )


def _reasons(checks: dict[str, Any]) -> str:
    rows = checks.get("keyframes", [])
    reasons = [(name, rows[0][name]["why"]) for name, _, _, _ in _COLUMNS] if rows else []
    if checks.get("drift"):
        reasons.append(("drift", checks["drift"][0]["why"]))
    items = "".join(f"<li><b>{name}</b>: {escape(why)}</li>" for name, why in reasons)
    return f'<p class="note">Why each threshold is what it is:</p><ul class="note">{items}</ul>'
