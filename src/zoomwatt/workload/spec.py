"""What workload to study: one typed, checked specification of the zoom's settings.

A :class:`WorkloadSpec` is everything the workload depends on (pipeline, VAE, frame size,
denoising steps, classifier-free guidance, dtypes, attention, 1-in-N keyframes, frame rate,
prompt changes, border). It is checked once, when it is made: a spec that exists is valid, so
:func:`~zoomwatt.workload.characterize`, ``zoomwatt analyze``, ``zoomwatt predict``, the report,
``zoomwatt measure --validate`` and the optimizer's search all take it as it is. A bad value is
one :class:`~zoomwatt.errors.InputError` naming the field, the value and what was expected.

Limits, beyond the types: ``size`` a multiple of 64 up to 8192 px; ``steps`` 1 to 1000;
``every`` 1 to 3600 output frames per keyframe (2 minutes at 30 fps); ``fps`` from
:data:`~zoomwatt.pipeline.video.MIN_FPS` to :data:`~zoomwatt.pipeline.video.MAX_FPS` (what a
video of the zoom can be written at).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from zoomwatt.archs.catalog import ATTENTION_MODES, PIPELINES, VAES
from zoomwatt.errors import InputError
from zoomwatt.workload.records import MODEL_DTYPES

MAX_SIZE = 8192
MAX_STEPS = 1000
MAX_EVERY = 3600


def default_activation_dtype(dtype: str) -> str:
    """Activations are counted in the weight dtype, except int4 weights, which run with int8
    activations (W4A8, as NPUs do): int4 activations are not a practical inference format."""
    return "int8" if dtype == "int4" else dtype


def _whole(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _positive_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


@dataclass(frozen=True)
class WorkloadSpec:
    """The zoom's settings, as the command line names them (``--border`` is ``border_px``).

    ``dtype``: what weights are counted in; ``activation_dtype``: what activations are counted
    in (None: see :func:`default_activation_dtype`). ``attention``: ``sdpa`` (fused: score
    matrices stay on chip) or ``matmul`` (explicit, written out). ``every``: output frames per
    keyframe (1 keyframe in N). ``prompt_every``: keyframes per prompt change (None: one prompt
    for the whole video). ``border_px``: the band the inpainter fills (None: ``size // 4``, a
    zoom of 2x per keyframe).
    """

    pipeline: str = "sd2-inpaint"
    vae: str = "default"
    size: int = 512
    steps: int = 20
    cfg: bool = True
    dtype: str = "fp16"
    every: int = 30
    fps: float = 30.0
    activation_dtype: str | None = None
    attention: str = "sdpa"
    prompt_every: float | None = None
    border_px: int | None = None

    def __post_init__(self) -> None:
        self._check_models()
        self._check_counts()
        self._check_rest()

    def _check_models(self) -> None:
        if self.pipeline not in PIPELINES:
            raise InputError("pipeline", self.pipeline, f"one of {', '.join(PIPELINES)}")
        if self.vae not in VAES:
            raise InputError("vae", self.vae, f"one of {', '.join(VAES)}")
        size = self.size
        if not _whole(size) or size < 64 or size % 64:
            raise InputError("size", size, "an integer multiple of 64 (64, 128, ..., 512, ...)")
        if size > MAX_SIZE:
            raise InputError("size", size, f"at most {MAX_SIZE}")

    def _check_counts(self) -> None:
        if not _whole(self.steps) or self.steps < 1:
            raise InputError("steps", self.steps, "an integer >= 1")
        if self.steps > MAX_STEPS:
            raise InputError("steps", self.steps, f"at most {MAX_STEPS} denoising steps")
        if not isinstance(self.cfg, bool):
            raise InputError("cfg", self.cfg, "True or False")
        if self.dtype not in MODEL_DTYPES:
            raise InputError("dtype", self.dtype, f"one of {', '.join(MODEL_DTYPES)}")
        act = self.activation_dtype
        if act is not None and act not in MODEL_DTYPES:
            raise InputError("activation_dtype", act, f"one of {', '.join(MODEL_DTYPES)}")
        if not _whole(self.every) or self.every < 1:
            raise InputError("every", self.every, "an integer >= 1 (output frames per keyframe)")
        if self.every > MAX_EVERY:
            raise InputError("every", self.every, f"at most {MAX_EVERY} output frames per keyframe")

    def _check_rest(self) -> None:
        from zoomwatt.pipeline.video import MAX_FPS, MIN_FPS  # numpy: not at import time

        if not _positive_number(self.fps):
            raise InputError("fps", self.fps, "a positive number of frames per second")
        if not MIN_FPS <= self.fps <= MAX_FPS:
            raise InputError("fps", self.fps, f"a frame rate from {MIN_FPS:g} to {MAX_FPS:g}")
        if self.attention not in ATTENTION_MODES:
            raise InputError("attention", self.attention, f"one of {', '.join(ATTENTION_MODES)}")
        if self.prompt_every is not None and not _positive_number(self.prompt_every):
            raise InputError(
                "prompt_every", self.prompt_every, "None or keyframes per prompt change > 0"
            )
        border = self.border_px
        if border is not None and (not _whole(border) or not 0 < border < self.size // 2):
            raise InputError("border_px", border, f"an integer in 1..{self.size // 2 - 1}")

    def replace(self, **changes: Any) -> WorkloadSpec:
        """A copy with some settings changed, checked again."""
        return dataclasses.replace(self, **changes)

    @property
    def resolved_activation_dtype(self) -> str:
        """The dtype activations are counted in."""
        return self.activation_dtype or default_activation_dtype(self.dtype)

    @property
    def resolved_border_px(self) -> int:
        """The inpainted band in pixels."""
        return self.border_px if self.border_px is not None else self.size // 4

    @property
    def vae_arch(self) -> str:
        """The architecture the VAE stages are built from: TAESD, or the pipeline's own."""
        return "taesd" if self.vae == "taesd" else self.pipeline

    @property
    def unet_batch(self) -> int:
        """The UNet's batch: 2 with classifier-free guidance (conditioned and unconditioned)."""
        return 2 if self.cfg else 1

    @property
    def text_calls_per_prompt(self) -> int:
        """Text encoder calls per prompt change: the prompt, and the negative prompt with CFG."""
        return 2 if self.cfg else 1
