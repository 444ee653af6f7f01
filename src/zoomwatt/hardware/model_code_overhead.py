"""The host's time per kernel as the pipeline's own model code issues it.

A bare tiny op (``x.add_(1)``) costs PyTorch's dispatch alone, about 6 us on a 2-core Xeon.
A model's op costs more: the Python of the module it sits in (``forward`` calls, hooks,
attention processors, reshapes the tracer does not count as work) runs once per op too. On
that Xeon (2026-12-01) the tiny SD 2 inpainting models of :mod:`zoomwatt.archs.tiny` take
45-50 us per counted kernel in the CLIP text encoder (transformers), 60-73 us in the UNet and
about 28 us in the VAE decoder (diffusers): where a call has many small kernels (the text
encoder: about 355 kernels at 77 tokens, tens of ms in all), the bare figure misses most of
that time.

:func:`model_code_overhead` times one call of each tiny model (compute a few us a kernel at
these widths: 16-64 channels, 2x2 and 1x1 latents, 77 tokens), counts its kernels with the
workload tracer by the rule the performance model uses (:attr:`LayerRecord.is_kernel`), and
gives the calls' time over their kernels: the per-kernel overhead of this machine running this
code, measured, not a constant from another CPU.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zoomwatt.errors import NotMeasurableError
from zoomwatt.hardware.host_probe import typical_time

log = logging.getLogger(__name__)

TEXT_TOKENS = 77  # a CLIP prompt's length
UNET_LATENT_PX = 2  # latent side of the timed UNet call (batch 2, as with CFG)
VAE_LATENT_PX = 1  # latent side of the timed VAE decoder call


@dataclass(frozen=True)
class ModelCodeOverhead:
    """Per-kernel time of the tiny models' calls."""

    seconds_per_kernel: float  # all calls' time over all their kernels
    calls: tuple[tuple[str, float, int], ...]  # (model, median call time in s, kernels)

    def describe(self) -> str:
        parts = ", ".join(f"{name} {1e6 * s / k:.0f} us" for name, s, k in self.calls if k)
        return f"{1e6 * self.seconds_per_kernel:.1f} us per kernel ({parts})"


def _calls(torch: Any) -> list[tuple[str, Any, Callable[..., Any], tuple[Any, ...]]]:
    """(name, module, function, arguments) of the three timed calls."""
    from zoomwatt.archs.tiny import tiny_sd2_inpaint_models

    with torch.random.fork_rng():  # the calibration leaves the caller's random state alone
        text, unet, vae = (m.eval() for m in tiny_sd2_inpaint_models(seed=0))
    width = text.config.hidden_size
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, text.config.vocab_size, (1, TEXT_TOKENS), generator=generator)
    side = UNET_LATENT_PX
    latents = torch.randn(2, unet.config.in_channels, side, side, generator=generator)
    context = torch.randn(2, TEXT_TOKENS, width, generator=generator)
    timestep = torch.tensor(10)
    side = VAE_LATENT_PX
    z = torch.randn(1, vae.config.latent_channels, side, side, generator=generator)
    return [
        ("text encoder", text, text, (tokens,)),
        ("UNet", unet, unet, (latents, timestep, context)),
        ("VAE decoder", vae, vae.decode, (z,)),
    ]


def model_code_overhead(sync: Callable[[], None], min_time_s: float) -> ModelCodeOverhead:
    """Time the tiny models' calls (each for about ``min_time_s``, the median) and count
    their kernels; on the CPU, with PyTorch's default threads."""
    import torch

    from zoomwatt.workload.tracer import trace_call

    measured = []
    for name, module, fn, args in _calls(torch):
        with torch.inference_mode():
            seconds = typical_time(lambda fn=fn, args=args: fn(*args), sync, min_time_s)
        trace = trace_call(module, fn, *args, dtype="fp32")
        kernels = sum(1 for record in trace.records if record.is_kernel)
        if kernels == 0:
            raise NotMeasurableError(
                f"kernel overhead not measurable: the tracer counted no kernels in the tiny "
                f"{name}'s call (expected tens); reinstall zoomwatt with its pinned torch"
            )
        measured.append((name, seconds, kernels))
    total_kernels = sum(k for _, _, k in measured)
    seconds = sum(s for _, s, _ in measured)
    result = ModelCodeOverhead(seconds / total_kernels, tuple(measured))
    log.info("model-code kernel overhead: %s", result.describe())
    return result
