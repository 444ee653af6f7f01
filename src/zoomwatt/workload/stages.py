"""The one vocabulary of the zoom's stages, for every layer.

A stage is named once here, with what the rest of the package needs to know of it: whether it
runs once per output frame or as part of a keyframe, how it is shown to people, and the name a
zoom backend reports its time under (the backends time ``denoise``; the workload, the
performance model, the optimizer, measurements and the report speak of the ``unet``). No other
module spells a stage name as a bare string: it writes ``StageName.UNET`` and, where a text is
needed (JSON keys, table rows), ``StageName.UNET.value`` or ``str(StageName.UNET)``.

``StageName`` is a ``str`` enum: a member compares equal to its text, hashes like it, and JSON
writes it as that text, so output formats are unchanged.
"""

from __future__ import annotations

from enum import Enum

from zoomwatt.errors import InputError


class StageName(str, Enum):
    TEXT_ENCODER = "text_encoder"
    VAE_ENCODER = "vae_encoder"
    UNET = "unet"
    VAE_DECODER = "vae_decoder"
    FRAME_OPS = "frame_ops"

    def __str__(self) -> str:
        return self.value

    __format__ = str.__format__  # f"{StageName.UNET}" -> "unet" on every Python

    @property
    def per_frame(self) -> bool:
        """True for the per-output-frame work; False for the models that make a keyframe."""
        return self is StageName.FRAME_OPS

    @property
    def is_model(self) -> bool:
        return not self.per_frame

    @property
    def per_step(self) -> bool:
        """True for the stage that runs once per denoising step (the UNet); the other model
        stages run a fixed number of times per keyframe, whatever the steps."""
        return self is StageName.UNET

    @property
    def component(self) -> str | None:
        """The model the stage calls, as :mod:`zoomwatt.archs.catalog` names it (both VAE
        stages call the ``vae``); None for the frame operations, which are no model."""
        return _COMPONENT[self]

    @property
    def display(self) -> str:
        """How a person reads it: "VAE decoder"."""
        return _DISPLAY[self]

    @property
    def timing_name(self) -> str | None:
        """The name a zoom backend reports this stage's seconds under (None: not a backend
        stage)."""
        return _TIMING[self]

    @classmethod
    def parse(cls, text: object, argument: str = "stage") -> StageName:
        """The stage called ``text`` (its own name or its backend timing name)."""
        for stage in cls:
            if text in (stage.value, stage.timing_name):
                return stage
        names = ", ".join(s.value for s in cls)
        raise InputError(argument, text, f"one of {names}")

    @classmethod
    def from_timing(cls, timing_name: str) -> StageName | None:
        """The stage a backend's timing name stands for; None for backend-only timings
        (``inpaint`` of the classical backend is not one of the model stages)."""
        return _FROM_TIMING.get(timing_name)


#: The models that make a keyframe, in the order a keyframe runs them.
MODEL_STAGES: tuple[StageName, ...] = (
    StageName.TEXT_ENCODER,
    StageName.VAE_ENCODER,
    StageName.UNET,
    StageName.VAE_DECODER,
)
#: Every stage, model stages first.
ALL_STAGES: tuple[StageName, ...] = (*MODEL_STAGES, StageName.FRAME_OPS)

_DISPLAY = {
    StageName.TEXT_ENCODER: "text encoder",
    StageName.VAE_ENCODER: "VAE encoder",
    StageName.UNET: "UNet",
    StageName.VAE_DECODER: "VAE decoder",
    StageName.FRAME_OPS: "frame ops",
}
_TIMING = {
    StageName.TEXT_ENCODER: "text_encode",
    StageName.VAE_ENCODER: "vae_encode",
    StageName.UNET: "denoise",
    StageName.VAE_DECODER: "vae_decode",
    StageName.FRAME_OPS: None,
}
_COMPONENT = {
    StageName.TEXT_ENCODER: "text_encoder",
    StageName.VAE_ENCODER: "vae",
    StageName.UNET: "unet",
    StageName.VAE_DECODER: "vae",
    StageName.FRAME_OPS: None,
}
_FROM_TIMING = {timing: stage for stage, timing in _TIMING.items() if timing}

#: The timing of a backend whose one call is not split into model stages (classical).
INPAINT_TIMING = "inpaint"
#: The stage timings a zoom backend may report: the model stages' timing names, and
#: :data:`INPAINT_TIMING`.
BACKEND_TIMINGS: tuple[str, ...] = (*(s.timing_name for s in MODEL_STAGES), INPAINT_TIMING)
