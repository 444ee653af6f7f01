"""The real machine behind the host check: calibration, the reference kernel, and each model
stage timed again on the inputs the zoom gave it.

:class:`CallInputs` keeps the arguments of every call of some modules during a zoom (forward
pre-hooks; references, not copies: the pipeline makes new tensors at every step), so that a
stage can be replayed exactly: the same module, the same shapes, the same number of calls per
keyframe. :class:`TorchCheckMachine` is the :class:`~zoomwatt.measurement.host_check.
CheckMachine` over them; every timed piece is a :class:`~zoomwatt.measurement.host_check.
Window` with the process's CPU share and, from ``/proc/stat``, what the other processes and
the hypervisor took meanwhile.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from zoomwatt.errors import InputError
from zoomwatt.hardware.host_calibration import load_host_profile, reference_speed
from zoomwatt.hardware.host_probe import cpu_share, machine_counters, make_probe, others_share
from zoomwatt.measurement.host_check import Calibration, Window
from zoomwatt.workload.stages import StageName

log = logging.getLogger(__name__)


class CallInputs:
    """The (args, kwargs) of every call of each module in ``models`` while attached."""

    def __init__(self, models: Mapping[str, Any]):
        self.models = dict(models)
        self.calls: dict[str, list[tuple[tuple[Any, ...], dict[str, Any]]]] = {
            stage: [] for stage in self.models
        }
        self._handles: list[Any] = []

    def attach(self) -> None:
        for stage, module in self.models.items():
            hook = self._hook(stage)
            self._handles.append(module.register_forward_pre_hook(hook, with_kwargs=True))

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _hook(self, stage: str) -> Callable[..., None]:
        def keep(_module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            self.calls[stage].append((args, dict(kwargs)))

        return keep

    def last(self, stage: str, count: int) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        """The last ``count`` calls of ``stage`` (one keyframe's, with ``count`` its calls)."""
        calls = self.calls.get(stage, [])
        if count < 1 or len(calls) < count:
            raise InputError(f"calls of {stage}", len(calls), f"at least {max(1, count)}")
        return calls[-count:]


#: A retry round waits at most this long for the other processes to leave the CPUs.
SETTLE_MAX_S = 30.0


def wait_until_quiet(
    max_s: float = SETTLE_MAX_S, quiet_share: float = 0.1, step_s: float = 1.0
) -> float:
    """Wait until, over ``step_s``, other processes used less than ``quiet_share`` of the
    CPUs (``/proc/stat``), at most ``max_s``; returns the seconds waited (0 where the
    counters cannot be read)."""
    start = time.perf_counter()
    while time.perf_counter() - start < max_s:
        before, cpu0 = machine_counters(), time.process_time()
        if before is None:
            return 0.0
        time.sleep(step_s)
        others, _steal = others_share(
            before, machine_counters(), time.process_time() - cpu0, step_s
        )
        if others is not None and others < quiet_share:
            break
    return time.perf_counter() - start


def timed_window(fn: Callable[[], Any], threads: int | None, sync: Callable[[], None]) -> Window:
    """Run ``fn`` once: its seconds, the process's CPU share over ``threads`` (None: not
    judged, e.g. work on a GPU), other processes' and the hypervisor's share of the CPUs."""
    sync()
    counters0, cpu0, start = machine_counters(), time.process_time(), time.perf_counter()
    fn()
    sync()
    wall = time.perf_counter() - start
    own = time.process_time() - cpu0
    others, steal = others_share(counters0, machine_counters(), own, wall)
    share = cpu_share(own, wall, threads) if threads else None
    return Window(wall, share, others, steal)


class TorchCheckMachine:
    """The host check's machine: ``pipe``'s models replayed on ``inputs``, predictions on
    the host profile for ``spec``. ``calls``: each model stage's calls per keyframe."""

    def __init__(
        self,
        *,
        pipe: Any,
        inputs: CallInputs,
        calls: Mapping[str, int],
        spec: Any,
        device: str,
        plan: str,
        recalibrate: bool,
        reference_dtype: str | None,
        prompt: str,
        sync: Callable[[], None],
        threads: int | None,
        settle_s: float = SETTLE_MAX_S,
        retained_memory: bool = False,
    ):
        from zoomwatt.perfmodel import load_workload

        self.pipe, self.inputs, self.calls = pipe, inputs, dict(calls)
        self.spec, self.device, self.plan = spec, device, plan
        self.recalibrate, self.reference_dtype = recalibrate, reference_dtype
        self.prompt, self.sync, self.threads = prompt, sync, threads
        self.settle_s = settle_s
        self.retained_memory = retained_memory  # predicted with freed memory kept
        self.probe = make_probe(device)
        self.workload = load_workload(spec)
        self.predictions: list[Any] = []  # one Prediction per calibration

    def calibrate(self, index: int) -> Calibration:
        """The host profile (the first from the cache unless ``recalibrate``; the others
        always measured now) and every stage predicted on it."""
        from zoomwatt.perfmodel import DeviceOptions, predict_workload, supported

        profile = load_host_profile(
            probe=self.probe,
            plan=self.plan,
            recalibrate=self.recalibrate or index > 0,
            reference_dtype=self.reference_dtype,
        )
        options = DeviceOptions(retained_memory=self.retained_memory)
        (prediction,) = predict_workload(self.workload, [profile], options)
        prediction = supported(prediction)
        self.predictions.append(prediction)
        record = profile.calibration or {}
        return Calibration(
            predicted_s=self._per_keyframe(prediction),
            cpu_share=record.get("cpu_share"),
            reference_before=reference_window(record, "before"),
            reference_after=reference_window(record, "after"),
            date=str(record.get("date", "")),
            profile=profile,
        )

    def _per_keyframe(self, prediction: Any) -> dict[str, float | None]:
        """Each model stage's predicted seconds for one keyframe's calls; the text encoder
        for one prompt encoding (prompt and negative prompt with CFG)."""
        costs = {s.name: s for s in prediction.per_stage}
        out: dict[str, float | None] = {}
        for name in self.calls:
            cost = costs.get(name)
            if cost is None:
                out[name] = None
            elif name == StageName.TEXT_ENCODER:
                out[name] = cost.latency_per_call_s * self.calls[name]
            else:
                out[name] = cost.latency_s
        return out

    def reference(self) -> Window:
        self.sync()
        start = time.perf_counter()
        return _window(reference_speed(self.probe), time.perf_counter() - start)

    def settle(self) -> None:
        waited = wait_until_quiet(self.settle_s)
        log.info("waited %.0f s for other processes before a retry round", waited)

    def warm_up(self, name: str) -> None:
        self.run_stage(name)

    def run_stage(self, name: str) -> Window:
        import torch

        if name == StageName.TEXT_ENCODER:
            cfg = self.calls[name] > 1

            def work() -> None:
                with torch.inference_mode():
                    self.pipe.encode_prompt(self.prompt, self.device, 1, cfg, negative_prompt=None)

        else:
            module = self.inputs.models[name]
            calls = self.inputs.last(name, self.calls[name])

            def work() -> None:
                with torch.inference_mode():
                    for args, kwargs in calls:
                        module(*args, **kwargs)

        return timed_window(work, self.threads, self.sync)


def reference_window(record: Mapping[str, Any], when: str) -> Window | None:
    """The reference kernel ``when`` ('before', 'after') calibration, from its record (None
    for a profile calibrated before zoomwatt ran one)."""
    kernel = record.get("reference_kernel") or {}
    if kernel.get(f"{when}_ops_per_s") is None:
        return None
    return _window({k[len(when) + 1 :]: v for k, v in kernel.items() if k.startswith(when)})


def _window(reading: Mapping[str, Any], seconds: float = 0.0) -> Window:
    """A reference kernel reading (:func:`~zoomwatt.hardware.host_calibration.
    reference_speed`) as a window."""
    return Window(
        seconds,
        reading.get("cpu_share"),
        reading.get("others_cpu_share"),
        reading.get("steal_share"),
        reading.get("ops_per_s"),
        reading.get("stream_ops_per_s"),
        reading.get("fault_bytes_per_s"),
    )
