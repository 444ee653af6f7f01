"""Stable Diffusion 2 inpainting through diffusers, from local weights only.

Weights are found in a local folder (a diffusers pipeline folder) or in the local Hugging Face
cache (a repo id); the network is used only when the caller passes ``allow_download=True``.
Only safetensors are loaded: a folder that holds only pickle files (``.bin``, ``.ckpt``) is
refused, since unpickling runs arbitrary code.

Text embeddings are computed once per (prompt, negative prompt) and reused, and the time of each
stage of a keyframe is measured: text encoding, VAE encode, denoising (every UNet call and
scheduler step) and VAE decode.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from zoomwatt.errors import InputError, WeightsNotFoundError, ZoomwattError, shorten
from zoomwatt.pipeline.backends.base import Inpainter, InpaintOutput
from zoomwatt.pipeline.backends.model_files import PipelineFacts, PipelineFiles, load_error
from zoomwatt.workload.conv_layout import channels_last_convs
from zoomwatt.workload.stages import StageName

log = logging.getLogger(__name__)

DENOISE = StageName.UNET.timing_name
TEXT_ENCODE = StageName.TEXT_ENCODER.timing_name
VAE_DECODE = StageName.VAE_DECODER.timing_name
VAE_ENCODE = StageName.VAE_ENCODER.timing_name

DEFAULT_MODEL_ID = "stabilityai/stable-diffusion-2-inpainting"
DTYPES = ("fp32", "fp16", "bf16")
SCHEDULERS = {
    "pndm": "PNDMScheduler",
    "ddim": "DDIMScheduler",
    "euler": "EulerDiscreteScheduler",
    "euler-a": "EulerAncestralDiscreteScheduler",
    "dpm++": "DPMSolverMultistepScheduler",
    "unipc": "UniPCMultistepScheduler",
    "lms": "LMSDiscreteScheduler",
}
#: Most denoising steps: the schedulers of SD2 have 1000 training timesteps, and pictures stop
#: improving long before (20 to 50 steps are usual).
MAX_STEPS = 1000
PICKLE_SUFFIXES = (".bin", ".ckpt", ".pt", ".pth", ".pkl")
DOWNLOAD_PATTERNS = ["*.json", "*.txt", "*.safetensors"]


def how_to_get_weights(model: str) -> str:
    repo = model if "/" in model and not Path(model).is_absolute() else DEFAULT_MODEL_ID
    return (
        f"To get them: `hf download {repo} --include '*.json' '*.txt' "
        f"'*.safetensors'` (fills the local cache), or save a pipeline with "
        f"`save_pretrained(DIR, safe_serialization=True)` and pass --model DIR, or pass "
        f"--allow-download to let zoomwatt fetch them."
    )


def check_pipeline_folder(
    folder: Path, argument: str = "model", model: str | None = None
) -> PipelineFacts:
    """Refuse a folder that is not a complete diffusers SD2 inpainting pipeline with sound
    safetensors weights, reading only its small files and the weights' headers (see
    :mod:`zoomwatt.pipeline.backends.model_files`). ``model``: the name the user gave (a repo id
    for a cache snapshot), quoted in the messages; the folder by default."""
    shown = shorten(str(folder))
    index_file = folder / "model_index.json"
    if not index_file.is_file():
        singles = sorted(p.name for p in folder.glob("*") if p.suffix in (".safetensors", ".ckpt"))
        hint = (
            f"It holds single-file checkpoints ({shorten(', '.join(singles))}); convert them to "
            f"a diffusers folder first."
            if singles
            else how_to_get_weights(str(folder))
        )
        raise WeightsNotFoundError(
            f"{argument}={shown}: expected a diffusers pipeline folder with "
            f"model_index.json; there is none. {hint}"
        )
    files = PipelineFiles(folder, model, argument)
    index = files.check_index()
    for component, spec in index.items():
        if component.startswith("_") or not isinstance(spec, list) or spec[0] is None:
            continue
        sub = folder / component
        if not sub.is_dir() or not any(sub.iterdir()):
            raise WeightsNotFoundError(
                f"{argument}={shown}: the pipeline is incomplete: model_index.json names "
                f"{component!r} but {shorten(str(sub))} is missing or empty. "
                f"{how_to_get_weights(str(folder))}"
            )
        if not (sub / "config.json").is_file():
            continue  # tokenizer, scheduler: no weights
        weights = [p for p in sub.iterdir() if p.suffix == ".safetensors"]
        pickles = [p.name for p in sub.iterdir() if p.suffix in PICKLE_SUFFIXES]
        if not weights and pickles:
            raise InputError(
                argument,
                str(folder),
                "safetensors weights",
                f"{component}/ holds only pickle files ({shorten(', '.join(sorted(pickles)))}), "
                f"which zoomwatt does not load because unpickling can run arbitrary code. Convert "
                f"them with `save_pretrained(DIR, safe_serialization=True)`.",
            )
        if not weights:
            raise WeightsNotFoundError(
                f"{argument}={shown}: the pipeline is incomplete: {component}/ has a "
                f"config.json but no .safetensors weights. {how_to_get_weights(str(folder))}"
            )
    return files.check_components(index)


def resolve_model(model: str, allow_download: bool = False) -> Path:
    """A local pipeline folder for ``model`` (a folder, or a repo id in the local cache).

    Raises WeightsNotFoundError naming every place looked in and how to get the weights, and
    InputError for a folder whose files are damaged or of the wrong model."""
    model = check_model_name(model)
    path = Path(model).expanduser()
    looks_like_path = path.exists() or model.startswith((".", "/", "~")) or model.count("/") > 1
    if looks_like_path:
        if not path.is_dir():
            raise WeightsNotFoundError(
                f"model={shorten(model)}: expected a diffusers pipeline folder; "
                f"{shorten(str(path))} does not exist. {how_to_get_weights(model)}"
            )
        check_pipeline_folder(path)
        return path

    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        snapshot = snapshot_download(
            model, allow_patterns=DOWNLOAD_PATTERNS, local_files_only=not allow_download
        )
    except LocalEntryNotFoundError:
        raise WeightsNotFoundError(
            f"model={shorten(model)}: no local weights. Looked for a folder "
            f"{shorten(str(path.resolve()))} (none) and in the Hugging Face cache "
            f"{constants.HF_HUB_CACHE} (no snapshot of {shorten(model)}). "
            f"{how_to_get_weights(model)}"
        ) from None
    except Exception as exc:  # hub and network errors, translated where they enter
        raise WeightsNotFoundError(
            f"model={shorten(model)}: could not get the weights: "
            f"{shorten(first_line(exc), 120)}. {how_to_get_weights(model)}"
        ) from exc
    folder = Path(snapshot)
    check_pipeline_folder(folder, model=model)
    return folder


def check_model_name(model: Any) -> str:
    """``model`` as a non-empty string (a path-like object is accepted)."""
    if isinstance(model, os.PathLike):
        model = os.fspath(model)
    if not isinstance(model, str) or not model.strip():
        raise InputError("model", model, "a pipeline folder or a Hugging Face repo id")
    return model


def check_steps(steps: Any) -> int:
    """A whole number of denoising steps from 1 to :data:`MAX_STEPS`."""
    whole = isinstance(steps, numbers.Integral) or (
        isinstance(steps, float) and math.isfinite(steps) and steps.is_integer()
    )
    if isinstance(steps, bool) or not whole or not 1 <= steps <= MAX_STEPS:
        raise InputError(
            "steps",
            steps,
            f"a whole number of denoising steps from 1 to {MAX_STEPS}",
            "SD2's schedulers have 1000 training timesteps; 20 to 50 steps are usual",
        )
    return int(steps)


def check_guidance(guidance: Any) -> float:
    """A finite guidance scale >= 0."""
    if (
        isinstance(guidance, bool)
        or not isinstance(guidance, numbers.Real)
        or not math.isfinite(guidance)
        or guidance < 0
    ):
        raise InputError(
            "guidance",
            guidance,
            "a finite guidance scale >= 0 (1 or less turns classifier-free guidance off)",
        )
    return float(guidance)


def available_devices() -> list[str]:
    """The devices torch can run the pipeline on here."""
    import torch

    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        devices.append("mps")
    xpu = getattr(torch, "xpu", None)
    if xpu is not None and xpu.is_available():
        devices += [f"xpu:{i}" for i in range(xpu.device_count())]
    return devices


def check_device(device: Any) -> str:
    """``device`` if torch can run the pipeline on it here; else one line listing those it can."""
    if not isinstance(device, str):
        raise InputError("device", device, "a device name such as cpu or cuda")
    if device == "cpu":
        return device  # always there; no need to import torch for it
    import torch

    here = available_devices()
    expected = f"a device this machine has: {', '.join(here)}"
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        kind = device.split(":")[0]
        try:
            torch.device(kind)
            hint = "Write it as TYPE or TYPE:INDEX, e.g. cuda:0"
        except (RuntimeError, ValueError, TypeError):
            hint = f"torch knows no device {shorten(kind, 30)}"
        raise InputError("device", device, expected, hint) from None
    kind, index = parsed.type, parsed.index
    if kind == "cpu":
        if index in (None, 0):
            return device
        raise InputError("device", device, expected, "There is one CPU device, cpu")
    if kind in ("cuda", "xpu"):
        count = sum(d.startswith(f"{kind}:") for d in here)
        if count == 0:
            gpu = "CUDA GPU" if kind == "cuda" else "XPU"
            raise InputError("device", device, expected, f"torch sees no {gpu}")
        if index is None or index < count:
            return device
        raise InputError("device", device, expected, f"torch sees {count} {kind} device(s) here")
    if kind == "mps" and "mps" in here and index in (None, 0):
        return device
    if kind == "mps":
        raise InputError("device", device, expected, "torch here has no MPS device")
    raise InputError("device", device, expected, f"The pipeline cannot run on {kind}")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def default_dtype(device: str) -> str:
    """fp16 on CUDA (tensor cores, half the bytes); fp32 on a CPU, where fp16 kernels are slow
    and bf16 is fast only on CPUs with AMX or AVX512-BF16."""
    return "fp16" if device.startswith("cuda") else "fp32"


class SD2Inpainter(Inpainter):
    name = "sd2"

    def __init__(
        self,
        model: str = DEFAULT_MODEL_ID,
        steps: int = 20,
        guidance: float = 7.5,
        scheduler: str = "pndm",
        device: str | None = None,
        dtype: str | None = None,
        allow_download: bool = False,
        pipeline: Any = None,
    ):
        """``pipeline``: an already built ``StableDiffusionInpaintPipeline`` to use instead of
        loading ``model`` (for benchmarks on random weights, see
        :mod:`zoomwatt.archs.random_pipeline`); it is moved to ``device`` and ``dtype``."""
        # 1. Check inputs, all before any work: the options, the device, then the pipeline's
        # files (configs and weights headers; the weights load at the first keyframe).
        self.steps = check_steps(steps)
        self.guidance = check_guidance(guidance)
        if not isinstance(scheduler, str) or scheduler not in SCHEDULERS:
            raise InputError("scheduler", scheduler, f"one of {', '.join(SCHEDULERS)}")
        if dtype is not None and (not isinstance(dtype, str) or dtype not in DTYPES):
            raise InputError("dtype", dtype, f"one of {', '.join(DTYPES)}")
        self.device = check_device(device) if device else default_device()
        self.dtype = dtype or default_dtype(self.device)
        self.model = model if pipeline is not None else check_model_name(model)
        self.scheduler_name = scheduler
        self.allow_download = allow_download
        self.folder = None
        if pipeline is None:
            self.folder = resolve_model(self.model, allow_download)
            train_steps = PipelineFiles(self.folder, self.model).check_scheduler().train_timesteps
            if self.steps > train_steps:
                raise InputError(
                    "steps",
                    self.steps,
                    f"at most the scheduler's {train_steps} training timesteps",
                )
        self._given_pipe = pipeline
        self._pipe = None
        self._embeds: dict[tuple[str, str], Any] = {}
        self._stage_s: dict[str, float] = {}

    def fingerprint(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": str(self.model),
            "steps": self.steps,
            "guidance": self.guidance,
            "scheduler": self.scheduler_name,
            "device": self.device,
            "dtype": self.dtype,
        }

    def made_by(self) -> str:
        return (
            f"Stable Diffusion 2 inpainting, weights from {self.model}, {self.steps} steps, "
            f"{self.dtype} on {self.device}"
        )

    # --- loading ---------------------------------------------------------------------------

    @property
    def pipe(self):
        if self._pipe is None:
            self._pipe = self._load()
        return self._pipe

    def _load(self):
        import diffusers
        import torch
        from diffusers import StableDiffusionInpaintPipeline

        torch_dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
        if self._given_pipe is not None:
            pipe = self._given_pipe.to(dtype=torch_dtype[self.dtype])
        else:
            log.info("loading %s on %s in %s", self.folder, self.device, self.dtype)
            # The files were checked; what the libraries may still refuse is translated here,
            # where it enters, into one line naming the file and the fix.
            try:
                with _library_bars_off():
                    pipe = StableDiffusionInpaintPipeline.from_pretrained(
                        self.folder,
                        dtype=torch_dtype[self.dtype],
                        use_safetensors=True,
                        local_files_only=True,
                    )
            except ZoomwattError:
                raise
            except Exception as exc:
                raise load_error(str(self.model), self.folder, exc) from exc
        scheduler_cls = getattr(diffusers, SCHEDULERS[self.scheduler_name])
        try:
            pipe.scheduler = scheduler_cls.from_config(pipe.scheduler.config)
        except Exception as exc:
            raise InputError(
                "scheduler",
                self.scheduler_name,
                "a scheduler that accepts the pipeline's scheduler_config.json",
                f"{scheduler_cls.__name__} refused it: {shorten(first_line(exc), 120)}",
            ) from exc
        try:
            pipe = pipe.to(self.device)
        except Exception as exc:
            raise InputError(
                "device",
                self.device,
                f"a device with room for the pipeline in {self.dtype}",
                f"Moving it there failed: {shorten(first_line(exc), 120)}",
            ) from exc
        if channels_last_convs(self.device, self.dtype):  # the conv layout the host calibrates
            for module in (pipe.unet, pipe.vae):
                module.to(memory_format=torch.channels_last)
        pipe.set_progress_bar_config(disable=True)
        self._instrument(pipe)
        return pipe

    def _instrument(self, pipe) -> None:
        """Time the VAE's encode and decode where the pipeline calls them."""
        for stage, owner, method in (
            (VAE_ENCODE, pipe.vae, "encode"),
            (VAE_DECODE, pipe.vae, "decode"),
        ):
            original = getattr(owner, method)

            def timed(*args, _original=original, _stage=stage, **kwargs):
                with self._timed(_stage):
                    return _original(*args, **kwargs)

            setattr(owner, method, timed)

    @contextmanager
    def _timed(self, stage: str):
        self._sync()
        start = time.perf_counter()
        try:
            yield
        finally:
            self._sync()
            self._stage_s[stage] = self._stage_s.get(stage, 0.0) + time.perf_counter() - start

    def _sync(self) -> None:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()

    # --- inference -------------------------------------------------------------------------

    @property
    def uses_cfg(self) -> bool:
        return self.guidance > 1.0

    def _prompt_embeds(self, prompt: str, negative_prompt: str):
        key = (prompt, negative_prompt)
        if key not in self._embeds:
            import torch

            with self._timed(TEXT_ENCODE), torch.inference_mode():
                self._embeds = {
                    key: self.pipe.encode_prompt(
                        prompt,
                        self.device,
                        1,
                        self.uses_cfg,
                        negative_prompt=negative_prompt or None,
                    )
                }  # keep only the current prompt: a schedule moves forward
        return self._embeds[key]

    def inpaint(
        self, image: np.ndarray, mask: np.ndarray, prompt: str, negative_prompt: str, seed: int
    ) -> InpaintOutput:
        import torch
        from PIL import Image

        self._stage_s = {}
        pipe = self.pipe
        prompt_embeds, negative_embeds = self._prompt_embeds(prompt, negative_prompt)
        height, width = image.shape[:2]
        # A CPU generator gives the same noise on every device.
        generator = torch.Generator("cpu").manual_seed(int(seed))
        self._sync()
        start = time.perf_counter()
        with torch.inference_mode():
            result = pipe(
                prompt_embeds=prompt_embeds,
                negative_prompt_embeds=negative_embeds if self.uses_cfg else None,
                image=Image.fromarray(image),
                mask_image=Image.fromarray(mask),
                height=height,
                width=width,
                num_inference_steps=self.steps,
                guidance_scale=self.guidance,
                generator=generator,
                output_type="np",
            )
        self._sync()
        total = time.perf_counter() - start
        stage_s = dict(self._stage_s)
        stage_s[DENOISE] = total - stage_s.get(VAE_ENCODE, 0.0) - stage_s.get(VAE_DECODE, 0.0)
        out = np.clip(np.rint(result.images[0] * 255.0), 0, 255).astype(np.uint8)
        return InpaintOutput(out, stage_s)

    def close(self) -> None:
        self._pipe = None
        self._given_pipe = None
        self._embeds = {}
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()


@contextmanager
def _library_bars_off() -> Iterator[None]:
    """diffusers and transformers draw their own loading bars on stderr; the zoom shows its
    own progress, so theirs are off while the pipeline loads (and as they were afterwards)."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    modules = [m for m in (diffusers_logging, transformers_logging) if m.is_progress_bar_enabled()]
    for module in modules:
        module.disable_progress_bar()
    try:
        yield
    finally:
        for module in modules:
            module.enable_progress_bar()
