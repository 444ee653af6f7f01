"""The one interface every inpainting backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zoomwatt.workload.stages import BACKEND_TIMINGS

# Stage names a backend may report timings under (seconds each): the one vocabulary's.
BACKEND_STAGES = BACKEND_TIMINGS


@dataclass
class InpaintOutput:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    stage_s: dict[str, float] = field(default_factory=dict)  # stage name -> seconds


class Inpainter(ABC):
    """Fills the white part of a mask. Implementations must be deterministic for a given seed
    and must not keep per-call state that changes later outputs (resume depends on it)."""

    name: str = ""

    @abstractmethod
    def fingerprint(self) -> dict[str, Any]:
        """Every setting that changes the pictures, JSON-able; stored in the run manifest so
        that a resume with other settings is refused."""

    def made_by(self) -> str:
        """One line on what makes the pictures, for whoever looks at them (the report)."""
        return f"the {self.name} backend"

    @abstractmethod
    def inpaint(
        self, image: np.ndarray, mask: np.ndarray, prompt: str, negative_prompt: str, seed: int
    ) -> InpaintOutput:
        """``image`` (H, W, 3) uint8 with ``mask`` (H, W) uint8, 255 where to fill."""

    def outpaint(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        prompt: str,
        negative_prompt: str,
        seed: int,
        exemplar: np.ndarray | None = None,
    ) -> InpaintOutput:
        """A zoom keyframe's border: :meth:`inpaint`, told the zoom's first keyframe
        (``exemplar``, (H, W, 3) uint8), which a backend without a model may take its material
        from. Models ignore it (the default)."""
        return self.inpaint(image, mask, prompt, negative_prompt, seed)

    def generate(
        self, height: int, width: int, prompt: str, negative_prompt: str, seed: int
    ) -> InpaintOutput:
        """The first keyframe from the prompt alone: the model run on an all-white mask."""
        blank = np.full((height, width, 3), 127, dtype=np.uint8)
        mask = np.full((height, width), 255, dtype=np.uint8)
        return self.inpaint(blank, mask, prompt, negative_prompt, seed)

    def warmup(self, height: int, width: int, prompt: str, negative_prompt: str = "") -> float:
        """Compile, capture or load whatever the first keyframe of this size would otherwise
        pay for, before a real-time clock starts; returns the seconds it took. Nothing to do by
        default."""
        return 0.0

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release devices and memory."""
