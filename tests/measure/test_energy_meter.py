"""The energy meter interface: the stand-in, Zeus behind it, and translated vendor errors."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field

import pytest

from zoomwatt.errors import InputError, NotMeasurableError
from zoomwatt.measurement import energy_meter
from zoomwatt.measurement.energy_meter import NullEnergyMeter, ZeusEnergyMeter, make_energy_meter


def test_stand_in_times_windows_and_says_why():
    meter = NullEnergyMeter("no RAPL here")
    meter.begin("a")
    reading = meter.end("a")
    assert not meter.available
    assert reading.energy_j is None and not reading.measured
    assert reading.time_s >= 0
    assert reading.describe() == "not measured: no RAPL here"


def test_stand_in_refuses_a_window_never_opened():
    with pytest.raises(InputError, match="window='b'"):
        NullEnergyMeter("x").end("b")


def test_turned_off_and_bad_device():
    meter = make_energy_meter("cpu", enabled=False)
    assert isinstance(meter, NullEnergyMeter)
    assert "turned off" in meter.reason
    with pytest.raises(InputError, match="device='tpu'"):
        make_energy_meter("tpu")


def test_never_crashes_on_this_machine():
    meter = make_energy_meter("auto")
    meter.begin("w")
    reading = meter.end("w")
    assert reading.measured == meter.available
    if not meter.available:
        assert meter.reason


def test_without_zeus_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "zeus.monitor", None)
    meter = make_energy_meter("cpu")
    assert isinstance(meter, NullEnergyMeter)
    assert "Zeus is not installed" in meter.reason


@dataclass
class _Measurement:
    time: float
    gpu_energy: dict = field(default_factory=dict)
    cpu_energy: dict | None = None
    dram_energy: dict | None = None


class _FakeMonitor:
    def __init__(self, gpu_indices=None, cpu_indices=None, fail=None):
        self.gpu_indices = [0]
        self.cpu_indices = [0]
        self.fail = fail

    def begin_window(self, key):
        if self.fail:
            raise self.fail

    def end_window(self, key):
        return _Measurement(0.5, {0: 10.0}, {0: 3.0}, {0: 1.0})


def test_zeus_meter_sums_every_counter():
    meter = ZeusEnergyMeter(_FakeMonitor(), "NVML gpu0, RAPL cpu0")
    meter.begin("w")
    reading = meter.end("w")
    assert reading.energy_j == pytest.approx(14.0)
    assert reading.by_counter_j == {"gpu0": 10.0, "cpu0": 3.0, "dram0": 1.0}
    assert meter.name == "zeus (NVML gpu0, RAPL cpu0)"


def test_make_energy_meter_uses_zeus_when_it_finds_counters(monkeypatch):
    fake = types.ModuleType("zeus.monitor")
    fake.ZeusMonitor = _FakeMonitor
    monkeypatch.setitem(sys.modules, "zeus.monitor", fake)
    meter = make_energy_meter("auto")
    assert meter.available and "RAPL cpu0" in meter.name


def test_vendor_errors_are_translated_with_the_fix(monkeypatch):
    class ZeusBaseError(Exception):
        pass

    monkeypatch.setattr(energy_meter, "_zeus_error_types", lambda: (ZeusBaseError,))
    meter = ZeusEnergyMeter(_FakeMonitor(fail=ZeusBaseError("Permission denied: energy_uj")), "x")
    with pytest.raises(NotMeasurableError, match="Fix: RAPL counters are readable by root"):
        meter.begin("w")
