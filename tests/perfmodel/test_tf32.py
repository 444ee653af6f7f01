"""fp32 convolutions (and matmuls where asked) at the datasheet TF32 peak on PyTorch stacks."""

from zoomwatt.hardware import load_profile
from zoomwatt.perfmodel.device_params import device_params
from zoomwatt.perfmodel.layer_table import OP_CLASSES
from zoomwatt.workload.records import OpClass

CONV, LINEAR, ATTENTION = (
    OP_CLASSES.index(c) for c in (OpClass.CONV, OpClass.LINEAR, OpClass.ATTENTION)
)


def test_a100_eager_runs_fp32_convs_at_tf32():
    params = device_params(load_profile("nvidia-a100-sxm4-80gb"), stack="eager", fitted=False)
    assert params.tf32_peak_ops_per_s == 156e12  # A100 datasheet: TF32 156 TFLOPS dense
    assert params.tf32_op_classes == (CONV,)  # cudnn.allow_tf32 on, matmul.allow_tf32 off


def test_tf32_matmul_adds_linear_and_attention():
    profile = load_profile("h100-sxm")
    params = device_params(profile, stack="tensorrt", fitted=False, tf32_matmul=True)
    assert params.tf32_op_classes == ()  # TensorRT is not one of the PyTorch stacks
    params = device_params(profile, stack="eager", fitted=False, tf32_matmul=True)
    assert params.tf32_peak_ops_per_s == 494.7e12  # H100 SXM: 989.4 sparse / 2
    assert params.tf32_op_classes == (CONV, LINEAR, ATTENTION)


def test_no_tf32_engine_no_tf32():
    params = device_params(load_profile("nvidia-v100-sxm2"), stack="eager", fitted=False)
    assert params.tf32_op_classes == ()  # Volta has no TF32
