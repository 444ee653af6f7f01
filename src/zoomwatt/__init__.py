"""zoomwatt: use-case-driven AI system design, studied on real-time infinite zoom.

The public API mirrors the command line, one function per command with its options as
keywords: :func:`zoom` renders a video (:class:`ZoomConfig` holds its settings and
:class:`ZoomRun` yields frames as they are produced); :func:`analyze`, :func:`predict`,
:func:`optimize`, :func:`measure`, :func:`report` and :func:`validate` return the result
objects the commands render (:mod:`zoomwatt.api`).
"""

from __future__ import annotations

from zoomwatt.errors import InputError, ResumeError, WeightsNotFoundError, ZoomwattError
from zoomwatt.version import __version__

__all__ = [
    "InputError",
    "ResumeError",
    "WeightsNotFoundError",
    "ZoomConfig",
    "ZoomRun",
    "ZoomwattError",
    "__version__",
    "analyze",
    "measure",
    "optimize",
    "predict",
    "report",
    "validate",
    "zoom",
]

_ZOOM = ("ZoomConfig", "ZoomRun", "zoom")
_COMMANDS = ("analyze", "predict", "optimize", "measure", "report", "validate")


def __getattr__(name: str):
    # Lazy: importing zoomwatt must not import torch or OpenCV.
    if name in _ZOOM:
        from zoomwatt.pipeline import zoom as _zoom_module

        return getattr(_zoom_module, name)
    if name in _COMMANDS:
        from zoomwatt import api

        return getattr(api, name)
    raise AttributeError(f"module 'zoomwatt' has no attribute {name!r}")
