"""The optimization levers, by name, and how each is applied for real to SD2 inpainting.

One vocabulary (:data:`LEVERS`) serves ``zoomwatt optimize``'s plan file, ``zoomwatt zoom
--plan``, ``zoomwatt measure --plan/--levers`` and the report. Each lever is an opt-in switch on
the unmodified baseline (the lean keyframe path of :mod:`.sd2_fast`, all switches off); a
lever is written ``name`` or ``name=value`` (``--levers no-cfg,steps=2,deepcache=3``).

Four kinds:

- run settings (``no-cfg``, ``steps``, ``scheduler``, ``resolution``, ``every``): change what
  the zoom is asked to compute (:func:`run_settings`);
- process settings (``retain-memory``: :data:`PROCESS_LEVERS`): change how the process runs
  the same arithmetic (the allocator keeps freed memory: :mod:`zoomwatt.pipeline.allocator`),
  set for the whole zoom by :class:`LeverInpainter` and per keyframe by the lever check;
- model switches (``taesd``, ``int8-dynamic``, ``int8-weight``, ``deepcache``, ``tome``,
  ``bf16``, ``fp16``, ``compile``, ``tensorrt``, ``openvino``, ``nncf-int8``): applied to the
  models by
  :class:`LeverInpainter`; some cannot go together (:data:`EXCLUSIVE`, checked by
  :func:`check_together`);
- not runnable as a speed change anywhere here (``2:4``, ``prune50``, ``share``, ``int4-weight``,
  ``w4a8``, ``operating-point``, ``layer-dfs``): :func:`unavailable_reason` says why.

:func:`unavailable_reason` is the one place that says whether this machine can run a lever.
"""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoomwatt.errors import InputError, shorten

log = logging.getLogger(__name__)

FEW_STEPS_NOTE = (
    "picture quality at few steps needs distilled weights (LCM, TCD, SD-Turbo); the plain SD2 "
    "weights blur"
)
RANDOM_QUALITY_NOTE = (
    "noise-to-signal on random weights; no picture-quality measurement is possible without "
    "trained weights"
)
SCHEDULERS = {"lcm": "LCMScheduler", "tcd": "TCDScheduler"}


@dataclass(frozen=True)
class LeverSpec:
    """One lever: its value type and default, whether it is exact, and what it does."""

    name: str
    kind: type  # bool, int, float or str
    default: Any
    exact: bool  # same picture within rounding (lossless)
    what: str

    def parse(self, text: str | None) -> Any:
        """The lever's value from ``name=TEXT`` (None: ``name`` alone, the default)."""
        if text is None:
            if self.default is None:
                raise InputError(self.name, "(no value)", f"{self.name}=VALUE ({self.what})")
            return self.default
        try:
            value = {bool: _bool, int: int, float: float, str: str}[self.kind](text)
        except ValueError:
            raise InputError(self.name, text, f"a {self.kind.__name__} ({self.what})") from None
        return self.check(value)

    def check(self, value: Any) -> Any:
        """``value`` if it is of the lever's kind and range, else one InputError."""
        ok = isinstance(value, self.kind) and not (
            self.kind is not bool and isinstance(value, bool)
        )
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok or not _in_range(self.name, value):
            raise InputError(self.name, value, f"{self.kind.__name__}: {self.what}")
        return value


def _bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


_RANGES = {
    "steps": lambda v: 1 <= v <= 1000,
    "resolution": lambda v: 64 <= v <= 4096 and v % 64 == 0,
    "every": lambda v: 1 <= v <= 3600,
    "deepcache": lambda v: 2 <= v <= 100,
    "tome": lambda v: 0.0 < v < 1.0,
    "share": lambda v: v in (4, 6),
    "scheduler": lambda v: v in SCHEDULERS,
}


def _in_range(name: str, value: Any) -> bool:
    check = _RANGES.get(name)
    return True if check is None else bool(check(value))


def _spec(name: str, kind: type, default: Any, exact: bool, what: str) -> LeverSpec:
    return LeverSpec(name, kind, default, exact, what)


LEVERS: dict[str, LeverSpec] = {
    s.name: s
    for s in (
        _spec("no-cfg", bool, True, False, "classifier-free guidance off: UNet batch 1"),
        _spec("steps", int, None, False, f"denoising steps (1-1000); {FEW_STEPS_NOTE}"),
        _spec("scheduler", str, "lcm", False, f"lcm or tcd (diffusers); {FEW_STEPS_NOTE}"),
        _spec("resolution", int, None, False, "frame side in px, a multiple of 64"),
        _spec("every", int, None, False, "output frames per keyframe (1 keyframe in N)"),
        _spec("taesd", bool, True, False, "TAESD encoder and decoder instead of the KL VAE"),
        _spec(
            "int8-dynamic",
            bool,
            True,
            False,
            "dynamic int8 UNet linears (torch.ao quantize_dynamic; convolutions stay)",
        ),
        _spec(
            "int8-weight",
            bool,
            True,
            False,
            "weight-only int8 UNet linears (torch's int8 weight-pack matmul)",
        ),
        _spec("int4-weight", bool, True, False, "weight-only int4 UNet linears"),
        _spec("w4a8", bool, True, False, "int4 weights with int8 activations"),
        _spec("bf16", bool, True, False, "bfloat16 weights and activations"),
        _spec("fp16", bool, True, False, "float16 weights and activations"),
        _spec("deepcache", int, 3, False, "reuse the deep UNet features: a full step every N"),
        _spec("tome", float, 0.5, False, "token merging (tomesd), the ratio of tokens merged"),
        _spec("2:4", bool, True, False, "2:4 structured sparsity of conv/linear weights"),
        _spec("prune50", bool, True, False, "50% unstructured pruning"),
        _spec("share", int, 4, False, "weight sharing, 2^b values per layer (4 or 6 bits)"),
        _spec("compile", bool, True, True, "torch.compile (Inductor) of UNet and VAE stages"),
        _spec(
            "retain-memory",
            bool,
            True,
            True,
            "the CPU allocator keeps freed memory for the next call (glibc mallopt): no page "
            "faults of fresh buffers after the first call",
        ),
        _spec("tensorrt", bool, True, False, "TensorRT through torch_tensorrt (CUDA)"),
        _spec(
            "openvino",
            bool,
            True,
            True,
            "OpenVINO runtime (CPU plugin, fp32, static shapes) for the UNet and the VAE "
            "encode/decode stages",
        ),
        _spec(
            "nncf-int8",
            bool,
            True,
            False,
            "the openvino lever with NNCF's data-free int8 weight compression (asymmetric, per "
            "output channel) of every convolution and linear layer; activations stay fp32",
        ),
        _spec("operating-point", str, None, True, "a clock/voltage operating point"),
        _spec("layer-dfs", bool, True, True, "layer-wise clock frequency"),
    )
}
#: The software stack (as a hardware profile names it) each stack lever runs on: the one map
#: between them. A profile's default stack is the baseline's and needs no lever; a stack missing
#: here (Core ML, QNN, ...) has no lever in this package: a plan names it as its stack only.
STACK_LEVERS = {"compile": "compile", "openvino": "openvino", "tensorrt": "tensorrt"}
#: The levers that run the UNet and VAE stages through OpenVINO, and the weights each gives it.
OPENVINO_LEVERS = {"openvino": "fp32", "nncf-int8": "int8"}
#: The stack each stack-running lever runs on, as a profile names it: the stack levers' own,
#: and ``nncf-int8``'s ``openvino-int8`` (OpenVINO with NNCF's int8 weights: the host
#: calibration measures its layers apart, hardware.openvino_probe).
STACK_OF_LEVER = {
    **{lever: stack for stack, lever in STACK_LEVERS.items()},
    "nncf-int8": "openvino-int8",
}
RUN_LEVERS = ("no-cfg", "steps", "scheduler", "resolution", "every")
PROCESS_LEVERS = ("retain-memory",)
BYTES_ONLY = ("2:4", "prune50", "share")
#: Levers that cannot go with a lever, and why. OpenVINO converts the plain fp32 torch UNet and
#: VAE stages: torch's quantized modules, Python-level changes of the UNet's forward and other
#: compilers or dtypes are not what it would run. torch's dynamic int8 linears quantize fp32
#: activations only.
_OPENVINO_EXCLUDES = {
    "int8-dynamic": "torch quantized modules (OpenVINO's int8 is NNCF's, not these)",
    "int8-weight": "torch quantized modules (OpenVINO's int8 is NNCF's, not these)",
    "int4-weight": "torch quantized modules (OpenVINO's int4 is NNCF's, not these)",
    "w4a8": "torch quantized modules (OpenVINO's int4 is NNCF's, not these)",
    "deepcache": "a Python-level change of the UNet's steps, lost in one converted graph",
    "tome": "a Python-level patch of the UNet's blocks, lost in one converted graph",
    "compile": "another compiler of the same stages (Inductor)",
    "tensorrt": "another runtime of the same stages (TensorRT, CUDA)",
    "bf16": "OpenVINO runs fp32 here (INFERENCE_PRECISION_HINT f32)",
    "fp16": "OpenVINO runs fp32 here (INFERENCE_PRECISION_HINT f32)",
}
EXCLUSIVE: dict[str, dict[str, str]] = {
    "openvino": _OPENVINO_EXCLUDES,
    "nncf-int8": {
        **_OPENVINO_EXCLUDES,
        "openvino": "the same runtime: nncf-int8 is the openvino lever with int8 weights",
    },
    "int8-dynamic": {
        dtype: "a dtype torch's dynamic int8 linears do not take: they quantize fp32 inputs"
        for dtype in ("bf16", "fp16")
    },
}


@dataclass(frozen=True)
class Lever:
    """One lever with its value (``Lever("deepcache", 3)``)."""

    name: str
    value: Any

    def __post_init__(self) -> None:
        if self.name not in LEVERS:
            raise InputError("lever", self.name, f"one of {', '.join(LEVERS)}")
        object.__setattr__(self, "value", LEVERS[self.name].check(self.value))

    @property
    def spec(self) -> LeverSpec:
        return LEVERS[self.name]

    def text(self) -> str:
        """How ``--levers`` writes it (``no-cfg``, ``steps=2``)."""
        if self.spec.kind is bool and self.value is True:
            return self.name
        return f"{self.name}={self.value}"


def parse_levers(text: str, argument: str = "--levers") -> tuple[Lever, ...]:
    """``"no-cfg,steps=2,deepcache=3"`` as levers (each name once, in the order given)."""
    if not isinstance(text, str) or not text.strip():
        raise InputError(argument, text, f"lever names separated by commas: {', '.join(LEVERS)}")
    out: dict[str, Lever] = {}
    for item in (part.strip() for part in text.split(",")):
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in LEVERS:
            raise InputError(argument, item, f"a lever among {', '.join(LEVERS)}")
        if name in out:
            raise InputError(argument, item, "each lever once")
        out[name] = Lever(name, LEVERS[name].parse(value.strip() if value else None))
    return tuple(out.values())


def lever_value(levers: tuple[Lever, ...], name: str, default: Any = None) -> Any:
    return next((lv.value for lv in levers if lv.name == name), default)


def exclusion(names: Sequence[str]) -> tuple[str, str, str] | None:
    """The first pair of lever ``names`` that cannot go together (:data:`EXCLUSIVE`): the lever,
    the one it excludes and why; None where all can."""
    for name in names:
        for other in names:
            why = EXCLUSIVE.get(name, {}).get(other)
            if why is not None:
                return name, other, why
    return None


def compatible_levers(levers: tuple[Lever, ...]) -> tuple[tuple[Lever, ...], list[str]]:
    """``levers`` without each one that cannot go with one kept before it (:func:`exclusion`;
    the first listed stays), and one line per lever left out, saying why."""
    kept: list[Lever] = []
    notes = []
    for lever in levers:
        on = [lv.name for lv in kept if lv.value not in (False, None)]
        found = exclusion([*on, lever.name]) if lever.value not in (False, None) else None
        if found is None:
            kept.append(lever)
            continue
        name, other, why = found
        partner = name if other == lever.name else other
        notes.append(f"{lever.text()} left out: it cannot go with {partner} ({why})")
    return tuple(kept), notes


def check_together(levers: tuple[Lever, ...], argument: str = "levers") -> None:
    """One InputError naming the first pair of ``levers`` that cannot go together
    (:func:`exclusion`), and why; levers switched off (``openvino=false``) do not count."""
    found = exclusion([lv.name for lv in levers if lv.value not in (False, None)])
    if found is not None:
        name, other, why = found
        raise InputError(
            argument,
            f"{name} with {other}",
            f"levers that can go together ({name} excludes {', '.join(EXCLUSIVE[name])})",
            f"{other} is {why}; drop {other} or {name}",
        )


# --- what this machine can run -------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return frozenset(line.partition(":")[2].split())


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _glibc_malloc() -> bool:
    from zoomwatt.pipeline.allocator import has_mallopt

    return has_mallopt()


def unavailable_reason(lever: Lever | str, device: str = "cpu") -> str | None:
    """Why this machine cannot run ``lever`` as a speed change on ``device``; None if it can."""
    name = lever if isinstance(lever, str) else lever.name
    cuda = str(device).startswith("cuda")
    if name in ("fp16", "tensorrt") and not cuda:
        return f"{name} needs a CUDA GPU (fp16 CPU kernels are emulated and slower than fp32)"
    if name == "tensorrt" and not _has_module("torch_tensorrt"):
        return "TensorRT needs the torch_tensorrt package, which is not installed"
    if name == "bf16" and not cuda and not {"avx512_bf16", "amx_bf16"} & _cpu_flags():
        return "this CPU has no native bf16 (AVX512-BF16 or AMX); bf16 would be emulated"
    if name == "2:4":
        return "2:4 sparse kernels need a CUDA GPU with sparse tensor cores (bytes only here)"
    if name == "prune50":
        return "no dense kernel skips unstructured zeros: only the stored bytes shrink"
    if name == "share":
        return "no kernel computes on shared-value indices: only the stored bytes shrink"
    if name == "int4-weight" and not cuda:
        return "weight-only int4 kernels (torchao tinygemm) need a CUDA GPU"
    if name == "w4a8":
        return "no int4 x int8 engine on this machine (an NPU or a GPU with int4 tensor cores)"
    if name in ("operating-point", "layer-dfs"):
        return "setting clock frequencies needs DVFS control (cpufreq as root), not given here"
    if name == "retain-memory" and cuda:
        return "on a CUDA GPU PyTorch's caching allocator keeps freed memory already"
    if name == "retain-memory" and not _glibc_malloc():
        return "keeping freed memory is set through glibc's mallopt; this C library is not glibc"
    if name == "tome" and not _has_module("tomesd"):
        return "token merging needs the tomesd package (pip install tomesd), not installed"
    if name == "int8-dynamic" and cuda:
        return "torch.ao dynamic int8 runs on CPUs only (fbgemm/x86 kernels)"
    if name in OPENVINO_LEVERS and cuda:
        return "OpenVINO runs here on the CPU (its GPU plugin drives Intel GPUs, not CUDA)"
    if name in OPENVINO_LEVERS and not _has_module("openvino"):
        return "OpenVINO needs the openvino package (pip install openvino), not installed"
    if name == "nncf-int8" and not _has_module("nncf"):
        return "int8 weight compression needs the nncf package (pip install nncf), not installed"
    return None


def check_runnable(levers: tuple[Lever, ...], device: str, skip_unavailable: bool) -> tuple:
    """(levers that run, {name: reason} of those that cannot); without ``skip_unavailable``
    a lever that cannot run is one InputError naming it and why."""
    reasons = {lv.name: r for lv in levers if (r := unavailable_reason(lv, device))}
    if reasons and not skip_unavailable:
        said = "; ".join(f"{n}: {r}" for n, r in reasons.items())
        raise InputError(
            "plan",
            shorten(", ".join(reasons), 60),
            "levers this machine can run",
            f"{said}. Pass --skip-unavailable to run the others",
        )
    return tuple(lv for lv in levers if lv.name not in reasons), reasons


def run_settings(levers: tuple[Lever, ...], settings: dict[str, Any]) -> dict[str, Any]:
    """The zoom's settings (``size``, ``steps``, ``guidance``, ``scheduler``,
    ``frames_per_keyframe``) with the run levers applied."""
    out = dict(settings)
    for lv in levers:
        if lv.name == "no-cfg" and lv.value:
            out["guidance"] = 1.0
        elif lv.name == "steps":
            out["steps"] = lv.value
        elif lv.name == "resolution":
            out["size"] = (lv.value, lv.value)
        elif lv.name == "every":
            out["frames_per_keyframe"] = lv.value
    return out


def quality_note(levers: tuple[Lever, ...]) -> str:
    """What can be said of the picture with ``levers`` applied."""
    if all(lv.spec.exact for lv in levers):
        return "lossless: the same arithmetic (the picture within rounding)"
    few = any(lv.name in ("steps", "scheduler") for lv in levers)
    return "changes the picture; " + RANDOM_QUALITY_NOTE + ("; " + FEW_STEPS_NOTE if few else "")


# --- applying the model switches ------------------------------------------------------------


class WeightOnlyInt8Linear:
    """A linear layer with int8 weights (per output channel scales), computed by torch's
    weight-pack matmul: activations stay in floating point."""

    @staticmethod
    def convert(module: Any) -> Any:
        import torch

        class _Int8Linear(torch.nn.Module):
            def __init__(self, linear: torch.nn.Linear):
                super().__init__()
                w = linear.weight.detach().float()
                scale = (w.abs().amax(dim=1) / 127.0).clamp_min(1e-12)
                self.register_buffer("qweight", torch.round(w / scale[:, None]).to(torch.int8))
                self.register_buffer("scale", scale)
                self.bias = None if linear.bias is None else linear.bias.detach()
                self.out_features = linear.out_features

            def forward(self, x):
                flat = x.reshape(-1, x.shape[-1]).float().contiguous()
                y = torch._weight_int8pack_mm(flat, self.qweight, self.scale)
                if self.bias is not None:
                    y = y + self.bias
                return y.reshape(*x.shape[:-1], self.out_features).to(x.dtype)

        def swap(parent: torch.nn.Module) -> None:
            for name, child in parent.named_children():
                if type(child) is torch.nn.Linear:
                    setattr(parent, name, _Int8Linear(child))
                else:
                    swap(child)

        copied = copy.deepcopy(module)
        swap(copied)
        return copied


def quantize_dynamic_int8(unet: Any) -> Any:
    """A copy of ``unet`` whose ``nn.Linear`` layers are dynamic int8 (weights int8 per tensor,
    activations quantized per call); convolutions stay in floating point."""
    import torch

    return torch.ao.quantization.quantize_dynamic(unet, {torch.nn.Linear}, dtype=torch.qint8)
