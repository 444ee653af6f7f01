"""The fast path for Stable Diffusion 2 inpainting: one keyframe with nothing wasted.

:class:`SD2FastInpainter` computes the same keyframe as diffusers'
``StableDiffusionInpaintPipeline`` (same noise from the same seed, same order of random draws,
same scheduler, same guidance arithmetic), through a lean keyframe function instead of the
pipeline's ``__call__``:

- the prompt is encoded once and the [negative, positive] batch is kept ready;
- the picture and the mask go to the device as uint8 and are normalised there; the result comes
  back as one uint8 array (no PIL, no float arrays on the host);
- the loop never waits for the device: the UNet gets timesteps already on the device and the
  scheduler gets them on the host, so the host can queue all steps ahead;
- per-stage times come from device events, read after the one synchronisation at the end.

On top of that lean baseline, each optimisation is an opt-in switch of :class:`FastOptions`,
measured against it by ``benchmarks/sd2_keyframe.py``:

- ``channels_last``: NHWC memory format for the UNet and the autoencoders' convolutions;
- ``fuse_qkv``: one matrix product for attention's query, key and value
  (``fuse_qkv_projections``);
- ``compile``: ``torch.compile`` of the UNet and of the encode and decode stages (pre- and
  post-processing fused in), in the given Inductor mode;
- ``cuda_graph``: the whole keyframe (encode, every denoising step, decode) captured once as a
  CUDA graph and replayed: one launch per keyframe instead of thousands (CUDA only; the
  scheduler's per-step coefficients are baked in, which is exact because every keyframe uses the
  same timesteps);
- ``encoder``/``decoder`` ``"taesd"``: the tiny autoencoder in place of the KL autoencoder for
  that stage (a different model: the picture changes, so its quality must be judged on real
  weights).

Exact-arithmetic switches (all but TAESD) give the plain pipeline's picture within rounding; the
tests check it on a CPU, the benchmark on the GPU.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from zoomwatt.errors import InputError, ZoomwattError
from zoomwatt.pipeline.backends.base import InpaintOutput
from zoomwatt.pipeline.backends.model_files import check_autoencoder_tiny, load_error
from zoomwatt.pipeline.backends.sd2 import DEFAULT_MODEL_ID, SD2Inpainter, resolve_model
from zoomwatt.workload.conv_layout import channels_last_convs
from zoomwatt.workload.stages import INPAINT_TIMING as INPAINT
from zoomwatt.workload.stages import StageName

log = logging.getLogger(__name__)

DENOISE = StageName.UNET.timing_name
TEXT_ENCODE = StageName.TEXT_ENCODER.timing_name
VAE_DECODE = StageName.VAE_DECODER.timing_name
VAE_ENCODE = StageName.VAE_ENCODER.timing_name

# Inductor modes without CUDA graph trees: CUDA graphs come from ``cuda_graph`` (one graph for the
# whole keyframe), which cannot hold the per-function graphs of "reduce-overhead"/"max-autotune".
COMPILE_MODES = ("none", "default", "max-autotune-no-cudagraphs")
STOCHASTIC_SCHEDULERS = ("euler-a",)  # draw noise at every step: not capturable as a graph
AUTOENCODERS = ("vae", "taesd")
TAESD_MODEL_ID = "madebyollin/taesd"


@dataclass(frozen=True)
class FastOptions:
    """Opt-in switches over the lean keyframe path; all off is the lean baseline."""

    channels_last: bool = False
    fuse_qkv: bool = False
    compile: str = "none"  # one of COMPILE_MODES
    cuda_graph: bool = False
    encoder: str = "vae"  # vae (the KL autoencoder) or taesd
    decoder: str = "vae"

    def check(self) -> None:
        if self.compile not in COMPILE_MODES:
            raise InputError("compile", self.compile, f"one of {', '.join(COMPILE_MODES)}")
        for name in ("encoder", "decoder"):
            value = getattr(self, name)
            if value not in AUTOENCODERS:
                raise InputError(name, value, f"one of {', '.join(AUTOENCODERS)}")

    @property
    def uses_taesd(self) -> bool:
        return "taesd" in (self.encoder, self.decoder)

    @classmethod
    def recommended(cls, device: str) -> FastOptions:
        """The switches ``--realtime`` uses. On a CPU only the lean loop: measured there
        (benchmarks/results/sd2_keyframe.md), compilation costs tens of seconds and returns a
        few percent. On CUDA every exact switch (channels-last, fused QKV, Inductor, one CUDA
        graph per keyframe): the standard recipe for diffusion UNets on Hopper, NOT yet
        measured by this project (no GPU was lent when it was written; the benchmark and the
        GPU-marked test are ready to confirm or change it)."""
        if str(device).startswith("cuda"):
            return cls(channels_last=True, fuse_qkv=True, compile="default", cuda_graph=True)
        return cls()

    def label(self) -> str:
        parts = [
            name for name in ("channels_last", "fuse_qkv", "cuda_graph") if getattr(self, name)
        ]
        if self.compile != "none":
            parts.append(f"compile={self.compile}")
        parts += [
            f"{name}=taesd" for name in ("encoder", "decoder") if getattr(self, name) != "vae"
        ]
        return "+".join(parts) or "lean"


class SD2FastInpainter(SD2Inpainter):
    """SD2 inpainting through the lean keyframe path with :class:`FastOptions` switches.

    Same options as :class:`SD2Inpainter`, plus ``fast`` (the switches) and ``taesd`` (a TAESD
    folder or repo id in the local cache, or an ``AutoencoderTiny`` module, used when a switch
    asks for it)."""

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
        fast: FastOptions | None = None,
        taesd: Any = None,
    ):
        # 1. Check inputs.
        fast = fast or FastOptions()
        if not isinstance(fast, FastOptions):
            raise InputError("fast", fast, "FastOptions switches, or None for the lean path")
        fast.check()
        if fast.uses_taesd and taesd is None:
            taesd = TAESD_MODEL_ID
        taesd_folder = None
        if fast.uses_taesd and isinstance(taesd, str):
            taesd_folder = resolve_taesd(taesd, allow_download)
        super().__init__(
            model, steps, guidance, scheduler, device, dtype, allow_download, pipeline=pipeline
        )
        if fast.cuda_graph and not self.device.startswith("cuda"):
            raise InputError("cuda_graph", True, "a CUDA device (CUDA graphs exist only there)")
        if fast.cuda_graph and scheduler in STOCHASTIC_SCHEDULERS:
            raise InputError(
                "scheduler",
                scheduler,
                "a scheduler that draws no noise per step with cuda_graph (pndm, ddim, euler, ...)",
            )
        self.fast = fast
        self._taesd = taesd
        self._taesd_folder = taesd_folder
        self._prepared = False
        self._graphs: dict[tuple[int, int], _KeyframeGraph] = {}
        self._batch_embeds: dict[tuple[str, str], Any] = {}
        self._timesteps: dict[str, Any] = {}

    def fingerprint(self) -> dict[str, Any]:
        return {**super().fingerprint(), "fast": asdict(self.fast)}

    # --- preparing the models --------------------------------------------------------------

    def _instrument(self, pipe) -> None:
        """No wrapped methods (they would synchronise): stages are timed with device events."""

    def _prepare(self) -> None:
        """Apply the switches to the loaded models, once."""
        if self._prepared:
            return
        import torch

        pipe = self.pipe
        dtype = pipe.unet.dtype
        self._tiny = None
        if self.fast.uses_taesd:
            self._tiny = self._load_taesd().to(device=self.device, dtype=dtype)
        if self.fast.fuse_qkv:
            pipe.unet.fuse_qkv_projections()
            if self.fast.encoder == "vae" or self.fast.decoder == "vae":
                pipe.vae.fuse_qkv_projections()
        if self.fast.channels_last or channels_last_convs(self.device, self.dtype):
            for module in (pipe.unet, pipe.vae, self._tiny):
                if module is not None:
                    module.to(memory_format=torch.channels_last)
        self._unet = pipe.unet
        self._encode_stage = self._encode_images
        self._decode_stage = self._decode_latents
        if self.fast.compile != "none":
            if self.device.startswith("cuda"):
                torch._inductor.config.conv_1x1_as_mm = True
            mode = self.fast.compile
            self._unet = torch.compile(pipe.unet, mode=mode, dynamic=False)
            self._encode_stage = torch.compile(self._encode_images, mode=mode, dynamic=False)
            self._decode_stage = torch.compile(self._decode_latents, mode=mode, dynamic=False)
        self._prepared = True
        log.info("sd2 fast path: %s on %s", self.fast.label(), self.device)

    def _load_taesd(self):
        if not isinstance(self._taesd, str):
            return self._taesd  # a module given by the caller
        from diffusers import AutoencoderTiny

        try:
            return AutoencoderTiny.from_pretrained(
                self._taesd_folder, use_safetensors=True, local_files_only=True
            )
        except ZoomwattError:
            raise
        except Exception as exc:  # the library's errors, translated where they enter
            error = load_error(self._taesd, self._taesd_folder, exc)
            raise InputError(
                "taesd", self._taesd, "AutoencoderTiny weights diffusers can load", error.hint
            ) from exc

    # --- the keyframe ----------------------------------------------------------------------

    def _batch_embeddings(self, prompt: str, negative_prompt: str):
        """The UNet's text batch, [negative, positive] with guidance, made once per prompt."""
        key = (prompt, negative_prompt)
        if key not in self._batch_embeds:
            import torch

            positive, negative = self._prompt_embeds(prompt, negative_prompt)
            batch = torch.cat([negative, positive]) if self.uses_cfg else positive
            self._batch_embeds = {key: batch.contiguous()}
        return self._batch_embeds[key]

    def _gpu_timesteps(self):
        """The scheduler's timesteps: on the host for the scheduler, on the device for the
        UNet, made once for the step count."""
        scheduler = self.pipe.scheduler
        scheduler.set_timesteps(self.steps, device="cpu")
        key = f"{self.steps}"
        if key not in self._timesteps:
            host = scheduler.timesteps.clone()
            self._timesteps = {key: (host, host.to(self.device))}
        return self._timesteps[key]

    def _draw_noise(self, seed: int, height: int, width: int, dtype):
        """The pipeline's random draws in its order, from a CPU generator: the initial latents,
        then (KL encoder only) the posterior sample of the masked picture's latents."""
        import torch
        from diffusers.utils.torch_utils import randn_tensor

        generator = torch.Generator("cpu").manual_seed(int(seed))
        shape = (1, self.pipe.vae.config.latent_channels, height // 8, width // 8)
        cpu = torch.device("cpu")
        noise = randn_tensor(shape, generator=generator, device=cpu, dtype=dtype)
        if self.fast.encoder == "vae":
            eps = randn_tensor(shape, generator=generator, device=cpu, dtype=dtype)
        else:  # TAESD's encoder is deterministic: no draw, as in the pipeline
            eps = torch.zeros(shape, dtype=dtype)
        return noise, eps, generator

    def _encode_images(self, image, mask, eps):
        """uint8 (H, W, 3) picture and (H, W) mask on the device -> the UNet's mask and
        masked-picture latents (batch doubled with guidance), as the pipeline makes them."""
        import torch
        import torch.nn.functional as F

        pipe = self.pipe
        dtype = pipe.unet.dtype
        height, width = mask.shape
        # (1, H, W, 3) -> (1, 3, H, W) as a view, with the strides diffusers' image processor
        # gives (numpy's transpose of a batch): the layout decides which convolution kernel
        # oneDNN picks, and with it the last bits of the encoder's output.
        picture = image[None].permute(0, 3, 1, 2).float() / 255.0 * 2.0 - 1.0
        condition = (mask.float() / 255.0 >= 0.5).float()[None, None]
        masked = (picture * (condition < 0.5)).to(dtype)
        if self.fast.channels_last:
            masked = masked.contiguous(memory_format=torch.channels_last)
        if self.fast.encoder == "taesd":
            latents = self._tiny.encode(masked).latents * self._tiny.config.scaling_factor
        else:
            posterior = pipe.vae.encode(masked).latent_dist
            sample = posterior.mean + posterior.std * eps
            latents = pipe.vae.config.scaling_factor * sample
        small = F.interpolate(condition, size=(height // 8, width // 8)).to(dtype)
        if self.uses_cfg:
            small, latents = torch.cat([small] * 2), torch.cat([latents] * 2)
        return small.contiguous(), latents.to(dtype).contiguous()

    def _decode_latents(self, latents):
        """Latents -> uint8 (H, W, 3) on the device, rounded as the pipeline's ``np`` output and
        :class:`SD2Inpainter` round it (denormalised in the model's dtype, then float32)."""
        import torch

        if self.fast.channels_last:
            latents = latents.contiguous(memory_format=torch.channels_last)
        if self.fast.decoder == "taesd":
            decoded = self._tiny.decode(latents / self._tiny.config.scaling_factor).sample
        else:
            decoded = self.pipe.vae.decode(latents / self.pipe.vae.config.scaling_factor).sample
        picture = (decoded / 2 + 0.5).clamp(0, 1)
        return torch.round(picture[0].permute(1, 2, 0).float() * 255.0).to(torch.uint8)

    def _denoise(self, latents, small_mask, masked_latents, embeds, extra_step_kwargs):
        """Every denoising step, never waiting for the device."""
        import torch

        scheduler, unet = self.pipe.scheduler, self._unet
        host_t, device_t = self._gpu_timesteps()
        latents = latents * scheduler.init_noise_sigma
        for i in range(len(host_t)):
            t = host_t[i]
            model_input = torch.cat([latents] * 2) if self.uses_cfg else latents
            model_input = scheduler.scale_model_input(model_input, t)
            model_input = torch.cat([model_input, small_mask, masked_latents], dim=1)
            if self.fast.channels_last:
                model_input = model_input.contiguous(memory_format=torch.channels_last)
            noise_pred = unet(
                model_input, device_t[i], encoder_hidden_states=embeds, return_dict=False
            )[0]
            if self.uses_cfg:
                uncond, text = noise_pred.chunk(2)
                noise_pred = uncond + self.guidance * (text - uncond)
            latents = scheduler.step(
                noise_pred, t, latents, **extra_step_kwargs, return_dict=False
            )[0]
        return latents

    def _keyframe_on_device(self, image, mask, noise, eps, embeds, extra_step_kwargs, events=None):
        """The whole keyframe on device tensors; ``events`` (four device events) time the
        stages."""
        if events:
            events[0].record()
        small_mask, masked_latents = self._encode_stage(image, mask, eps)
        if events:
            events[1].record()
        latents = self._denoise(noise, small_mask, masked_latents, embeds, extra_step_kwargs)
        if events:
            events[2].record()
        picture = self._decode_stage(latents)
        if events:
            events[3].record()
        return picture

    def inpaint(
        self, image: np.ndarray, mask: np.ndarray, prompt: str, negative_prompt: str, seed: int
    ) -> InpaintOutput:
        import torch

        # 1. Check inputs.
        height, width = mask.shape
        if image.shape != (height, width, 3) or image.dtype != np.uint8 or mask.dtype != np.uint8:
            raise InputError(
                "image",
                f"{image.dtype} {image.shape} with mask {mask.dtype} {mask.shape}",
                "uint8 (H, W, 3) with a uint8 (H, W) mask",
            )
        if height % 8 or width % 8:
            raise InputError("size", f"{width}x{height}", "multiples of 8")

        # 2. Prepare the models and the prompt's embeddings (once).
        self._stage_s = {}
        self._prepare()
        embeds = self._batch_embeddings(prompt, negative_prompt)
        dtype = self.pipe.unet.dtype

        # 3. Draw the noise on the host, as the pipeline does.
        with torch.inference_mode():
            noise, eps, generator = self._draw_noise(seed, height, width, dtype)
            extra = self.pipe.prepare_extra_step_kwargs(generator, 0.0)
            started = time.perf_counter()
            if self.fast.cuda_graph:
                picture = self._graph(height, width).run(image, mask, noise, eps, embeds, extra)
                stage_s = {INPAINT: time.perf_counter() - started}
            else:
                picture, stage_s = self._run_eager(image, mask, noise, eps, embeds, extra)
        if TEXT_ENCODE in self._stage_s:
            stage_s[TEXT_ENCODE] = self._stage_s[TEXT_ENCODE]
        return InpaintOutput(picture, stage_s)

    def _run_eager(self, image, mask, noise, eps, embeds, extra):
        import torch

        device = torch.device(self.device)
        on_cuda = device.type == "cuda"
        started = time.perf_counter()
        image_d = torch.from_numpy(np.ascontiguousarray(image)).to(device)
        mask_d = torch.from_numpy(np.ascontiguousarray(mask)).to(device)
        noise_d, eps_d = noise.to(device), eps.to(device)
        events = [torch.cuda.Event(enable_timing=True) for _ in range(4)] if on_cuda else None
        if on_cuda:
            picture = self._keyframe_on_device(
                image_d, mask_d, noise_d, eps_d, embeds, extra, events
            ).cpu()
            upload_s = 0.0
            encode_s = events[0].elapsed_time(events[1]) / 1e3
            denoise_s = events[1].elapsed_time(events[2]) / 1e3
            decode_s = events[2].elapsed_time(events[3]) / 1e3
        else:  # a CPU runs in order: host clocks time the stages
            upload_s = time.perf_counter() - started
            marks = [time.perf_counter()]
            small_mask, masked_latents = self._encode_stage(image_d, mask_d, eps_d)
            marks.append(time.perf_counter())
            latents = self._denoise(noise_d, small_mask, masked_latents, embeds, extra)
            marks.append(time.perf_counter())
            picture = self._decode_stage(latents)
            marks.append(time.perf_counter())
            encode_s, denoise_s, decode_s = np.diff(marks).tolist()
        total = time.perf_counter() - started
        # What the stages leave over (uploads, the copy back) is counted with the encode.
        rest = max(0.0, total - encode_s - denoise_s - decode_s - upload_s)
        stage_s = {
            VAE_ENCODE: encode_s + upload_s + rest,
            DENOISE: denoise_s,
            VAE_DECODE: decode_s,
        }
        return picture.numpy(), stage_s

    def _graph(self, height: int, width: int) -> _KeyframeGraph:
        if (height, width) not in self._graphs:
            self._graphs[(height, width)] = _KeyframeGraph(self, height, width)
        return self._graphs[(height, width)]

    def warmup(self, height: int, width: int, prompt: str, negative_prompt: str = "") -> float:
        """Compile and capture for this size before the first real keyframe (which otherwise
        pays for it); returns the seconds it took."""
        started = time.perf_counter()
        image = np.full((height, width, 3), 127, dtype=np.uint8)
        mask = np.zeros((height, width), dtype=np.uint8)
        mask[: height // 4] = 255
        runs = 1 if self.fast.cuda_graph else (3 if self.fast.compile != "none" else 1)
        for _ in range(runs):
            self.inpaint(image, mask, prompt, negative_prompt, seed=0)
        seconds = time.perf_counter() - started
        log.info("sd2 fast path warmed up for %dx%d in %.1f s", width, height, seconds)
        return seconds

    def close(self) -> None:
        self._graphs = {}
        self._batch_embeds = {}
        self._timesteps = {}
        self._unet = None
        self._tiny = None
        self._prepared = False
        super().close()


class _KeyframeGraph:
    """The whole keyframe captured as one CUDA graph for one size, over static buffers.

    Inputs are copied into the buffers, the graph is replayed, the picture is copied out. The
    prompt's embeddings are an input too, so a prompt change needs no new capture."""

    def __init__(self, owner: SD2FastInpainter, height: int, width: int):
        import torch

        self.owner = owner
        device = torch.device(owner.device)
        dtype = owner.pipe.unet.dtype
        latent = (1, owner.pipe.vae.config.latent_channels, height // 8, width // 8)
        self.image = torch.zeros((height, width, 3), dtype=torch.uint8, device=device)
        self.mask = torch.zeros((height, width), dtype=torch.uint8, device=device)
        self.noise = torch.zeros(latent, dtype=dtype, device=device)
        self.eps = torch.zeros(latent, dtype=dtype, device=device)
        self.embeds = None
        self.graph = None
        self.output = None
        self.host = torch.empty((height, width, 3), dtype=torch.uint8).pin_memory()

    def _capture(self, extra) -> None:
        import torch

        owner = self.owner
        started = time.perf_counter()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):  # warm-up: compilation, cuBLAS/cuDNN handles, autotuning
                owner._keyframe_on_device(
                    self.image, self.mask, self.noise, self.eps, self.embeds, extra
                )
        torch.cuda.current_stream().wait_stream(stream)
        torch.cuda.synchronize()
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.output = owner._keyframe_on_device(
                self.image, self.mask, self.noise, self.eps, self.embeds, extra
            )
        torch.cuda.synchronize()
        log.info("captured the keyframe as a CUDA graph in %.1f s", time.perf_counter() - started)

    def run(self, image, mask, noise, eps, embeds, extra) -> np.ndarray:
        import torch

        self.image.copy_(torch.from_numpy(np.ascontiguousarray(image)))
        self.mask.copy_(torch.from_numpy(np.ascontiguousarray(mask)))
        self.noise.copy_(noise)
        self.eps.copy_(eps)
        if self.embeds is None:
            self.embeds = embeds.clone()
        else:
            self.embeds.copy_(embeds)
        if self.graph is None:
            self._capture(extra)
        self.graph.replay()
        self.host.copy_(self.output)  # waits for the replay
        return self.host.numpy().copy()


def resolve_taesd(model: str, allow_download: bool = False):
    """A local folder of TAESD weights (safetensors) for ``model`` (a folder or a repo id in the
    local Hugging Face cache); raises WeightsNotFoundError naming where it looked."""
    from pathlib import Path

    from zoomwatt.errors import WeightsNotFoundError, shorten

    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file() or not any(path.glob("*.safetensors")):
            raise WeightsNotFoundError(
                f"taesd={shorten(model)}: expected a folder with config.json and .safetensors "
                f"weights of AutoencoderTiny"
            )
        check_autoencoder_tiny(path, model)
        return path
    try:
        from huggingface_hub import snapshot_download

        folder = Path(
            snapshot_download(
                model,
                allow_patterns=["*.json", "*.safetensors"],
                local_files_only=not allow_download,
            )
        )
    except Exception as exc:
        raise WeightsNotFoundError(
            f"taesd={shorten(model)}: no local TAESD weights ({shorten(str(exc), 120)}). Get "
            f"them with `hf download {TAESD_MODEL_ID} --include '*.json' '*.safetensors'` or "
            f"pass --allow-download."
        ) from exc
    check_autoencoder_tiny(folder, model)
    return folder


__all__ = ["COMPILE_MODES", "FastOptions", "SD2FastInpainter", "resolve_model"]
