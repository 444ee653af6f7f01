"""The last recorded host check: what ``zoomwatt measure --validate`` saved, read back.

The check itself (a run on this machine against the model) is ``zoomwatt measure``'s; this
module only reads its latest result (:func:`zoomwatt.measurement.results.load_result`) and says
what it found, or how to get one.
"""

from __future__ import annotations

from pathlib import Path

from zoomwatt.errors import ZoomwattError
from zoomwatt.evidence.results import HostCheck

#: Where ``zoomwatt measure`` keeps its results unless told otherwise.
DEFAULT_MEASUREMENTS = "out/measure"
NOT_RECORDED = "no host check recorded: run zoomwatt measure --validate"


def last_host_check(measurements: str | Path | None = DEFAULT_MEASUREMENTS) -> HostCheck:
    """The latest ``measure --validate`` result in ``measurements`` (a file, or a folder with
    latest.json), or a :class:`HostCheck` that says none was recorded (or why it is unreadable)."""
    from zoomwatt.measurement.results import LATEST, load_result

    if measurements is None:
        return HostCheck(False, NOT_RECORDED)
    checked = _from_host_check_file(Path(measurements))
    if checked is not None:
        return checked
    path = Path(measurements)
    if path.is_dir():
        path = path / LATEST
    if not path.is_file():
        return HostCheck(False, NOT_RECORDED, path=str(path))
    try:
        result = load_result(path)
    except (ZoomwattError, KeyError, TypeError, ValueError) as exc:
        return HostCheck(False, f"host check at {path} unreadable ({exc}): {NOT_RECORDED}"[:300])
    if result.kind != "validate":
        return HostCheck(False, f"{path} is a measured zoom without predictions: {NOT_RECORDED}")
    stages = tuple(
        {
            "name": s.name,
            "predicted_latency_s": s.predicted_latency_s,
            "measured_latency_s": s.measured_latency_s,
            "error_pct": s.error_pct,
        }
        for s in result.stages
        if s.in_target
    )
    return HostCheck(
        recorded=True,
        message=_message(result),
        path=str(path),
        device=result.device,
        date=result.date,
        worst_error_pct=result.worst_error_pct,
        target_error_pct=result.target_error_pct,
        within_target=result.within_target,
        stages=stages,
        notes=tuple(result.notes),
    )


def _message(result) -> str:
    worst, target = result.worst_error_pct, result.target_error_pct
    head = f"host check {result.date} on {result.device}"
    if worst is None:
        return f"{head}: no model stage compared" + (
            f" ({result.notes[0]})" if result.notes else ""
        )
    verdict = ""
    if target is not None:
        verdict = f", {'within' if worst <= target else 'beyond'} the {target:g}% target"
    return f"{head}: worst model stage {worst:.0f}%{verdict}"


def _from_host_check_file(folder: Path) -> HostCheck | None:
    """The check ``measure --validate`` saves beside its result (``host_check.json``: busy and
    drifting stages told apart from model errors), or None where there is none."""
    from zoomwatt.measurement.host_check import HOST_CHECK_FILE, load_host_check

    path = folder / HOST_CHECK_FILE if folder.is_dir() else folder
    if path.name != HOST_CHECK_FILE or not path.is_file():
        return None
    try:
        check = load_host_check(path)
    except (ZoomwattError, KeyError, TypeError, ValueError) as exc:
        return HostCheck(False, f"host check at {path} unreadable ({exc}): {NOT_RECORDED}"[:300])
    stages = tuple(
        {
            "name": s.name,
            "predicted_latency_s": s.predicted_s,
            "measured_latency_s": s.measured_s,
            "error_pct": s.error_pct,
        }
        for s in check.stages
        if s.error_pct is not None
    )
    within = {"pass": True, "fail": False}.get(check.verdict)
    return HostCheck(
        recorded=True,
        message=f"host check {check.date} on {check.device}: {check.headline}",
        path=str(path),
        device=check.device,
        date=check.date,
        worst_error_pct=check.worst_error_pct,
        target_error_pct=check.target_error_pct,
        within_target=within,
        stages=stages,
        notes=tuple(check.dtype_notes),
    )
