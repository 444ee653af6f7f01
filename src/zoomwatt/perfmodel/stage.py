"""A stage of the feature as the performance model sees it: layers called a number of times per
keyframe.

Model stages (text encoder, VAE encoder, UNet, VAE decoder) make the keyframe; frame stages
(``per_frame=True``: crop, resize and paste of the in-between frames) are the per-output-frame
work. ``calls_per_keyframe`` counts calls per keyframe period, i.e. per N output frames.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

from zoomwatt.errors import InputError
from zoomwatt.workload.records import DTYPE_BYTES, LayerRecord, OpClass


@dataclass(frozen=True)
class Stage:
    name: str
    layers: tuple[LayerRecord, ...]
    calls_per_keyframe: float
    weight_bytes: float  # resident parameter bytes of the stage
    peak_activation_bytes: float  # largest live activation footprint during one call
    per_frame: bool = False  # True for the per-output-frame work (frame_ops)


def make_stage(
    name: str,
    layers: Sequence[LayerRecord],
    calls_per_keyframe: float,
    *,
    weight_bytes: float | None = None,
    peak_activation_bytes: float | None = None,
    per_frame: bool = False,
) -> Stage:
    """Check and build a Stage. Without ``weight_bytes`` the layers' weight bytes are summed;
    without ``peak_activation_bytes`` the largest layer input + output is used."""
    # 1. inputs
    if not isinstance(name, str) or not name:
        raise InputError("stage name", name, "a non-empty text")
    if not _finite_nonneg(calls_per_keyframe):
        raise InputError(f"{name}.calls_per_keyframe", calls_per_keyframe, "a number >= 0")
    layers = tuple(layers)
    for i, layer in enumerate(layers):
        if not isinstance(layer, LayerRecord):
            raise InputError(f"{name}.layers[{i}]", layer, "a LayerRecord")
        if not isinstance(layer.op_class, OpClass):
            raise InputError(f"{name}.layers[{i}].op_class", layer.op_class, "an OpClass")
        if layer.dtype not in DTYPE_BYTES:
            raise InputError(
                f"{name}.layers[{i}].dtype", layer.dtype, f"one of {list(DTYPE_BYTES)}"
            )
        act = getattr(layer, "activation_dtype", None)
        if act is not None and act not in DTYPE_BYTES:
            raise InputError(
                f"{name}.layers[{i}].activation_dtype", act, f"None or one of {list(DTYPE_BYTES)}"
            )
        for field in ("macs", "flops", "weight_bytes", "input_bytes", "output_bytes"):
            if not _finite_nonneg(getattr(layer, field)):
                raise InputError(
                    f"{name}.layers[{i}].{field}", getattr(layer, field), "a number >= 0"
                )
    # 2. defaults
    if weight_bytes is None:
        weight_bytes = float(sum(layer.weight_bytes for layer in layers))
    if peak_activation_bytes is None:
        peak_activation_bytes = float(
            max((layer.input_bytes + layer.output_bytes for layer in layers), default=0.0)
        )
    for label, value in (
        ("weight_bytes", weight_bytes),
        ("peak_activation_bytes", peak_activation_bytes),
    ):
        if not _finite_nonneg(value):
            raise InputError(f"{name}.{label}", value, "a number >= 0")
    return Stage(
        name=name,
        layers=layers,
        calls_per_keyframe=float(calls_per_keyframe),
        weight_bytes=float(weight_bytes),
        peak_activation_bytes=float(peak_activation_bytes),
        per_frame=bool(per_frame),
    )


def _finite_nonneg(value: object) -> bool:
    if type(value) in (int, float):  # the common case, without the slower ABC check below
        return math.isfinite(value) and value >= 0
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )
