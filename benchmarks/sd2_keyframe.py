"""How fast is one SD2 inpainting keyframe, plain diffusers against zoomwatt's fast path?

One keyframe of the zoom = VAE encode + STEPS UNet calls (batch 2 with classifier-free guidance)
+ VAE decode + paste-back of the previous keyframe's exact pixels. For each configuration, in
one process and on the same inputs and seed, this prints: keyframe latency (median of the
repeats after warm-up), output fps at 1-in-5 and 1-in-30 sampling, GPU energy per keyframe and
per output frame (NVML's energy counter, CUDA only), peak GPU memory, the ratio to plain
diffusers, and how far its picture is from plain diffusers' (max abs difference in grey levels,
PSNR).

Configurations (cumulative: each adds one switch to the one before, except ``lean_bf16``):

- ``diffusers``: ``StableDiffusionInpaintPipeline.__call__`` with default settings (prompt text,
  PIL in and out), fp16 on CUDA; the reference for the ratios;
- ``lean``: zoomwatt's lean keyframe path (prompt encoded once, uint8 in and out, a loop that
  never waits for the device), no other switch; ``lean_bf16`` the same in bf16 (on a CPU only
  where it computes bf16 natively, AVX512-BF16 or AMX; else skipped, saying why);
- ``channels_last``, ``fuse_qkv``: memory format, fused attention projections;
- ``cuda_graph``: the whole keyframe captured as one CUDA graph (eager kernels);
- ``compile``: ``torch.compile`` (Inductor, default mode) of the UNet and the VAE stages, no
  graph; ``compile_graph``: the compiled keyframe captured as one CUDA graph;
- ``taesd_decode``, ``taesd_both``: TAESD as decoder, then as encoder too (a different model:
  its picture differs by design);
- ``autotune_graph``: Inductor's max-autotune-no-cudagraphs mode with the graph (long compile).

The models are the full-size SD2 inpainting architecture with random weights
(:mod:`zoomwatt.archs.random_pipeline`): honest for speed, memory and energy, meaningless for
image quality. ``--tiny`` runs the tiny test pipeline instead (the code path, on a CPU).

    python benchmarks/sd2_keyframe.py                      # CUDA: full size, 512x512
    python benchmarks/sd2_keyframe.py --tiny --device cpu  # the code path on a CPU
    python benchmarks/sd2_keyframe.py --out DIR --record   # JSON lines to DIR and results/
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from device_info import describe

log = logging.getLogger("sd2_keyframe")

RESULTS = Path(__file__).resolve().parent / "results"
PROMPT = "a lighthouse on a cliff above a stormy sea, oil painting"
# FLOPs of one 512x512 keyframe (USE_CASE.md, meta-device counts): VAE encode 1.12 T, UNet at
# batch 2 1.61 T per step, VAE decode 2.51 T.
TFLOP_ENCODE, TFLOP_UNET_B2, TFLOP_DECODE = 1.12, 1.61, 2.51

ALL_CONFIGS = (
    "diffusers",
    "lean",
    "lean_bf16",
    "channels_last",
    "fuse_qkv",
    "cuda_graph",
    "compile",
    "compile_graph",
    "taesd_decode",
    "taesd_both",
    "autotune_graph",
)
# Seconds a configuration needs at least (compilation), to skip it when the budget is short.
MIN_SECONDS = {"compile": 150, "compile_graph": 60, "taesd_decode": 60, "taesd_both": 45}
MIN_SECONDS["autotune_graph"] = 300


@dataclass
class KeyframeRecord:
    """One configuration's figures (times in seconds, energy in joules, memory in GiB)."""

    config: str
    options: str
    dtype: str
    status: str = "ok"  # ok, skipped (reason in note), failed (error in note)
    note: str = ""
    first_call_s: float | None = None  # the first keyframe: compilation and capture included
    latency_s: float | None = None  # median keyframe, paste-back included
    latency_all_s: list[float] = field(default_factory=list)
    paste_s: float | None = None  # median of the paste-back alone (host)
    stage_s: dict[str, float] = field(default_factory=dict)  # of the last repeat
    fps_1in5: float | None = None  # output frames/s with one keyframe every 5 frames
    fps_1in30: float | None = None
    ratio_to_diffusers: float | None = None  # keyframe rate over plain diffusers'
    tflops_per_s: float | None = None  # 512x512 keyframe FLOPs over the latency
    energy_j: float | None = None  # GPU energy per keyframe (NVML)
    energy_per_frame_1in5_j: float | None = None
    energy_per_frame_1in30_j: float | None = None
    power_w: float | None = None  # mean GPU power over the timed repeats
    peak_memory_gib: float | None = None
    max_abs_diff: int | None = None  # vs diffusers' picture, grey levels
    mean_abs_diff: float | None = None
    psnr_db: float | None = None
    top_kernels: list[dict[str, Any]] = field(default_factory=list)


class Energy:
    """NVML's total-energy counter of GPU 0 (millijoules since the driver loaded), if any."""

    def __init__(self, enabled: bool):
        self.handle = None
        self.driver = None
        if not enabled:
            return
        try:
            import pynvml

            pynvml.nvmlInit()
            self.handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)
            self.driver = pynvml.nvmlSystemGetDriverVersion()
            if isinstance(self.driver, bytes):
                self.driver = self.driver.decode()
        except Exception as exc:  # no NVML, no counter on this GPU
            log.warning("no NVML energy counter: %s", exc)
            self.handle = None

    def joules(self) -> float | None:
        if self.handle is None:
            return None
        import pynvml

        return pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle) / 1e3


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def top_kernels(run_once, device: str, count: int = 12) -> list[dict[str, Any]]:
    """Device kernels of one keyframe, by total time (torch.profiler), with their share."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU]
    if device.startswith("cuda"):
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        run_once()
        sync(device)
    rows = []
    for event in prof.key_averages():
        device_us = getattr(event, "self_device_time_total", 0) or 0
        if device.startswith("cuda") and device_us <= 0:
            continue
        if not device.startswith("cuda"):
            device_us = event.self_cpu_time_total
        rows.append((event.key, device_us, event.count))
    total = sum(r[1] for r in rows) or 1.0
    rows.sort(key=lambda r: -r[1])
    del torch
    return [
        {"kernel": k[:120], "ms": round(us / 1e3, 3), "calls": n, "share": round(us / total, 4)}
        for k, us, n in rows[:count]
    ]


class Bench:
    def __init__(self, args: argparse.Namespace):
        import torch

        self.args = args
        self.device = args.device
        self.started = time.perf_counter()
        self.energy = Energy(self.device.startswith("cuda"))
        self.records: list[KeyframeRecord] = []
        self.reference: np.ndarray | None = None
        self.diffusers_latency: float | None = None
        self.dtype = "fp16" if self.device.startswith("cuda") else "fp32"
        self.tmp = tempfile.TemporaryDirectory(prefix="sd2-keyframe-")
        self.size = args.size
        from zoomwatt.pipeline.geometry import ZoomGeometry

        rng = np.random.default_rng(args.seed)
        self.previous = rng.integers(0, 256, (self.size, self.size, 3), dtype=np.uint8)
        self.geometry = ZoomGeometry.from_border(self.size, self.size, self.size // 4)
        self.canvas, self.mask = self.geometry.canvas(self.previous)
        self.pipe = self._build_pipe(self.dtype)
        torch._dynamo.config.cache_size_limit = 64

    # --- models ----------------------------------------------------------------------------

    def _build_pipe(self, dtype: str):
        if self.args.tiny:
            import torch
            from diffusers import StableDiffusionInpaintPipeline

            from zoomwatt.archs.tiny import write_tiny_sd2_inpaint

            folder = Path(self.tmp.name) / f"tiny-{dtype}"
            if not folder.exists():
                write_tiny_sd2_inpaint(folder, seed=self.args.seed)
            torch_dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
            pipe = StableDiffusionInpaintPipeline.from_pretrained(
                folder, dtype=torch_dtype[dtype], use_safetensors=True, local_files_only=True
            ).to(self.device)
            pipe.set_progress_bar_config(disable=True)
            return pipe
        from zoomwatt.archs.random_pipeline import build_random_sd2_inpaint

        return build_random_sd2_inpaint(device=self.device, dtype=dtype, seed=self.args.seed)

    def _taesd(self):
        if not hasattr(self, "_tiny_vae"):
            from zoomwatt.archs.random_pipeline import build_random_taesd

            self._tiny_vae = build_random_taesd(self.device, self.dtype, self.args.seed + 3)
        return self._tiny_vae

    def remaining_s(self) -> float:
        return self.args.time_budget_s - (time.perf_counter() - self.started)

    # --- measuring -------------------------------------------------------------------------

    def measure(self, record: KeyframeRecord, keyframe, profile: bool = False) -> None:
        """``keyframe()`` -> the inpainted uint8 picture; timed with the paste-back."""
        import torch

        on_cuda = self.device.startswith("cuda")
        if on_cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        picture = keyframe()
        sync(self.device)
        record.first_call_s = time.perf_counter() - started
        for _ in range(self.args.warmup - 1):
            keyframe()
        sync(self.device)
        latencies, pastes = [], []
        joules_before = self.energy.joules()
        timed_started = time.perf_counter()
        for _ in range(self.args.repeats):
            started = time.perf_counter()
            picture = keyframe()
            pasted = time.perf_counter()
            self.geometry.paste_back(picture, self.previous)
            done = time.perf_counter()
            latencies.append(done - started)
            pastes.append(done - pasted)
        sync(self.device)
        timed_s = time.perf_counter() - timed_started
        joules_after = self.energy.joules()
        record.latency_all_s = [round(v, 5) for v in latencies]
        record.latency_s = statistics.median(latencies)
        record.paste_s = statistics.median(pastes)
        record.fps_1in5 = 5 / record.latency_s
        record.fps_1in30 = 30 / record.latency_s
        if self.size == 512 and self.args.steps == 20 and not self.args.tiny:
            tflop = TFLOP_ENCODE + self.args.steps * TFLOP_UNET_B2 + TFLOP_DECODE
            record.tflops_per_s = tflop / record.latency_s
        if joules_before is not None and joules_after is not None:
            record.energy_j = (joules_after - joules_before) / self.args.repeats
            record.power_w = (joules_after - joules_before) / timed_s
            record.energy_per_frame_1in5_j = record.energy_j / 5
            record.energy_per_frame_1in30_j = record.energy_j / 30
        if on_cuda:
            record.peak_memory_gib = torch.cuda.max_memory_allocated() / 2**30
        if self.reference is None:
            self.reference = picture.copy()
            self.diffusers_latency = record.latency_s
        else:
            diff = np.abs(picture.astype(np.int16) - self.reference.astype(np.int16))
            record.max_abs_diff = int(diff.max())
            record.mean_abs_diff = float(diff.mean())
            record.psnr_db = psnr(picture, self.reference)
        if self.diffusers_latency:
            record.ratio_to_diffusers = self.diffusers_latency / record.latency_s
        if profile:
            record.top_kernels = top_kernels(keyframe, self.device)

    # --- configurations --------------------------------------------------------------------

    def run_diffusers(self, record: KeyframeRecord) -> None:
        import torch
        from PIL import Image

        pipe = self.pipe
        image, mask = Image.fromarray(self.canvas), Image.fromarray(self.mask)

        def keyframe():
            with torch.inference_mode():
                result = pipe(
                    prompt=PROMPT,
                    image=image,
                    mask_image=mask,
                    height=self.size,
                    width=self.size,
                    num_inference_steps=self.args.steps,
                    guidance_scale=self.args.guidance,
                    generator=torch.Generator("cpu").manual_seed(self.args.seed),
                )
            return np.asarray(result.images[0], dtype=np.uint8)

        self.measure(record, keyframe, profile=self.args.profile)

    def run_fast(self, record: KeyframeRecord, options, dtype: str, pipe=None, taesd=None):
        from zoomwatt.pipeline.backends.sd2_fast import SD2FastInpainter

        backend = SD2FastInpainter(
            steps=self.args.steps,
            guidance=self.args.guidance,
            device=self.device,
            dtype=dtype,
            pipeline=pipe or self.pipe,
            fast=options,
            taesd=taesd,
        )

        def keyframe():
            return backend.inpaint(self.canvas, self.mask, PROMPT, "", self.args.seed).image

        profile = self.args.profile and not options.cuda_graph
        self.measure(record, keyframe, profile=profile)
        record.stage_s = {
            k: round(v, 5)
            for k, v in backend.inpaint(self.canvas, self.mask, PROMPT, "", 1).stage_s.items()
        }
        backend._graphs = {}  # free the graph's memory pool before the next configuration

    def run(self, name: str) -> KeyframeRecord:
        from zoomwatt.pipeline.backends.sd2_fast import FastOptions

        base = {"channels_last": True, "fuse_qkv": True}
        options = {
            "lean": FastOptions(),
            "lean_bf16": FastOptions(),
            "channels_last": FastOptions(channels_last=True),
            "fuse_qkv": FastOptions(**base),
            "cuda_graph": FastOptions(**base, cuda_graph=True),
            "compile": FastOptions(**base, compile="default"),
            "compile_graph": FastOptions(**base, compile="default", cuda_graph=True),
            "taesd_decode": FastOptions(
                **base, compile="default", cuda_graph=True, decoder="taesd"
            ),
            "taesd_both": FastOptions(
                **base, compile="default", cuda_graph=True, decoder="taesd", encoder="taesd"
            ),
            "autotune_graph": FastOptions(
                **base, compile="max-autotune-no-cudagraphs", cuda_graph=True
            ),
        }
        on_cuda = self.device.startswith("cuda")
        dtype = "bf16" if name == "lean_bf16" else self.dtype
        label = "diffusers default" if name == "diffusers" else options[name].label()
        record = KeyframeRecord(config=name, options=label, dtype=dtype)
        if name == "lean_bf16" and not on_cuda:
            from zoomwatt.hardware.host_probe import native_cpu_dtype

            native, why_not = native_cpu_dtype("bf16")
            if not native:
                record.status, record.note = "skipped", why_not
                return record
        if name != "diffusers" and options[name].cuda_graph and not on_cuda:
            record.status, record.note = "skipped", "CUDA graphs need a CUDA device"
            return record
        if self.remaining_s() < MIN_SECONDS.get(name, 20):
            record.status = "skipped"
            record.note = f"time budget: {self.remaining_s():.0f} s left"
            return record
        started = time.perf_counter()
        try:
            if name == "diffusers":
                self.run_diffusers(record)
            elif name == "lean_bf16":
                pipe = self._build_pipe(dtype)  # bf16, beside the fp16/fp32 one
                self.run_fast(record, options[name], dtype, pipe=pipe)
                del pipe
            else:
                taesd = self._taesd() if options[name].uses_taesd else None
                self.run_fast(record, options[name], self.dtype, taesd=taesd)
        except Exception as exc:  # record and go on: one failed switch must not cost the rest
            log.exception("configuration %s failed", name)
            record.status, record.note = "failed", f"{type(exc).__name__}: {exc}"[:500]
        if on_cuda:
            import torch

            torch.cuda.empty_cache()
        log.info("%s done in %.1f s", name, time.perf_counter() - started)
        if "taesd" in name and record.status == "ok":
            record.note = "TAESD is another model: its picture differs by design"
        return record


def table(records: list[KeyframeRecord]) -> str:
    head = (
        f"{'config':<15}{'latency ms':>11}{'x diffusers':>12}{'fps 1/5':>9}{'fps 1/30':>9}"
        f"{'J/kf':>7}{'W':>6}{'GiB':>6}{'maxdiff':>8}{'PSNR':>7}  first s"
    )
    lines = [head]
    for r in records:
        if r.status != "ok":
            lines.append(f"{r.config:<15}{r.status}: {r.note}")
            continue

        def f(value, fmt):
            width = int(fmt.split(".")[0].rstrip("df") or 0)
            return format(value, fmt) if value is not None else "-".rjust(width)

        lines.append(
            f"{r.config:<15}{f(r.latency_s * 1e3, '11.1f')}{f(r.ratio_to_diffusers, '12.2f')}"
            f"{f(r.fps_1in5, '9.1f')}{f(r.fps_1in30, '9.1f')}{f(r.energy_j, '7.1f')}"
            f"{f(r.power_w, '6.0f')}{f(r.peak_memory_gib, '6.1f')}"
            f"{f(r.max_abs_diff, '8d')}{f(r.psnr_db, '7.1f')}  {f(r.first_call_s, '.1f')}"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--device", default=None, help="cuda or cpu [default: cuda if present]")
    parser.add_argument("--tiny", action="store_true", help="the tiny test pipeline (CPU check)")
    parser.add_argument("--size", type=int, default=None, help="[default: 512, tiny 64]")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--guidance", type=float, default=7.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warmup", type=int, default=2, help="keyframes before timing (>= 1)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--configs", default=None, help="comma-separated [default: all]")
    parser.add_argument("--profile", action="store_true", help="top kernels of ungraphed ones")
    parser.add_argument("--time-budget-s", type=float, default=540.0)
    parser.add_argument("--out", type=Path, default=None, help="folder for the JSON records")
    parser.add_argument("--record", action="store_true", help="append to benchmarks/results/")
    args = parser.parse_args(argv)
    if args.device is None:
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.size is None:
        args.size = 64 if args.tiny else 512
    if args.size % 8 or args.size < 32:
        parser.error(f"--size {args.size}: expected a multiple of 8, at least 32")
    if args.warmup < 1 or args.repeats < 1:
        parser.error("--warmup and --repeats: expected at least 1")
    configs = ALL_CONFIGS if args.configs is None else tuple(args.configs.split(","))
    unknown = [c for c in configs if c not in ALL_CONFIGS]
    if unknown:
        parser.error(f"--configs {unknown[0]}: expected some of {', '.join(ALL_CONFIGS)}")
    if configs[0] != "diffusers":
        configs = ("diffusers", *[c for c in configs if c != "diffusers"])
    args.configs = configs
    return args


def main(argv: list[str] | None = None) -> list[KeyframeRecord]:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    bench = Bench(args)
    info = describe()
    if bench.energy.driver:
        info["driver"] = bench.energy.driver
    try:
        import torch

        info["cuda"] = torch.version.cuda
    except ImportError:
        pass
    header = {
        "benchmark": "sd2_keyframe",
        **info,
        "device": args.device,
        "weights": "tiny test pipeline" if args.tiny else "full-size SD2 inpainting, random",
        "note": "random weights: honest for speed, memory and energy, not for image quality",
        "size": f"{args.size}x{args.size}",
        "steps": args.steps,
        "guidance": args.guidance,
        "warmup": args.warmup,
        "repeats": args.repeats,
    }
    print(json.dumps(header), flush=True)
    out_file = None
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        out_file = args.out / "sd2_keyframe.jsonl"
        out_file.write_text(json.dumps(header) + "\n", encoding="utf-8")
    for name in args.configs:
        record = bench.run(name)
        bench.records.append(record)
        line = json.dumps({"benchmark": "sd2_keyframe", **asdict(record)})
        print(line, flush=True)
        if out_file is not None:
            with out_file.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
    print(table(bench.records), flush=True)
    if args.record:
        target = (
            RESULTS / f"sd2_keyframe_{'cuda' if args.device.startswith('cuda') else 'cpu'}.jsonl"
        )
        with target.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({**header, "records": [asdict(r) for r in bench.records]}))
            handle.write("\n")
    return bench.records


if __name__ == "__main__":
    main()
