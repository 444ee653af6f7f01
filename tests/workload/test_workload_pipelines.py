"""Every pipeline of the catalog, traced and counted at its native size: which stages it has,
how often each runs per image, its parameters (the published totals of
tests/archs/test_pipelines.py, and what archs builds), its UNet's MACs against
``torch.utils.flop_counter`` on the same meta model, SDXL's added embeddings, ``--model DIR``
giving the records of the shipped pipeline it copies, the cache on and off, and the command
line's one-line errors.

Each pipeline is traced once per session (the module's fixture writes the session's workload
cache; later characterizations read it back).
"""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from zoomwatt.archs.build import count_params
from zoomwatt.archs.calls import example_inputs
from zoomwatt.archs.catalog import ALL_PIPELINES, PIPELINES, TXT2IMG_PIPELINES, load_config
from zoomwatt.archs.pipelines import pipeline_spec
from zoomwatt.cli.main import main
from zoomwatt.errors import InputError
from zoomwatt.workload import (
    OpClass,
    StageName,
    WorkloadSpec,
    characterize,
    characterize_pipeline,
    check_article,
)

# The published totals (sources: tests/archs/test_pipelines.py's docstring).
SD15_UNET = 859_520_964
SD2_UNET = 865_910_724
SDXL_UNET = 2_567_463_684
CLIP_L = 123_060_480
OPENCLIP_H_23 = 340_387_840
OPENCLIP_BIGG_PROJ = 694_659_840
KL_VAE = 83_653_863
KL_ENCODER = 34_163_664  # encoder + quant_conv: what encode() reads
KL_DECODER = 49_490_199  # post_quant_conv + decoder: what decode() reads
INPAINT_EXTRA = 5 * 9 * 320  # the 9-channel conv_in: 5 more input channels

TEXT = {"sd2-inpaint": OPENCLIP_H_23, "sd15-inpaint": CLIP_L, "sd15": CLIP_L,
        "sd21-base": OPENCLIP_H_23, "sd21": OPENCLIP_H_23, "sdxl-base": CLIP_L + OPENCLIP_BIGG_PROJ,
        "sd-turbo": OPENCLIP_H_23}  # fmt: skip
UNET = {"sd2-inpaint": SD2_UNET + INPAINT_EXTRA, "sd15-inpaint": SD15_UNET + INPAINT_EXTRA,
        "sd15": SD15_UNET, "sd21-base": SD2_UNET, "sd21": SD2_UNET, "sdxl-base": SDXL_UNET,
        "sd-turbo": SD2_UNET}  # fmt: skip
NATIVE = {"sd2-inpaint": 512, "sd15-inpaint": 512, "sd15": 512, "sd21-base": 512, "sd21": 768,
          "sdxl-base": 1024, "sd-turbo": 512}  # fmt: skip

#: The UNet's MACs per call against FlopCounterMode / 2: the tolerance is none (exact), conv
#: and matmuls (linear + attention) each.
MAC_TOLERANCE = 0


@pytest.fixture(scope="module")
def reports():
    """Each pipeline at its defaults (native size, its steps and guidance), traced once."""
    return {name: characterize(pipeline=name) for name in ALL_PIPELINES}


def test_defaults_are_the_pipelines(reports):
    for name, r in reports.items():
        assert r.size == NATIVE[name] == pipeline_spec(name).native_size_px, name
        assert (r.steps, r.cfg) == ((1, False) if name == "sd-turbo" else (20, True)), name
        assert r.kind == ("inpaint" if name in PIPELINES else "txt2img")
    assert WorkloadSpec().replace(pipeline="sd-turbo").steps == 1  # left to the pipeline
    assert WorkloadSpec(steps=4).replace(pipeline="sd-turbo").steps == 4  # the user's own
    assert WorkloadSpec(pipeline="sdxl-base", size=480).size == 480  # SDXL: multiples of 32
    with pytest.raises(InputError, match="multiple of 64"):
        WorkloadSpec(pipeline="sd15", size=480)


def test_stages_present_or_absent(reports):
    model_stages = [StageName.TEXT_ENCODER, StageName.UNET, StageName.VAE_DECODER]
    for name, r in reports.items():
        names = [s.name for s in r.stages]
        if name in PIPELINES:
            assert names == [StageName.TEXT_ENCODER, StageName.VAE_ENCODER, StageName.UNET,
                             StageName.VAE_DECODER, StageName.FRAME_OPS], name  # fmt: skip
        else:  # no picture to encode, no zoom: the stages are absent, not zero
            assert names == model_stages, name
            assert r.find(StageName.VAE_ENCODER) is None
            assert r.to_dict()["settings"]["per"] == "image"
    assert "kind" not in reports["sd2-inpaint"].to_dict()["settings"]  # the zoom's JSON as it was


def test_parameters_per_stage_equal_the_archs_counts(reports):
    for name, r in reports.items():
        assert r.stage(StageName.TEXT_ENCODER).params == TEXT[name], name
        assert r.stage(StageName.UNET).params == UNET[name], name
        assert r.stage(StageName.VAE_DECODER).params == KL_DECODER, name
        if name in PIPELINES:
            assert r.stage(StageName.VAE_ENCODER).params == KL_ENCODER, name
        assert r.weight_bytes == 2 * sum(s.params for s in r.stages)  # fp16
    assert KL_ENCODER + KL_DECODER == KL_VAE  # encode() and decode() read the whole VAE
    # what archs builds: the models the traces were made of
    vae = characterize_pipeline._model(dict(pipeline_spec("sd15").configs_json)["vae"], "sdpa")
    assert count_params(vae.decoder) + count_params(vae.post_quant_conv) == KL_DECODER


def test_unet_calls_per_image(reports):
    for name, r in reports.items():
        unet = r.stage(StageName.UNET)
        per_step = 2 if r.cfg else 1
        assert unet.batch == per_step, name
        assert unet.calls_per_keyframe * unet.batch == r.steps * per_step, name
        assert r.stage(StageName.VAE_DECODER).calls_per_keyframe == 1
    # txt2img: a prompt per image; SDXL zeroes the negative embeddings (one call per encoder)
    assert reports["sd15"].stage(StageName.TEXT_ENCODER).calls_per_keyframe == 2
    assert reports["sdxl-base"].stage(StageName.TEXT_ENCODER).calls_per_keyframe == 1
    assert reports["sd-turbo"].stage(StageName.TEXT_ENCODER).calls_per_keyframe == 1
    assert reports["sd2-inpaint"].stage(StageName.TEXT_ENCODER).calls_per_keyframe == 0


def test_batch_shares_a_call_among_its_images(reports):
    one = reports["sd15"]
    three = characterize(pipeline="sd15", batch=3)
    unet = three.stage(StageName.UNET)
    assert unet.batch == 6 and unet.input_shapes[0] == (6, 4, 64, 64)
    assert unet.calls_per_keyframe == pytest.approx(20 / 3)
    assert three.stage(StageName.TEXT_ENCODER).batch == 3
    assert three.stage(StageName.VAE_DECODER).calls_per_keyframe == pytest.approx(1 / 3)
    # per image, the work is the same and the weights are read a third as often
    assert three.per_keyframe.macs == pytest.approx(one.per_keyframe.macs, rel=1e-12)
    assert three.per_keyframe.weight_bytes == pytest.approx(one.per_keyframe.weight_bytes / 3)
    assert unet.macs_per_call == 3 * one.stage(StageName.UNET).macs_per_call
    assert three.to_dict()["settings"]["batch"] == 3
    assert characterize(batch=2, cfg=False).stage(StageName.UNET).batch == 2  # the zoom too
    with pytest.raises(InputError, match="batch=0"):
        WorkloadSpec(batch=0)


def _flop_counter(fn, args, kwargs):
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn(*args, **kwargs)
    counts = counter.get_flop_counts()["Global"]
    conv = sum(v for k, v in counts.items() if "conv" in str(k))
    return conv, sum(counts.values()) - conv


# Each UNet architecture once: sd2-inpaint's is checked in test_workload_characterize.py, and
# sd-turbo's is sd21-base's at half the batch (test_records_do_not_depend_on_the_path_taken).
@pytest.mark.parametrize("name", ["sd15-inpaint", "sd15", "sd21-base", "sd21", "sdxl-base"])
def test_unet_macs_match_the_flop_counter(name, reports):
    spec = pipeline_spec(name)
    unet = reports[name].stage(StageName.UNET)
    model = characterize_pipeline._model(dict(spec.configs_json)["unet"], "sdpa")  # as traced
    inputs = example_inputs(spec, "unet", unet.batch, NATIVE[name])
    conv, matmul = _flop_counter(inputs.bound(model), inputs.args, inputs.kwargs)
    mine = unet.macs_by_class
    assert abs(2 * mine[OpClass.CONV] - conv) <= MAC_TOLERANCE * conv
    assert abs(2 * (mine[OpClass.LINEAR] + mine[OpClass.ATTENTION]) - matmul) <= (
        MAC_TOLERANCE * matmul
    )
    assert 2 * unet.macs_per_call == conv + matmul  # no MACs beside conv and matmuls


def test_sdxl_added_embeddings_and_two_text_encoders(reports):
    r = reports["sdxl-base"]
    unet = r.stage(StageName.UNET)
    assert unet.input_shapes == ((2, 4, 128, 128), (), (2, 77, 2048), (2, 1280), (2, 6))
    added = [rec for rec in unet.layers if rec.module.startswith("add_embedding")]
    # TimestepEmbedding(2816 -> 1280 -> 1280) on the pooled text (1280) and 6 x 256 time ids
    assert sum(rec.macs for rec in added) == 2 * (2816 * 1280 + 1280 * 1280)
    assert any(rec.module.startswith("add_time_proj") for rec in unet.layers)
    text = r.stage(StageName.TEXT_ENCODER)
    assert text.output_shape == (1, 77, 768 + 1280)  # the hidden states, side by side
    assert text.input_shapes == ((1, 77), (1, 77))
    assert text.model == "CLIPTextModel + CLIPTextModelWithProjection (sdxl-base)"
    roots = {rec.module.split(".")[0] for rec in text.layers}
    assert roots == {"text_encoder", "text_encoder_2"}
    assert sum(rec.module.startswith("text_encoder_2.text_projection") for rec in text.layers)
    # checking the article works without a VAE encoder (its latents are the decoder's input)
    checks = {c.claim: c for c in check_article(r)}
    assert "4x128x128" in checks["VAE encoder: latents 64x64"].measured
    assert sum("autoencoder" in claim for claim in checks) == 1


def test_records_do_not_depend_on_the_path_taken(reports):
    """sd2-inpaint's records are the ones recorded before the catalog (test_exact_macs), and
    shared models give the same records in every pipeline that ships them."""
    r = reports["sd2-inpaint"]
    assert r.stage(StageName.UNET).macs_per_call == 804_375_429_120
    assert r.stage(StageName.TEXT_ENCODER).macs_per_call == 22_563_616_768
    base, turbo = reports["sd21-base"], reports["sd-turbo"]
    assert 2 * turbo.stage(StageName.UNET).macs_per_call == base.stage(StageName.UNET).macs_per_call
    assert base.stage(StageName.VAE_DECODER).layers == r.stage(StageName.VAE_DECODER).layers


def test_cache_on_and_off_give_the_same_report(reports):
    for name in ALL_PIPELINES:
        cached = characterize(pipeline=name)  # read back from the session's cache
        fresh = characterize(pipeline=name, cache=False)
        assert fresh.to_dict(layers=True) == cached.to_dict(layers=True)
        assert fresh.to_dict(layers=True) == reports[name].to_dict(layers=True)
        for a, b in zip(fresh.stages, cached.stages, strict=True):
            assert a.layers == b.layers


# --- --model DIR -----------------------------------------------------------------------------


def _write_folder(root, name):
    """A diffusers folder of the shipped pipeline ``name``'s JSON configs (no weights)."""
    spec = pipeline_spec(name)
    root.mkdir(parents=True)
    index = {"_class_name": spec.pipeline_class, "_diffusers_version": "0.30.0",
             "scheduler": ["diffusers", "EulerDiscreteScheduler"]}  # fmt: skip
    for component in spec.components:
        config = load_config(name, component)
        cls = config.pop("_class_name")
        config.pop("_source", None)
        library = "transformers" if component.startswith("text") else "diffusers"
        if library == "diffusers":
            config["_class_name"] = cls
        else:
            config["architectures"] = [cls]
        index[component] = [library, cls]
        (root / component).mkdir()
        (root / component / "config.json").write_text(json.dumps(config))
    (root / "scheduler").mkdir()
    sched = {"_class_name": "EulerDiscreteScheduler", "prediction_type": spec.prediction_type}
    (root / "scheduler" / "scheduler_config.json").write_text(json.dumps(sched))
    (root / "model_index.json").write_text(json.dumps(index))
    return root


@pytest.mark.parametrize("name", ["sdxl-base", "sd2-inpaint"])
def test_model_dir_gives_the_records_of_the_pipeline_it_copies(name, reports, tmp_path):
    folder = _write_folder(tmp_path / f"my-{name}", name)
    mine, shipped = characterize(model_dir=str(folder)), reports[name]
    assert mine.pipeline == f"my-{name}" and mine.model_dir == str(folder)
    assert mine.to_dict()["settings"]["model_dir"] == str(folder)
    assert [s.name for s in mine.stages] == [s.name for s in shipped.stages]
    for a, b in zip(mine.stages, shipped.stages, strict=True):
        assert a.layers == b.layers, a.name
        assert (a.params, a.batch, a.input_shapes, a.output_shape, a.calls_per_keyframe) == (
            b.params, b.batch, b.input_shapes, b.output_shape, b.calls_per_keyframe,
        )  # fmt: skip
        assert a.model.replace(f"my-{name}", name) == b.model
    assert mine.per_keyframe == shipped.per_keyframe
    measured = {c.claim: c.measured for c in check_article(mine)}  # the folder's own encoders
    assert measured == {c.claim: c.measured for c in check_article(shipped)}


def test_two_folders_never_share_cache_entries(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOOMWATT_CACHE_DIR", str(tmp_path / "cache"))
    a, b = (_write_folder(tmp_path / p / "sd15", "sd15") for p in ("a", "b"))
    characterize(model_dir=str(a))
    first = set((tmp_path / "cache" / "workload").iterdir())
    assert len(first) == 3  # text encoder, UNet, VAE decoder
    characterize(model_dir=str(b))  # the same name and configs, another folder
    assert len(set((tmp_path / "cache" / "workload").iterdir()) - first) == 3


def test_model_dir_and_pipeline_are_one_or_the_other(tmp_path):
    folder = _write_folder(tmp_path / "sd15", "sd15")
    spec = WorkloadSpec(model_dir=folder)
    assert spec.pipeline == "sd15" and spec.replace(steps=4).model_dir == str(folder)
    assert spec.replace(model_dir=None).pipeline == "sd2-inpaint"
    with pytest.raises(InputError, match=r"^pipeline='sd21'"):
        WorkloadSpec(model_dir=folder, pipeline="sd21")
    with pytest.raises(InputError, match=r"^border_px=20: expected None"):
        WorkloadSpec(pipeline="sd15", border_px=20)


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (["analyze", "--pipeline", "sdxl"], "pipeline='sdxl': expected one of sd2-inpaint"),
        (["predict", "--hw", "rpi5", "--pipeline", "sd3"], "pipeline='sd3': expected one of"),
        (["analyze", "--model", "/no/such/folder"], "model_dir='/no/such/folder': expected a"),
        (["predict", "--hw", "rpi5", "--model", "."], "model_dir='.': expected model_index.json"),
        (["analyze", "--pipeline", "sdxl-base", "--size", "1000"], "multiple of 32"),
        (["analyze", "--batch", "0"], "batch=0: expected an integer from 1 to 512"),
    ],
)
def test_cli_bad_pipeline_or_model_is_one_line(argv, text, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # "." is a folder without model_index.json
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert text in err and len(err.strip().splitlines()) == 1, err


def test_cli_every_pipeline_and_a_folder(reports, tmp_path, capsys):
    assert main(["analyze", "--pipeline", "sdxl-base", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["settings"]["size"] == 1024 and out["settings"]["kind"] == "txt2img"
    assert [s["name"] for s in out["stages"]] == ["text_encoder", "unet", "vae_decoder"]
    assert main(["analyze", "--pipeline", "sd-turbo"]) == 0
    table = capsys.readouterr().out
    assert "1 steps, CFG off" in table and "per image" in table and "calls/image" in table
    folder = _write_folder(tmp_path / "turbo", "sd-turbo")
    argv = ["predict", "--hw", "h100-sxm", "--model", str(folder), "--steps", "1", "--no-cfg",
            "--batch", "2", "--format", "json"]  # fmt: skip
    assert main(argv) == 0
    settings = json.loads(capsys.readouterr().out)["settings"]
    assert settings["pipeline"] == "turbo" and settings["batch"] == 2 and not settings["cfg"]
    assert set(TXT2IMG_PIPELINES) <= set(ALL_PIPELINES)
