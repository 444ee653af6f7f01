"""zoomwatt: use-case-driven AI system design, studied on real-time infinite zoom.

The public API mirrors the command line: :func:`zoom` renders a video, :class:`ZoomConfig`
holds its settings and :class:`ZoomRun` yields frames as they are produced.
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
    "zoom",
]


def __getattr__(name: str):
    # Lazy: importing zoomwatt must not import torch or OpenCV.
    if name in ("ZoomConfig", "ZoomRun", "zoom"):
        from zoomwatt.pipeline import zoom as _zoom_module

        return getattr(_zoom_module, name)
    raise AttributeError(f"module 'zoomwatt' has no attribute {name!r}")
