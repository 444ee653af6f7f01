"""SD2 inpainting with optimization levers applied: the lean keyframe path of
:class:`~zoomwatt.pipeline.backends.sd2_fast.SD2FastInpainter` (the unmodified baseline when no
lever is given) with the model switches of :mod:`.levers` applied to its models.

The run levers (``no-cfg``, ``steps``, ``resolution``, ``every``) are settings of the zoom
(:func:`~zoomwatt.pipeline.backends.levers.run_settings`); ``scheduler`` swaps the scheduler
here. Model switches: ``taesd`` (encoder and decoder; random TAESD weights with
``taesd="random"``), ``int8-dynamic``, ``int8-weight``, ``deepcache``, ``tome``, ``bf16``/``fp16``
(the pipeline in that dtype), ``compile`` (Inductor), ``tensorrt``, ``openvino`` (the UNet and
the encode and decode stages, TAESD's too when ``taesd`` is on, run by OpenVINO's CPU plugin in
fp32: :mod:`.openvino_stage`; ``nncf-int8`` the same with NNCF's int8 weights; it excludes the
levers of :data:`~zoomwatt.pipeline.backends.levers.EXCLUSIVE`, refused with the others up front).
The process setting ``retain-memory`` is set when the models are prepared (the first keyframe)
and set back by :meth:`LeverInpainter.close`: the allocator keeps freed memory for the whole
zoom (pipeline/allocator.py).

A given ``pipeline`` is shared, not changed: the switches work on a shallow copy of it (its own
scheduler and UNet reference), and a model they rewrite (int8) is a copy, kept in ``shared`` so
that several inpainters on one pipeline (the interleaved lever measurement) quantize once.
Token merging patches the UNet's blocks in place, so it is applied around each keyframe and
removed after it. OpenVINO traces the models and shares their weights read-only; its converted
UNet is kept in ``shared`` too (one conversion per input shape for all inpainters), the encode
and decode stages (methods of each inpainter) are converted per inpainter.
"""

from __future__ import annotations

import copy
import logging
from contextlib import contextmanager
from typing import Any

from zoomwatt.errors import InputError
from zoomwatt.pipeline.allocator import own_mappings
from zoomwatt.pipeline.backends.levers import (
    OPENVINO_LEVERS,
    SCHEDULERS,
    Lever,
    WeightOnlyInt8Linear,
    check_together,
    lever_value,
    quantize_dynamic_int8,
    unavailable_reason,
)
from zoomwatt.pipeline.backends.sd2 import DEFAULT_MODEL_ID
from zoomwatt.pipeline.backends.sd2_fast import FastOptions, SD2FastInpainter

log = logging.getLogger(__name__)

MODEL_LEVERS = (
    "scheduler",
    "taesd",
    "int8-dynamic",
    "int8-weight",
    "deepcache",
    "tome",
    "bf16",
    "fp16",
    "compile",
    "tensorrt",
    *OPENVINO_LEVERS,
)


def lever_dtype(levers: tuple[Lever, ...], dtype: str | None) -> str | None:
    if lever_value(levers, "bf16"):
        return "bf16"
    if lever_value(levers, "fp16"):
        return "fp16"
    return dtype


class LeverInpainter(SD2FastInpainter):
    """The lean SD2 keyframe path with ``levers`` applied (see module doc). Other options as
    :class:`SD2FastInpainter`; ``taesd``: a TAESD folder, repo id, module, or ``"random"``."""

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
        levers: tuple[Lever, ...] = (),
        taesd: Any = None,
        shared: dict[str, Any] | None = None,
    ):
        # 1. inputs: the levers, that can go together, each runnable here
        levers = tuple(levers)
        for lv in levers:
            if not isinstance(lv, Lever):
                raise InputError("levers", lv, "Lever objects (zoomwatt.pipeline.backends.levers)")
        check_together(levers)
        for lv in levers:
            reason = unavailable_reason(lv, device or "cpu")
            if reason is not None:
                raise InputError("levers", lv.text(), "a lever this machine can run", reason)
        names = {lv.name for lv in levers}
        if taesd == "random" and "taesd" in names:
            from zoomwatt.archs.random_pipeline import build_random_taesd

            taesd = build_random_taesd(seed=0)
        fast = FastOptions(
            compile="default" if "compile" in names else "none",
            encoder="taesd" if "taesd" in names else "vae",
            decoder="taesd" if "taesd" in names else "vae",
        )
        super().__init__(
            model,
            steps,
            guidance,
            scheduler,
            device,
            lever_dtype(levers, dtype),
            allow_download,
            pipeline=pipeline,
            fast=fast,
            taesd=taesd,
        )
        for name in OPENVINO_LEVERS:
            if lever_value(levers, name) and self.dtype != "fp32":
                raise InputError("dtype", self.dtype, f"fp32 with the {name} lever (it runs fp32)")
        if lever_value(levers, "int8-dynamic") and self.dtype != "fp32":
            raise InputError(
                "dtype", self.dtype, "fp32 with the int8-dynamic lever (it quantizes fp32 inputs)"
            )
        self.levers = levers
        self._shared = {} if shared is None else shared
        self._retained = False  # retain-memory set by this inpainter (and to be set back)

    def fingerprint(self) -> dict[str, Any]:
        return {**super().fingerprint(), "levers": [lv.text() for lv in self.levers]}

    def _load(self):
        from contextlib import nullcontext

        from zoomwatt.archs.build import TORCH_DTYPES

        given = self._given_pipe
        # a dtype change (or the channels-last layout that comes with a 16-bit dtype on a CPU)
        # would cast a given pipeline's models in place: a deep copy then, made with its blocks
        # mapped on their own, so that the copy's fp32 temporaries go back to the OS instead of
        # serving later configurations' fresh buffers from the heap (pipeline/allocator.py)
        copying = given is not None and TORCH_DTYPES[self.dtype] != given.unet.dtype
        with own_mappings() if copying else nullcontext():
            if given is not None:  # work on a copy: the caller's pipeline stays as it is
                self._given_pipe = copy.copy(copy.deepcopy(given) if copying else given)
            pipe = super()._load()
        name = lever_value(self.levers, "scheduler")
        if name is not None:
            import diffusers

            pipe.scheduler = getattr(diffusers, SCHEDULERS[name]).from_config(pipe.scheduler.config)
        return pipe

    def _prepare(self) -> None:
        if self._prepared:
            return
        if lever_value(self.levers, "retain-memory") and not self._retained:
            from zoomwatt.pipeline.allocator import retain_freed_memory

            self._retained = retain_freed_memory().applied
        super()._prepare()
        unet = self._unet
        if lever_value(self.levers, "int8-dynamic"):
            unet = self._shared_copy("int8-dynamic", unet, quantize_dynamic_int8)
        if lever_value(self.levers, "int8-weight"):
            unet = self._shared_copy("int8-weight", unet, WeightOnlyInt8Linear.convert)
        self._tome_unet = unet
        interval = lever_value(self.levers, "deepcache")
        if interval:
            from zoomwatt.pipeline.backends.deepcache import DeepCacheUNet

            unet = DeepCacheUNet(unet, interval)
        if lever_value(self.levers, "tensorrt"):
            import torch

            unet = torch.compile(unet, backend="torch_tensorrt", dynamic=False)
        for name, weights in OPENVINO_LEVERS.items():  # at most one: they exclude each other
            if lever_value(self.levers, name):
                unet = self._openvino_stages(unet, weights)
        self._unet = unet

    def close(self) -> None:
        if self._retained:
            from zoomwatt.pipeline.allocator import release_freed_memory

            release_freed_memory()
            self._retained = False
        super().close()

    def _openvino_stages(self, unet: Any, weights: str) -> Any:
        """The UNet (shared, see module doc) and this inpainter's encode and decode stages as
        OpenVINO stages with ``weights`` (fp32, or int8 by NNCF); each converts on its first
        call of a shape."""
        from zoomwatt.pipeline.backends.openvino_stage import OpenVINOStage, OpenVINOUNet

        key = ("openvino", weights, id(unet))
        if key not in self._shared:
            self._shared[key] = OpenVINOUNet(unet, weights=weights)
        modules = (self.pipe.vae, self._tiny)  # what the stages compute with
        self._encode_stage = OpenVINOStage(
            self._encode_images, "encode stage", modules, weights=weights
        )
        self._decode_stage = OpenVINOStage(
            self._decode_latents, "decode stage", modules, weights=weights
        )
        return self._shared[key]

    def _shared_copy(self, key: str, unet: Any, make: Any) -> Any:
        """The rewritten UNet, made once per source UNet for every inpainter sharing ``shared``."""
        full = (key, id(unet))
        if full not in self._shared:
            log.info("levers: %s of the UNet", key)
            with own_mappings():  # the copy's replaced weights go back to the OS (_load)
                self._shared[full] = make(unet)
        return self._shared[full]

    def _denoise(self, latents, small_mask, masked_latents, embeds, extra_step_kwargs):
        reset = getattr(self._unet, "reset", None)
        if reset is not None:
            reset()  # DeepCache: every keyframe starts with a full step
        with self._token_merging():
            return super()._denoise(latents, small_mask, masked_latents, embeds, extra_step_kwargs)

    @contextmanager
    def _token_merging(self):
        ratio = lever_value(self.levers, "tome")
        if not ratio:
            yield
            return
        import tomesd

        tomesd.apply_patch(self._tome_unet, ratio=ratio)
        try:
            yield
        finally:
            tomesd.remove_patch(self._tome_unet)
