"""The analytic frame operations, against a hand count at 64x64."""

from __future__ import annotations

from zoomwatt.workload import OpClass, characterize
from zoomwatt.workload.frame_ops import count_frame_ops


def test_frame_ops_hand_count():
    # 64x64 frame, border 16 (r = 1/2), N = 2: one in-between frame, j = 1, whose crop of K[i]
    # has side r^(1/2), so it reads r = 1/2 of K[i]. px = 4096, elements = 3 * 4096 = 12288,
    # inner 32x32: 1024 px, 3072 elements; latents 8x8 = 64; activations fp16 (2 bytes).
    count = count_frame_ops(64, 64, 16, 2, "fp16")
    got = {r.module.removeprefix("frame_ops."): r for r in count.records}
    expect = {  # flops, bytes read, bytes written
        "keyframe.shrink": (12288 + 3072, 12288, 3072),
        "keyframe.canvas_and_mask": (0, 3072, 12288 + 4096),
        "keyframe.vae_preprocess": (4 * 12288, 12288 + 4096, (12288 + 64) * 2),
        "keyframe.vae_postprocess": (6 * 12288, 12288 * 2, 12288),
        "keyframe.paste_back": (0, 3072, 3072),
        "inbetween.warp_current": (7 * 12288, 0.5 * 12288, 12288),
        "inbetween.warp_previous": (7 * 12288, 12288, 12288),
        "inbetween.blend": (4 * 12288 + 4096, 2 * 12288 + 4096, 12288),
        "output.rgb_to_yuv420": (2 * 12 * 4096, 2 * 12288, 2 * 1.5 * 4096),
        "output.video_encode": (0, 2 * 2 * 1.5 * 4096, 2 * 1.5 * 4096),
    }
    assert set(got) == set(expect)
    for name, (flops, read, written) in expect.items():
        r = got[name]
        assert (r.flops, r.input_bytes, r.output_bytes) == (flops, read, written), name
        assert r.macs == 0 and r.weight_bytes == 0 and r.dtype == "uint8"
    assert got["inbetween.warp_current"].op_class == OpClass.RESAMPLE
    total = 15360 + 49152 + 73728 + 86016 + 86016 + 53248 + 98304
    stage = characterize(size=64, border_px=16, every=2).stage("frame_ops")
    assert stage.flops_per_call == total == 461824
    assert stage.calls_per_keyframe == 1 and stage.params == 0


def test_one_frame_per_keyframe_has_no_inbetweens():
    count = count_frame_ops(512, 512, 128, 1, "fp16")
    got = {r.module: r for r in count.records}
    assert got["frame_ops.inbetween.warp_current"].flops == 0
    assert got["frame_ops.output.rgb_to_yuv420"].flops == 12 * 512 * 512
