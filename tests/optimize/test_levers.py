"""The levers applied for real to the SD2 lean path (tiny random pipeline)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zoomwatt.errors import InputError
from zoomwatt.optimizer.plan import PREDICTED_FIELDS
from zoomwatt.pipeline.backends.levers import (
    LEVERS,
    Lever,
    check_runnable,
    parse_levers,
    quality_note,
    run_settings,
    unavailable_reason,
)


def test_parse_levers_values_and_errors():
    levers = parse_levers("no-cfg, steps=2,deepcache=3,tome=0.5,taesd")
    assert [lv.text() for lv in levers] == ["no-cfg", "steps=2", "deepcache=3", "tome=0.5", "taesd"]
    for bad, argument in (
        ("warp", "--levers"),
        ("steps", "steps"),
        ("steps=0", "steps"),
        ("deepcache=1", "deepcache"),
        ("tome=1.5", "tome"),
        ("no-cfg,no-cfg", "--levers"),
        ("resolution=100", "resolution"),
    ):
        with pytest.raises(InputError) as err:
            parse_levers(bad)
        assert err.value.argument == argument


def test_run_settings_apply_the_run_levers():
    base = {"size": (128, 128), "steps": 4, "guidance": 7.5, "frames_per_keyframe": 8}
    out = run_settings(parse_levers("no-cfg,steps=2,resolution=64,every=16"), base)
    assert out == {"size": (64, 64), "steps": 2, "guidance": 1.0, "frames_per_keyframe": 16}


def test_unavailable_levers_say_why_on_this_cpu():
    for name in ("2:4", "fp16", "tensorrt", "operating-point", "prune50", "share", "w4a8"):
        assert unavailable_reason(name, "cpu"), name
    assert "sparse tensor cores" in unavailable_reason("2:4", "cpu")
    assert unavailable_reason("no-cfg", "cpu") is None
    assert unavailable_reason("int8-dynamic", "cpu") is None
    run, why = check_runnable(parse_levers("no-cfg,2:4"), "cpu", skip_unavailable=True)
    assert [lv.name for lv in run] == ["no-cfg"] and set(why) == {"2:4"}
    with pytest.raises(InputError, match="skip-unavailable"):
        check_runnable(parse_levers("no-cfg,2:4"), "cpu", skip_unavailable=False)


def test_bf16_is_measurable_only_with_native_bf16(monkeypatch):
    from zoomwatt.pipeline.backends import levers

    monkeypatch.setattr(levers, "_cpu_flags", lambda: frozenset({"avx512f"}))
    assert "no native bf16" in levers.unavailable_reason("bf16", "cpu")
    monkeypatch.setattr(levers, "_cpu_flags", lambda: frozenset({"avx512_bf16"}))
    assert levers.unavailable_reason("bf16", "cpu") is None


def test_retain_memory_is_exact_and_not_for_cuda():
    assert LEVERS["retain-memory"].exact
    assert "caching allocator" in unavailable_reason("retain-memory", "cuda")
    assert quality_note(parse_levers("retain-memory")).startswith("lossless")


def test_quality_note_is_lossless_only_for_exact_levers():
    assert quality_note((Lever("compile", True),)).startswith("lossless")
    note = quality_note((Lever("int8-dynamic", True),))
    assert "random weights" in note and "lossless" not in note
    assert "distilled" in quality_note((Lever("steps", 2),))
    assert all(not LEVERS[n].exact for n in ("int8-dynamic", "deepcache", "tome", "taesd", "2:4"))


def test_deepcache_full_step_is_the_unet(tiny_unet):
    from zoomwatt.pipeline.backends.deepcache import DeepCacheUNet, full_step, shallow_step

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 9, 8, 8, generator=gen)
    text = torch.randn(2, 77, tiny_unet.config.cross_attention_dim, generator=gen)
    t = torch.tensor(500)
    with torch.no_grad():
        ref = tiny_unet(x, t, encoder_hidden_states=text).sample
        out, deep = full_step(tiny_unet, x, t, text)
        # same code path re-ordered: identical ops, so equal to the last bit
        assert torch.equal(out, ref)
        # on the same input the cached deep feature is the one a full step would make
        assert torch.equal(shallow_step(tiny_unet, x, t, text, deep), ref)
        wrapped = DeepCacheUNet(tiny_unet, interval=2)
        x2 = torch.randn(2, 9, 8, 8, generator=gen)
        wrapped(x, t, text)
        shallow = wrapped(x2, t, text)[0]  # step 1: shallow, reuses step 0's deep feature
        full2 = tiny_unet(x2, t, encoder_hidden_states=text).sample
        assert not torch.equal(shallow, full2)  # reuse changes the output
        assert wrapped.full_steps == 1  # 2 steps, interval 2: ceil(2/2) = 1 full step


@pytest.fixture(scope="module")
def tiny_pipe(tiny_sd2_dir):
    from diffusers import StableDiffusionInpaintPipeline

    return StableDiffusionInpaintPipeline.from_pretrained(tiny_sd2_dir)


def _keyframe(pipe, levers=(), shared=None, **kw):
    from zoomwatt.pipeline.backends.sd2_levers import LeverInpainter

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    mask = np.zeros((64, 64), np.uint8)
    mask[:16] = 255
    backend = LeverInpainter(
        pipeline=pipe,
        steps=4,
        scheduler="ddim",
        device="cpu",
        levers=levers,
        taesd="random",
        shared=shared,
        **kw,
    )
    return backend.inpaint(image, mask, "a cat", "", seed=3).image


def test_no_lever_is_the_lean_baseline(tiny_pipe):
    from zoomwatt.pipeline.backends.sd2_fast import SD2FastInpainter

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    mask = np.zeros((64, 64), np.uint8)
    mask[:16] = 255
    lean = SD2FastInpainter(pipeline=tiny_pipe, steps=4, scheduler="ddim", device="cpu")
    want = lean.inpaint(image, mask, "a cat", "", seed=3).image
    assert np.array_equal(_keyframe(tiny_pipe), want)


@pytest.mark.parametrize(
    "text", ["deepcache=2", "int8-dynamic", "int8-weight", "tome=0.5", "taesd", "scheduler=lcm"]
)
def test_each_model_lever_changes_the_keyframe_and_leaves_the_pipeline(tiny_pipe, text):
    pytest.importorskip("tomesd") if text.startswith("tome") else None
    base = _keyframe(tiny_pipe)
    out = _keyframe(tiny_pipe, parse_levers(text))
    assert out.shape == base.shape and out.dtype == np.uint8
    assert not np.array_equal(out, base)  # the lever really ran
    assert np.array_equal(_keyframe(tiny_pipe), base)  # the shared pipeline is unchanged


@pytest.mark.skipif(
    unavailable_reason("retain-memory", "cpu") is not None, reason="needs glibc's mallopt"
)
def test_retain_memory_keeps_freed_memory_while_the_zoom_runs_and_leaves_the_picture(
    tiny_pipe, monkeypatch
):
    """A process setting, not a model change: the same keyframe bit for bit, the allocator set
    when the models are prepared and set back when the inpainter closes."""
    from zoomwatt.pipeline import allocator
    from zoomwatt.pipeline.backends.sd2_levers import LeverInpainter

    calls: list[str] = []
    kept = allocator.AllocatorSetting(True, True, "kept")
    monkeypatch.setattr(allocator, "retain_freed_memory", lambda: calls.append("retain") or kept)
    monkeypatch.setattr(allocator, "release_freed_memory", lambda: calls.append("release"))
    base = _keyframe(tiny_pipe)
    assert calls == []  # the baseline leaves the allocator alone
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    mask = np.zeros((64, 64), np.uint8)
    mask[:16] = 255
    backend = LeverInpainter(
        pipeline=tiny_pipe, steps=4, scheduler="ddim", device="cpu",
        levers=parse_levers("retain-memory"),
    )  # fmt: skip
    assert np.array_equal(backend.inpaint(image, mask, "a cat", "", seed=3).image, base)
    backend.inpaint(image, mask, "a cat", "", seed=3)
    assert calls == ["retain"]  # once, for the whole zoom
    backend.close()
    assert calls == ["retain", "release"]


def test_int8_copy_is_made_once_for_all_inpainters(tiny_pipe):
    shared: dict = {}
    _keyframe(tiny_pipe, parse_levers("int8-dynamic"), shared)
    _keyframe(tiny_pipe, parse_levers("int8-dynamic,deepcache=2"), shared)
    assert len(shared) == 1
    (unet,) = shared.values()
    kinds = {type(m).__name__ for m in unet.modules()}
    assert "Linear" in kinds or "DynamicQuantizedLinear" in kinds
    assert not any(
        type(m).__name__ == "Linear" and m.__module__.startswith("torch.nn.modules")
        for m in unet.modules()
    )  # every nn.Linear was replaced


def test_unrunnable_lever_is_refused_by_the_backend(tiny_pipe):
    with pytest.raises(InputError, match="sparse tensor cores"):
        _keyframe(tiny_pipe, parse_levers("2:4"))


@pytest.mark.gpu
def test_cuda_levers_fp16_compile(tiny_pipe):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU: fp16, torch.compile on CUDA and TensorRT run only there")
    from zoomwatt.pipeline.backends.sd2_levers import LeverInpainter

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    mask = np.zeros((64, 64), np.uint8)
    mask[:16] = 255
    for text in ("fp16", "compile", "fp16,compile"):
        backend = LeverInpainter(
            pipeline=tiny_pipe,
            steps=2,
            scheduler="ddim",
            device="cuda",
            levers=parse_levers(text),
            taesd="random",
        )
        assert backend.inpaint(image, mask, "a cat", "", seed=3).image.shape == (64, 64, 3)


def test_zoom_cli_applies_a_plan(tiny_sd2_dir, tmp_path, capsys):
    import json

    from zoomwatt.cli.main import main

    plan = {
        "schema": "zoomwatt-plan",
        "schema_version": 1,
        "label": "t",
        "pick": "best",
        "device": {"hardware": "host", "description": "here"},
        "stack": "eager",
        "workload": {
            "pipeline": "sd2-inpaint",
            "resolution_px": 512,
            "steps": 20,
            "cfg": True,
            "vae": "default",
            "every": 30,
            "baseline_quant": "fp16",
            "target_fps": 30.0,
        },
        "levers": [
            {"name": "resolution", "value": 64},
            {"name": "no-cfg", "value": True},
            {"name": "steps", "value": 2},
            {"name": "every", "value": 3},
            {"name": "deepcache", "value": 2},
            {"name": "2:4", "value": True},
        ],
        "predicted": dict.fromkeys(PREDICTED_FIELDS, 1.0),
        "error_db": -0.3,
        "meets_targets": True,
        "made_by": "test",
        "date": "d",
    }
    plan["baseline_predicted"] = dict(plan["predicted"])
    path = tmp_path / "p.json"
    path.write_text(json.dumps(plan))
    out = tmp_path / "z.mp4"
    args = [
        "zoom",
        "--backend",
        "sd2",
        "--model",
        str(tiny_sd2_dir),
        "--prompt",
        "x",
        "--size",
        "128x128",
        "--keyframes",
        "2",
        "--plan",
        str(path),
        "--out",
        str(out),
        "--no-progress",
        "--json",
    ]
    assert main(args) == 2  # 2:4 cannot run here
    assert "2:4" in capsys.readouterr().err
    assert main([*args, "--skip-unavailable"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["frames"] == 1 + 3 * (2 - 1)  # every=3 from the plan: 1 + N (K - 1) = 4
    import av

    with av.open(str(out)) as video:
        stream = video.streams.video[0]
        assert (stream.width, stream.height) == (64, 64)  # the plan's resolution


def test_int8_dynamic_cannot_go_with_a_16_bit_dtype():
    from zoomwatt.pipeline.backends.levers import check_together

    for dtype in ("bf16", "fp16"):
        with pytest.raises(InputError, match=f"int8-dynamic with {dtype}") as err:
            check_together(parse_levers(f"int8-dynamic,{dtype}"))
        assert "fp32 inputs" in str(err.value)
    check_together(parse_levers("int8-weight,bf16"))  # weight-only int8 takes bf16 inputs


def test_compatible_levers_keep_the_first_and_say_why_the_other_is_left_out():
    from zoomwatt.pipeline.backends.levers import compatible_levers

    kept, notes = compatible_levers(parse_levers("no-cfg,int8-dynamic,taesd,bf16,every=4"))
    assert [lv.text() for lv in kept] == ["no-cfg", "int8-dynamic", "taesd", "every=4"]
    assert notes == [
        "bf16 left out: it cannot go with int8-dynamic (a dtype torch's dynamic int8 linears "
        "do not take: they quantize fp32 inputs)"
    ]
    kept, notes = compatible_levers(parse_levers("bf16,int8-dynamic"))  # order decides
    assert [lv.text() for lv in kept] == ["bf16"]
    assert notes == [
        "int8-dynamic left out: it cannot go with bf16 (a dtype torch's dynamic int8 linears "
        "do not take: they quantize fp32 inputs)"
    ]
    for off in ("openvino=false,int8-dynamic", "int8-dynamic,bf16=false"):
        kept, notes = compatible_levers(parse_levers(off))
        assert len(kept) == 2 and notes == []  # a lever switched off excludes nothing


def test_int8_dynamic_refuses_a_16_bit_pipeline(tiny_sd2_dir):
    from zoomwatt.pipeline.backends.sd2_levers import LeverInpainter

    with pytest.raises(InputError, match="fp32 with the int8-dynamic lever") as err:
        LeverInpainter(
            model=str(tiny_sd2_dir), device="cpu", levers=parse_levers("int8-dynamic"), dtype="bf16"
        )
    assert err.value.argument == "dtype"


def test_a_bf16_run_on_a_shared_pipeline_leaves_it_fp32_and_plain(tiny_pipe):
    """A bf16 inpainter on a caller's fp32 pipeline works on a deep copy: casting and the
    channels-last layout of 16-bit CPU convs (workload/conv_layout.py) stay off the shared
    models, also where the dtype comes from ``dtype`` rather than the bf16 lever (which needs
    a CPU with native bf16)."""
    _keyframe(tiny_pipe, dtype="bf16")
    weight = tiny_pipe.unet.conv_in.weight
    assert weight.dtype == torch.float32
    assert weight.is_contiguous()
