"""Host calibration through the probe interface: mocked numbers, caching, and a tiny real run."""

from __future__ import annotations

import pytest

from zoomwatt.errors import NotMeasurableError
from zoomwatt.hardware import load_profile
from zoomwatt.hardware.host_cache import cache_dir, host_cache_path
from zoomwatt.hardware.host_calibration import calibrate_host, load_host_profile
from zoomwatt.hardware.host_probe import TorchCpuProbe


class FakeProbe:
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

    def conv_ops_per_s(self, dtype, hw, min_time_s):
        return 0.5 * self.rates[dtype]

    def copy_bytes_per_s(self, nbytes, min_time_s):
        return 2e10

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


def test_cache_dir_env(tmp_path):
    assert cache_dir() == tmp_path / "cache"
    assert host_cache_path() == tmp_path / "cache" / "host.yaml"


def test_calibration_builds_a_valid_profile():
    profile = load_host_profile(probe=FakeProbe())
    assert profile.name == "host"
    assert profile.peak_dense["fp32"].si == pytest.approx(1e11)
    # fp16 (5e10) is slower than fp32 (1e11): left out, so fp16 layers compute as fp32
    assert "fp16" not in profile.peak_dense
    # int8 (4e11) is faster than fp32: kept
    assert profile.peak_dense["int8"].si == pytest.approx(4e11)
    assert not profile.peak_dense["fp32"].is_estimate
    # conv at half the matmul rate -> efficiency 0.5, measured
    assert profile.efficiency["conv"].si == pytest.approx(0.5)
    assert profile.memory_bandwidth.si == pytest.approx(2e10)
    assert profile.kernel_overhead.si == pytest.approx(4e-6)
    assert profile.power_cap.si == 65.0
    assert profile.power_cap.source.startswith("RAPL")
    assert profile.on_chip_buffer.si == 8 * 2**20
    assert profile.calibration["measured"]["matmul_ops_per_s"]["fp16"] == 5e10
    assert host_cache_path().is_file()


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


@pytest.mark.slow
def test_full_real_calibration():
    profile = load_host_profile(plan="full", recalibrate=True)
    assert profile.peak_dense["fp32"].si > 1e9
