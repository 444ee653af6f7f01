"""Published measurements of Stable Diffusion pipelines, the evidence set for the predictions.

``data/published.yaml`` holds one record per published figure (Apple Core ML, Qualcomm AI Hub,
ML.ENERGY, MLPerf, the diffusers benchmark tables, StreamDiffusion), each with the device (a
shipped hardware profile), the workload (pipeline, resolution, steps, batch, CFG, precision,
software stack), what was timed, the value as published with its unit, the conditions and the
source. :func:`load_published` reads it with the strict YAML loader of the hardware profiles
and checks every record; a bad record is one :class:`~zoomwatt.errors.InputError` line naming
the file, the record and the field.

What is timed (``timed``), the units each kind may be written in, and what it means:

- ``e2e_s`` (s, ms): one whole pipeline call for ``batch`` images;
- ``unet_call_s``, ``vae_decoder_call_s``, ``text_encoder_call_s`` (ms, s): one forward pass of
  that model (a UNet call at batch 1 is one CFG branch);
- ``it_per_s`` (it/s): denoising steps per second, the loop only;
- ``throughput_images_per_s`` (images/s): images per second over many (MLPerf samples/s, fps);
- ``energy_j_per_image`` (J) and ``system_power_w`` (W): whose energy or power, the device's or
  the whole server's at the wall, is in ``conditions``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoomwatt.archs.catalog import ALL_PIPELINES
from zoomwatt.errors import InputError
from zoomwatt.hardware import shipped_profile_names
from zoomwatt.hardware.schema import DEVICE_CLASSES
from zoomwatt.hardware.yaml_io import file_label, load_yaml_mapping

DATA_FILE = Path(__file__).parent / "data" / "published.yaml"
SCHEMA_VERSION = 1
#: A letter for the source family, a number, and a letter for a second figure of one row (A1b).
ID_PATTERN = re.compile(r"[A-Z][0-9]+[a-z]?")

#: kind of figure -> {unit: factor to the kind's SI unit (s, it/s, images/s, J, W)}
TIMED_UNITS: dict[str, dict[str, float]] = {
    "e2e_s": {"s": 1.0, "ms": 1e-3},
    "unet_call_s": {"ms": 1e-3, "s": 1.0},
    "vae_decoder_call_s": {"ms": 1e-3, "s": 1.0},
    "text_encoder_call_s": {"ms": 1e-3, "s": 1.0},
    "it_per_s": {"it/s": 1.0},
    "throughput_images_per_s": {"images/s": 1.0},
    "energy_j_per_image": {"J": 1.0},
    "system_power_w": {"W": 1.0},
}
#: Pipeline names: the architecture catalog's, and ``lcm-sd15`` (StreamDiffusion's LCM-LoRA
#: SD 1.5 fine-tune), which records name but the catalog cannot build yet.
PIPELINES = (*ALL_PIPELINES, "lcm-sd15")
#: Weight/activation precisions as the sources describe them.
PRECISIONS = (
    "fp32",
    "fp16",
    "bf16",
    "w8a16",  # int8 weights, 16-bit activations (Qualcomm AI Hub)
    "palettized-6bit",  # Core ML 6-bit palettized weights, fp16 activations
    "palettized-4bit-mixed",  # Core ML mixed-bit (about 4 bits) palettized UNet, others 16-bit
    "bf16+int8-dynamic",  # bf16 with dynamic int8 quantization of chosen linear layers
    "not-stated",
)
#: Software stacks.
STACKS = (
    "eager",  # PyTorch eager (diffusers)
    "compile",  # PyTorch + torch.compile
    "torchao+compile",
    "tensorrt",
    "coreml",
    "qnn",  # Qualcomm QNN context binary
    "qnn-onnx",  # precompiled QNN model on ONNX Runtime's QNN execution provider
    "streamdiffusion",
)

_REQUIRED = (
    "id",
    "device",
    "device_label",
    "device_class",
    "pipeline",
    "resolution_px",
    "steps",
    "batch",
    "cfg",
    "guidance",
    "precision",
    "stack",
    "timed",
    "value",
    "unit",
    "conditions",
    "source",
)
_OPTIONAL = ("accelerators",)


@dataclass(frozen=True)
class PublishedFigure:
    """One published figure: ``value`` in ``unit`` as published; ``value_si`` in the kind's SI
    unit (seconds for the ``*_s`` kinds, it/s, images/s, J, W). ``None`` means not stated."""

    id: str
    device: str  # a shipped hardware profile
    device_label: str  # the device as the source names it
    device_class: str
    pipeline: str
    resolution_px: int | None  # output image side
    steps: int | None  # denoising steps
    batch: int | None  # images per call; None for streamed or offline batching
    accelerators: int  # chips the figure is for (8 for a DGX server), usually 1
    cfg: bool | None  # classifier-free guidance on (None: not stated or the pipeline default)
    guidance: float | None  # guidance scale when stated
    precision: str
    stack: str
    timed: str  # a key of TIMED_UNITS
    value: float
    unit: str
    conditions: str
    source: str

    @property
    def value_si(self) -> float:
        return self.value * TIMED_UNITS[self.timed][self.unit]


def _text(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not raw.strip() or not raw.isprintable():
        raise InputError(where, raw, "a non-empty one-line text")
    return raw


def _choice(raw: Any, where: str, allowed: tuple[str, ...] | list[str]) -> str:
    if not isinstance(raw, str) or raw not in allowed:
        raise InputError(where, raw, f"one of {', '.join(allowed)}")
    return raw


def _whole(raw: Any, where: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        raise InputError(where, raw, "a whole number > 0")
    return raw


def _count(raw: Any, where: str) -> int | None:
    """A whole number > 0, or None (null: not stated)."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        raise InputError(where, raw, "a whole number > 0 or null (not stated)")
    return raw


def _number(raw: Any, where: str) -> float:
    """A finite number > 0 (YAML's .inf and huge integers are refused)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise InputError(where, raw, "a finite number > 0")
    try:
        number = float(raw)
    except OverflowError:
        raise InputError(where, raw, "a finite number > 0") from None
    if not math.isfinite(number) or number <= 0:
        raise InputError(where, raw, "a finite number > 0")
    return number


def _record(raw: Any, where: str, devices: list[str]) -> PublishedFigure:
    if not isinstance(raw, dict):
        raise InputError(where, raw, f"a mapping with the keys {', '.join(_REQUIRED)}")
    unknown = set(raw) - set(_REQUIRED) - set(_OPTIONAL)
    if unknown:
        allowed = ", ".join((*_REQUIRED, *_OPTIONAL))
        raise InputError(where, sorted(unknown, key=str), f"only the keys {allowed}")
    missing = [key for key in _REQUIRED if key not in raw]
    if missing:
        raise InputError(where, sorted(raw, key=str), f"also the keys {', '.join(missing)}")
    id_ = raw["id"]
    if not isinstance(id_, str) or not ID_PATTERN.fullmatch(id_):
        raise InputError(
            f"{where}.id", id_, "an id such as A1 or A1b (letter, number, optional letter)"
        )
    here = f"{where} ({id_})"
    cfg = raw["cfg"]
    if cfg is not None and not isinstance(cfg, bool):
        raise InputError(f"{here}.cfg", cfg, "true, false or null (not stated or the default)")
    timed = _choice(raw["timed"], f"{here}.timed", tuple(TIMED_UNITS))
    unit = raw["unit"]
    if not isinstance(unit, str) or unit not in TIMED_UNITS[timed]:
        units = ", ".join(TIMED_UNITS[timed])
        raise InputError(f"{here}.unit", unit, f"a unit of {timed}: {units}")
    return PublishedFigure(
        id=id_,
        device=_choice(raw["device"], f"{here}.device", devices),
        device_label=_text(raw["device_label"], f"{here}.device_label"),
        device_class=_choice(raw["device_class"], f"{here}.device_class", DEVICE_CLASSES),
        pipeline=_choice(raw["pipeline"], f"{here}.pipeline", PIPELINES),
        resolution_px=_count(raw["resolution_px"], f"{here}.resolution_px"),
        steps=_count(raw["steps"], f"{here}.steps"),
        batch=_count(raw["batch"], f"{here}.batch"),
        accelerators=_whole(raw.get("accelerators", 1), f"{here}.accelerators"),
        cfg=cfg,
        guidance=None if raw["guidance"] is None else _number(raw["guidance"], f"{here}.guidance"),
        precision=_choice(raw["precision"], f"{here}.precision", PRECISIONS),
        stack=_choice(raw["stack"], f"{here}.stack", STACKS),
        timed=timed,
        value=_number(raw["value"], f"{here}.value"),
        unit=unit,
        conditions=_text(raw["conditions"], f"{here}.conditions"),
        source=_text(raw["source"], f"{here}.source"),
    )


def parse_published(data: Any, origin: str) -> tuple[PublishedFigure, ...]:
    """Check the data of a published-figures file read from ``origin`` and build its records.

    Raises :class:`InputError` on the first problem: an unknown or missing field, a wrong type,
    a value that is not a finite number > 0, an unknown device (not a shipped profile),
    pipeline, precision, stack or kind of figure, a unit that is not one of the kind's, or an
    id used twice.
    """
    label = file_label(origin)
    if not isinstance(data, dict) or set(data) != {"schema", "figures"}:
        shown = sorted(data, key=str) if isinstance(data, dict) else data
        raise InputError(label, shown, "a mapping with the keys schema, figures")
    if data["schema"] != SCHEMA_VERSION:
        raise InputError(f"{label}: schema", data["schema"], f"{SCHEMA_VERSION}")
    figures = data["figures"]
    if not isinstance(figures, list) or not figures:
        raise InputError(f"{label}: figures", figures, "a non-empty list of records")
    devices = shipped_profile_names()
    records: list[PublishedFigure] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(figures):
        record = _record(raw, f"{label}: figures[{i}]", devices)
        if record.id in seen:
            first = f"figures[{seen[record.id]}]"
            raise InputError(
                f"{label}: figures[{i}].id", record.id, f"an id not used before ({first})"
            )
        seen[record.id] = i
        records.append(record)
    return tuple(records)


def load_published(path: str | Path | None = None) -> tuple[PublishedFigure, ...]:
    """Every published figure, in file order, checked; ``path`` defaults to the shipped
    ``data/published.yaml``."""
    path = DATA_FILE if path is None else Path(path)
    if not path.is_file():
        raise InputError("published figures", file_label(path), "an existing YAML file")
    data = load_yaml_mapping(path, what="published figures")
    return parse_published(data, str(path))
