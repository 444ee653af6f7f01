"""The profiles added for the devices of the evidence set: their datasheet figures as written,
and which of their numbers are estimates."""

from __future__ import annotations

import pytest

from zoomwatt.hardware import load_profile

# (profile, field path, SI value, provenance): "source" for a vendor figure, "estimate" else
HEADLINES = [
    ("nvidia-a100-sxm4-40gb", "compute.dense.fp16", 312e12, "source"),
    ("nvidia-a100-sxm4-40gb", "compute.sparse.int8", 1248e12, "source"),
    ("nvidia-a100-sxm4-40gb", "memory.bandwidth", 1555e9, "source"),
    ("nvidia-a100-sxm4-40gb", "memory.capacity", 40e9, "source"),
    ("nvidia-a100-sxm4-40gb", "power.cap", 400.0, "source"),
    ("nvidia-a100-sxm4-80gb", "memory.bandwidth", 2039e9, "source"),
    ("nvidia-a100-pcie-40gb", "compute.dense.fp16", 312e12, "source"),
    ("nvidia-a100-pcie-40gb", "memory.bandwidth", 1555e9, "source"),
    ("nvidia-a100-pcie-40gb", "power.cap", 250.0, "source"),  # the one figure that sets it apart
    ("nvidia-a100-pcie-40gb", "power.static", 60.0, "estimate"),
    ("nvidia-a100-sxm4-80gb", "memory.capacity", 80e9, "source"),
    ("nvidia-v100-sxm2", "compute.dense.fp16", 125e12, "source"),
    ("nvidia-v100-sxm2", "compute.dense.fp32", 15.7e12, "source"),
    ("nvidia-v100-sxm2", "memory.bandwidth", 900e9, "source"),
    ("nvidia-v100-sxm2", "power.cap", 300.0, "source"),
    ("nvidia-rtx-4090", "compute.dense.fp16", 165.2e12, "source"),
    ("nvidia-rtx-4090", "compute.dense.int8", 660.6e12, "source"),
    ("nvidia-rtx-4090", "memory.bandwidth", 1008e9, "source"),
    ("nvidia-rtx-4090", "memory.on_chip_buffer", 72e6, "source"),
    ("nvidia-rtx-4090", "power.cap", 450.0, "source"),
    ("apple-a14", "compute.dense.fp16", 11e12, "source"),
    ("apple-a14", "memory.bandwidth", 34.1e9, "estimate"),
    ("apple-a16", "compute.dense.fp16", 17e12, "source"),
    ("apple-a16", "memory.bandwidth", 51.2e9, "estimate"),
    ("apple-m2-ultra", "compute.dense.fp32", 27.2e12, "source"),
    ("apple-m2-ultra", "compute.dense.fp16", 27.2e12, "estimate"),
    ("apple-m2-ultra", "memory.bandwidth", 800e9, "source"),
    ("snapdragon-8gen2", "compute.dense.int8", 45e12, "estimate"),
    ("snapdragon-8gen2", "memory.bandwidth", 67.2e9, "estimate"),
    ("snapdragon-8gen3", "compute.dense.int8", 89.1e12, "estimate"),  # 45 TOPS x 1.98 = 89.1
    ("snapdragon-x-elite", "compute.dense.int8", 45e12, "source"),
    ("snapdragon-x-elite", "memory.bandwidth", 136e9, "source"),
]


@pytest.mark.parametrize(("name", "field", "si", "provenance"), HEADLINES)
def test_headline_figure(name, field, si, provenance):
    figures = dict(load_profile(name).quantities())
    q = figures[field]
    assert q.si == pytest.approx(si)
    assert (q.source is not None) == (provenance == "source"), q.provenance


@pytest.mark.parametrize(
    ("name", "absent"),
    [
        ("apple-a14", ("int8", "fp32")),  # no int8 path before A17 Pro; no fp32 on the ANE
        ("apple-a16", ("int8", "fp32")),
        ("nvidia-v100-sxm2", ("bf16", "int8", "fp8")),  # Volta tensor cores: fp16 only
        ("nvidia-a100-sxm4-40gb", ("fp8",)),
    ],
)
def test_engines_the_device_lacks_are_absent(name, absent):
    dense = load_profile(name).peak_dense
    assert not set(absent) & set(dense)
