"""Apply a lossy choice to a real model's weights and measure what it does to the output.

A *choice* is one named transformation of every conv and linear layer (see ``CHOICES``):
quantization (``w8a16``, ``w4a16``, ``w8a8``, ``w4a8``, ``fp16``, ``bf16``), pruning (``2:4``,
``prune50``) or weight sharing (``share4``, ``share6``); or a combination of one of each kind
joined by ``+`` (``w8a8+2:4``), applied sparsity first, then sharing, then quantization. The
error is measured on the model's output against the unmodified model (fp32) on the same inputs:

    SNR_dB   = 10 log10( sum ref^2 / sum (out - ref)^2 )       (higher is better)
    error_dB = -SNR_dB   (noise-to-signal ratio; the search's ``error_db``, lower is better)

Weights are changed in place and restored afterwards; activation quantization is a forward
pre-hook on each layer's input (see :mod:`.quantize`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from zoomwatt.errors import InputError
from zoomwatt.optimizer.prune import magnitude_prune, prune_2_4
from zoomwatt.optimizer.quantize import QuantScheme, quantize_activation, quantize_weight
from zoomwatt.optimizer.weight_sharing import share_weights

log = logging.getLogger(__name__)

INT4_GROUP = 64  # divides every UNet row length (320 x 9, 640, 1024, ...); 128 does not

QUANT_CHOICES: dict[str, QuantScheme] = {
    "fp16": QuantScheme("fp16", "fp16"),
    "bf16": QuantScheme("bf16", "bf16"),
    "w8a16": QuantScheme("int8"),
    "w4a16": QuantScheme("int4", granularity="per_group", group_size=INT4_GROUP),
    "w8a8": QuantScheme("int8", "int8"),
    "w4a8": QuantScheme("int4", "int8", granularity="per_group", group_size=INT4_GROUP),
}
PRUNE_CHOICES = {"2:4": None, "prune50": 0.5}
SHARE_CHOICES = {"share4": 4, "share6": 6}
CHOICES: tuple[str, ...] = (*QUANT_CHOICES, *PRUNE_CHOICES, *SHARE_CHOICES)
DESCRIPTIONS = {
    "fp16": "weights and layer inputs rounded to fp16",
    "bf16": "weights and layer inputs rounded to bf16",
    "w8a16": "int8 weights, per-channel symmetric scales",
    "w4a16": f"int4 weights, per-group ({INT4_GROUP}) symmetric scales",
    "w8a8": "int8 weights per channel + int8 layer inputs (dynamic per-tensor scale)",
    "w4a8": f"int4 weights per group ({INT4_GROUP}) + int8 layer inputs (dynamic per tensor)",
    "2:4": "2:4 structured sparsity along input channels (magnitude)",
    "prune50": "unstructured magnitude pruning, 50% of each layer",
    "share4": "k-means weight sharing, 16 shared values per layer (4-bit indices)",
    "share6": "k-means weight sharing, 64 shared values per layer (6-bit indices)",
}


@dataclass(frozen=True)
class ChoiceError:
    """The output error of one choice on one model."""

    choice: str
    description: str
    snr_db: float
    error_db: float  # -snr_db
    max_abs_error: float
    weight_snr_db: float  # over all changed weights together
    layers_changed: int
    layers_skipped: int  # layers the pattern does not fit (left unchanged)
    seconds: float  # time to apply and run


def weight_layers(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """The conv and linear layers whose weights the choices change."""
    kinds = (torch.nn.Conv2d, torch.nn.Linear)
    return [(n, m) for n, m in model.named_modules() if isinstance(m, kinds)]


def snr_db(reference: torch.Tensor, output: torch.Tensor) -> float:
    """10 log10(signal / noise); +inf when identical."""
    ref = reference.detach().double()
    noise = float((output.detach().double() - ref).pow(2).sum())
    signal = float(ref.pow(2).sum())
    if noise == 0:
        return math.inf
    return 10 * math.log10(signal / noise) if signal > 0 else -math.inf


def _apply_one(choice: str, w: torch.Tensor) -> tuple[torch.Tensor, bool]:
    if choice in QUANT_CHOICES:
        return quantize_weight(w, QUANT_CHOICES[choice]).dequantized, True
    if choice == "2:4":
        pruned = prune_2_4(w)
        return pruned.weight, pruned.applied
    if choice in PRUNE_CHOICES:
        return magnitude_prune(w, PRUNE_CHOICES[choice]).weight, True
    shared = share_weights(w, SHARE_CHOICES[choice], weight_bits=16)
    return shared.decode(), True


def split_choice(choice: str) -> list[str]:
    """'w8a16+2:4' -> ['2:4', 'w8a16']: the parts of a combined choice in the order they are
    applied (sparsity, then sharing, then quantization, as Deep Compression orders them);
    raises InputError for an unknown part or two of one kind."""
    parts = choice.split("+")
    kinds = [(0 if p in PRUNE_CHOICES else 1 if p in SHARE_CHOICES else 2) for p in parts
             if p in CHOICES]  # fmt: skip
    if len(kinds) != len(parts) or len(set(kinds)) != len(kinds):
        raise InputError(
            "choice", choice, f"one of {', '.join(CHOICES)}, or at most one of each kind "
            "(sparsity, sharing, quantization) joined by '+'",
        )  # fmt: skip
    return [p for _, p in sorted(zip(kinds, parts, strict=True))]


def _new_weight(choice: str, w: torch.Tensor) -> tuple[torch.Tensor, bool]:
    applied = True
    mask = None
    for part in split_choice(choice):
        w, ok = _apply_one(part, w)
        applied = applied and ok
        if part in PRUNE_CHOICES:
            mask = w != 0
        elif mask is not None:  # sharing or quantization keeps pruned weights at zero
            w = torch.where(mask, w, torch.zeros_like(w))
    return w, applied


def _activation(choice: str) -> str | None:
    quant = [p for p in split_choice(choice) if p in QUANT_CHOICES]
    return QUANT_CHOICES[quant[0]].activation if quant else None


def _output(out: Any) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out
    sample = getattr(out, "sample", None)
    if isinstance(sample, torch.Tensor):
        return sample
    if isinstance(out, tuple | list) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    raise InputError("model output", type(out).__name__, "a tensor or an object with .sample")


def measure_choices(
    model: torch.nn.Module,
    inputs: Sequence[Any],
    choices: Sequence[str] = CHOICES,
    *,
    call: Callable[..., Any] | None = None,
) -> list[ChoiceError]:
    """Apply each choice in turn to ``model`` (restored after each), run ``call(*inputs)``
    (default: the model) and measure the output error against the unmodified model."""
    # 1. inputs
    for c in choices:
        split_choice(c)
    layers = weight_layers(model)
    if not layers:
        raise InputError("model", type(model).__name__, "a model with conv or linear layers")
    run = call or model
    originals = {name: m.weight.detach().clone() for name, m in layers}

    # 2. reference output
    with torch.no_grad():
        reference = _output(run(*inputs)).detach().clone()

    # 3. each choice: change weights (and hook inputs), run, measure, restore
    results = []
    for choice in choices:
        start = time.perf_counter()
        changed = skipped = 0
        signal = noise = 0.0
        hooks = []
        act = _activation(choice)
        try:
            with torch.no_grad():
                for name, module in layers:
                    new, applied = _new_weight(choice, originals[name])
                    changed += int(applied)
                    skipped += int(not applied)
                    signal += float(originals[name].double().pow(2).sum())
                    noise += float((new.double() - originals[name].double()).pow(2).sum())
                    module.weight.copy_(new)
                    if act is not None:
                        hooks.append(module.register_forward_pre_hook(_input_hook(act)))
                output = _output(run(*inputs))
        finally:
            for hook in hooks:
                hook.remove()
            with torch.no_grad():
                for name, module in layers:
                    module.weight.copy_(originals[name])
        snr = snr_db(reference, output)
        weight_snr = 10 * math.log10(signal / noise) if noise > 0 else math.inf
        results.append(
            ChoiceError(
                choice=choice,
                description=" + ".join(DESCRIPTIONS[p] for p in split_choice(choice)),
                snr_db=snr,
                error_db=-snr,
                max_abs_error=float((output - reference).abs().max()),
                weight_snr_db=weight_snr,
                layers_changed=changed,
                layers_skipped=skipped,
                seconds=time.perf_counter() - start,
            )
        )
        log.info("%s: output SNR %.1f dB (%.1f s)", choice, snr, results[-1].seconds)
    return results


def _input_hook(dtype: str) -> Callable[..., Any]:
    def hook(_module: torch.nn.Module, args: tuple) -> tuple:
        return tuple(quantize_activation(a, dtype) if torch.is_tensor(a) else a for a in args)

    return hook


def unet_inputs(unet: torch.nn.Module, latent_size: int, batch: int = 1, seed: int = 0) -> tuple:
    """Seeded inputs of a diffusers UNet2DConditionModel: noisy latents (+ mask and masked
    latents for 9-channel inpainting UNets), a mid-schedule timestep and a random text context
    of 77 tokens."""
    g = torch.Generator().manual_seed(seed)
    cfg = unet.config
    sample = torch.randn(batch, cfg.in_channels, latent_size, latent_size, generator=g)
    context = torch.randn(batch, 77, cfg.cross_attention_dim, generator=g)
    return sample, torch.tensor(500), context


@dataclass(frozen=True)
class LayerSharing:
    """Weight sharing of one layer (fp16 weights, fp16 codebook)."""

    layer: str
    n_weights: int
    original_bits: int
    shared_bits: int
    compression_ratio: float
    weight_snr_db: float


def share_model(
    model: torch.nn.Module, bits: int, max_layers: int | None = None
) -> list[LayerSharing]:
    """k-means weight sharing of every conv/linear layer (weights not changed): ratio and weight
    SNR per layer. ``max_layers`` takes an even subsample of the layers (say so when used)."""
    layers = weight_layers(model)
    if max_layers is not None and len(layers) > max_layers:
        step = len(layers) / max_layers
        layers = [layers[int(i * step)] for i in range(max_layers)]
    out = []
    for name, module in layers:
        w = module.weight.detach()
        shared = share_weights(w, bits, weight_bits=16)
        noise = float((shared.decode().double() - w.double()).pow(2).sum())
        signal = float(w.double().pow(2).sum())
        out.append(
            LayerSharing(
                layer=name,
                n_weights=shared.n_weights,
                original_bits=shared.original_bits,
                shared_bits=shared.shared_bits,
                compression_ratio=shared.compression_ratio,
                weight_snr_db=10 * math.log10(signal / noise) if noise > 0 else math.inf,
            )
        )
    return out
