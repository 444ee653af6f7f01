"""DeepCache (Ma et al., 2023): reuse the UNet's deep features across denoising steps.

Every ``interval`` steps the whole UNet runs ("full" step) and the input of its last up block
(the deep branch's result, upsampled to full latent resolution) is kept. In the steps between
("shallow" steps) only the shallow branch runs: ``conv_in``, the first down block's resnets and
attentions (its downsampler feeds the deep branch, so it is skipped), the last up block on the
cached deep feature and the shallow skips, and the output head. The DeepCache package patches
diffusers' ``UNet2DConditionModel`` the same way; it is written here on the model's own blocks so
that it follows the installed diffusers and can be traced (:class:`ShallowUNet` is exactly what a
shallow step computes, for :mod:`zoomwatt.workload`'s tracer).

A full step gives the unmodified UNet's output (the tests check it to float rounding); shallow
steps change the picture (quality must be judged on trained weights).
"""

from __future__ import annotations

from typing import Any

import torch

from zoomwatt.errors import InputError


def check_unet(unet: Any) -> None:
    """DeepCache is written for SD 1.x/2.x UNets: no class, addition or GLIGEN conditioning."""
    config = unet.config
    extra = [
        key
        for key in ("class_embed_type", "addition_embed_type", "num_class_embeds")
        if config.get(key) is not None
    ]
    if extra:
        raise InputError(
            "deepcache", ", ".join(extra), "a UNet without class or addition embeddings (SD 1/2)"
        )


def _embedding(unet: Any, sample: torch.Tensor, timestep: Any) -> torch.Tensor:
    info = getattr(unet, "_tome_info", None)
    if info is not None:  # token merging reads the latent size from a hook on UNet.forward
        info["size"] = (sample.shape[2], sample.shape[3])
    t_emb = unet.get_time_embed(sample=sample, timestep=timestep)
    return unet.time_embedding(t_emb, None)


def _block(block: Any, hidden: torch.Tensor, emb: torch.Tensor, text: torch.Tensor, **kw: Any):
    if getattr(block, "has_cross_attention", False):
        return block(hidden_states=hidden, temb=emb, encoder_hidden_states=text, **kw)
    return block(hidden_states=hidden, temb=emb, **kw)


def _head(unet: Any, hidden: torch.Tensor) -> torch.Tensor:
    if unet.conv_norm_out is not None:
        hidden = unet.conv_act(unet.conv_norm_out(hidden))
    return unet.conv_out(hidden)


def full_step(unet: Any, sample: torch.Tensor, timestep: Any, text: torch.Tensor):
    """The whole UNet, as ``UNet2DConditionModel.forward`` computes it for SD 1/2 inpainting;
    returns (noise prediction, the deep feature to cache)."""
    emb = _embedding(unet, sample, timestep)
    hidden = unet.conv_in(sample)
    skips: tuple[torch.Tensor, ...] = (hidden,)
    for block in unet.down_blocks:
        hidden, res = _block(block, hidden, emb, text)
        skips += res
    if unet.mid_block is not None:
        if getattr(unet.mid_block, "has_cross_attention", False):
            hidden = unet.mid_block(hidden, emb, encoder_hidden_states=text)
        else:
            hidden = unet.mid_block(hidden, emb)
    deep = hidden
    last = len(unet.up_blocks) - 1
    for i, block in enumerate(unet.up_blocks):
        n = len(block.resnets)
        res, skips = skips[-n:], skips[:-n]
        if i == last:
            deep = hidden
        size = skips[-1].shape[2:] if i != last and skips else None
        hidden = _block(block, hidden, emb, text, res_hidden_states_tuple=res, upsample_size=size)
    return _head(unet, hidden), deep


def shallow_step(
    unet: Any, sample: torch.Tensor, timestep: Any, text: torch.Tensor, deep: torch.Tensor
) -> torch.Tensor:
    """A shallow step: the first down block's layers, then the last up block on ``deep``."""
    emb = _embedding(unet, sample, timestep)
    hidden = unet.conv_in(sample)
    skips: tuple[torch.Tensor, ...] = (hidden,)
    first = unet.down_blocks[0]
    attentions = getattr(first, "attentions", None) or [None] * len(first.resnets)
    for resnet, attention in zip(first.resnets, attentions, strict=True):
        hidden = resnet(hidden, emb)
        if attention is not None:
            hidden = attention(hidden, encoder_hidden_states=text, return_dict=False)[0]
        skips += (hidden,)
    block = unet.up_blocks[-1]
    res = skips[-len(block.resnets) :]
    hidden = _block(block, deep, emb, text, res_hidden_states_tuple=res)
    return _head(unet, hidden)


class DeepCacheUNet(torch.nn.Module):
    """The UNet with deep-feature reuse: call it as the UNet (``return_dict=False``). Step 0 of
    each keyframe, and every ``interval``-th after it, is a full step; :meth:`reset` starts a
    keyframe."""

    def __init__(self, unet: Any, interval: int):
        super().__init__()
        check_unet(unet)
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 2:
            raise InputError("deepcache", interval, "a cache interval >= 2 (1 would be no reuse)")
        self.unet = unet
        self.interval = interval
        self.step = 0
        self.full_steps = 0
        self._deep: torch.Tensor | None = None

    @property
    def dtype(self) -> torch.dtype:
        return self.unet.dtype

    @property
    def config(self) -> Any:
        return self.unet.config

    def reset(self) -> None:
        self.step = 0
        self._deep = None

    def forward(self, sample, timestep, encoder_hidden_states, return_dict: bool = False):
        full = self._deep is None or self.step % self.interval == 0
        self.step += 1
        if full:
            out, self._deep = full_step(self.unet, sample, timestep, encoder_hidden_states)
            self.full_steps += 1
        else:
            out = shallow_step(self.unet, sample, timestep, encoder_hidden_states, self._deep)
        return (out,)


class ShallowUNet(torch.nn.Module):
    """What one shallow step computes, as a module to trace (``forward(sample, timestep,
    encoder_hidden_states, deep)``)."""

    def __init__(self, unet: Any):
        super().__init__()
        check_unet(unet)
        self.unet = unet

    def forward(self, sample, timestep, encoder_hidden_states, deep):
        return shallow_step(self.unet, sample, timestep, encoder_hidden_states, deep)


def deep_feature_shape(unet: Any, batch: int, latent: int) -> tuple[int, ...]:
    """The shape of the cached deep feature: the last up block's input."""
    channels = unet.up_blocks[-1].resnets[0].conv1.in_channels
    skip = unet.config.block_out_channels[0]
    return (batch, channels - skip, latent, latent)


def full_steps(steps: int, interval: int) -> int:
    """Full UNet steps of a keyframe of ``steps`` steps: steps 0, interval, 2 x interval, ..."""
    return -(-steps // interval)
