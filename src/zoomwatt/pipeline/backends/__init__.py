"""Inpainting backends behind one interface, created by name."""

from __future__ import annotations

import inspect
from typing import Any

from zoomwatt.errors import InputError
from zoomwatt.pipeline.backends.base import BACKEND_STAGES, Inpainter, InpaintOutput

BACKENDS = ("classical", "sd2")

__all__ = ["BACKENDS", "BACKEND_STAGES", "InpaintOutput", "Inpainter", "create_backend"]


def create_backend(name: str, **options: Any) -> Inpainter:
    """The backend ``name`` with its options (those it does not know are an error). For
    ``sd2``, ``fast`` (a :class:`~zoomwatt.pipeline.backends.sd2_fast.FastOptions`, or
    ``"recommended"`` for the device's best) selects the fast keyframe path."""
    if name == "classical":
        from zoomwatt.pipeline.backends.classical import ClassicalInpainter

        _check_options(ClassicalInpainter, options)
        return ClassicalInpainter(**options)
    if name == "sd2":
        fast = options.pop("fast", None)
        if fast is None:
            from zoomwatt.pipeline.backends.sd2 import SD2Inpainter

            _check_options(SD2Inpainter, options)
            return SD2Inpainter(**options)
        from zoomwatt.pipeline.backends.sd2 import default_device
        from zoomwatt.pipeline.backends.sd2_fast import FastOptions, SD2FastInpainter

        _check_options(SD2FastInpainter, options)
        if isinstance(fast, str) and fast == "recommended":  # what paid on the device kind
            fast = FastOptions.recommended(options.get("device") or default_device())
        return SD2FastInpainter(fast=fast, **options)
    raise InputError("backend", name, f"one of {', '.join(BACKENDS)}")


def _check_options(cls: type, options: dict[str, Any]) -> None:
    """Refuse an option the backend does not take, naming those it does."""
    known = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    for option in options:
        if option not in known:
            raise InputError(
                option, options[option], f"an option of {cls.__name__}: {', '.join(known)}"
            )
