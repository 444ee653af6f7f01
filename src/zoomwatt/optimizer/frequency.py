"""Frequency scaling: whole-run DVFS (one frequency/voltage point for the run) and layer-wise
frequency (the voltage fixed for the run, a frequency per layer), from a profile's operating
points, under a power cap or a latency target.

How a point (f, V) changes the device against the nominal point (f0, V0), P = C f V^2:

    compute peaks            x f / f0                 (memory bandwidth does not change)
    energy per MAC, on-chip  x (V / V0)^2             (same rail as the engine)
    static power             x [s (V / V0) + (1 - s) (V / V0)^2 (f / f0)]
                             s = leakage share of the static power (LEAK_SHARE, an estimate);
                             the rest is clock-tree power, burnt every cycle even when stalled
    DRAM energy, idle power, kernel overhead: unchanged

So a memory-bound layer run slower keeps its time (the memory sets it) and saves clock power;
a compute-bound one takes longer. Within a run the voltage stays at the run's point and each
layer may use any of the profile's frequencies up to the run's (a lower clock is always
stable at a higher voltage).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from zoomwatt.errors import InputError
from zoomwatt.hardware.schema import HardwareProfile
from zoomwatt.perfmodel.device_params import DeviceParams
from zoomwatt.perfmodel.layer_table import LayerTable
from zoomwatt.perfmodel.roofline import MEMORY, LayerCosts, layer_costs

LEAK_SHARE = 0.5  # estimate: half of the busy static power is leakage, half clock tree
SAME_TIME = 1.0 + 1e-9  # "no slower" tolerance of the layer-wise no-loss rule


@dataclass(frozen=True)
class FrequencyPoint:
    name: str
    frequency_hz: float
    voltage_v: float


def operating_points(profile: HardwareProfile) -> tuple[list[FrequencyPoint], FrequencyPoint]:
    """The profile's points sorted by frequency, and the nominal one (where peaks are quoted)."""
    points = sorted(
        (FrequencyPoint(p.name, p.frequency.si, p.voltage.si) for p in profile.operating_points),
        key=lambda p: p.frequency_hz,
    )
    nominal = next(p for p in profile.operating_points if p.nominal)
    return points, FrequencyPoint(nominal.name, nominal.frequency.si, nominal.voltage.si)


def scaled_params(
    base: DeviceParams,
    nominal: FrequencyPoint,
    settings: list[tuple[float, float]],
    *,
    leak_share: float = LEAK_SHARE,
) -> DeviceParams:
    """``base`` (at ``nominal``) at each (frequency Hz, voltage V) of ``settings``: a batch with
    a leading axis of len(settings) (see module doc for the scaling)."""
    # 1. inputs
    if not settings:
        raise InputError("settings", settings, "at least one (frequency, voltage) pair")
    for f, v in settings:
        if not (math.isfinite(f) and f > 0 and math.isfinite(v) and v > 0):
            raise InputError("settings", (f, v), "(frequency Hz > 0, voltage V > 0)")
    if not 0 <= leak_share <= 1:
        raise InputError("leak_share", leak_share, "a share in [0, 1]")
    # 2. scale factors, as columns
    f = np.array([s[0] for s in settings], dtype=float)[:, None] / nominal.frequency_hz
    v = np.array([s[1] for s in settings], dtype=float)[:, None] / nominal.voltage_v
    static = leak_share * v + (1 - leak_share) * v**2 * f
    return base.replace(
        peak_ops_per_s=np.asarray(base.peak_ops_per_s) * f,
        sparse_peak_ops_per_s=np.asarray(base.sparse_peak_ops_per_s) * f,
        mac_energy_j=np.asarray(base.mac_energy_j) * v**2,
        on_chip_j_per_byte=np.asarray(base.on_chip_j_per_byte, dtype=float) * v**2,
        static_power_w=np.asarray(base.static_power_w, dtype=float) * static,
        bandwidth_bytes_per_s=np.broadcast_to(
            np.asarray(base.bandwidth_bytes_per_s, dtype=float), f.shape
        ),
    )


def no_loss_choice(costs: LayerCosts, run: int) -> np.ndarray:
    """Per layer, the frequency (row of ``costs``) with the least energy among those no slower
    than row ``run``; rows are the frequencies at the run's voltage."""
    return no_loss_rows(costs.time_s, costs.energy_j, run)


def no_loss_rows(time_s: np.ndarray, energy_j: np.ndarray, run: int) -> np.ndarray:
    """:func:`no_loss_choice` on the (frequency, layer) time and energy arrays alone."""
    allowed = time_s <= time_s[run] * SAME_TIME
    return np.argmin(np.where(allowed, energy_j, np.inf), axis=0)


def capped_choice(costs: LayerCosts, power_cap_w: float) -> np.ndarray:
    """Per layer, the fastest frequency whose layer power stays under the cap (the slowest where
    none does); of equally fast ones the least energy, so a memory-bound layer, which a higher
    clock does not speed up, stays at a low clock."""
    fits = costs.power_w <= power_cap_w * SAME_TIME
    fits = np.where(fits.any(axis=0), fits, np.arange(len(fits))[:, None] == 0)
    time = np.where(fits, costs.time_s, np.inf)
    fastest = fits & (time <= time.min(axis=0) * SAME_TIME)
    return np.argmin(np.where(fastest, costs.energy_j, np.inf), axis=0)


def pick(values: np.ndarray, choice: np.ndarray) -> np.ndarray:
    """values[choice[i], i] for each layer i."""
    return np.take_along_axis(values, choice[None, :], axis=0)[0]


@dataclass(frozen=True)
class FrequencyPlan:
    """One way of clocking a run, totalled over the layers (weighted by calls)."""

    mode: str  # "fixed", "whole-run DVFS", "layer-wise"
    voltage_v: float
    frequencies_mhz: list[float]  # distinct frequencies used
    latency_s: float
    energy_j: float
    avg_power_w: float
    peak_layer_power_w: float
    meets_constraint: bool
    memory_bound_mhz: float  # time-weighted mean clock of the memory-bound layers
    compute_bound_mhz: float  # ... of the other layers


@dataclass(frozen=True)
class FrequencyStudy:
    hardware: str
    constraint: str  # e.g. "power cap 15 W" or "latency target 9.26 s"
    leak_share: float
    plans: list[FrequencyPlan]  # fixed (nominal), whole-run DVFS, layer-wise

    @property
    def saving(self) -> dict[str, float]:
        """Layer-wise against the fixed nominal frequency: shares of latency and energy saved."""
        fixed, layer = self.plans[0], self.plans[-1]
        return {
            "latency": 1 - layer.latency_s / fixed.latency_s,
            "energy": 1 - layer.energy_j / fixed.energy_j,
        }


def _plan(mode, voltage, freqs_hz, choice, costs, calls, bound_at_run, power_cap, latency_t):
    t = pick(costs.time_s, choice)
    e = pick(costs.energy_j, choice)
    p = pick(costs.power_w, choice)
    latency, energy = float(calls @ t), float(calls @ e)
    mhz = freqs_hz[choice] / 1e6
    mem = bound_at_run == MEMORY
    weights = calls * t

    def mean(mask: np.ndarray) -> float:
        w = weights[mask]
        return float(w @ mhz[mask] / w.sum()) if w.sum() > 0 else float("nan")

    peak = float(p[t > 0].max()) if (t > 0).any() else 0.0
    meets = (power_cap is None or peak <= power_cap * SAME_TIME) and (
        latency_t is None or latency <= latency_t * SAME_TIME
    )
    return FrequencyPlan(
        mode=mode,
        voltage_v=voltage,
        frequencies_mhz=sorted({float(m) for m in np.unique(mhz)}),
        latency_s=latency,
        energy_j=energy,
        avg_power_w=energy / latency if latency > 0 else 0.0,
        peak_layer_power_w=peak,
        meets_constraint=bool(meets),
        memory_bound_mhz=mean(mem),
        compute_bound_mhz=mean(~mem),
    )


def _lagrange_choice(costs: LayerCosts, calls: np.ndarray, target_s: float) -> np.ndarray:
    """Least total energy with total time <= target: per layer argmin(e + lambda t), lambda
    found by bisection (a multiple-choice knapsack solved on its convex hull)."""
    t, e = costs.time_s * calls, costs.energy_j * calls

    def choose(lam: float) -> np.ndarray:
        return np.argmin(e + lam * t, axis=0)

    fastest = np.argmin(t, axis=0)
    if pick(t, fastest).sum() > target_s:
        return fastest
    lo, hi = 0.0, 1.0
    while pick(t, choose(hi)).sum() > target_s and hi < 1e12:
        hi *= 4
    best = choose(hi)
    if pick(t, choose(0.0)).sum() <= target_s:
        return choose(0.0)
    for _ in range(60):
        mid = (lo + hi) / 2
        c = choose(mid)
        if pick(t, c).sum() <= target_s:
            hi, best = mid, c
        else:
            lo = mid
    return best


def _check_study(
    table: LayerTable,
    calls: np.ndarray,
    power_cap_w: float | None,
    latency_target_s: float | None,
) -> np.ndarray:
    """The calls per layer as an array; InputError for a bad constraint or count."""
    if power_cap_w is not None and latency_target_s is not None:
        raise InputError("constraint", "both", "a power cap or a latency target, not both")
    for name, value in (("power_cap_w", power_cap_w), ("latency_target_s", latency_target_s)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise InputError(name, value, "a number > 0")
    calls = np.asarray(calls, dtype=float)
    if calls.shape != (table.n_layers,):
        raise InputError("calls", calls.shape, f"one count per layer ({table.n_layers})")
    return calls


@dataclass(frozen=True)
class _Study:
    """What every plan of one study is made from."""

    table: LayerTable
    calls: np.ndarray
    free: DeviceParams  # the device without its own throttle
    points: list[FrequencyPoint]
    nominal: FrequencyPoint
    power_cap_w: float | None
    latency_target_s: float | None
    leak_share: float

    def costs(self, settings: list[tuple[float, float]]) -> LayerCosts:
        params = scaled_params(self.free, self.nominal, settings, leak_share=self.leak_share)
        return layer_costs(self.table, params)

    def plan(
        self,
        mode: str,
        voltage: float,
        freqs_hz: np.ndarray,
        choice: np.ndarray,
        costs: LayerCosts,
        bound: np.ndarray,
    ) -> FrequencyPlan:
        return _plan(mode, voltage, freqs_hz, choice, costs, self.calls, bound,
                     self.power_cap_w, self.latency_target_s)  # fmt: skip


def _whole_run(study: _Study) -> tuple[FrequencyPlan, FrequencyPlan, np.ndarray]:
    """The fixed nominal plan, the best whole-run point, and each layer's bound at nominal."""
    points, n_layers = study.points, study.table.n_layers
    freqs = np.array([p.frequency_hz for p in points])
    whole = study.costs([(p.frequency_hz, p.voltage_v) for p in points])
    nominal_i = next(i for i, p in enumerate(points) if p.name == study.nominal.name)
    bound = whole.bound[nominal_i]
    plans = [
        study.plan("whole-run DVFS", p.voltage_v, freqs, np.full(n_layers, i), whole, bound)
        for i, p in enumerate(points)
    ]
    fixed = FrequencyPlan(**{**plans[nominal_i].__dict__, "mode": "fixed"})
    ok = [pl for pl in plans if pl.meets_constraint]
    if study.latency_target_s is not None:
        best = (
            min(ok, key=lambda pl: pl.energy_j) if ok else min(plans, key=lambda pl: pl.latency_s)
        )
    elif ok:
        best = min(ok, key=lambda pl: (pl.latency_s, pl.energy_j))
    else:
        best = min(plans, key=lambda pl: pl.peak_layer_power_w)
    return fixed, best, bound


def _layer_wise(study: _Study, bound: np.ndarray) -> FrequencyPlan:
    """The best layer-wise plan: at the voltage of each run point, each layer at a frequency
    up to the point's own."""
    points = study.points
    freqs = np.array([p.frequency_hz for p in points])
    plans = []
    for run in points:
        allowed = [i for i, p in enumerate(points) if p.frequency_hz <= run.frequency_hz]
        costs = study.costs([(freqs[i], run.voltage_v) for i in allowed])
        if study.latency_target_s is not None:
            choice = _lagrange_choice(costs, study.calls, study.latency_target_s)
        else:
            choice = capped_choice(costs, study.power_cap_w)
        plans.append(study.plan("layer-wise", run.voltage_v, freqs[allowed], choice, costs, bound))
    ok = [pl for pl in plans if pl.meets_constraint]
    if study.latency_target_s is not None:
        return min(ok or plans, key=lambda pl: (not pl.meets_constraint, pl.energy_j))
    return min(ok or plans, key=lambda pl: (pl.latency_s, pl.energy_j))


def frequency_study(
    table: LayerTable,
    calls: np.ndarray,
    profile: HardwareProfile,
    base: DeviceParams,
    *,
    power_cap_w: float | None = None,
    latency_target_s: float | None = None,
    leak_share: float = LEAK_SHARE,
) -> FrequencyStudy:
    """Fixed nominal frequency vs whole-run DVFS vs layer-wise frequency for the layers of
    ``table`` (``calls``: how often each layer runs), under a power cap on every layer (default:
    the profile's cap) or a least-energy plan under a latency target. The model's own throttle
    is switched off so that the constraint is met by the clock choice."""
    calls = _check_study(table, calls, power_cap_w, latency_target_s)
    if power_cap_w is None and latency_target_s is None:
        power_cap_w = float(profile.power_cap.si)
    points, nominal = operating_points(profile)
    study = _Study(table, calls, base.replace(power_cap_w=math.inf), points, nominal,
                   power_cap_w, latency_target_s, leak_share)  # fmt: skip
    fixed, best_whole, bound = _whole_run(study)
    best_layer = _layer_wise(study, bound)
    constraint = (
        f"latency target {latency_target_s:.4g} s"
        if latency_target_s is not None
        else f"power cap {power_cap_w:g} W on every layer"
    )
    return FrequencyStudy(profile.name, constraint, leak_share, [fixed, best_whole, best_layer])
