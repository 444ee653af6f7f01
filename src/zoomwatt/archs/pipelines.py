"""The shipped diffusion pipelines, each as one :class:`PipelineSpec`: its models' configs and
the facts about how the pipeline runs them.

A :class:`PipelineSpec` says which components a pipeline has (one or two text encoders, a UNet,
a VAE), its kind (``txt2img``, or ``inpaint``: a 9-channel UNet and a VAE encoder call on the
masked picture), its native resolution, its default denoising steps and classifier-free
guidance, the scheduler's prediction type, and the extra conditioning of its UNet (SDXL's
added time ids and pooled text embeddings). It holds every model's config as JSON text, so a
spec made from a local diffusers folder (:func:`zoomwatt.archs.model_dir.read_model_dir`) is
used exactly like a shipped one. How to trace one: :mod:`zoomwatt.archs.calls`; how to build
a component: :func:`zoomwatt.archs.build.build_component`.

Default steps: 20 denoising steps with guidance for every multi-step pipeline (the zoom's
setting, ``zoomwatt analyze``'s default), 1 step without guidance for SD-Turbo (its model
card: ``num_inference_steps=1, guidance_scale=0.0``). ``guidance_scale`` is the diffusers
pipeline's default (7.5 for SD 1.x/2.x, 5.0 for SDXL).

This module does not import torch.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from zoomwatt.archs.catalog import ALL_PIPELINES, components_of, load_config
from zoomwatt.errors import InputError

TXT2IMG = "txt2img"
INPAINT = "inpaint"
KINDS: tuple[str, ...] = (TXT2IMG, INPAINT)
PREDICTION_TYPES: tuple[str, ...] = ("epsilon", "v_prediction", "sample")
TEXT_ENCODERS: tuple[str, ...] = ("text_encoder", "text_encoder_2")


def canonical_json(config: dict[str, Any]) -> str:
    """A config as compact JSON with sorted keys (what :meth:`PipelineSpec.config_digest`
    hashes, as the workload cache does)."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class PipelineSpec:
    """One diffusion pipeline: what it is made of and how it runs. Frozen and hashable.

    ``configs_json``: (component, canonical JSON) pairs; components are ``text_encoder``,
    ``text_encoder_2`` (SDXL), ``unet`` and ``vae``. ``text_encoders``: the text encoders in
    the order the pipeline calls them. ``scheduler``: the diffusers scheduler class (None where
    not known). ``force_zeros_for_empty_prompt``: with guidance and no negative prompt, the
    negative embeddings are zeros and the text encoders are not called for them (SDXL).
    """

    name: str
    kind: str
    pipeline_class: str
    text_encoders: tuple[str, ...]
    native_size_px: int
    default_steps: int
    cfg: bool
    guidance_scale: float
    prediction_type: str
    scheduler: str | None
    force_zeros_for_empty_prompt: bool
    source: str
    configs_json: tuple[tuple[str, str], ...]

    @property
    def components(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.configs_json)

    def config(self, component: str) -> dict[str, Any]:
        """A fresh dict of one component's config (``_class_name`` and ``_source`` included)."""
        for name, text in self.configs_json:
            if name == component:
                return json.loads(text)
        raise InputError("component", component, f"one of {', '.join(self.components)}")

    def config_digest(self, component: str) -> str:
        """SHA-256 of the component's canonical config JSON (the workload cache's digest)."""
        return hashlib.sha256(canonical_json(self.config(component)).encode()).hexdigest()

    @property
    def has_vae_encoder_call(self) -> bool:
        """True for inpainting: the masked picture is encoded once per image."""
        return self.kind == INPAINT

    @property
    def vae_scale_factor(self) -> int:
        """Pixels per latent cell along a side (8 for every shipped VAE)."""
        return 2 ** (len(self.config("vae")["block_out_channels"]) - 1)

    @property
    def size_multiple_px(self) -> int:
        """Sizes must be multiples of this: the VAE's factor times the UNet's downsampling."""
        down = 2 ** (len(self.config("unet")["block_out_channels"]) - 1)
        return self.vae_scale_factor * down

    @property
    def added_conditioning(self) -> str | None:
        """The UNet's extra conditioning: ``text_time`` for SDXL (pooled text embeddings and
        time ids through ``added_cond_kwargs``), None for SD 1.x/2.x."""
        return self.config("unet").get("addition_embed_type")

    @property
    def vae_scaling_factor(self) -> float:
        """The latent scaling (0.18215 for SD 1.x/2.x, 0.13025 for SDXL)."""
        return float(self.config("vae").get("scaling_factor", 0.18215))


def make_spec(name: str, configs: dict[str, dict[str, Any]], **facts: Any) -> PipelineSpec:
    """A :class:`PipelineSpec` from the components' configs and the pipeline's facts (the
    other fields); ``native_size_px`` defaults to the UNet's ``sample_size`` in pixels."""
    order = [c for c in (*TEXT_ENCODERS, "unet", "vae") if c in configs]
    vae_factor = 2 ** (len(configs["vae"]["block_out_channels"]) - 1)
    facts.setdefault("native_size_px", int(configs["unet"]["sample_size"]) * vae_factor)
    facts.setdefault("text_encoders", tuple(c for c in TEXT_ENCODERS if c in configs))
    configs_json = tuple((c, canonical_json(configs[c])) for c in order)
    return PipelineSpec(name=name, configs_json=configs_json, **facts)


_SD_PIPELINE = "StableDiffusionPipeline"
_MULTI_STEP = {"default_steps": 20, "cfg": True, "force_zeros_for_empty_prompt": False}

# Per pipeline: class, kind, scheduler and prediction type (each pipeline's model_index.json
# and scheduler/scheduler_config.json; SD-Turbo: Stability's generative-models turbo demo,
# configs/inference/sd_2_1.yaml, EpsScaling, 512x512), guidance and steps.
_FACTS: dict[str, dict[str, Any]] = {
    "sd2-inpaint": {
        "kind": INPAINT, "pipeline_class": "StableDiffusionInpaintPipeline",
        "scheduler": "PNDMScheduler", "prediction_type": "epsilon", "guidance_scale": 7.5,
        "source": "stabilityai/stable-diffusion-2-inpainting", **_MULTI_STEP,
    },
    "sd15-inpaint": {
        "kind": INPAINT, "pipeline_class": "StableDiffusionInpaintPipeline",
        "scheduler": "PNDMScheduler", "prediction_type": "epsilon", "guidance_scale": 7.5,
        "source": "runwayml/stable-diffusion-inpainting", **_MULTI_STEP,
    },
    "sd15": {
        "kind": TXT2IMG, "pipeline_class": _SD_PIPELINE, "scheduler": "PNDMScheduler",
        "prediction_type": "epsilon", "guidance_scale": 7.5,
        "source": "runwayml/stable-diffusion-v1-5", **_MULTI_STEP,
    },
    "sd21-base": {
        "kind": TXT2IMG, "pipeline_class": _SD_PIPELINE, "scheduler": "PNDMScheduler",
        "prediction_type": "epsilon", "guidance_scale": 7.5,
        "source": "stabilityai/stable-diffusion-2-1-base", **_MULTI_STEP,
    },
    "sd21": {
        "kind": TXT2IMG, "pipeline_class": _SD_PIPELINE, "scheduler": "DDIMScheduler",
        "prediction_type": "v_prediction", "guidance_scale": 7.5,
        "source": "stabilityai/stable-diffusion-2-1", **_MULTI_STEP,
    },
    "sdxl-base": {
        "kind": TXT2IMG, "pipeline_class": "StableDiffusionXLPipeline",
        "scheduler": "EulerDiscreteScheduler", "prediction_type": "epsilon",
        "guidance_scale": 5.0, "source": "stabilityai/stable-diffusion-xl-base-1.0",
        **_MULTI_STEP, "force_zeros_for_empty_prompt": True,
    },
    "sd-turbo": {
        "kind": TXT2IMG, "pipeline_class": _SD_PIPELINE, "scheduler": None,
        "prediction_type": "epsilon", "guidance_scale": 0.0, "default_steps": 1, "cfg": False,
        "force_zeros_for_empty_prompt": False, "source": "stabilityai/sd-turbo",
    },
}  # fmt: skip


def pipeline_spec(name: str) -> PipelineSpec:
    """The shipped pipeline ``name`` (one of :data:`~zoomwatt.archs.catalog.ALL_PIPELINES`)."""
    if name not in ALL_PIPELINES:
        raise InputError("pipeline", name, f"one of {', '.join(ALL_PIPELINES)}")
    return _shipped(name)


@cache
def _shipped(name: str) -> PipelineSpec:
    configs = {c: load_config(name, c) for c in components_of(name)}
    return make_spec(name, configs, **_FACTS[name])


def all_specs() -> tuple[PipelineSpec, ...]:
    """Every shipped pipeline, in :data:`~zoomwatt.archs.catalog.ALL_PIPELINES` order."""
    return tuple(pipeline_spec(name) for name in ALL_PIPELINES)
