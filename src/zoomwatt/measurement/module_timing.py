"""Per-call and per-layer times of PyTorch modules, through forward hooks.

:class:`CallTimer` times every call of one module (e.g. each UNet call inside a diffusers
pipeline) without changing it. :func:`time_layers` times each leaf module (conv, linear, norm,
...) of a model over repeated calls: forward pre- and post-hooks read the clock, with a CUDA
synchronize on each side when the model is on CUDA, so a layer's time is its own kernels'. The
hooks themselves cost a few microseconds per layer, which shows on tiny layers.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zoomwatt.errors import InputError
from zoomwatt.measurement.timing import Clock, Timing, summarize


class CallTimer:
    """Times every forward call of ``module`` while attached (``with CallTimer(m) as t:``);
    ``samples_s`` holds one entry per call, ``take()`` returns and clears them."""

    def __init__(
        self,
        module: Any,
        sync: Callable[[], None] = lambda: None,
        clock: Clock = time.perf_counter,
    ):
        self.module = module
        self.sync = sync
        self.clock = clock
        self.samples_s: list[float] = []
        self._start: float | None = None
        self._handles: list[Any] = []

    def _pre(self, _module: Any, _args: Any) -> None:
        self.sync()
        self._start = self.clock()

    def _post(self, _module: Any, _args: Any, _output: Any) -> None:
        self.sync()
        if self._start is not None:
            self.samples_s.append(self.clock() - self._start)
        self._start = None

    def attach(self) -> CallTimer:
        self._handles = [
            self.module.register_forward_pre_hook(self._pre),
            self.module.register_forward_hook(self._post),
        ]
        return self

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def take(self) -> list[float]:
        samples, self.samples_s = self.samples_s, []
        return samples

    def __enter__(self) -> CallTimer:
        return self.attach()

    def __exit__(self, *exc: object) -> None:
        self.detach()


@dataclass(frozen=True)
class LayerTiming:
    """One leaf module over the timed calls of its model."""

    module: str  # dotted path, as in the workload's LayerRecord.module
    kind: str  # the module's class name
    calls_per_model_call: int  # a module may run more than once per model call
    timing: Timing  # of all its calls within one model call (summed), over the repeats


def time_layers(
    model: Any,
    run: Callable[[], Any],
    *,
    warmup: int = 1,
    repeats: int = 3,
    sync: Callable[[], None] = lambda: None,
    clock: Clock = time.perf_counter,
) -> list[LayerTiming]:
    """Time each leaf module of ``model`` while ``run()`` calls it, warm-up calls excluded;
    one :class:`LayerTiming` per leaf that ran, in order of first call."""
    # 1. inputs
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise InputError("warmup", warmup, "an integer >= 0")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise InputError("repeats", repeats, "an integer >= 1")
    leaves = [(name, m) for name, m in model.named_modules() if not any(m.children()) and name]
    if not leaves:
        raise InputError("model", type(model).__name__, "a torch module with sub-modules")

    # 2. hooks: per leaf, the summed time of its calls within the current model call
    current: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    starts: dict[str, float] = {}
    order: list[str] = []

    def pre(name: str) -> Callable[..., None]:
        def hook(_m: Any, _a: Any) -> None:
            sync()
            starts[name] = clock()

        return hook

    def post(name: str) -> Callable[..., None]:
        def hook(_m: Any, _a: Any, _o: Any) -> None:
            sync()
            current[name] += clock() - starts.pop(name)
            counts[name] += 1
            if name not in kinds_seen:
                kinds_seen.add(name)
                order.append(name)

        return hook

    kinds_seen: set[str] = set()
    handles = []
    for name, module in leaves:
        handles.append(module.register_forward_pre_hook(pre(name)))
        handles.append(module.register_forward_hook(post(name)))

    # 3. run: warm-up, then repeats, one sample per leaf per model call
    samples: dict[str, list[float]] = defaultdict(list)
    calls: dict[str, int] = {}
    try:
        for i in range(warmup + repeats):
            current.clear()
            counts.clear()
            run()
            if i >= warmup:
                for name, seconds in current.items():
                    samples[name].append(seconds)
                    calls[name] = counts[name]
    finally:
        for handle in handles:
            handle.remove()
    kinds = dict(leaves)
    return [
        LayerTiming(name, type(kinds[name]).__name__, calls[name], summarize(samples[name]))
        for name in order
        if samples.get(name)
    ]
