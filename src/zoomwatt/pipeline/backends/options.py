"""The settings each zoom backend takes, one dataclass per backend.

Names and defaults match ``zoomwatt zoom``'s options of the backend (``--inpaint-method``,
``--steps``, ...). The classes import nothing heavy, so a config can be built and checked
before any model library loads; the backend itself checks the values when it is created.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class ClassicalOptions:
    """OpenCV inpainting, no weights."""

    inpaint_method: str = "patch"  # patch, patch-fast, telea or ns: see backends/classical.py
    texture: float = 12.0  # grey levels of seeded texture added to the filled border

    def backend_kwargs(self) -> dict[str, Any]:
        return {"method": self.inpaint_method, "texture": self.texture}


@dataclass(frozen=True)
class SD2Options:
    """Stable Diffusion 2 inpainting through diffusers, from local weights."""

    model: str | None = None  # folder or Hugging Face repo id; None = the SD2 inpainting repo
    steps: int = 20
    guidance: float = 7.5
    scheduler: str = "pndm"
    device: str | None = None  # None: cuda if present, else cpu
    dtype: str | None = None  # None: fp16 on CUDA, fp32 on a CPU
    allow_download: bool = False
    # optimization levers (zoomwatt.pipeline.backends.levers.Lever), applied on the lean path;
    # () is the unmodified pipeline. taesd: TAESD weights (folder, repo id or "random")
    levers: tuple = ()
    taesd: str | None = None

    def backend_kwargs(self) -> dict[str, Any]:
        kwargs = asdict(self)
        if kwargs["model"] is None:
            del kwargs["model"]  # the backend's default repo
        kwargs["levers"] = tuple(self.levers)  # Lever objects, not asdict's dicts
        return kwargs


BackendOptions = ClassicalOptions | SD2Options


def option_names(options_class: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(options_class))
