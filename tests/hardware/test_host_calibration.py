"""Host calibration through the probe interface: mocked numbers, caching, and a tiny real run."""

from __future__ import annotations

import pytest

from zoomwatt.errors import InputError, NotMeasurableError
from zoomwatt.hardware import load_profile
from zoomwatt.hardware.fresh_buffers import fresh_buffer_fault_s
from zoomwatt.hardware.host_cache import cache_dir, host_cache_path
from zoomwatt.hardware.host_calibration import (
    PLANS,
    calibrate_host,
    counted_ops,
    counted_work,
    fit_reuse,
    load_host_profile,
)
from zoomwatt.hardware.host_probe import TorchCpuProbe
from zoomwatt.hardware.schema import parse_profile

# SiLU beyond the buffer at a quarter of its in-cache rate: the spill rate the calibration
# fits (see test_calibration_builds_a_valid_profile)
_SPILL_NUMEL = PLANS["quick"].spill_numel
FAKE_SPILL = (2 * _SPILL_NUMEL * 4 - 8 * 2**20) / (_SPILL_NUMEL / 0.25e9 - _SPILL_NUMEL / 1e9)


class FakeProbe:
    """Rates from the model the calibration fits: conv at R = 0.5 x fp32 with reuse_half 64
    (plus the faults of a fresh weight buffer, which the calibration takes out),
    linear at R = fp32 with reuse_half 16; attention at R = 0.5 x fp32 with reuse_half 2e6
    MACs (the call's); SiLU 1e9 elements/s within the cache and 0.25e9/s beyond it; group
    norm and add at fixed rates."""

    kind = "cpu"

    def __init__(self, device="Fake CPU", fp16=5e10, fp32=1e11):
        self.device = device
        self.rates = {"fp32": fp32, "bf16": None, "fp16": fp16, "int8": 4e11}
        self.matmul_calls = 0

    def identity(self):
        return {"device": self.device, "cores": "4"}

    def matmul_ops_per_s(self, dtype, n, min_time_s):
        self.matmul_calls += 1
        return self.rates[dtype]

    def conv_ops_per_s(self, dtype, shape, min_time_s, cold_bytes):
        channels, side, batch = shape
        reuse = side * side * batch
        ops = 2 * channels**2 * 9 * reuse
        seconds = ops / (0.5 * self.rates[dtype] * reuse / (reuse + 64))
        # + the page faults of a fresh weight buffer of at least the buffer (fresh_buffers.py):
        # the buffer is the cache here (SiLU slows past it), the spill rate the SiLU's below
        weight_bytes = channels**2 * 9 * 4
        return ops / (seconds + fresh_buffer_fault_s(weight_bytes, self.cache_bytes(), FAKE_SPILL))

    def gemm_ops_per_s(self, dtype, shape, min_time_s, cold_bytes):
        reuse = shape[0]
        if self.rates[dtype] is None:  # not supported, as the real probes answer
            return None
        return self.rates[dtype] * reuse / (reuse + 16)

    def conv_gemm_ops_per_s(self, dtype, shape, min_time_s, cold_bytes):
        # a native conv's GEMM reads its weights at 2 GB/s whatever the rows (fp32 bytes)
        m, k, n = shape
        return None if self.rates[dtype] is None else 2.0 * m * k * n / (k * n * 4 / 2e9)

    def elementwise_elements_per_s(self, op, dtype, numel, min_time_s):
        if op == "silu":
            return 1e9 if numel * 8 <= self.cache_bytes() else 0.25e9
        return {"group_norm": 2e9, "add": 4e9, "upsample_bilinear": 1e9, "sum": 5e9}[op]

    def attention_seconds(self, dtype, shape, min_time_s):
        ops, macs = counted_work("attention", (1, *shape))
        return ops / (0.5 * self.rates[dtype] * macs / (macs + 2e6))

    def copy_bytes_per_s(self, nbytes, min_time_s):
        return 2e10

    def page_fault_bytes_per_s(self, nbytes, min_time_s):
        return 5e9

    def kernel_overhead_s(self, min_time_s):
        return 4e-6

    def memory_bytes(self):
        return 16 * 2**30

    def cache_bytes(self):
        return 8 * 2**20

    def power_limit_w(self):
        return (65.0, "RAPL package power limit (fake)")

    def clock_hz(self):
        return 3e9


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOOMWATT_CACHE_DIR", str(tmp_path / "cache"))


class BigCacheProbe(FakeProbe):
    """A VM whose OS reports a 480 MiB L3 but whose fresh activations slow beyond 32 MiB of
    input + output (the allocator maps them afresh and faults their pages in), as measured on
    a 2-core Xeon VM on 2026-12-03."""

    def elementwise_elements_per_s(self, op, dtype, numel, min_time_s):
        if op == "silu":
            return 1e9 if numel * 8 <= 32 * 2**20 else 0.25e9
        return super().elementwise_elements_per_s(op, dtype, numel, min_time_s)

    def cache_bytes(self):
        return 480 * 2**20


def test_the_activation_buffer_is_measured_not_read_from_the_os():
    profile = load_host_profile(probe=BigCacheProbe())
    # in-cache size min(4 Mi, 480 MiB / 8) = 4 Mi elements; sweep 8 Mi, 16 Mi: 8 Mi slows,
    # so the buffer is 4 Mi x (input + output) x 4 B = 32 MiB, not the OS's 480 MiB
    assert profile.on_chip_buffer.si == 32 * 2**20
    assert "480 MiB" in profile.on_chip_buffer.source
    # spill from 16 Mi elements: 16 Mi / 0.25e9 - 16 Mi / 1e9 = 50.3 ms beyond the in-cache
    # rate, for 2 x 16 Mi x 4 B - 32 MiB = 96 MiB spilled -> 100.7 MB / 50.3 ms = 2.0 GB/s
    numel = PLANS["quick"].spill_numel
    extra_s = numel / 0.25e9 - numel / 1e9
    assert profile.spill_bandwidth.si == pytest.approx(96 * 2**20 / extra_s, rel=1e-3)

    # the full plan sweeps as the quick one (in-cache 4 Mi, then 8, 16, 32 Mi): the same knee
    full = load_host_profile(probe=BigCacheProbe(), plan="full", recalibrate=True)
    assert full.on_chip_buffer.si == 32 * 2**20

    class NeverSlows(BigCacheProbe):
        def elementwise_elements_per_s(self, op, dtype, numel, min_time_s):
            return FakeProbe.elementwise_elements_per_s(self, op, dtype, 1, min_time_s)

    # where no size slows, the OS's cache stands, and nothing spills up to 16 Mi elements
    steady = load_host_profile(probe=NeverSlows(), recalibrate=True)
    assert steady.on_chip_buffer.si == 480 * 2**20
    assert steady.on_chip_buffer.source == "largest cache level reported by the OS"
    assert steady.spill_bandwidth is None


def _fault_rate(profile):
    """The fault conv's measured rate (B/s), None where none was measured."""
    fit = profile.calibration["measured"]["conv_fault_fit"]
    return None if fit is None else fit["fault_bytes_per_s"]


def test_a_convs_weight_faults_are_measured_with_a_conv_and_recorded_not_used():
    class SlowConvFaults(BigCacheProbe):
        """Buffer 32 MiB (SiLU's knee); a conv's fresh weight buffer of at least 32 MiB
        faults at 1.5e9 B/s, whatever SiLU's spill rate (2.0 GB/s here)."""

        def conv_ops_per_s(self, dtype, shape, min_time_s, cold_bytes):
            channels, side, batch = shape
            reuse = side * side * batch
            ops = 2 * channels**2 * 9 * reuse
            seconds = ops / (0.5 * self.rates[dtype] * reuse / (reuse + 64))
            return ops / (seconds + fresh_buffer_fault_s(channels**2 * 9 * 4, 32 * 2**20, 1.5e9))

    profile = load_host_profile(probe=SlowConvFaults())
    # the small conv (896: 27.6 MiB) is below the buffer: the fit is R = 0.5e11, half 64; the
    # fault conv's 59.0 MB beyond it at 1.5e9 B/s: 39.3 ms, read back as 1.5 GB/s (4
    # significant digits: rel 1e-3)
    assert profile.reuse_half["conv"].si == pytest.approx(64, rel=1e-3)
    assert _fault_rate(profile) == pytest.approx(1.5e9, rel=1e-3)
    assert profile.spill_bandwidth.si == pytest.approx(2.0e9, rel=0.01)  # SiLU's, unchanged
    faults = profile.calibration["measured"]["conv_fault_fit"]
    assert faults["shape"] == [1280, 4, 2] and faults["weight_bytes"] == 1280**2 * 9 * 4
    # recorded, not written as the profile's rate (too unsteady on the Zen 5 VM: the roofline
    # prices the faults at the spill rate)
    assert profile.reorder_fault_bandwidth is None

    class BarelySlower(BigCacheProbe):
        """The fault conv 5% slower than the fit: under MIN_FAULT_SHARE (10%) of its call."""

        def conv_ops_per_s(self, dtype, shape, min_time_s, cold_bytes):
            rate = super().conv_ops_per_s(dtype, shape, min_time_s, cold_bytes)
            return rate / 1.05 if shape[0] == 1280 else rate

    barely = load_host_profile(probe=BarelySlower(), recalibrate=True)
    assert _fault_rate(barely) is None
    # BigCacheProbe's convs never fault (its fake faults from its 480 MiB cache on): nothing
    assert _fault_rate(load_host_profile(probe=BigCacheProbe(), recalibrate=True)) is None


def test_a_sweep_that_disagrees_on_a_pages_cost_is_measured_again():
    class DisturbedOnce(BigCacheProbe):
        """The 16 Mi SiLU at 0.1e9 elements/s through the op-class rounds (5 calls), then at
        0.25e9 as the 8 Mi one."""

        top_calls = 0

        def elementwise_elements_per_s(self, op, dtype, numel, min_time_s):
            if op == "silu" and numel == PLANS["quick"].spill_numel:
                self.top_calls += 1
                return 0.1e9 if self.top_calls <= PLANS["quick"].rounds else 0.25e9
            return super().elementwise_elements_per_s(op, dtype, numel, min_time_s)

    # fresh output bytes per second of extra time, per size: at 0.25e9 (in cache 1e9)
    # 4 B / (4 ns - 1 ns) = 1.33 GB/s; at 0.1e9 4 / (10 - 1) = 0.44 GB/s: spread 3 > 1.5
    probe = DisturbedOnce()
    profile = load_host_profile(probe=probe, recalibrate=True)
    fit = profile.calibration["measured"]["spill_fit"]
    assert fit["sweeps"] == 2 and fit["fault_rate_spread"] == pytest.approx(1.0)
    assert probe.top_calls == 2 * PLANS["quick"].rounds
    numel = PLANS["quick"].spill_numel  # the steady sweep's spill, as in the test above
    assert profile.spill_bandwidth.si == pytest.approx(
        96 * 2**20 / (numel / 0.25e9 - numel / 1e9), rel=1e-3
    )


def test_a_sweep_that_stays_disturbed_is_measured_three_times_at_most():
    class AlwaysDisturbed(BigCacheProbe):
        def elementwise_elements_per_s(self, op, dtype, numel, min_time_s):
            if op == "silu" and numel == PLANS["quick"].spill_numel:
                return 0.1e9  # spread 3 every time (see the test above)
            return super().elementwise_elements_per_s(op, dtype, numel, min_time_s)

    fit = load_host_profile(probe=AlwaysDisturbed(), recalibrate=True).calibration
    fit = fit["measured"]["spill_fit"]
    assert fit["sweeps"] == 3 and fit["fault_rate_spread"] == pytest.approx(3.0, rel=1e-3)


def test_a_sweep_that_cannot_be_judged_does_not_win_over_one_that_can(monkeypatch):
    import zoomwatt.hardware.host_calibration as host_calibration

    class Disturbed(BigCacheProbe):
        def elementwise_elements_per_s(self, op, dtype, numel, min_time_s):
            if op == "silu" and numel == PLANS["quick"].spill_numel:
                return 0.1e9
            return super().elementwise_elements_per_s(op, dtype, numel, min_time_s)

    # the sweeps measured again find a single slow size (no spread): the first, judged at 3,
    # is kept, as the only one judged
    monkeypatch.setattr(host_calibration, "_spill_rates", lambda *a: {8 << 20: 0.25e9})
    fit = load_host_profile(probe=Disturbed(), recalibrate=True).calibration
    fit = fit["measured"]["spill_fit"]
    assert fit["sweeps"] == 2 and fit["fault_rate_spread"] == pytest.approx(3.0, rel=1e-3)


def test_cache_dir_env(tmp_path):
    assert cache_dir() == tmp_path / "cache"
    assert host_cache_path() == tmp_path / "cache" / "host.yaml"


def test_the_kernel_overhead_says_what_the_probe_timed():
    probe = FakeProbe()
    basis = "the tiny models' calls, time per counted kernel"
    probe.kernel_overhead_basis = basis
    assert load_host_profile(probe=probe).kernel_overhead.source.endswith(basis)


def test_calibration_builds_a_valid_profile():
    profile = load_host_profile(probe=FakeProbe())
    assert profile.name == "host"
    assert profile.peak_dense["fp32"].si == pytest.approx(1e11)
    # fp16 (5e10) is slower than fp32 (1e11): left out, so fp16 layers compute as fp32
    assert "fp16" not in profile.peak_dense
    # int8 (4e11) is faster than fp32: kept
    assert profile.peak_dense["int8"].si == pytest.approx(4e11)
    assert not profile.peak_dense["fp32"].is_estimate
    # conv at half the matmul rate at full reuse -> efficiency 0.5, reuse_half 64, measured,
    # once the faults of the (896, 4, 2) conv's fresh 27.6 MiB of weights are taken out (the
    # fake's buffer is 8 MiB): 896^2 x 9 x 4 = 28.9 MB at 2.5 GB/s, 11.6 ms on top of its
    # 2 x 896^2 x 9 x 32 / (0.5e11 x 32 / 96) = 27.7 ms (the spill rate is written to 4
    # significant digits: rel 1e-3)
    assert profile.efficiency["conv"].si == pytest.approx(0.5, rel=1e-3)
    assert profile.reuse_half["conv"].si == pytest.approx(64, rel=1e-3)
    assert "page faults" in profile.efficiency["conv"].source
    assert profile.calibration["conv_weight_faults"] == "apart"  # the roofline adds them back
    fit = profile.calibration["measured"]["reuse_fits"]["conv"]
    assert fit["weight_fault_s"][0] == 0  # (256, 64, 1): 2.4 MB of weights, below the buffer
    assert fit["measured_ops_per_s"][1] < fit["ops_per_s"][1]  # the faults taken out
    # the fit's own small conv (27.6 MiB) faults here too (8 MiB buffer), its faults taken out
    # at the spill rate: the fault conv's excess would give that rate back whatever the true
    # one, so no reorder fault rate is measured and the roofline takes the spill rate
    assert profile.calibration["measured"]["conv_fault_fit"] is None
    assert profile.reorder_fault_bandwidth is None
    assert profile.efficiency["linear"].si == pytest.approx(1.0)
    assert profile.reuse_half["linear"].si == pytest.approx(16)
    # SiLU: 4 FLOPs per element (the formula table) x 1e9 elements/s / 1e11 peak = 0.04
    assert profile.efficiency["activation"].si == pytest.approx(0.04)
    assert profile.efficiency["norm"].si == pytest.approx(8 * 2e9 / 1e11)  # 8 per element
    assert profile.efficiency["elementwise"].si == pytest.approx(4e9 / 1e11)
    assert not profile.efficiency["activation"].is_estimate
    # every op class with operations is measured here, none is a constant from another CPU
    for op_class in ("resample", "other", "attention", "softmax", "norm", "elementwise"):
        assert not profile.efficiency[op_class].is_estimate, op_class
    # resample: in-cache size min(4 Mi, 8 MiB / 8) = 1 Mi elements, (1, 128, 8192) viewed as
    # 90x90 (90^2 = 8100 <= 8192); 2x bilinear: 128 x 180^2 outputs x 7 operations (the
    # formula table) per 128 x 8192 input elements, at 1e9 elements/s, over the 1e11 peak
    per_element = 128 * 180**2 * 7 / (128 * 8192)
    # (profile figures are written to 4 significant digits: rel 1e-3)
    assert profile.efficiency["resample"].si == pytest.approx(per_element * 1e9 / 1e11, rel=1e-3)
    # other: a sum, 1 operation per input element, at 5e9 elements/s / 1e11 = 0.05
    assert profile.efficiency["other"].si == pytest.approx(5e9 / 1e11)
    # data movement counts no operations: its efficiency is unused and says so
    assert "not used" in profile.efficiency["data_movement"].estimate
    # attention at (10 heads, 1024, 64) and (16, 77, 64), fitted with the call's MACs as its
    # reuse: R = 0.5 x 1e11 and reuse_half 2e6 MACs back (4 significant digits: rel 1e-3)
    assert profile.efficiency["attention"].si == pytest.approx(0.5, rel=1e-3)
    assert profile.reuse_half["attention"].si == pytest.approx(2e6, rel=1e-3)
    assert profile.reuse_half["attention"].unit == "MACs"
    # the (16, 77, 64) call: 2 x 16 x 77^2 x 64 = 12.1 MMAC, so it runs at 12.1 / 14.1 of R
    assert counted_work("attention", (1, 16, 77, 64))[1] == 2 * 16 * 77**2 * 64
    # spill: 16M SiLU elements at 0.25e9/s take 67.1 ms where 1e9/s gives 16.8 ms: 50.3 ms
    # extra for 2 x 16M x 4 B - 8 MiB cache = 125.8 MB spilled -> 2.5 GB/s
    numel = PLANS["quick"].spill_numel
    extra_s = numel / 0.25e9 - numel / 1e9
    spilled = 2 * numel * 4 - 8 * 2**20
    assert profile.spill_bandwidth.si == pytest.approx(spilled / extra_s, rel=1e-3)
    assert profile.memory_bandwidth.si == pytest.approx(2e10)
    assert profile.kernel_overhead.si == pytest.approx(4e-6)
    assert profile.kernel_overhead.source.endswith("one tiny add")  # the probe's basis
    assert profile.power_cap.si == 65.0
    assert profile.power_cap.source.startswith("RAPL")
    assert profile.on_chip_buffer.si == 8 * 2**20
    assert profile.calibration["measured"]["matmul_ops_per_s"]["fp16"] == 5e10
    assert host_cache_path().is_file()


def test_a_gemm_at_a_few_rows_is_measured_in_both_layouts():
    profile = load_host_profile(probe=FakeProbe())
    few = profile.few_rows
    assert few.dtype == "fp32" and tuple(few.rates) == ("conv", "linear")
    assert tuple(few.rates["conv"]) == (1, 2, 4, 8, 16, 32, 64)  # the quick plan's rows
    # the conv layout: the fake's flat 2 GB/s of weights at every row count
    assert [q.si for q in few.rates["conv"].values()] == pytest.approx([2e9] * 7)
    # a linear layer: 2 m k n OP at 1e11 m / (m + 16) OP/s reads 4 k n bytes at
    # 4 x 1e11 / (2 (m + 16)) B/s: 2 rows 11.11 GB/s, 16 rows 6.25 (3 decimals of GB/s)
    assert few.rates["linear"][2].si == pytest.approx(2e11 / 18, abs=1e6)
    assert few.rates["linear"][16].si == pytest.approx(2e11 / 32, abs=1e6)
    assert "1280 x 11520 weights (59 MB, cold) at 2 rows" in few.rates["conv"][2].source
    assert not few.rates["conv"][2].is_estimate
    assert profile.calibration["measured"]["few_rows"]["weights"] == [11520, 1280]


def test_no_few_rows_rates_off_a_cpu():
    from zoomwatt.hardware.few_rows import measure_few_rows

    probe = FakeProbe()
    probe.kind = "cuda"
    assert measure_few_rows(probe, "fp32", 1 << 20, 0.01) is None


def test_fit_reuse_hand_computed():
    # R = 100, h = 100: at reuse 900 -> 100 x 900 / 1000 = 90; at reuse 100 -> 100 x 100 / 200
    # = 50; h = (50 - 90) / (90/900 - 50/100) = -40 / -0.4 = 100
    rate, half = fit_reuse(90.0, 900, 50.0, 100)
    assert half == pytest.approx(100.0)
    assert rate == pytest.approx(100.0)
    # the small-reuse point as fast per row as the large one: no penalty
    assert fit_reuse(90.0, 900, 95.0, 100) == (95.0, 0.0)
    # a ceiling above the fit changes nothing; below it, R = the ceiling and h goes through the
    # small point: 95 (the ceiling) -> h = 100 x (95 / 50 - 1) = 90
    assert fit_reuse(90.0, 900, 50.0, 100, 120.0) == pytest.approx((100.0, 100.0))
    assert fit_reuse(90.0, 900, 50.0, 100, 95.0) == pytest.approx((95.0, 90.0))
    # the busy-machine case of 2026-12-01 17:44 (linear 89.5 GOP/s at 512 rows, 14.67 at 77):
    # unbounded, R = 921 GOP/s (h = 4,760); bounded by its 189 GOP/s matmul, h = 77 x (189 /
    # 14.67 - 1) = 915
    unbounded, _h = fit_reuse(89.5, 512, 14.67, 77)
    assert unbounded == pytest.approx(921.5, rel=1e-3)
    assert fit_reuse(89.5, 512, 14.67, 77, 189.0) == pytest.approx((189.0, 915.0), rel=1e-3)
    # a ceiling below the large point's own rate is not a bound (R is at least that rate)
    assert fit_reuse(90.0, 900, 50.0, 100, 80.0) == pytest.approx((90.0, 80.0))


def test_counted_ops_follow_the_formula_table():
    assert counted_ops("silu", (1, 128, 10)) == 4 * 1280  # 4 FLOPs per element
    assert counted_ops("group_norm", (1, 128, 10)) == 8 * 1280  # with affine
    assert counted_ops("add", (1, 128, 10)) == 1280
    # attention, 2 heads, 8 tokens, dim 4: QK^T and AV, 2 heads x (8*8*4 + 8*8*4) = 1024 MACs
    # = 2048 ops, plus the softmax part, 5 per score x 2*8*8 scores = 640
    assert counted_ops("attention", (1, 2, 8, 4)) == 2048 + 640


def test_cache_is_reused_and_invalidated_by_another_machine():
    first = FakeProbe()
    load_host_profile(probe=first)
    calls = first.matmul_calls
    again = FakeProbe()
    profile = load_host_profile(probe=again)
    assert again.matmul_calls == 0  # from the cache
    assert profile.peak_dense["fp32"].si == pytest.approx(1e11)
    other = FakeProbe(device="Other CPU", fp32=2e11)
    profile = load_host_profile(probe=other)
    assert other.matmul_calls == calls  # recalibrated
    assert profile.peak_dense["fp32"].si == pytest.approx(2e11)


def test_no_fp32_is_a_clear_error():
    probe = FakeProbe()
    probe.rates["fp32"] = None
    with pytest.raises(NotMeasurableError, match="fp32"):
        calibrate_host(probe, "tiny")


def test_load_profile_host_uses_the_cache(monkeypatch):
    import zoomwatt.hardware.host_calibration as host_calibration

    load_host_profile(probe=FakeProbe())
    probe = FakeProbe()
    monkeypatch.setattr(host_calibration, "make_probe", lambda device="auto": probe)
    assert load_profile("host").description.startswith("this machine: Fake CPU")
    assert probe.matmul_calls == 0


def test_tiny_real_cpu_calibration():
    profile = load_host_profile(probe=TorchCpuProbe(), plan="tiny", recalibrate=True)
    assert profile.peak_dense["fp32"].si > 1e6
    assert profile.memory_bandwidth.si > 1e6
    assert profile.memory_capacity.si > 1e8


def test_the_fresh_page_rate_is_the_fresh_fill_less_the_touched_one(monkeypatch):
    from zoomwatt.hardware import host_probe

    times = iter([0.014, 0.001])  # median fresh fill 14 ms, touched fill 1 ms
    monkeypatch.setattr(host_probe, "typical_time", lambda *_: next(times))
    # 64 MiB / (14 - 1) ms = 67108864 / 0.013 = 5.162e9 B/s
    rate = TorchCpuProbe().page_fault_bytes_per_s(64 * 2**20, 0.05)
    assert rate == pytest.approx(64 * 2**20 / 0.013)
    times = iter([0.001, 0.001])  # a fresh fill no slower than a touched one: no rate
    assert TorchCpuProbe().page_fault_bytes_per_s(64 * 2**20, 0.05) is None


@pytest.mark.slow
def test_full_real_calibration():
    profile = load_host_profile(plan="full", recalibrate=True)
    assert profile.peak_dense["fp32"].si > 1e9


def test_reference_kernel_is_recorded_around_calibration():
    data = calibrate_host(FakeProbe(), "tiny")
    kernel = data["calibration"]["reference_kernel"]
    # FakeProbe's fp32 matmul runs at 1e11 OP/s, before and after
    assert kernel["before_ops_per_s"] == 1e11 and kernel["after_ops_per_s"] == 1e11
    assert kernel["kernel"] == "fp32 512x512x512 matmul, median call over 0.1 s"


def test_a_native_bf16_reference_is_measured_in_bf16_and_not_cached():
    probe = FakeProbe()
    probe.rates["bf16"] = 4e11  # native bf16: 4x fp32 (as AMX), so kept
    profile = load_host_profile(probe=probe, plan="tiny", reference_dtype="bf16")
    assert profile.calibration["reference_dtype"] == "bf16"
    # conv at half the bf16 matmul rate at full reuse: 0.5 of the bf16 peak (4e11)
    assert profile.peak_dense["bf16"].si == pytest.approx(4e11)
    assert profile.efficiency["conv"].si == pytest.approx(0.5)
    assert not host_cache_path().exists()  # the cached host profile stays the fp32 one


def test_an_emulated_bf16_reference_falls_back_to_fp32_and_says_so():
    probe = FakeProbe()
    probe.rates["bf16"] = 2e10  # emulated: slower than fp32 (1e11), so dropped
    data = calibrate_host(probe, "tiny", reference_dtype="bf16")
    assert data["calibration"]["reference_dtype"] == "fp32"
    assert "bf16" not in data["compute"]["dense"]
    assert any("bf16 was asked for" in note for note in data["notes"])


def test_bad_reference_dtype_names_the_argument():
    with pytest.raises(InputError, match=r"^reference_dtype="):
        calibrate_host(FakeProbe(), "tiny", reference_dtype="fp64")


class FakeStackProbe:
    """A runtime that packs weights at compile time: conv at R = 0.6 x fp32 (1e11) with
    reuse_half 8, linear at R = 0.9 x fp32 with reuse_half 4; 2 us per graph node."""

    name = "openvino"
    version = "0.0-test"

    def __init__(self):
        self.calls = 0

    def conv_ops_per_s(self, dtype, shape, min_time_s, cold_bytes):
        self.calls += 1
        _channels, side, batch = shape
        reuse = side * side * batch
        return 0.6e11 * reuse / (reuse + 8)

    def gemm_ops_per_s(self, dtype, shape, min_time_s, cold_bytes):
        return 0.9e11 * shape[0] / (shape[0] + 4)

    def kernel_overhead_s(self, min_time_s):
        return 2e-6


def test_a_stack_is_calibrated_against_the_same_peak():
    probes = {"openvino": FakeStackProbe()}
    data = calibrate_host(FakeProbe(), stacks=("openvino",), stack_probes=probes)
    profile = parse_profile(data, "calibrated")
    assert profile.stack_names == ("eager", "openvino") and profile.default_stack == "eager"
    ov = profile.stack("openvino")
    # conv: R / peak = 0.6e11 / 1e11 = 0.6 and reuse_half 8, fitted through the plan's shapes
    assert ov.efficiency["conv"].si == pytest.approx(0.6)
    assert ov.reuse_half["conv"].si == pytest.approx(8)
    assert ov.efficiency["linear"].si == pytest.approx(0.9)
    assert ov.reuse_half["linear"].si == pytest.approx(4)
    assert ov.kernel_overhead.si == pytest.approx(2e-6)
    assert ov.pointwise_chains and ov.elementwise_fused
    assert "measured" in ov.efficiency["conv"].source and "0.0-test" in ov.efficiency["conv"].source
    # the eager figures are the compute section's, unchanged by the stack
    assert profile.reuse_half["conv"].si == pytest.approx(64)
    assert data["calibration"]["stacks"] == {"openvino": "0.0-test"}  # with its version


class FasterStackProbe(FakeStackProbe):
    """A runtime whose conv beats eager's fastest kernel: R = 1.3 x fp32 (1e11), reuse_half 8."""

    def conv_ops_per_s(self, dtype, shape, min_time_s, cold_bytes):
        return super().conv_ops_per_s(dtype, shape, min_time_s, cold_bytes) / 0.6 * 1.3


def test_a_stack_faster_than_eager_has_an_efficiency_over_1_and_leaves_eager_unchanged():
    plain = parse_profile(calibrate_host(FakeProbe()), "calibrated")
    probes = {"openvino": FasterStackProbe()}
    data = calibrate_host(FakeProbe(), stacks=("openvino",), stack_probes=probes)
    profile = parse_profile(data, "calibrated")
    # the stack's conv R is held to its large point (no faster than the fastest measured,
    # fit_reuse): at the quick plan's (256, 64, 1), reuse 64 x 64 = 4,096:
    # 1.3e11 x 4096 / (4096 + 8) = 1.29747e11, over eager's peak 1e11: 1.297
    assert profile.stack("openvino").efficiency["conv"].si == pytest.approx(1.29747, rel=1e-3)
    assert profile.stack("openvino").efficiency["linear"].si == pytest.approx(0.9)
    # every dtype's peak and eager's efficiencies are those without the stack (exactly: the
    # same rounds of the same fake; values only, their sources carry the minute)
    si = lambda figures: {k: q.si for k, q in figures.items()}  # noqa: E731
    assert si(profile.peak_dense) == si(plain.peak_dense)
    assert si(profile.efficiency) == si(plain.efficiency)


def test_a_cached_profile_without_a_stack_asked_for_is_recalibrated_with_it(monkeypatch):
    import zoomwatt.hardware.host_calibration as hc
    import zoomwatt.hardware.openvino_probe as op

    made = []

    def make(name, threads):
        made.append(name)
        return FakeStackProbe(), None

    monkeypatch.setattr(op, "make_stack_probe", make)
    installed = {"openvino": "0.0-test"}
    monkeypatch.setattr(hc, "stack_version", lambda name: installed.get(name))
    load_host_profile(probe=FakeProbe(), recalibrate=True)  # no stack: none made
    assert made == []
    profile = load_host_profile(probe=FakeProbe(), stacks=("openvino",))
    assert made == ["openvino"] and "openvino" in profile.stack_names
    again = FakeProbe()
    cached = load_host_profile(probe=again, stacks=("openvino",))
    assert again.matmul_calls == 0 and "openvino" in cached.stack_names  # from the cache
    # a recalibration keeps the stacks the cache had
    kept = load_host_profile(probe=FakeProbe(), recalibrate=True)
    assert made == ["openvino"] * 2 and "openvino" in kept.stack_names
    # another version of the runtime installed: the cached stack is stale, measured again
    installed["openvino"] = "0.1-test"
    later = FakeProbe()
    load_host_profile(probe=later, stacks=("openvino",))
    assert later.matmul_calls > 0 and made == ["openvino"] * 3
    # the runtime uninstalled: a recalibration leaves the stack out instead of failing
    del installed["openvino"]
    plain = load_host_profile(probe=FakeProbe(), recalibrate=True)
    assert made == ["openvino"] * 3 and plain.stack_names == ("eager",)


def test_a_stack_that_cannot_run_here_says_why(monkeypatch):
    import zoomwatt.hardware.openvino_probe as op

    monkeypatch.setattr(op, "make_stack_probe", lambda name, threads: (None, "not installed"))
    with pytest.raises(NotMeasurableError, match="openvino stack here: not installed"):
        calibrate_host(FakeProbe(), stacks=("openvino",))
    with pytest.raises(InputError, match="stacks"):
        calibrate_host(FakeProbe(), stacks=("tensorrt",))


def test_a_rate_is_timed_by_its_median_call(monkeypatch):
    """Calls of 9 (warm-up), 1, 5 and 2 s on a fake clock: the median of the three timed calls
    is 2 s (the best, 1 s, would make every rate look faster than the median stages it is
    compared with)."""
    import zoomwatt.hardware.host_probe as hp

    now = [0.0]
    durations = iter([9.0, 1.0, 5.0, 2.0])

    class Clock:
        @staticmethod
        def perf_counter():
            return now[0]

    def call():
        now[0] += next(durations)

    monkeypatch.setattr(hp, "time", Clock)
    assert hp.typical_time(call, lambda: None, 0.0) == 2.0


def test_cold_weights_fill_twice_the_cache_for_linear_layers_and_are_capped_for_convs():
    from zoomwatt.hardware.host_calibration import cold_weight_bytes

    mib, gib = 2**20, 2**30
    # a 480 MiB L3 on a 24 GiB machine: linear 2 x 480 = 960 MiB (under 24 GiB / 16 = 1.5 GiB)
    assert cold_weight_bytes("linear", 480 * mib, 24 * gib, 128 * mib) == 960 * mib
    # the same cache on 8 GiB: at most 8 GiB / 16 = 512 MiB
    assert cold_weight_bytes("linear", 480 * mib, 8 * gib, 128 * mib) == 512 * mib
    # convs: twice the cache, at most the plan's 128 MiB (32 MiB L3: 64 MiB)
    assert cold_weight_bytes("conv", 480 * mib, 24 * gib, 128 * mib) == 128 * mib
    assert cold_weight_bytes("conv", 32 * mib, 24 * gib, 128 * mib) == 64 * mib
    # no cache size: the plan's figure for both
    assert cold_weight_bytes("linear", None, 24 * gib, 128 * mib) == 128 * mib


@pytest.mark.parametrize("dtype, channels_last", [("bf16", True), ("fp32", False)])
def test_the_conv_benchmark_times_the_layout_the_pipeline_runs(monkeypatch, dtype, channels_last):
    """The conv class is timed in the memory format the pipeline runs that dtype's convs in
    (workload/conv_layout.py): channels-last for bf16 on a CPU, where oneDNN's plain-layout
    path took 2-6x longer on the AMX Xeon; plain for fp32."""
    import torch

    seen = []
    conv2d = torch.nn.functional.conv2d

    def spy(x, w, *args, **kwargs):
        seen.append((x.is_contiguous(), w.is_contiguous()))
        return conv2d(x, w, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "conv2d", spy)
    assert TorchCpuProbe().conv_ops_per_s(dtype, (16, 8, 1), 0.001, 0) > 0
    # 16 channels at 8x8: a channels-last tensor of them is not contiguous in the plain sense
    assert seen and all(pair == (not channels_last, not channels_last) for pair in seen)
