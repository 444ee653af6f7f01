"""Profile validation: a bad file gets an error naming the file, the field and the value."""

from __future__ import annotations

import copy

import pytest
import yaml

from zoomwatt.errors import InputError
from zoomwatt.hardware import PROFILE_DIR, load_profile, parse_profile
from zoomwatt.hardware.quantity import parse_quantity

BASE = yaml.safe_load((PROFILE_DIR / "rpi5.yaml").read_text())


def edited(path, value):
    data = copy.deepcopy(BASE)
    node = data
    *parents, last = path.split(".")
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return data


@pytest.mark.parametrize(
    "path, value, field, shown",
    [
        ("memory.bandwidth.unit", "GB", "memory.bandwidth.unit", "'GB'"),
        ("memory.bandwidth.value", -17.1, "memory.bandwidth.value", "-17.1"),
        ("memory.bandwidth.value", "fast", "memory.bandwidth.value", "'fast'"),
        ("compute.dense.fp32.source", "x", "compute.dense.fp32", "estimate"),  # both given
        ("memory.capacity.source", KeyError, "memory.capacity", "'unit'"),  # neither given
        (
            "compute.dense.fp64",
            {"value": 1, "unit": "TOP/s", "source": "x"},
            "compute.dense",
            "fp64",
        ),
        ("compute.efficiency.conv.value", 1.5, "compute.efficiency.conv.value", "1.5"),
        (
            "compute.efficiency.gemm",
            {"value": 1, "unit": "1", "estimate": "x"},
            "compute.efficiency",
            "gemm",
        ),
        ("power.cap.value", 1, "power.cap", "1"),  # not above static 3 W
        ("device_class", "toaster", "device_class", "'toaster'"),
        ("memory.speed", 1, "memory", "speed"),
        ("schema", 2, "schema", "2"),
    ],
)
def test_bad_field_is_named_with_file_and_value(path, value, field, shown):
    with pytest.raises(InputError) as err:
        parse_profile(edited(path, value), "my.yaml")
    message = str(err.value)
    assert message.startswith(f"my.yaml: {field}")
    assert shown in message


def test_operating_points_need_one_nominal():
    data = edited("power.operating_points.0.nominal", False)
    with pytest.raises(InputError, match="nominal"):
        parse_profile(data, "my.yaml")


def test_units_convert_to_si():
    # 6 pJ/bit = 48 pJ/B
    q = parse_quantity(
        {"value": 6, "unit": "pJ/bit", "estimate": "x"}, where="f", dimension="energy_per_byte"
    )
    assert q.si == pytest.approx(48e-12)
    q = parse_quantity({"value": 2, "unit": "MiB", "source": "x"}, where="f", dimension="bytes")
    assert q.si == 2 * 1024 * 1024
    assert q.as_text() == "2 MiB"


def test_user_file_by_path(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(edited("name", "mine")))
    profile = load_profile(str(path))
    assert profile.name == "mine"
    assert profile.origin == str(path)


def test_user_file_errors(tmp_path):
    with pytest.raises(InputError, match="existing"):
        load_profile(str(tmp_path / "missing.yaml"))
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(InputError, match="valid YAML"):
        load_profile(str(broken))
    with pytest.raises(InputError, match="See `zoomwatt hardware list`"):
        load_profile("tpu-v9")


def test_efficiency_default_fills_missing_classes():
    data = edited(
        "compute.efficiency",
        {
            "conv": {"value": 0.4, "unit": "1", "estimate": "x"},
            "default": {"value": 0.1, "unit": "1", "estimate": "y"},
        },
    )
    profile = parse_profile(data, "my.yaml")
    assert profile.efficiency["conv"].si == 0.4
    assert profile.efficiency["softmax"].si == 0.1


def test_reuse_half_and_spill_bandwidth_are_checked():
    data = copy.deepcopy(BASE)
    data["compute"]["reuse_half"] = {"conv": {"value": 64, "unit": "rows", "estimate": "t"}}
    data["memory"]["spill_bandwidth"] = {"value": 2, "unit": "GB/s", "estimate": "t"}
    profile = parse_profile(data, "x.yaml")
    assert profile.reuse_half["conv"].si == 64
    assert profile.spill_bandwidth.si == 2e9
    shipped = load_profile("h100-sxm")  # shipped profiles: no penalty
    assert shipped.reuse_half == {} and shipped.spill_bandwidth is None
    assert shipped.reorder_fault_bandwidth is None
    faults = copy.deepcopy(data)
    faults["memory"]["reorder_fault_bandwidth"] = {"value": 3, "unit": "GB/s", "estimate": "t"}
    assert parse_profile(faults, "x.yaml").reorder_fault_bandwidth.si == 3e9
    faults["memory"]["reorder_fault_bandwidth"]["unit"] = "rows"
    with pytest.raises(InputError, match=r"memory\.reorder_fault_bandwidth"):
        parse_profile(faults, "x.yaml")
    data["compute"]["reuse_half"] = {"convolution": {"value": 64, "unit": "rows", "estimate": "t"}}
    with pytest.raises(InputError, match="reuse_half"):
        parse_profile(data, "x.yaml")
    data["compute"]["reuse_half"] = {"conv": {"value": 64, "unit": "GB/s", "estimate": "t"}}
    with pytest.raises(InputError, match=r"reuse_half\.conv"):
        parse_profile(data, "x.yaml")
