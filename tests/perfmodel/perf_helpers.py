"""A toy device with round numbers and SD-shaped hand-built stages (imported by the tests as
``perf_helpers``; the ``toy`` fixture is in conftest.py)."""

from __future__ import annotations

import copy

from zoomwatt.hardware import parse_profile
from zoomwatt.perfmodel import make_stage
from zoomwatt.workload.records import LayerRecord, OpClass


def q(value, unit):
    return {"value": value, "unit": unit, "estimate": "test figure"}


TOY = {
    "schema": 1,
    "name": "toy",
    "description": "toy device with round numbers",
    "device_class": "phone",
    "process": {"node": "test", "node_scale": q(1, "1")},
    "compute": {
        "dense": {
            "fp32": q(0.5, "TOP/s"),
            "fp16": q(1, "TOP/s"),
            "int8": q(2, "TOP/s"),
        },
        "sparse": {"fp16": q(2, "TOP/s")},
        "efficiency": {"conv": q(0.5, "1"), "default": q(0.25, "1")},
        "kernel_overhead": q(1, "us"),
    },
    "memory": {
        "type": "test",
        "capacity": q(4, "GB"),
        "usable_fraction": q(0.5, "1"),
        "bandwidth": q(100, "GB/s"),
        "on_chip_buffer": q(1, "MB"),
    },
    "energy": {
        "mac": {"fp32": q(4, "pJ"), "fp16": q(1, "pJ"), "int8": q(0.25, "pJ")},
        "dram": q(100, "pJ/B"),
        "on_chip": q(1, "pJ/B"),
    },
    "power": {
        "static": q(1, "W"),
        "idle": q(0.5, "W"),
        "cap": q(100, "W"),
        "operating_points": [
            {"name": "n", "frequency": q(1, "GHz"), "voltage": q(0.8, "V"), "nominal": True}
        ],
    },
    "battery": {"value": 10, "unit": "Wh", "source": "test battery"},
    "non_ai": {
        "camera_isp": q(0.5, "W"),
        "video_encode": q(0.25, "W"),
        "display": q(1, "W"),
        "dram_refresh": q(0.25, "W"),
    },
}


def toy_data(**changes):
    """A deep copy of TOY; ``changes`` maps dotted paths to new values."""
    data = copy.deepcopy(TOY)
    for path, value in changes.items():
        node = data
        *parents, last = path.split(".")
        for key in parents:
            node = node[key]
        node[last] = value
    return data


def toy_profile(**changes):
    return parse_profile(toy_data(**changes), "toy.yaml")


def layer(
    op_class, macs=0, flops=None, weight=0.0, inp=0.0, out=0.0, dtype="fp16", act=None, op="op"
):
    return LayerRecord(
        module="m",
        op=op,
        op_class=op_class,
        macs=int(macs),
        flops=int(2 * macs if flops is None else flops),
        weight_bytes=float(weight),
        input_bytes=float(inp),
        output_bytes=float(out),
        dtype=dtype,
        activation_dtype=act,
    )


def sd_like_stages(dtype="fp16", scale=1.0):
    """Stages shaped like SD2 inpainting (roughly right MACs and bytes), bytes x ``scale``."""
    b = scale

    def lay(op_class, macs, w, i, o, flops=None):
        return layer(op_class, macs, flops, w * b, i * b, o * b, dtype=dtype)

    unet = (
        [lay(OpClass.CONV, 0.68e12 / 300, 1.2e9 / 300, 5e6, 5e6) for _ in range(300)]
        + [lay(OpClass.LINEAR, 0.06e12 / 100, 0.5e9 / 100, 3e6, 3e6) for _ in range(100)]
        + [lay(OpClass.ATTENTION, 0.065e12 / 32, 0, 4e6, 50e6) for _ in range(32)]
        + [lay(OpClass.SOFTMAX, 0, 0, 50e6, 50e6, flops=125e6) for _ in range(16)]
        + [lay(OpClass.NORM, 0, 0, 5e6, 5e6, flops=20e6) for _ in range(100)]
        + [lay(OpClass.ELEMENTWISE, 0, 0, 10e6, 5e6, flops=2.5e6) for _ in range(100)]
    )
    vae_enc = [lay(OpClass.CONV, 0.56e12 / 30, 68e6 / 30, 30e6, 30e6) for _ in range(30)]
    vae_dec = [lay(OpClass.CONV, 1.25e12 / 40, 98e6 / 40, 30e6, 30e6) for _ in range(40)]
    text = [lay(OpClass.LINEAR, 22e9 / 24, 680e6 / 24, 0.16e6, 0.16e6) for _ in range(24)]
    frame = [layer(OpClass.RESAMPLE, 0, 6e6, 0, 1.5e6, 0.75e6, dtype="uint8")]
    return [
        make_stage("text_encoder", text, 0),
        make_stage("vae_encoder", vae_enc, 1),
        make_stage("unet", unet, 20),
        make_stage("vae_decoder", vae_dec, 1),
        make_stage("frame_ops", frame, 30, per_frame=True),
    ]
