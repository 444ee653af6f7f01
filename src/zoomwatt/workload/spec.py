"""What workload to study: one typed, checked specification of the zoom's settings.

A :class:`WorkloadSpec` is everything the workload depends on (pipeline, or a local diffusers
folder, VAE, frame size, denoising steps, classifier-free guidance, images per call, dtypes,
attention, 1-in-N keyframes, frame rate, prompt changes, border). It is checked once, when it
is made: a spec that exists is valid, so :func:`~zoomwatt.workload.characterize`, ``zoomwatt
analyze``, ``zoomwatt predict``, the report, ``zoomwatt measure --validate`` and the
optimizer's search all take it as it is. A bad value is one
:class:`~zoomwatt.errors.InputError` naming the field, the value and what was expected.

Settings left as None are the pipeline's own (:class:`~zoomwatt.archs.pipelines.PipelineSpec`):
``size`` its native resolution, ``steps`` and ``cfg`` its default (20 steps with guidance; 1
step without for SD-Turbo), ``prompt_every`` one prompt for the whole zoom (inpainting) or a
prompt per picture (txt2img). They are resolved when the spec is made, so ``spec.steps`` is
always a number; :meth:`WorkloadSpec.replace` resolves the ones that were left to the pipeline
again (``WorkloadSpec().replace(pipeline="sd-turbo").steps == 1``).

Limits, beyond the types: ``size`` a multiple of the pipeline's
:attr:`~zoomwatt.archs.pipelines.PipelineSpec.size_multiple_px` (64; 32 for SDXL) up to 8192
px; ``steps`` 1 to 1000; ``batch`` 1 to 512 (the UNet runs twice that with guidance);
``every`` 1 to 3600 output frames per keyframe (2 minutes at 30 fps); ``fps`` from
:data:`~zoomwatt.pipeline.video.MIN_FPS` to :data:`~zoomwatt.pipeline.video.MAX_FPS` (what a
video of the zoom can be written at).
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoomwatt.archs.calls import MAX_BATCH, text_calls_per_prompt
from zoomwatt.archs.catalog import ALL_PIPELINES, ATTENTION_MODES, VAES, load_config
from zoomwatt.archs.pipelines import INPAINT, TXT2IMG, PipelineSpec, pipeline_spec
from zoomwatt.errors import InputError
from zoomwatt.workload.records import MODEL_DTYPES

DEFAULT_PIPELINE = "sd2-inpaint"
MAX_SIZE = 8192
MAX_STEPS = 1000
MAX_EVERY = 3600
MAX_IMAGES_PER_CALL = MAX_BATCH // 2  # the UNet's batch is twice that with guidance

#: The settings that None leaves to the pipeline (resolved when a spec is made).
PIPELINE_DEFAULTS: tuple[str, ...] = ("pipeline", "size", "steps", "cfg", "prompt_every")


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
    """The zoom's settings, as the command line names them (``--border`` is ``border_px``,
    ``--model`` is ``model_dir``).

    ``pipeline``: one of :data:`~zoomwatt.archs.catalog.ALL_PIPELINES` (None: sd2-inpaint),
    or, with ``model_dir`` (a local diffusers pipeline folder, read from its JSON configs
    alone), the folder's name. ``size``, ``steps``, ``cfg``: None for the pipeline's own
    (native size; 20 steps with guidance, 1 step without for SD-Turbo). ``batch``: images per
    pipeline call (the UNet runs ``batch`` x 2 with guidance); every figure stays per image.
    ``dtype``: what weights are counted in; ``activation_dtype``: what activations are counted
    in (None: see :func:`default_activation_dtype`). ``attention``: ``sdpa`` (fused: score
    matrices stay on chip) or ``matmul`` (explicit, written out). ``every``: output frames per
    keyframe (1 keyframe, or txt2img picture, in N). ``prompt_every``: keyframes (pictures) per
    prompt change (None: one prompt for the whole zoom; a prompt per picture for txt2img).
    ``border_px``: the band the inpainter fills (None: ``size // 4``, a zoom of 2x per
    keyframe; txt2img pipelines fill none).
    """

    pipeline: str | None = None
    vae: str = "default"
    size: int | None = None
    steps: int | None = None
    cfg: bool | None = None
    dtype: str = "fp16"
    every: int = 30
    fps: float = 30.0
    activation_dtype: str | None = None
    attention: str = "sdpa"
    prompt_every: float | None = None
    border_px: int | None = None
    model_dir: str | None = None
    batch: int = 1

    def __post_init__(self) -> None:
        given = {name for name in PIPELINE_DEFAULTS if getattr(self, name) is not None}
        arch = self._check_pipeline()
        object.__setattr__(self, "_arch", arch)
        object.__setattr__(self, "_defaulted", frozenset(set(PIPELINE_DEFAULTS) - given))
        self._check_models(arch)
        self._check_counts(arch)
        self._check_rest(arch)

    def _check_pipeline(self) -> PipelineSpec:
        folder = self.model_dir
        if folder is None:
            name = DEFAULT_PIPELINE if self.pipeline is None else self.pipeline
            if name not in ALL_PIPELINES:
                raise InputError("pipeline", name, f"one of {', '.join(ALL_PIPELINES)}")
            object.__setattr__(self, "pipeline", name)
            return pipeline_spec(name)
        if not isinstance(folder, (str, os.PathLike)) or not str(folder):
            raise InputError("model_dir", folder, "the path of a local diffusers pipeline folder")
        from zoomwatt.archs.model_dir import read_model_dir

        object.__setattr__(self, "model_dir", str(folder))
        arch = read_model_dir(folder, argument="model_dir")
        name = folder_name(folder)
        if self.pipeline not in (None, name):
            raise InputError(
                "pipeline", self.pipeline, f"None with model_dir (the folder names it: {name})"
            )
        object.__setattr__(self, "pipeline", name)
        return arch

    def _check_models(self, arch: PipelineSpec) -> None:
        if self.vae not in VAES:
            raise InputError("vae", self.vae, f"one of {', '.join(VAES)}")
        if self.vae == "taesd":
            latent = arch.config("vae").get("latent_channels", 4)
            if latent != load_config("taesd", "vae")["latent_channels"]:
                raise InputError("vae", self.vae, f"default: {self.pipeline} has {latent} "
                                 "latent channels, TAESD 4")  # fmt: skip
        if self.size is None:
            object.__setattr__(self, "size", arch.native_size_px)
        size, step = self.size, arch.size_multiple_px
        if not _whole(size) or size < step or size % step:
            examples = f"{step}, {2 * step}, ..., {arch.native_size_px}, ..."
            raise InputError("size", size, f"an integer multiple of {step} ({examples})")
        if size > MAX_SIZE:
            raise InputError("size", size, f"at most {MAX_SIZE}")

    def _check_counts(self, arch: PipelineSpec) -> None:
        if self.steps is None:
            object.__setattr__(self, "steps", arch.default_steps)
        if self.cfg is None:
            object.__setattr__(self, "cfg", arch.cfg)
        if not _whole(self.steps) or self.steps < 1:
            raise InputError("steps", self.steps, "an integer >= 1")
        if self.steps > MAX_STEPS:
            raise InputError("steps", self.steps, f"at most {MAX_STEPS} denoising steps")
        if not isinstance(self.cfg, bool):
            raise InputError("cfg", self.cfg, "True or False")
        batch = self.batch
        if not _whole(batch) or not 1 <= batch <= MAX_IMAGES_PER_CALL:
            raise InputError(
                "batch", batch, f"an integer from 1 to {MAX_IMAGES_PER_CALL} (images per call)"
            )
        if self.dtype not in MODEL_DTYPES:
            raise InputError("dtype", self.dtype, f"one of {', '.join(MODEL_DTYPES)}")
        act = self.activation_dtype
        if act is not None and act not in MODEL_DTYPES:
            raise InputError("activation_dtype", act, f"one of {', '.join(MODEL_DTYPES)}")
        if not _whole(self.every) or self.every < 1:
            raise InputError("every", self.every, "an integer >= 1 (output frames per keyframe)")
        if self.every > MAX_EVERY:
            raise InputError("every", self.every, f"at most {MAX_EVERY} output frames per keyframe")

    def _check_rest(self, arch: PipelineSpec) -> None:
        from zoomwatt.pipeline.video import MAX_FPS, MIN_FPS  # numpy: not at import time

        if not _positive_number(self.fps):
            raise InputError("fps", self.fps, "a positive number of frames per second")
        if not MIN_FPS <= self.fps <= MAX_FPS:
            raise InputError("fps", self.fps, f"a frame rate from {MIN_FPS:g} to {MAX_FPS:g}")
        if self.attention not in ATTENTION_MODES:
            raise InputError("attention", self.attention, f"one of {', '.join(ATTENTION_MODES)}")
        if self.prompt_every is None and arch.kind == TXT2IMG:
            object.__setattr__(self, "prompt_every", 1.0)  # a prompt per picture
        if self.prompt_every is not None and not _positive_number(self.prompt_every):
            raise InputError(
                "prompt_every", self.prompt_every, "None or keyframes per prompt change > 0"
            )
        border = self.border_px
        if border is not None and arch.kind != INPAINT:
            raise InputError("border_px", border, f"None: {self.pipeline} inpaints no border")
        if border is not None and (not _whole(border) or not 0 < border < self.size // 2):
            raise InputError("border_px", border, f"an integer in 1..{self.size // 2 - 1}")

    def replace(self, **changes: Any) -> WorkloadSpec:
        """A copy with some settings changed, checked again; the settings this spec left to
        its pipeline are left to the (possibly new) pipeline again."""
        for name in self._defaulted:  # type: ignore[attr-defined]
            changes.setdefault(name, None)
        return dataclasses.replace(self, **changes)

    @property
    def arch(self) -> PipelineSpec:
        """The pipeline's models and facts: shipped, or read from ``model_dir``."""
        return self._arch  # type: ignore[attr-defined]

    @property
    def kind(self) -> str:
        """``inpaint`` (the zoom: a keyframe per N output frames) or ``txt2img``."""
        return self.arch.kind

    @property
    def unit(self) -> str:
        """What one "keyframe" of the roll-up is: a ``keyframe`` of the zoom, or an ``image``."""
        return "keyframe" if self.kind == INPAINT else "image"

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
        """The UNet's batch: ``batch``, twice that with classifier-free guidance (conditioned
        and unconditioned)."""
        return self.batch * (2 if self.cfg else 1)

    @property
    def text_calls_per_prompt(self) -> int:
        """Calls of each text encoder per prompt change: the prompt, and the negative prompt
        with CFG (SDXL zeroes the negative embeddings instead: 1 call)."""
        return text_calls_per_prompt(self.arch, self.cfg)


def folder_name(folder: str | os.PathLike) -> str:
    """How a ``model_dir`` pipeline is named: its folder's name."""
    path = Path(folder).expanduser()
    return path.resolve().name or str(path)
