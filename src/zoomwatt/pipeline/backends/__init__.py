"""Inpainting backends behind one interface, in one registry.

Each backend is an entry of :data:`BACKENDS`: its name, the dataclass of its settings
(:mod:`~zoomwatt.pipeline.backends.options`) and how it is made from them. Backend modules are
imported only when a backend is made (OpenCV, torch and diffusers stay unloaded until then).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zoomwatt.errors import InputError
from zoomwatt.pipeline.backends.base import BACKEND_STAGES, Inpainter, InpaintOutput
from zoomwatt.pipeline.backends.options import (
    BackendOptions,
    ClassicalOptions,
    SD2Options,
    option_names,
)

__all__ = [
    "BACKENDS",
    "BACKEND_STAGES",
    "BackendEntry",
    "BackendOptions",
    "ClassicalOptions",
    "InpaintOutput",
    "Inpainter",
    "SD2Options",
    "backend_entry",
    "create_backend",
    "options_for",
]


@dataclass(frozen=True)
class BackendEntry:
    """One backend: its settings and how it is made (``realtime``: the run is paced, so a
    backend with a fast path uses it)."""

    name: str
    summary: str
    options: type
    make: Callable[[Any, bool], Inpainter]

    def create(self, options: BackendOptions | None = None, realtime: bool = False) -> Inpainter:
        options = self.options() if options is None else options
        if not isinstance(options, self.options):
            raise InputError(
                "backend_options", options, f"{self.options.__name__} for the {self.name} backend"
            )
        return self.make(options, realtime)


def _make_classical(options: ClassicalOptions, realtime: bool) -> Inpainter:
    from zoomwatt.pipeline.backends.classical import ClassicalInpainter

    return ClassicalInpainter(**options.backend_kwargs())


def _make_sd2(options: SD2Options, realtime: bool) -> Inpainter:
    kwargs = options.backend_kwargs()
    levers, taesd = kwargs.pop("levers"), kwargs.pop("taesd")
    if levers:  # the lean path with the levers applied (zoomwatt zoom --plan)
        from zoomwatt.pipeline.backends.sd2_levers import LeverInpainter

        return LeverInpainter(levers=levers, taesd=taesd, **kwargs)
    if realtime:  # the fast path, with what pays on the device
        return create_backend("sd2", fast="recommended", **kwargs)
    return create_backend("sd2", **kwargs)


BACKENDS: dict[str, BackendEntry] = {
    entry.name: entry
    for entry in (
        BackendEntry("classical", "OpenCV, no weights", ClassicalOptions, _make_classical),
        BackendEntry("sd2", "Stable Diffusion 2 inpainting", SD2Options, _make_sd2),
    )
}


def backend_entry(name: object) -> BackendEntry:
    if not isinstance(name, str) or name not in BACKENDS:
        raise InputError("backend", name, f"one of {', '.join(BACKENDS)}")
    return BACKENDS[name]


def create_backend(name: str, **options: Any) -> Inpainter:
    """The backend ``name`` from its class's own keyword options (those it does not know are
    an error). For ``sd2``, ``fast`` (a :class:`~zoomwatt.pipeline.backends.sd2_fast.FastOptions`,
    or ``"recommended"`` for the device's best) selects the fast keyframe path."""
    backend_entry(name)
    if name == "classical":
        from zoomwatt.pipeline.backends.classical import ClassicalInpainter

        _check_options(ClassicalInpainter, options)
        return ClassicalInpainter(**options)
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


def _check_options(cls: type, options: dict[str, Any]) -> None:
    """Refuse an option the backend does not take, naming those it does."""
    known = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    for option in options:
        if option not in known:
            raise InputError(
                option, options[option], f"an option of {cls.__name__}: {', '.join(known)}"
            )


def options_for(name: str, settings: dict[str, Any]) -> BackendOptions:
    """The settings of backend ``name`` from flat keywords (the command line's names)."""
    entry = backend_entry(name)
    known = option_names(entry.options)
    for key, value in settings.items():
        if key not in known:
            raise InputError(key, value, f"an option of the {name} backend: {', '.join(known)}")
    return entry.options(**settings)
