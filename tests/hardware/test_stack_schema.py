"""Software stacks in a profile (``default_stack``, ``stacks:``) and the fitted-stacks file: what
the schema accepts, and the one-line error naming the file and the field for what it refuses."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import yaml

from zoomwatt.errors import InputError
from zoomwatt.hardware import PROFILE_DIR, load_profile, parse_profile, shipped_profile_names
from zoomwatt.hardware.quantity import make_quantity, parse_quantity
from zoomwatt.hardware.schema import STACKS, SoftwareStack, parse_fitted_stacks

BASE = yaml.safe_load((PROFILE_DIR / "rpi5.yaml").read_text())


def est(value, unit, kind="estimate"):
    return {"value": value, "unit": unit, kind: "test figure"}


def flag(value, kind="estimate"):
    return {"value": value, kind: "test setting"}


COMPILE = {
    "notes": "a compiled stack",
    "efficiency": {"conv": est(0.8, "1"), "norm": est(0.1, "1", "fitted")},
    "kernel_overhead": est(0.5, "us", "source"),
    "fusion": {"elementwise_fused": flag(True), "pointwise_chains": flag(False, "fitted")},
}


def with_stacks(stacks=None, default_stack=None):
    data = copy.deepcopy(BASE)
    data.pop("default_stack", None)
    if stacks is not None:
        data["stacks"] = copy.deepcopy(stacks)
    if default_stack is not None:
        data["default_stack"] = default_stack
    return data


def refused(data, origin="my.yaml"):
    with pytest.raises(InputError) as err:
        parse_profile(data, origin)
    message = str(err.value)
    assert "\n" not in message
    return message


# --- accepted -------------------------------------------------------------------------------


def test_a_profile_without_stacks_has_its_default_stack_only():
    profile = parse_profile(with_stacks(), "my.yaml")
    assert profile.default_stack == "eager"  # what a file that names none gets
    assert profile.stack_names == ("eager",)
    assert profile.stack() == SoftwareStack("eager")  # changes nothing
    assert list(profile.stack_quantities()) == []
    named = parse_profile(with_stacks(default_stack="openvino"), "my.yaml")
    assert named.default_stack == "openvino" and named.stack_names == ("openvino",)


def test_a_stack_section_is_read_with_its_provenance():
    profile = parse_profile(with_stacks({"compile": COMPILE}), "my.yaml")
    assert profile.stack_names == ("eager", "compile")  # the default stack is always listed
    stack = profile.stack("compile")
    assert stack.efficiency["conv"].si == 0.8 and set(stack.efficiency) == {"conv", "norm"}
    assert stack.efficiency["norm"].is_fitted and stack.efficiency["norm"].provenance.startswith(
        "fitted: "
    )
    assert stack.kernel_overhead.si == pytest.approx(0.5e-6)
    assert stack.elementwise_fused and not stack.pointwise_chains
    assert stack.fusion["pointwise_chains"].provenance == "fitted: test setting"
    assert stack.notes == "a compiled stack"
    assert [path for path, _ in profile.stack_quantities()] == [
        "stacks.compile.efficiency.conv",
        "stacks.compile.efficiency.norm",
        "stacks.compile.kernel_overhead",
    ]
    # the chip's figures are untouched: quantities() lists the compute section's, as before
    assert dict(profile.quantities()) == dict(parse_profile(with_stacks(), "my.yaml").quantities())


def test_default_is_set_by_default_stack_or_by_a_default_flag():
    stacks = {"eager": {"notes": "listed for its notes"}, "compile": COMPILE}
    assert parse_profile(with_stacks(stacks), "my.yaml").default_stack == "eager"
    flagged = {"coreml": {"default": True}, "compile": COMPILE}
    profile = parse_profile(with_stacks(flagged), "my.yaml")
    assert profile.default_stack == "coreml"
    assert profile.stack_names == ("compile", "coreml")  # STACKS order
    agreeing = parse_profile(with_stacks(flagged, default_stack="coreml"), "my.yaml")
    assert agreeing.default_stack == "coreml"
    assert parse_profile(with_stacks({"eager": None}), "my.yaml").stack_names == ("eager",)


def test_unknown_stack_is_refused_naming_the_stacks_the_profile_has():
    profile = parse_profile(with_stacks({"compile": COMPILE}), "my.yaml")
    with pytest.raises(InputError) as err:
        profile.stack("tensorrt")
    assert str(err.value) == "stack='tensorrt': expected a stack rpi5 has: eager, compile"


def test_fitted_provenance_and_the_two_old_kinds():
    fitted = parse_quantity(est(2, "us", "fitted"), where="f", dimension="time")
    assert fitted.fitted == "test figure" and fitted.source is None and fitted.estimate is None
    assert fitted.provenance == "fitted: test figure" and not fitted.is_estimate
    assert fitted.to_yaml() == est(2, "us", "fitted")
    for kind in ("source", "estimate"):  # as before
        q = parse_quantity(est(2, "us", kind), where="f", dimension="time")
        assert q.provenance == f"{kind}: test figure" and q.to_yaml() == est(2, "us", kind)
        assert q.fitted is None and q.is_estimate == (kind == "estimate")
    assert make_quantity(1, "us", fitted="x").provenance == "fitted: x"
    with pytest.raises(InputError, match="fitted: TEXT and no other provenance"):
        parse_quantity(est(2, "us"), where="f", dimension="time", provenance=("fitted",))


@pytest.mark.parametrize(
    "raw, expected",
    [
        ({"value": 1, "unit": "us", "estimate": "a", "fitted": "b"}, "exactly one of source"),
        ({"value": 1, "unit": "us"}, "exactly one of source"),
        ({"value": 1, "unit": "us", "fitted": " "}, "a non-empty fitted text"),
        ({"value": 1, "unit": "us", "fit": "b"}, "only the keys value, unit, source, estimate"),
    ],
)
def test_bad_provenance_is_one_line(raw, expected):
    with pytest.raises(InputError, match=expected) as err:
        parse_quantity(raw, where="my.yaml: compute.kernel_overhead", dimension="time")
    assert str(err.value).startswith("my.yaml: compute.kernel_overhead") and "\n" not in str(
        err.value
    )


# --- refused --------------------------------------------------------------------------------


def _edit(stack_changes):
    stack = copy.deepcopy(COMPILE)
    for path, value in stack_changes.items():
        node = stack
        *parents, last = path.split(".")
        for key in parents:
            node = node[key]
        node[last] = value
    return with_stacks({"compile": stack})


@pytest.mark.parametrize(
    "data, field, shown",
    [
        (with_stacks({"cuda": {}}), "stacks", "'cuda'"),
        (with_stacks(["compile"]), "stacks", "['compile']"),
        (with_stacks([]), "stacks", "[]"),
        (with_stacks(default_stack="pytorch"), "default_stack", "'pytorch'"),
        (_edit({"speedup": 2}), "stacks.compile", "speedup"),
        (_edit({"efficiency.gemm": est(0.5, "1")}), "stacks.compile.efficiency", "gemm"),
        (_edit({"efficiency.conv.value": 2.5}), "stacks.compile.efficiency.conv.value", "2.5"),
        (_edit({"efficiency": 0.5}), "stacks.compile.efficiency", "0.5"),
        (_edit({"kernel_overhead.unit": "GB"}), "stacks.compile.kernel_overhead.unit", "GB"),
        (_edit({"kernel_overhead.value": -1}), "stacks.compile.kernel_overhead.value", "-1"),
        (_edit({"fusion.fused": flag(True)}), "stacks.compile.fusion", "fused"),
        (_edit({"fusion.elementwise_fused": True}), "stacks.compile.fusion.elementwise_fused", ""),
        (
            _edit({"fusion.elementwise_fused": flag("yes")}),
            "stacks.compile.fusion.elementwise_fused.value",
            "'yes'",
        ),
        (
            _edit({"fusion.elementwise_fused": {"value": True}}),
            "stacks.compile.fusion.elementwise_fused",
            "exactly one of source",
        ),
        (_edit({"default": "yes"}), "stacks.compile.default", "'yes'"),
        (_edit({"notes": ""}), "stacks.compile.notes", "non-empty"),
        (
            with_stacks({"eager": {"kernel_overhead": est(1, "us")}}),
            "stacks.eager",
            "the default stack's figures are the compute section's",
        ),
        (
            with_stacks({"compile": {"default": True}, "coreml": {"default": True}}),
            "stacks",
            "one default stack",
        ),
        (
            with_stacks({"compile": {"default": True}}, default_stack="eager"),
            "stacks",
            "one default stack",
        ),
    ],
)
def test_bad_stack_is_one_line_naming_file_and_field(data, field, shown):
    message = refused(data)
    assert message.startswith(f"my.yaml: {field}"), message
    assert shown in message, message


# --- the shipped profiles -------------------------------------------------------------------

DEFAULT_STACKS = {
    "apple-a14": "coreml",
    "apple-a16": "coreml",
    "apple-a17-pro": "coreml",
    "apple-m2-ultra": "coreml",
    "h100-sxm": "eager",
    "intel-meteorlake-npu": "openvino",
    "jetson-orin-nano": "eager",
    "jetson-orin-nx": "eager",
    "nvidia-a100-pcie-40gb": "eager",
    "nvidia-a100-sxm4-40gb": "eager",
    "nvidia-a100-sxm4-80gb": "eager",
    "nvidia-rtx-4090": "eager",
    "nvidia-v100-sxm2": "eager",
    "rpi5": "eager",
    "snapdragon-8gen2": "qnn",
    "snapdragon-8gen3": "qnn",
    "snapdragon-x-elite": "qnn",
}
NVIDIA_STACKS = {
    "h100-sxm": ("eager", "compile", "tensorrt"),
    "nvidia-a100-pcie-40gb": ("eager", "compile"),
    "nvidia-a100-sxm4-40gb": ("eager", "compile"),
    "nvidia-a100-sxm4-80gb": ("eager", "compile"),
    "nvidia-v100-sxm2": ("eager", "compile"),
    "nvidia-rtx-4090": ("eager", "compile"),
}


@pytest.mark.parametrize("name", shipped_profile_names())
def test_shipped_profile_names_its_default_stack(name):
    raw = yaml.safe_load((PROFILE_DIR / f"{name}.yaml").read_text())
    assert raw["default_stack"] == DEFAULT_STACKS[name]  # written in the file, not implied
    profile = load_profile(name)
    assert profile.default_stack == DEFAULT_STACKS[name]
    assert profile.stack_names == NVIDIA_STACKS.get(name, (DEFAULT_STACKS[name],))
    assert set(profile.stack_names) <= set(STACKS)
    assert profile.stack() == SoftwareStack(profile.default_stack, notes=profile.stack().notes)
    for stack_name in profile.stack_names:
        stack = profile.stack(stack_name)
        for path, q in stack.quantities():
            assert (q.source or q.estimate or q.fitted or "").strip(), (stack_name, path)
        for key, setting in stack.fusion.items():
            assert setting.provenance.split(": ", 1)[1].strip(), (stack_name, key)


# --- the fitted-stacks file -----------------------------------------------------------------


def fitted_file(stack=None):
    entry = {"kernel_overhead": est(2, "us", "fitted")} if stack is None else stack
    return {"schema": 1, "profiles": {"rpi5": {"compile": entry}}}


def test_fitted_figures_are_laid_over_the_stack():
    fitted = parse_fitted_stacks(fitted_file(), "fitted.yaml")
    assert fitted["rpi5"]["compile"].kernel_overhead.si == pytest.approx(2e-6)
    profile = parse_profile(with_stacks({"compile": COMPILE}), "my.yaml")
    merged = profile.with_fitted(fitted["rpi5"], "fitted.yaml: profiles.rpi5")
    stack = merged.stack("compile")
    assert stack.kernel_overhead.si == pytest.approx(2e-6) and stack.kernel_overhead.is_fitted
    assert stack.efficiency == profile.stack("compile").efficiency  # what it does not give
    assert stack.fusion == profile.stack("compile").fusion
    assert dataclasses.replace(merged, stacks=profile.stacks) == profile  # nothing else changed


@pytest.mark.parametrize(
    "data, field, shown",
    [
        (fitted_file({"kernel_overhead": est(2, "us")}), "profiles.rpi5.compile.kernel_overhead",
         "fitted: TEXT and no other"),
        (fitted_file({"fusion": {"elementwise_fused": flag(True, "fitted")}}),
         "profiles.rpi5.compile", "fusion"),
        (fitted_file({"efficiency": {"conv": est(3, "1", "fitted")}}),
         "profiles.rpi5.compile.efficiency.conv.value", "3"),
        ({"schema": 1, "profiles": {"rpi5": {"cuda": {}}}}, "profiles.rpi5", "cuda"),
        ({"schema": 2, "profiles": {}}, "schema", "2"),
        ({"schema": 1}, "", "profiles"),
    ],
)  # fmt: skip
def test_bad_fitted_file_is_one_line(data, field, shown):
    with pytest.raises(InputError) as err:
        parse_fitted_stacks(data, "fitted.yaml")
    message = str(err.value)
    assert message.startswith(f"fitted.yaml: {field}".rstrip(": ")) and "\n" not in message
    assert shown in message, message


def test_fitted_figures_need_a_listed_stack_the_default_included():
    profile = parse_profile(with_stacks({"compile": COMPILE}), "my.yaml")
    fitted = parse_fitted_stacks(
        {"schema": 1, "profiles": {"rpi5": {"tensorrt": {}}}}, "fitted.yaml"
    )["rpi5"]
    with pytest.raises(InputError, match=r"fitted\.yaml: profiles\.rpi5\.tensorrt=") as err:
        profile.with_fitted(fitted, "fitted.yaml: profiles.rpi5")
    assert "a stack rpi5 lists: ['eager', 'compile']" in str(err.value)
    # the default stack takes fitted figures: they stand in for the compute section's
    host = {"host_issue": {"value": 30, "unit": "us", "fitted": "a test"}}
    eager = parse_fitted_stacks({"schema": 1, "profiles": {"x": {"eager": host}}}, "f.yaml")["x"]
    merged = profile.with_fitted(eager, "f.yaml: profiles.x").stack("eager")
    assert merged.host_issue.si == pytest.approx(30e-6) and merged.host_issue.is_fitted
