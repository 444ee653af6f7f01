"""The shipped profiles: present, valid, sourced, and physically consistent."""

from __future__ import annotations

import pytest

from zoomwatt.hardware import PROFILE_DIR, load_profile, profile_names, shipped_profile_names

REQUIRED = [
    "h100-sxm",
    "jetson-orin-nano",
    "jetson-orin-nx",
    "snapdragon-8gen3",
    "apple-a17-pro",
    "intel-meteorlake-npu",
    "rpi5",
]
PRECISION_ORDER = [
    ("fp32", "fp16"),
    ("fp32", "bf16"),
    ("fp16", "int8"),
    ("fp16", "fp8"),
    ("int8", "int4"),
    ("bf16", "int8"),
]


def test_required_profiles_are_shipped():
    assert set(REQUIRED) <= set(shipped_profile_names())
    assert "host" in profile_names()


@pytest.mark.parametrize("name", shipped_profile_names())
def test_profile_loads_and_names_its_file(name):
    profile = load_profile(name)
    assert profile.name == name
    assert profile.origin == str(PROFILE_DIR / f"{name}.yaml")
    for path, q in profile.quantities():
        assert (q.source or q.estimate or "").strip(), path


@pytest.mark.parametrize("name", shipped_profile_names())
def test_profile_is_physically_consistent(name):
    p = load_profile(name)
    for wide, narrow in PRECISION_ORDER:
        if wide in p.peak_dense and narrow in p.peak_dense:
            assert p.peak_dense[narrow].si >= p.peak_dense[wide].si, (wide, narrow)
            assert p.mac_energy[narrow].si <= p.mac_energy[wide].si, (wide, narrow)
    for dtype, q in p.peak_sparse.items():
        assert q.si >= p.peak_dense[dtype].si
    assert p.idle_power.si <= p.static_power.si < p.power_cap.si
    # a DRAM byte costs more than an on-chip byte, which costs more than... nothing
    assert p.dram_energy.si > p.on_chip_energy.si > 0
    assert 0 < p.node_scale.si <= 1


def test_h100_datasheet_figures():
    p = load_profile("h100-sxm")
    assert p.peak_dense["fp16"].si == pytest.approx(989.5e12)
    assert p.peak_sparse["int8"].si == pytest.approx(3958e12)
    assert p.memory_bandwidth.si == pytest.approx(3.35e12)
    assert p.memory_capacity.si == pytest.approx(80e9)
    assert p.on_chip_buffer.si == pytest.approx(50e6)
    assert p.power_cap.si == 700
    assert p.battery is None
    # HBM3 6.5 pJ/bit = 52 pJ/B
    assert p.dram_energy.si == pytest.approx(52e-12)
    # derived fp16 MAC: (fp16 mul 1.1 + fp32 add 0.9) pJ x node 0.25 x overhead 3 = 1.5 pJ
    assert p.mac_energy["fp16"].si == pytest.approx(1.5e-12)
    assert p.mac_energy["fp16"].is_estimate
    # derived on-chip: 100 pJ per 8 B (1 MB SRAM) x 0.25 = 3.125 pJ/B
    assert p.on_chip_energy.si == pytest.approx(3.125e-12)
