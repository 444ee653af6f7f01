"""Convolutions counted as the kernel this CPU's PyTorch runs them with (conv_kernels), and the
lever workloads that use it."""

from __future__ import annotations

import pytest
import torch

from zoomwatt.measurement import conv_kernels, lever_workload
from zoomwatt.pipeline.backends.levers import Lever
from zoomwatt.workload.records import LayerRecord, OpClass
from zoomwatt.workload.spec import WorkloadSpec
from zoomwatt.workload.stages import StageName

needs_select = pytest.mark.skipif(
    not hasattr(torch._C, "_select_conv_backend"), reason="this PyTorch cannot say its conv kernel"
)


def _call(
    batch: int, channels: int = 1280, side: int = 4, kernel: int = 3
) -> conv_kernels.ConvCall:
    pad = kernel // 2
    return conv_kernels.ConvCall(
        (batch, channels, side, side), (channels, channels, kernel, kernel), (1, 1), (pad, pad),
        (1, 1), 1, batch * channels * side * side,
    )  # fmt: skip


@needs_select
def test_pytorch_keeps_small_batch1_convs_native():
    # 1 x 1280 x 4 x 4 = 20480 elements: PyTorch's native im2col + GEMM kernel (with 2+ threads
    # the rule is the same); batch 2 or a larger input goes to oneDNN
    assert conv_kernels.cpu_backend(_call(1)) == conv_kernels.NATIVE
    assert conv_kernels.cpu_backend(_call(2)) == "Mkldnn"
    assert conv_kernels.cpu_backend(_call(1, side=8)) == "Mkldnn"  # 81920 elements


@needs_select
def test_native_conv_is_im2col_and_gemm():
    # a 1280 -> 1280 3x3 conv at 4x4, batch 1: macs = 16 pixels x 1280 x 1280 x 9 = 235929600
    macs = 16 * 1280 * 1280 * 9
    rec = LayerRecord("down.conv", "aten.convolution.default", OpClass.CONV, macs, 2 * macs,
                      1280 * 1280 * 9 * 4.0, 20480 * 4.0, 20480 * 4.0, "fp32")  # fmt: skip
    out = conv_kernels.native_records((rec,), {"down.conv": _call(1)})
    im2col, gemm = out
    # columns: 1280 x 3 x 3 x 16 pixels = 184320 elements, 737280 bytes in fp32
    assert im2col.op_class is OpClass.DATA_MOVEMENT and im2col.flops == 0
    assert im2col.input_bytes == 20480 * 4.0 and im2col.output_bytes == 184320 * 4.0
    assert gemm.op_class is OpClass.LINEAR and gemm.macs == macs
    assert gemm.weight_bytes == rec.weight_bytes and gemm.input_bytes == 184320 * 4.0
    # at batch 2 oneDNN runs it: the record stays a conv
    assert conv_kernels.native_records((rec,), {"down.conv": _call(2)}) == [rec]
    # a 1x1 kernel without stride or padding is read in place: no im2col
    one = _call(1, kernel=1)
    assert len(conv_kernels.native_records((rec,), {"down.conv": one})) == 1


@pytest.fixture
def two_threads():
    """PyTorch's conv kernel choice depends on the thread count (at one thread these convs
    got other kernels: the test failed after another test left one): held at two, CI's."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@needs_select
def test_no_cfg_unet_counts_its_deep_convs_as_gemms(two_threads):
    base = WorkloadSpec(size=128, steps=4, cfg=True, dtype="fp32", every=8)

    def unet(levers):
        stages = lever_workload.lever_stages(base, levers, host_kernels=True)
        return next(s for s in stages if s.name == StageName.UNET)

    def linear_modules(stage):
        return {r.module for r in stage.layers if r.op_class is OpClass.LINEAR}

    with_cfg, no_cfg = unet(()), unet((Lever("no-cfg", True),))
    # batch 2: every conv is oneDNN's, as without host kernels
    plain = lever_workload.lever_stages(base, (), host_kernels=False)
    assert with_cfg.layers == next(s for s in plain if s.name == StageName.UNET).layers
    # batch 1 at 128 px: the 2x2 level (1280 x 2 x 2 = 5120 elements) is native
    assert "down_blocks.3.resnets.0.conv1" in linear_modules(no_cfg) - linear_modules(with_cfg)
    # the 16x16 level (320 x 16 x 16 = 81920 elements) stays oneDNN's
    assert "down_blocks.0.resnets.0.conv1" not in linear_modules(no_cfg)
    macs = sum(r.macs for r in no_cfg.layers)
    assert macs * 2 == pytest.approx(sum(r.macs for r in with_cfg.layers), rel=0.01)  # batch 1


def test_deepcache_shallow_step_runs_on_the_int8_unet():
    base = WorkloadSpec(size=128, steps=4, cfg=True, dtype="fp32", every=8)
    levers = (Lever("int8-dynamic", True), Lever("deepcache", 2))
    stages = lever_workload.lever_stages(base, levers)
    shallow = next(s for s in stages if s.name == lever_workload.SHALLOW)
    # the shallow step's linear layers are int8 as the UNet's (DeepCache wraps the int8 UNet)
    linears = [r for r in shallow.layers if r.op_class is OpClass.LINEAR and r.weight_bytes]
    assert linears and all(r.dtype == "int8" for r in linears)
    assert shallow.calls_per_keyframe == 2.0  # 4 steps, a full one every 2: 2 shallow
