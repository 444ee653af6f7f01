"""The measured output error of each lossy choice, shipped as data, and how errors combine.

``data/measured_errors.json`` is written by ``benchmarks/optimize_unet.py`` from real
quantization, pruning and weight sharing (:mod:`.real_error`) of the full-size SD2 inpainting
UNet with random weights; the file says how, where and when it was measured. Random weights
show the mechanics of the error, not the error of the trained model (trained weights have
outliers that make int4 worse, and a bell-shaped distribution that makes pruning gentler).

A combination of choices measured applied together (the file's ``combined`` entries, keyed
``a+b`` in the order of :func:`combination_key`) is taken as measured; any other combination is
estimated as independent noises, whose noise-to-signal ratios add,

    error_db = 10 log10( sum over lossy choices of 10^(error_db_i / 10) )

and says so (:meth:`ErrorTable.basis`: ``"measured"`` or ``"parts added"``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from zoomwatt.errors import InputError

DATA_FILE = "measured_errors.json"


@dataclass(frozen=True)
class ErrorTable:
    """error_db (noise-to-signal in dB, lower is better) per choice, and its provenance."""

    errors_db: dict[str, float]
    source: dict[str, Any]  # model, weights, inputs, device, date, script
    combined_db: dict[str, float] = field(default_factory=dict)  # measured applied together

    def basis(self, choices: Iterable[str]) -> str | None:
        """How :meth:`error_db` gets the error of ``choices``: ``"measured"`` (one choice, or a
        combination measured applied together), ``"parts added"`` (independent noises of
        measured parts), None (lossless)."""
        choices = tuple(choices)
        if not choices:
            return None
        if len(choices) == 1 or combination_key(choices) in self.combined_db:
            return "measured"
        return "parts added"

    def error_db(self, choices: Iterable[str]) -> float | None:
        """The combined error of ``choices`` (lossless ones left out); None if all lossless:
        measured together where the table has the combination, else added (module doc)."""
        choices = tuple(choices)
        if len(choices) > 1 and combination_key(choices) in self.combined_db:
            return self.combined_db[combination_key(choices)]
        for choice in choices:
            if choice not in self.errors_db:
                raise InputError("choice", choice, f"one of {sorted(self.errors_db)}")
        if not choices:
            return None
        return combine_db(self.errors_db[c] for c in choices)


def combination_key(choices: Iterable[str]) -> str:
    """The table's key of a combination: its parts sorted, joined by '+'."""
    return "+".join(sorted(choices))


def combine_db(errors_db: Iterable[float]) -> float:
    """Independent noises add: 10 log10(sum 10^(e/10)) (-inf for noiseless parts only)."""
    total = sum(10 ** (e / 10) for e in errors_db)
    return 10 * math.log10(total) if total > 0 else -math.inf


@lru_cache(maxsize=1)
def shipped_error_table() -> ErrorTable:
    """The table shipped with zoomwatt (see module doc)."""
    text = resources.files("zoomwatt.optimizer").joinpath("data", DATA_FILE).read_text("utf-8")
    data = json.loads(text)
    errors = {name: float(entry["error_db"]) for name, entry in data["choices"].items()}
    combined = {
        combination_key(name.split("+")): float(entry["error_db"])
        for name, entry in data.get("combined", {}).items()
    }
    source = {k: v for k, v in data.items() if k not in ("choices", "combined")}
    return ErrorTable(errors, source, combined)
