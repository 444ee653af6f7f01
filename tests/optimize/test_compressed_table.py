"""Predicted bytes and compute dtypes of quantization, sparsity and sharing."""

from __future__ import annotations

import numpy as np
import pytest

from zoomwatt.errors import InputError
from zoomwatt.optimizer.compressed_table import compressed_table
from zoomwatt.perfmodel import build_layer_table, make_stage, stages_from_workload
from zoomwatt.perfmodel.layer_table import DTYPE_INDEX
from zoomwatt.workload.records import LayerRecord, OpClass


def _table_records():
    conv = LayerRecord(
        "conv", "aten.convolution", OpClass.CONV, 1000, 2000, 1000.0, 100.0, 100.0, "fp16"
    )
    norm = LayerRecord("norm", "aten.group_norm", OpClass.NORM, 0, 500, 8.0, 100.0, 100.0, "fp16")
    return conv, norm


def _table():
    return build_layer_table([make_stage("unet", list(_table_records()), 20)])


def test_quantization_bytes_and_dtype():
    t = compressed_table(_table(), "w8a8")
    # 1000 B fp16 weights = 500 weights -> 500 B int8; norm 8 B -> 4 B; activations halve
    assert t.weight_bytes.tolist() == [500.0, 4.0]
    assert t.activation_bytes.tolist() == [100.0, 100.0]
    assert set(t.dtype.tolist()) == {DTYPE_INDEX["int8"]}
    w4 = compressed_table(_table(), "w4a16")
    # int4 weights with fp16 activations compute in fp16; 500 x 0.5 B = 250 B
    assert w4.weight_bytes[0] == 250.0
    assert set(w4.dtype.tolist()) == {DTYPE_INDEX["fp16"]}


def test_int8_weights_only_in_the_classes_a_stack_keeps_them_in():
    from zoomwatt.hardware.schema import INT8_WEIGHT_CLASSES

    linear = LayerRecord(
        "fc", "aten.linear", OpClass.LINEAR, 1000, 2000, 1000.0, 100.0, 100.0, "fp16"
    )
    conv, norm = _table_records()
    table = build_layer_table([make_stage("unet", [conv, linear, norm], 20)])
    # OpenVINO's CPU plugin: int8 in linear kernels only; the conv keeps its 1000 fp16 bytes,
    # the linear layer's 500 weights take 500 B, the norm's 8 B halve as before (4 B)
    t = compressed_table(table, "w8a16", weight_classes=INT8_WEIGHT_CLASSES["openvino-int8"])
    assert t.weight_bytes.tolist() == [1000.0, 500.0, 4.0]
    # by default both conv and linear weights are int8: 500 B each
    assert compressed_table(table, "w8a16").weight_bytes.tolist() == [500.0, 500.0, 4.0]


def test_sparsity_and_sharing_bytes():
    # 2:4: 250 kept x (16 + 2) bits / 8 = 562.5 B
    assert compressed_table(_table(), "fp16", "2:4").weight_bytes[0] == 562.5
    # prune50: 250 x (16 + 4) / 8 = 625 B
    assert compressed_table(_table(), "fp16", "prune50").weight_bytes[0] == 625.0
    # share 4: 500 x 4 / 8 + 16 x 16 / 8 = 250 + 32 = 282 B
    assert compressed_table(_table(), "fp16", "dense", 4).weight_bytes[0] == 282.0
    # int8 + 2:4 + share 4: 250 x (4 + 2) / 8 + 32 = 219.5 B
    assert compressed_table(_table(), "w8a16", "2:4", 4).weight_bytes[0] == 219.5
    # share 4 does not apply to int4 weights: 250 x (4 + 2) / 8 = 187.5 B
    assert compressed_table(_table(), "w4a16", "2:4", 4).weight_bytes[0] == 187.5
    # the norm layer keeps its weights
    assert compressed_table(_table(), "fp16", "2:4", 4).weight_bytes[1] == 8.0


def test_matches_tracing_in_the_dtype():
    from zoomwatt.workload import characterize

    def table(dtype):
        stages = stages_from_workload(characterize(size=64, dtype=dtype, vae="taesd"))
        return build_layer_table([s for s in stages if not s.per_frame])

    fp16 = table("fp16")
    # the text encoder's token-id ops count integer bytes whatever the dtype: left out
    models = fp16.stage_index > 0
    for quant, dtype in (("w8a8", "int8"), ("w4a8", "int4")):
        ours, traced = compressed_table(fp16, quant), table(dtype)
        assert np.array_equal(ours.dtype, traced.dtype)
        assert np.allclose(ours.weight_bytes, traced.weight_bytes)
        assert np.allclose(ours.activation_bytes[models], traced.activation_bytes[models])


def test_bad_choice():
    with pytest.raises(InputError, match="quant"):
        compressed_table(_table(), "w3a8")
