"""Per-op counts against numbers worked out by hand, on small modules."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from zoomwatt.errors import InputError
from zoomwatt.workload import OpClass, trace_call
from zoomwatt.workload.formulas import FORMULAS, describe


def _meta(*shape, dtype=torch.float32):
    return torch.empty(shape, dtype=dtype, device="meta")


def _only(trace, op_class):
    records = [r for r in trace.records if r.op_class == op_class]
    assert len(records) == 1, records
    return records[0]


def test_conv_hand_count():
    with torch.device("meta"):
        conv = nn.Conv2d(4, 6, kernel_size=3, padding=1)
    t = trace_call(conv, conv, _meta(1, 4, 5, 5), dtype="fp16")
    r = _only(t, OpClass.CONV)
    # output 1*6*5*5 = 150 elements, each a dot product of 4 channels * 3*3 taps = 36
    assert r.macs == 150 * 36 == 5400
    assert r.flops == 2 * 5400
    # weights 6*4*3*3 + 6 bias = 222 parameters, 2 bytes each in fp16
    assert r.weight_bytes == 444
    assert r.input_bytes == 1 * 4 * 5 * 5 * 2 == 200
    assert r.output_bytes == 150 * 2 == 300
    assert t.params == 222
    assert r.module == ""  # the conv is the traced module itself


def test_strided_and_transposed_conv_hand_count():
    with torch.device("meta"):
        down = nn.Conv2d(2, 3, kernel_size=3, stride=2, padding=1)
        up = nn.ConvTranspose2d(3, 2, kernel_size=2, stride=2)
    r = _only(trace_call(down, down, _meta(1, 2, 8, 8)), OpClass.CONV)
    assert r.macs == (3 * 4 * 4) * (2 * 9)  # 48 outputs * 18 taps = 864
    r = _only(trace_call(up, up, _meta(1, 3, 4, 4)), OpClass.CONV)
    # transposed: each of 3*4*4 = 48 inputs scatters into 2 out channels * 2*2 taps = 8
    assert r.macs == 48 * 8 == 384


def test_linear_hand_count():
    with torch.device("meta"):
        linear = nn.Linear(5, 6)
    t = trace_call(linear, linear, _meta(2, 3, 5), dtype="fp32")
    r = _only(t, OpClass.LINEAR)
    assert r.macs == 2 * 3 * 5 * 6 == 180  # 6 rows * 5 in * 6 out
    assert r.flops == 360
    assert r.weight_bytes == (5 * 6 + 6) * 4 == 144
    assert r.input_bytes == 30 * 4
    assert r.output_bytes == 36 * 4


def test_group_norm_hand_count():
    with torch.device("meta"):
        norm = nn.GroupNorm(2, 4)
    t = trace_call(norm, norm, _meta(1, 4, 3, 3), dtype="fp16")
    r = _only(t, OpClass.NORM)
    assert r.macs == 0
    assert r.flops == 36 * 8 == 288  # 36 elements * (mean 1 + var 3 + normalize 2 + affine 2)
    assert r.weight_bytes == (4 + 4) * 2  # gamma and beta
    assert r.input_bytes == 36 * 2


def test_layer_norm_and_activations_hand_count():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm = nn.LayerNorm(4, elementwise_affine=False)

        def forward(self, x):
            return torch.nn.functional.gelu(self.norm(x)) + torch.nn.functional.silu(x)

    with torch.device("meta"):
        block = Block()
    t = trace_call(block, block, _meta(3, 4))
    flops = {r.op.split(".")[1]: r.flops for r in t.records}
    assert flops["native_layer_norm"] == 12 * 6  # no affine: 6 per element
    assert flops["gelu"] == 12 * 5  # 0.5*x*(1+erf(x/sqrt2))
    assert flops["silu"] == 12 * 4  # x/(1+exp(-x))
    assert flops["add"] == 12
    norm = next(r for r in t.records if r.op_class == OpClass.NORM)
    assert norm.module == "norm"


def _attention_block(processor):
    from diffusers.models.attention_processor import Attention

    with torch.device("meta"):
        attn = Attention(query_dim=8, heads=2, dim_head=4, processor=processor)
    return attn


@pytest.mark.parametrize("mode", ["sdpa", "matmul"])
def test_attention_block_hand_count(mode):
    from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

    attn = _attention_block(AttnProcessor2_0() if mode == "sdpa" else AttnProcessor())
    t = trace_call(attn, attn, _meta(1, 6, 8), dtype="fp16")
    macs = {c: sum(r.macs for r in t.records if r.op_class == c) for c in OpClass}
    # q, k, v and out projections: 4 linears of 6 tokens * 8 in * 8 out = 4 * 384
    assert macs[OpClass.LINEAR] == 4 * 6 * 8 * 8 == 1536
    # QK^T: 2 heads * 6 * 6 scores * 4 dims = 288; AV: the same again
    assert macs[OpClass.ATTENTION] == 2 * 6 * 6 * (4 + 4) == 576
    softmax = sum(r.flops for r in t.records if r.op_class == OpClass.SOFTMAX)
    assert softmax == 5 * 2 * 6 * 6 == 360  # max, sub, exp, sum, div per score
    assert t.params == 4 * 8 * 8 + 8  # to_out has a bias, q/k/v do not
    scores_bytes = 2 * 6 * 6 * 2  # the fp16 score matrix
    softmax_bytes = sum(r.total_bytes for r in t.records if r.op_class == OpClass.SOFTMAX)
    if mode == "sdpa":
        assert softmax_bytes == 0  # fused: the scores stay on chip
    else:
        assert softmax_bytes == 2 * scores_bytes  # read and written once


def test_matmul_between_activations_is_attention_and_with_weight_is_linear():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.empty(4, 3))

        def forward(self, a, b):
            return a @ b, a @ self.w

    with torch.device("meta"):
        m = M()
    t = trace_call(m, m, _meta(2, 4), _meta(4, 3))
    classes = [r.op_class for r in t.records if r.macs]
    assert classes == [OpClass.ATTENTION, OpClass.LINEAR]
    assert [r.macs for r in t.records if r.macs] == [24, 24]  # 2*4*3 each


def test_embedding_reads_only_gathered_rows_and_ids_count_at_int64():
    with torch.device("meta"):
        emb = nn.Embedding(1000, 16)
    t = trace_call(emb, emb, _meta(1, 7, dtype=torch.long), dtype="fp16")
    r = t.records[0]
    assert r.op_class == OpClass.DATA_MOVEMENT
    assert r.weight_bytes == 7 * 16 * 2  # 7 rows of 16, not the 1000-row table
    assert r.input_bytes == 7 * 8  # int64 ids at their own size
    assert t.params == 16000


def test_peak_activation_hand_count():
    class Chain(nn.Module):
        def forward(self, x):
            return (x * 2) + 1

    # x (200 B in fp16) live; x*2 adds 200; +1 adds 200 while x*2 is still referenced
    t = trace_call(Chain(), Chain(), _meta(1, 100), dtype="fp16")
    assert t.peak_activation_bytes == 600


def test_peak_counts_a_storage_while_any_alias_lives():
    class Reshape(nn.Module):
        def forward(self, x):
            y = (x * 2).transpose(0, 1).reshape(-1)  # clone, then _unsafe_view of the clone
            z = y + 1
            return z + y

    # 20 elements, 40 B each in fp16: x, y (the clone's storage, kept by the alias), z and the
    # result are all live at the last add: 4 * 40 = 160
    t = trace_call(Reshape(), Reshape(), _meta(4, 5), dtype="fp16")
    assert [r.op for r in t.records][1] == "aten.clone.default"
    assert t.peak_activation_bytes == 160


def test_int4_weights_are_half_a_byte():
    with torch.device("meta"):
        linear = nn.Linear(8, 8, bias=False)
    t = trace_call(linear, linear, _meta(1, 8), dtype="int4", activation_dtype="int8")
    r = t.records[0]
    assert r.weight_bytes == 64 * 0.5
    assert r.input_bytes == 8 * 1
    assert r.dtype == "int4" and r.activation_dtype == "int8"
    assert t.weight_bytes == 32


def test_views_are_not_recorded_and_unknown_ops_are_reported():
    class M(nn.Module):
        def forward(self, x):
            y = x.view(4, 2).transpose(0, 1)  # metadata only
            return torch.ops.aten.trace(y[:, :2])  # not in the table

    t = trace_call(M(), M(), _meta(8))
    assert [r.op for r in t.records] == ["aten.trace.default"]
    assert t.unknown_ops == ("aten.trace.default",)
    assert t.records[0].op_class == OpClass.OTHER and t.records[0].flops == 0


def test_same_counts_on_cpu_as_on_meta():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3)
    x = torch.randn(1, 3, 6, 6)
    on_cpu = trace_call(conv, conv, x)
    with torch.device("meta"):
        conv_meta = nn.Conv2d(3, 4, 3)
    on_meta = trace_call(conv_meta, conv_meta, x.to("meta"))
    assert on_cpu.records == on_meta.records


def test_bad_inputs():
    with pytest.raises(InputError, match="dtype"):
        trace_call(nn.Identity(), nn.Identity(), _meta(1), dtype="fp64")
    with pytest.raises(InputError, match="module"):
        trace_call("not a module", print)


def test_table_entries_have_derivations():
    assert len(FORMULAS) > 100
    for op, op_class, derivation in describe():
        assert derivation, op
        assert op_class in {c.value for c in OpClass}
