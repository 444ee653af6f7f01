"""Result objects of workload characterization: per stage, and rolled up for the use case.

All counts are per the scope named by the attribute that holds them (``macs_per_call``,
``per_keyframe.macs``, ``per_second.flops``); bytes are in the dtype the study counts in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from zoomwatt.workload.records import LayerRecord, OpClass
from zoomwatt.workload.stages import StageName


@dataclass(frozen=True)
class Totals:
    """Work over one scope (a call, a keyframe, an output frame, a second of video)."""

    macs: float
    flops: float  # 2 * MACs plus the FLOPs of non-MAC ops
    weight_bytes: float  # weights read, once per model call (a batch shares them)
    activation_bytes: float  # activations read and written, if nothing stays on chip

    @property
    def total_bytes(self) -> float:
        return self.weight_bytes + self.activation_bytes

    def scaled(self, factor: float) -> Totals:
        return Totals(
            self.macs * factor,
            self.flops * factor,
            self.weight_bytes * factor,
            self.activation_bytes * factor,
        )

    @staticmethod
    def sum(items: Iterable[Totals]) -> Totals:
        macs = flops = weight_bytes = activation_bytes = 0.0
        for t in items:
            macs += t.macs
            flops += t.flops
            weight_bytes += t.weight_bytes
            activation_bytes += t.activation_bytes
        return Totals(macs, flops, weight_bytes, activation_bytes)

    def to_dict(self) -> dict[str, float]:
        return {
            "macs": self.macs,
            "flops": self.flops,
            "weight_bytes": self.weight_bytes,
            "activation_bytes": self.activation_bytes,
            "total_bytes": self.total_bytes,
        }


def by_class(records: Iterable[LayerRecord], attribute: str) -> dict[str, int]:
    """Sum of ``macs`` or ``flops`` per op class, every class present (0 when unused)."""
    sums = {c.value: 0 for c in OpClass}
    for r in records:
        sums[r.op_class.value] += getattr(r, attribute)
    return sums


@dataclass(frozen=True)
class StageWorkload:
    """One stage of the zoom pipeline: a model call, or the non-model frame operations."""

    name: StageName
    model: str  # what runs: "UNet2DConditionModel (sd2-inpaint)", "analytic (frame_ops)"
    batch: int  # batch size of one call
    input_shapes: tuple[tuple[int, ...], ...]
    output_shape: tuple[int, ...]
    params: int  # parameters the stage reads (all must be resident)
    weight_bytes: float  # params in the study's weight dtype
    macs_per_call: int
    flops_per_call: int
    calls_per_keyframe: float  # text_encoder: amortised over keyframes per prompt, or 0
    macs_by_class: dict[str, int]  # OpClass value -> MACs per call
    flops_by_class: dict[str, int]  # OpClass value -> FLOPs per call
    activation_bytes_per_call: float  # sum over ops of input + output bytes
    peak_activation_bytes: float  # largest live activation set during a call
    layers: list[LayerRecord] = field(repr=False)
    dtype: str = "fp16"  # weights counted in
    activation_dtype: str = "fp16"  # activations counted in
    note: str = ""

    @property
    def peak_memory_bytes(self) -> float:
        """Weights plus the largest live activation set of one call."""
        return self.weight_bytes + self.peak_activation_bytes

    @property
    def per_call(self) -> Totals:
        return Totals(
            self.macs_per_call,
            self.flops_per_call,
            self.weight_bytes,
            self.activation_bytes_per_call,
        )

    @property
    def per_keyframe(self) -> Totals:
        return self.per_call.scaled(self.calls_per_keyframe)

    def share_by_class(self) -> dict[str, float]:
        """Fraction of this stage's MACs per op class (all 0 when the stage has no MACs)."""
        total = self.macs_per_call
        return {k: (v / total if total else 0.0) for k, v in self.macs_by_class.items()}

    def to_dict(self, layers: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "model": self.model,
            "batch": self.batch,
            "input_shapes": [list(s) for s in self.input_shapes],
            "output_shape": list(self.output_shape),
            "params": self.params,
            "weight_bytes": self.weight_bytes,
            "macs_per_call": self.macs_per_call,
            "flops_per_call": self.flops_per_call,
            "calls_per_keyframe": self.calls_per_keyframe,
            "macs_by_class": dict(self.macs_by_class),
            "flops_by_class": dict(self.flops_by_class),
            "activation_bytes_per_call": self.activation_bytes_per_call,
            "peak_activation_bytes": self.peak_activation_bytes,
            "peak_memory_bytes": self.peak_memory_bytes,
            "dtype": self.dtype,
            "activation_dtype": self.activation_dtype,
            "note": self.note,
            "per_keyframe": self.per_keyframe.to_dict(),
        }
        if layers:
            out["layers"] = [layer_to_dict(r) for r in self.layers]
        return out


def layer_to_dict(r: LayerRecord) -> dict[str, Any]:
    return {
        "module": r.module,
        "op": r.op,
        "op_class": r.op_class.value,
        "macs": r.macs,
        "flops": r.flops,
        "weight_bytes": r.weight_bytes,
        "input_bytes": r.input_bytes,
        "output_bytes": r.output_bytes,
        "dtype": r.dtype,
        "activation_dtype": r.activation_dtype or r.dtype,
    }


@dataclass(frozen=True)
class WorkloadReport:
    """What the zoom feature asks of a machine, per call, keyframe, output frame and second.

    Steady state: the first keyframe (and a txt2img start) is not treated apart. For a txt2img
    pipeline (``kind``) a "keyframe" is one image: ``per_keyframe`` is per image, and there is
    no VAE encoder and no frame operations stage. ``batch``: images per pipeline call (every
    figure stays per image). ``workload``: the spec it was characterized from.
    """

    pipeline: str
    vae: str
    size: int  # frame height = width, pixels
    steps: int
    cfg: bool
    dtype: str
    activation_dtype: str
    every: int  # output frames per keyframe (sparse sampling: 1 keyframe in `every` frames)
    fps: float
    attention: str
    prompt_every: float | None  # keyframes per prompt change; None: one prompt throughout
    border_px: int
    stages: list[StageWorkload]
    per_keyframe: Totals
    per_output_frame: Totals
    per_second: Totals
    weight_bytes: float  # all models' weights, resident together
    peak_memory_bytes: float  # weight_bytes + the largest stage's live activation set
    # Added fields (defaults keep older constructors valid):
    kind: str = "inpaint"  # or "txt2img": per_keyframe is then per image
    batch: int = 1  # images per pipeline call
    model_dir: str | None = None  # the local pipeline folder, when not a shipped pipeline
    workload: Any = field(default=None, repr=False, compare=False)  # the WorkloadSpec

    @property
    def unit(self) -> str:
        """What a "keyframe" of this report is: a ``keyframe`` of the zoom, or an ``image``."""
        return "keyframe" if self.kind == "inpaint" else "image"

    def stage(self, name: StageName | str) -> StageWorkload:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(name)

    def find(self, name: StageName | str) -> StageWorkload | None:
        """The stage called ``name``, or None where the pipeline has none (a txt2img
        pipeline's VAE encoder)."""
        return next((s for s in self.stages if s.name == name), None)

    def settings(self) -> dict[str, Any]:
        """The settings, as JSON writes them; ``kind``, ``batch`` and ``model_dir`` only where
        they are not the zoom's defaults (inpainting, 1 image per call, a shipped pipeline)."""
        out: dict[str, Any] = {
            "pipeline": self.pipeline,
            "vae": self.vae,
            "size": self.size,
            "steps": self.steps,
            "cfg": self.cfg,
            "dtype": self.dtype,
            "activation_dtype": self.activation_dtype,
            "every": self.every,
            "fps": self.fps,
            "attention": self.attention,
            "prompt_every": self.prompt_every,
            "border_px": self.border_px,
        }
        if self.kind != "inpaint":
            out["kind"] = self.kind
            out["per"] = "image"  # per_keyframe is per image
        if self.batch != 1:
            out["batch"] = self.batch
        if self.model_dir is not None:
            out["model_dir"] = self.model_dir
        return out

    def to_dict(self, layers: bool = False) -> dict[str, Any]:
        return {
            "settings": self.settings(),
            "stages": [s.to_dict(layers) for s in self.stages],
            "per_keyframe": self.per_keyframe.to_dict(),
            "per_output_frame": self.per_output_frame.to_dict(),
            "per_second": self.per_second.to_dict(),
            "weight_bytes": self.weight_bytes,
            "peak_memory_bytes": self.peak_memory_bytes,
        }
