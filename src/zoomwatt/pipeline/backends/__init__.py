"""Inpainting backends behind one interface, created by name."""

from __future__ import annotations

from typing import Any

from zoomwatt.errors import InputError
from zoomwatt.pipeline.backends.base import BACKEND_STAGES, Inpainter, InpaintOutput

BACKENDS = ("classical", "sd2")

__all__ = ["BACKENDS", "BACKEND_STAGES", "InpaintOutput", "Inpainter", "create_backend"]


def create_backend(name: str, **options: Any) -> Inpainter:
    """The backend ``name`` with its options (those it does not know are an error)."""
    if name == "classical":
        from zoomwatt.pipeline.backends.classical import ClassicalInpainter

        return ClassicalInpainter(**options)
    if name == "sd2":
        from zoomwatt.pipeline.backends.sd2 import SD2Inpainter

        return SD2Inpainter(**options)
    raise InputError("backend", name, f"one of {', '.join(BACKENDS)}")
