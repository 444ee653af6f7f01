"""The evidence behind a device's prediction: the held-out error of its device class.

:data:`HELDOUT_FILE` holds, per device class, the held-out errors of the published set (written
with the fitted figures by ``python -m zoomwatt.evidence.fit_stacks --write``; ``zoomwatt
validate`` computes them afresh). :func:`class_evidence` reads it for ``zoomwatt predict`` and
the report, cheaply: no workload is traced and nothing is fitted here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from zoomwatt.hardware.yaml_io import load_yaml_mapping

HELDOUT_FILE = Path(__file__).parent / "data" / "heldout_errors.yaml"
NO_FIGURE = "no published figure for this class"


@dataclass(frozen=True)
class ClassEvidence:
    """How far the latency predictions of a device class held against published figures."""

    device_class: str
    published_figures: int  # latency figures of the class predicted held out (0: none)
    median_abs_error_pct: float | None
    p80_abs_error_pct: float | None
    worst_abs_error_pct: float | None
    text: str  # one line for people

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@lru_cache(maxsize=2)
def load_heldout(path: str | Path = HELDOUT_FILE) -> dict[str, dict[str, dict[str, Any]]]:
    """group (latency, energy) -> device class or "all" -> the held-out summary (a dict of
    :class:`~zoomwatt.evidence.results.ErrorSummary`'s fields); empty without the file."""
    path = Path(path)
    if not path.is_file():
        return {}
    data = load_yaml_mapping(path, "held-out errors")
    return {g: dict(v) for g, v in data.items() if g != "schema" and isinstance(v, dict)}


def class_evidence(device_class: str, *, shipped: bool = True) -> ClassEvidence:
    """The held-out latency error of ``device_class`` (``shipped``: False for a profile that is
    not a shipped one, such as ``host``, whose figures come from this machine)."""
    if not shipped:
        text = (
            "not a shipped profile: no published figure (zoomwatt measure --validate checks host)"
        )
        return ClassEvidence(device_class, 0, None, None, None, text)
    summary = load_heldout().get("latency", {}).get(device_class)
    if not summary or not summary.get("cases"):
        return ClassEvidence(device_class, 0, None, None, None, NO_FIGURE)
    n, median = int(summary["cases"]), summary["median_abs_error_pct"]
    text = f"held-out median {median:.0f}% over {n} published figures ({device_class})"
    return ClassEvidence(
        device_class, n, median, summary["p80_abs_error_pct"], summary["worst_abs_error_pct"], text
    )
