"""Every shipped pipeline builds the published models, parameter for parameter; the catalog's
example inputs drive each model's forward on the meta device; ``--model DIR`` reads a folder of
configs alone, and refuses broken ones in one line.

Where each exact parameter count comes from (each is also what the shipped config builds):

- SD 1.5 UNet 859,520,964: diffusers' own docstring of ``ModelMixin.num_parameters``
  (``diffusers/models/modeling_utils.py``: ``UNet2DConditionModel.from_pretrained(
  "runwayml/stable-diffusion-v1-5", subfolder="unet").num_parameters()`` -> 859520964).
- SD 2.x UNet 865,910,724 (4 input channels): buddy-compiler/buddy-mlir
  ``examples/BuddyStableDiffusion`` flattens stabilityai/stable-diffusion-2-1-base's UNet
  weights into one buffer of 865,910,724 floats (``arg0_unet``) and its text encoder into
  340,387,840 (``arg0_text_encoder``); SoarCraft/Stable123Keypoints
  ``zero123plus_model_structure.md`` lists the same UNet, 340,387,840 for the OpenCLIP ViT-H
  text tower and 83,653,863 for the VAE. SD 2.1 (768) and SD-Turbo: the same architecture.
- SDXL UNet 2,567,463,684: public training logs and model tables of
  stabilityai/stable-diffusion-xl-base-1.0 ("unet params = 2567463684"; a model table giving
  its denoiser 2,567,463,684 and its two text encoders 817,720,320 = 123,060,480 +
  694,659,840). The shipped UNet config is the published file key for key: it reproduces the
  published file's size and SHA-256 (1680 bytes, 30ebc707...2dbae6).
- CLIP ViT-L/14 text tower 123,060,480 (SD 1.5's and SDXL's first text encoder): the SD 1.5
  parameter tallies above (text_encoder: 123060480, unet: 859520964, vae: 83653863) and
  "clip-vit-large-patch14: 123060480" in public parameter tables.
- OpenCLIP ViT-bigG/14 text tower with projection 694,659,840 (SDXL's text_encoder_2): a
  diffusers memory table of SD 3, whose text_encoder_2 is the same CLIP-G with projection
  (694659840), next to the ViT-L with projection at 123,650,304 = 123,060,480 + 768 x 768.
- KL autoencoder 83,653,863: the tallies above (SD 1.5, SD 2, and SDXL's, same architecture).

Every figure in the brief was right; none needed correcting.
"""

from __future__ import annotations

import json
import logging

import pytest
import torch

from zoomwatt.archs.build import build_component, build_model, count_params
from zoomwatt.archs.calls import call_shapes, example_inputs, pipeline_calls
from zoomwatt.archs.catalog import (
    ALL_PIPELINES,
    PIPELINES,
    TXT2IMG_PIPELINES,
    components_of,
    config_file,
    load_config,
)
from zoomwatt.archs.model_dir import read_model_dir
from zoomwatt.archs.pipelines import all_specs, make_spec, pipeline_spec
from zoomwatt.errors import InputError

SD15_UNET = 859_520_964
SD2_UNET = 865_910_724
SDXL_UNET = 2_567_463_684
CLIP_L = 123_060_480
OPENCLIP_H_23 = 340_387_840
OPENCLIP_BIGG_PROJ = 694_659_840
KL_VAE = 83_653_863


@pytest.mark.parametrize(
    ("pipeline", "component", "params"),
    [
        ("sd15", "unet", SD15_UNET),
        ("sd15", "vae", KL_VAE),
        ("sd15", "text_encoder", CLIP_L),
        ("sd21-base", "unet", SD2_UNET),
        ("sd21-base", "vae", KL_VAE),
        ("sd21-base", "text_encoder", OPENCLIP_H_23),
        ("sd21", "unet", SD2_UNET),
        ("sd21", "vae", KL_VAE),
        ("sd21", "text_encoder", OPENCLIP_H_23),
        ("sd-turbo", "unet", SD2_UNET),
        ("sd-turbo", "vae", KL_VAE),
        ("sd-turbo", "text_encoder", OPENCLIP_H_23),
        ("sdxl-base", "unet", SDXL_UNET),
        ("sdxl-base", "vae", KL_VAE),
        ("sdxl-base", "text_encoder", CLIP_L),
        ("sdxl-base", "text_encoder_2", OPENCLIP_BIGG_PROJ),
    ],
)
def test_parameter_counts_exact(pipeline, component, params):
    assert count_params(build_model(pipeline, component)) == params


def test_sdxl_second_text_encoder_is_bigg_with_projection():
    text = build_model("sdxl-base", "text_encoder_2")
    assert type(text).__name__ == "CLIPTextModelWithProjection"
    assert count_params(text.text_projection) == 1280 * 1280  # no bias
    cfg = text.config
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.projection_dim) == (1280, 32, 1280)
    assert (cfg.num_attention_heads, cfg.intermediate_size, cfg.hidden_act) == (20, 5120, "gelu")
    first = build_model("sdxl-base", "text_encoder").config  # CLIP ViT-L/14, all 12 layers
    assert (first.hidden_size, first.num_hidden_layers, first.hidden_act) == (768, 12, "quick_gelu")


def test_sdxl_unet_conditioning_in_the_config():
    unet = load_config("sdxl-base", "unet")
    assert unet["addition_embed_type"] == "text_time"
    assert unet["addition_time_embed_dim"] == 256
    assert unet["projection_class_embeddings_input_dim"] == 2816 == 6 * 256 + 1280
    assert unet["transformer_layers_per_block"] == [1, 2, 10]
    assert unet["cross_attention_dim"] == 2048 == 768 + 1280
    assert load_config("sdxl-base", "vae")["scaling_factor"] == 0.13025


def test_catalog_facts():
    facts = {
        s.name: (s.kind, s.native_size_px, s.default_steps, s.cfg, s.prediction_type)
        for s in all_specs()
    }
    assert facts == {
        "sd2-inpaint": ("inpaint", 512, 20, True, "epsilon"),
        "sd15-inpaint": ("inpaint", 512, 20, True, "epsilon"),
        "sd15": ("txt2img", 512, 20, True, "epsilon"),
        "sd21-base": ("txt2img", 512, 20, True, "epsilon"),
        "sd21": ("txt2img", 768, 20, True, "v_prediction"),
        "sdxl-base": ("txt2img", 1024, 20, True, "epsilon"),
        "sd-turbo": ("txt2img", 512, 1, False, "epsilon"),
    }
    assert pipeline_spec("sd-turbo").guidance_scale == 0.0
    xl = pipeline_spec("sdxl-base")
    assert xl.text_encoders == ("text_encoder", "text_encoder_2")
    assert xl.added_conditioning == "text_time" and xl.size_multiple_px == 32
    assert xl.force_zeros_for_empty_prompt and xl.vae_scaling_factor == 0.13025
    assert pipeline_spec("sd15").added_conditioning is None
    assert pipeline_spec("sd21").config("unet")["upcast_attention"] is True
    assert set(ALL_PIPELINES) == set(PIPELINES) | set(TXT2IMG_PIPELINES)
    assert PIPELINES == ("sd2-inpaint", "sd15-inpaint")  # what the workload layer traces today


def test_shared_models_are_shipped_once():
    files = {(p, c): config_file(p, c) for p in ALL_PIPELINES for c in components_of(p)}
    assert files["sd-turbo", "unet"] == files["sd21-base", "unet"] == "sd21_base_unet.json"
    assert files["sdxl-base", "text_encoder"] == files["sd15", "text_encoder"]
    for p in ("sd21-base", "sd21", "sd-turbo"):
        assert files[p, "text_encoder"] == files["sd2-inpaint", "text_encoder"]
        assert files[p, "vae"] == files["sd2-inpaint", "vae"]
    # No two shipped files describe the same model (sample_size sizes no layer); the two
    # inpainting VAEs predate this rule and are kept as they were.
    seen: dict[str, str] = {}
    for name in sorted(set(files.values()) - {"sd15_inpaint_vae.json"}):
        config = load_config(*next(k for k, v in files.items() if v == name))
        key = json.dumps({k: v for k, v in config.items() if k not in ("_source", "sample_size")})
        assert key not in seen, (name, seen.get(key))
        seen[key] = name
    # A shared file names where each pipeline's config was published.
    assert load_config("sdxl-base", "text_encoder")["_source"].startswith("stabilityai/stable")
    assert "sd15_inpaint_text_encoder.json" in load_config("sd15", "text_encoder")["_source"]


def test_calls_per_picture():
    def summary(name, **kw):
        calls = pipeline_calls(pipeline_spec(name), **kw)
        return [(c.stage, c.per, c.calls, c.batch(1)) for c in calls]

    assert summary("sd15") == [
        ("text_encoder", "prompt", 2, 1), ("unet", "step", 1, 2), ("vae_decoder", "image", 1, 1),
    ]  # fmt: skip
    assert summary("sd2-inpaint")[1] == ("vae_encoder", "image", 1, 1)  # the masked picture
    assert summary("sd-turbo") == [
        ("text_encoder", "prompt", 1, 1), ("unet", "step", 1, 1), ("vae_decoder", "image", 1, 1),
    ]  # fmt: skip
    # SDXL zeroes the negative embeddings when no negative prompt is given.
    assert summary("sdxl-base")[:2] == [
        ("text_encoder", "prompt", 1, 1), ("text_encoder_2", "prompt", 1, 1),
    ]  # fmt: skip
    assert summary("sdxl-base", negative_prompt=True)[1] == ("text_encoder_2", "prompt", 2, 1)
    unet = pipeline_calls(pipeline_spec("sdxl-base"), cfg=False)[-2]
    assert unet.stage == "unet" and unet.batch(3) == 3


def test_shapes_at_native_size():
    xl = pipeline_spec("sdxl-base")
    assert call_shapes(xl, "unet", 2) == {
        "sample": (2, 4, 128, 128),
        "timestep": (),
        "encoder_hidden_states": (2, 77, 2048),
        "text_embeds": (2, 1280),
        "time_ids": (2, 6),
    }
    assert call_shapes(xl, "vae_decoder") == {"z": (1, 4, 128, 128)}
    assert call_shapes(xl, "text_encoder_2", 4) == {"input_ids": (4, 77)}
    assert call_shapes(pipeline_spec("sd21"), "unet")["sample"] == (1, 4, 96, 96)
    inpaint = pipeline_spec("sd2-inpaint")
    assert call_shapes(inpaint, "vae_encoder", 1, 1024) == {"sample": (1, 3, 1024, 1024)}
    assert call_shapes(inpaint, "unet", 2)["sample"] == (2, 9, 64, 64)


def test_bad_call_options():
    sd15, xl = pipeline_spec("sd15"), pipeline_spec("sdxl-base")
    with pytest.raises(InputError, match="stage='vae_encoder'"):  # txt2img encodes no picture
        call_shapes(sd15, "vae_encoder")
    with pytest.raises(InputError, match="stage='text_encoder_2'"):
        call_shapes(sd15, "text_encoder_2")
    with pytest.raises(InputError, match="batch=0"):
        call_shapes(sd15, "unet", 0)
    with pytest.raises(InputError, match="multiple of 64"):
        call_shapes(sd15, "unet", 1, 480)
    assert call_shapes(xl, "unet", 1, 480)["sample"] == (1, 4, 60, 60)  # SDXL: multiples of 32
    with pytest.raises(InputError, match="pipeline='sdxl'"):
        pipeline_spec("sdxl")


def _output(out):
    for name in ("sample", "last_hidden_state"):
        if hasattr(out, name):
            return getattr(out, name)
    return out.latent_dist.mean


@pytest.mark.parametrize("pipeline", ALL_PIPELINES)
def test_meta_forward_of_every_call(pipeline):
    spec = pipeline_spec(pipeline)
    size = 256
    latent = size // 8
    for call in pipeline_calls(spec):
        model = build_component(spec, call.component)
        inputs = example_inputs(spec, call.stage, call.batch(1), size)
        with torch.no_grad():
            out = inputs.bound(model)(*inputs.args, **inputs.kwargs)
        shape = tuple(_output(out).shape)
        batch = call.batch(1)
        width = spec.config(call.component).get("hidden_size")
        expected = {
            "text_encoder": (batch, 77, width),
            "text_encoder_2": (batch, 77, width),
            "vae_encoder": (batch, 4, latent, latent),
            "unet": (batch, 4, latent, latent),
            "vae_decoder": (batch, 3, size, size),
        }[call.stage]
        assert shape == expected, (call.stage, shape)
        if call.stage == "text_encoder_2":
            assert tuple(out.text_embeds.shape) == (batch, 1280)  # SDXL's pooled text


def _tiny_xl_spec():
    """An SDXL-shaped pipeline shrunk to a few thousand parameters (two text encoders, added
    time and text embeddings), for exact cross-checks that take no time."""
    text = {"_class_name": "CLIPTextModel", "hidden_size": 16, "intermediate_size": 24,
            "num_hidden_layers": 2, "num_attention_heads": 2, "max_position_embeddings": 77,
            "vocab_size": 99, "projection_dim": 16}  # fmt: skip
    text_2 = {**text, "_class_name": "CLIPTextModelWithProjection", "hidden_size": 32,
              "projection_dim": 24}  # fmt: skip
    unet = {"_class_name": "UNet2DConditionModel", "sample_size": 8, "in_channels": 4,
            "out_channels": 4, "block_out_channels": [32, 64], "layers_per_block": 1,
            "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
            "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"], "attention_head_dim": [2, 4],
            "norm_num_groups": 16, "cross_attention_dim": 48, "use_linear_projection": True,
            "addition_embed_type": "text_time", "addition_time_embed_dim": 8,
            "projection_class_embeddings_input_dim": 24 + 6 * 8,
            "transformer_layers_per_block": [1, 2]}  # fmt: skip
    vae = {"_class_name": "AutoencoderKL", "block_out_channels": [8, 8], "norm_num_groups": 4,
           "down_block_types": ["DownEncoderBlock2D"] * 2, "latent_channels": 4,
           "up_block_types": ["UpDecoderBlock2D"] * 2, "layers_per_block": 1}  # fmt: skip
    configs = {"text_encoder": text, "text_encoder_2": text_2, "unet": unet, "vae": vae}
    return make_spec(
        "tiny-xl", configs, kind="txt2img", pipeline_class="StableDiffusionXLPipeline",
        default_steps=20, cfg=True, guidance_scale=5.0, prediction_type="epsilon",
        scheduler="EulerDiscreteScheduler", force_zeros_for_empty_prompt=True, source="test",
    )  # fmt: skip


@pytest.mark.parametrize("stage", ["text_encoder_2", "unet", "vae_decoder"])
def test_tracer_matches_flop_counter_on_a_tiny_sdxl(stage):
    from torch.utils.flop_counter import FlopCounterMode

    from zoomwatt.workload import OpClass, trace_call

    spec = _tiny_xl_spec()
    call = next(c for c in pipeline_calls(spec) if c.stage == stage)
    model = build_component(spec, call.component)
    inputs = example_inputs(spec, stage, call.batch(1), 64)
    fn = inputs.bound(model)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn(*inputs.args, **inputs.kwargs)
    counts = counter.get_flop_counts()["Global"]
    conv = sum(v for k, v in counts.items() if "conv" in str(k))
    matmul = sum(v for k, v in counts.items() if "conv" not in str(k))
    trace = trace_call(model, fn, *inputs.args, **inputs.kwargs)
    mine = {c: sum(r.macs for r in trace.records if r.op_class == c) for c in OpClass}
    assert 2 * mine[OpClass.CONV] == conv
    assert 2 * (mine[OpClass.LINEAR] + mine[OpClass.ATTENTION]) == matmul > 0
    if stage == "unet":  # the added embedding ran: (2 x (24 + 48)) @ (72 x 128) and 128 x 128
        add = [r for r in trace.records if r.module.startswith("add_embedding")]
        assert sum(r.macs for r in add) == 2 * (72 * 128 + 128 * 128)


# --- --model DIR ---------------------------------------------------------------------------


def _write_folder(root, pipeline_class, configs, scheduler=None, **index_extra):
    """A diffusers-style folder of JSON files only (no weights, no tokenizer)."""
    root.mkdir(parents=True, exist_ok=True)
    libraries = {"unet": "diffusers", "vae": "diffusers"}
    index = {"_class_name": pipeline_class, "_diffusers_version": "0.19.0.dev0", **index_extra,
             "scheduler": ["diffusers", "EulerDiscreteScheduler"]}  # fmt: skip
    for name, config in configs.items():
        config = dict(config)
        cls = config.pop("_class_name")
        config.pop("_source", None)
        if name in libraries:
            config["_class_name"] = cls
        else:
            config["architectures"] = [cls]
        index[name] = [libraries.get(name, "transformers"), cls]
        (root / name).mkdir(exist_ok=True)
        (root / name / "config.json").write_text(json.dumps(config))
    (root / "scheduler").mkdir(exist_ok=True)
    sched = scheduler or {"_class_name": "EulerDiscreteScheduler", "prediction_type": "epsilon"}
    (root / "scheduler" / "scheduler_config.json").write_text(json.dumps(sched))
    (root / "model_index.json").write_text(json.dumps(index))
    return root


def _shipped_configs(pipeline):
    return {c: load_config(pipeline, c) for c in components_of(pipeline)}


def _arch(config):
    return {k: v for k, v in config.items() if not k.startswith("_")}


def test_model_dir_reads_an_sdxl_folder(tmp_path):
    configs = _shipped_configs("sdxl-base")
    xl_class = "StableDiffusionXLPipeline"
    folder = _write_folder(tmp_path / "xl", xl_class, configs, force_zeros_for_empty_prompt=True)
    spec = read_model_dir(folder)
    shipped = pipeline_spec("sdxl-base")
    assert spec.kind == "txt2img" and spec.native_size_px == 1024
    assert spec.text_encoders == shipped.text_encoders and spec.added_conditioning == "text_time"
    assert spec.force_zeros_for_empty_prompt and spec.guidance_scale == 5.0
    for c in shipped.components:
        assert _arch(spec.config(c)) == _arch(shipped.config(c)), c
    assert call_shapes(spec, "unet", 2) == call_shapes(shipped, "unet", 2)
    assert count_params(build_component(spec, "text_encoder_2")) == OPENCLIP_BIGG_PROJ
    assert hash(spec) == hash(read_model_dir(folder))  # frozen: usable as a cache key


def test_model_dir_reads_inpainting_and_v_prediction(tmp_path):
    configs = _shipped_configs("sd2-inpaint")
    folder = _write_folder(tmp_path / "inpaint", "StableDiffusionInpaintPipeline", configs)
    inpaint = read_model_dir(folder)
    assert inpaint.kind == "inpaint" and inpaint.has_vae_encoder_call
    assert count_params(build_component(inpaint, "unet")) == SD2_UNET + 5 * 9 * 320
    configs, v_sched = _shipped_configs("sd21"), {"prediction_type": "v_prediction"}
    v = read_model_dir(_write_folder(tmp_path / "v", "StableDiffusionPipeline", configs, v_sched))
    assert (v.kind, v.prediction_type, v.native_size_px) == ("txt2img", "v_prediction", 768)
    assert [c.stage for c in pipeline_calls(v)] == ["text_encoder", "unet", "vae_decoder"]


def test_model_dir_keys_of_a_newer_diffusers_are_dropped(tmp_path, caplog):
    configs = _shipped_configs("sd15")
    configs["unet"] = {**configs["unet"], "a_key_from_the_future": 1}
    spec = read_model_dir(_write_folder(tmp_path / "new", "StableDiffusionPipeline", configs))
    with caplog.at_level(logging.WARNING, logger="zoomwatt.archs.build"):
        assert count_params(build_component(spec, "unet")) == SD15_UNET
    assert "a_key_from_the_future" in caplog.text


def _broken(tmp_path, change):
    """An SD 1.5 folder with one thing broken by ``change(folder)``."""
    folder = _write_folder(tmp_path / "sd15", "StableDiffusionPipeline", _shipped_configs("sd15"))
    change(folder)
    return folder


def _edit(rel, **changes):
    def change(folder):
        path = folder / rel
        data = json.loads(path.read_text())
        for key, value in changes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        path.write_text(json.dumps(data))

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: (f / "model_index.json").unlink(), "model_index.json to exist"),
        (lambda f: (f / "model_index.json").write_text("{"), "model_index.json to be valid JSON"),
        (lambda f: (f / "model_index.json").write_text("[]"), "to be a JSON object"),
        (_edit("model_index.json", _class_name="StableDiffusionUpscalePipeline"), "to name one of"),
        (_edit("model_index.json", _class_name=["x"]), "to name one of"),
        (_edit("model_index.json", unet=None), "to list the unet"),
        (_edit("model_index.json", vae=["diffusers", "AutoencoderTiny"]), "to give the vae as"),
        (_edit("model_index.json", scheduler=["diffusers", 3]), "to give the scheduler"),
        (lambda f: (f / "vae" / "config.json").unlink(), "vae/config.json to exist"),
        (
            _edit("unet/config.json", _class_name="UNet2DModel"),
            "to describe a UNet2DConditionModel",
        ),
        (_edit("unet/config.json", in_channels=5), "to read 4 .txt2img. or 9 .inpainting."),
        (_edit("unet/config.json", in_channels=9), "to fit a StableDiffusionPipeline"),
        (_edit("unet/config.json", cross_attention_dim=None), "to set cross_attention_dim"),
        (_edit("unet/config.json", sample_size=True), "to set sample_size to an integer"),
        (_edit("unet/config.json", cross_attention_dim=1024), "to attend to text of width 768"),
        (_edit("unet/config.json", block_out_channels=[]), "block_out_channels"),
        (_edit("unet/config.json", out_channels=8), "to write the VAE's 4 latent channels"),
        (_edit("unet/config.json", addition_embed_type="text_time"), "addition_embed_type"),
        (_edit("text_encoder/config.json", hidden_size=0), "hidden_size to an integer"),
        (_edit("scheduler/scheduler_config.json", prediction_type="x0"), "prediction_type"),
        (_edit("model_index.json", force_zeros_for_empty_prompt="yes"), "force_zeros"),
    ],
)
def test_model_dir_refuses_broken_folders(tmp_path, change, message):
    with pytest.raises(InputError, match=message) as info:
        read_model_dir(_broken(tmp_path, change))
    text = str(info.value)
    assert text.startswith("model=") and "\n" not in text


def test_model_dir_refuses_what_is_not_a_folder_and_bad_sdxl(tmp_path):
    with pytest.raises(InputError, match="not a folder"):
        read_model_dir(tmp_path / "nowhere")
    configs = _shipped_configs("sdxl-base")
    no_second = {k: v for k, v in configs.items() if k != "text_encoder_2"}
    with pytest.raises(InputError, match="to list the text_encoder_2"):
        read_model_dir(_write_folder(tmp_path / "a", "StableDiffusionXLPipeline", no_second))
    configs["unet"] = {**configs["unet"], "projection_class_embeddings_input_dim": 2000}
    with pytest.raises(InputError, match="added embedding"):
        read_model_dir(_write_folder(tmp_path / "b", "StableDiffusionXLPipeline", configs))


def test_catalog_calls_and_model_dir_do_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys; from zoomwatt.archs.calls import call_shapes, pipeline_calls; "
        "from zoomwatt.archs.model_dir import read_model_dir; "
        "from zoomwatt.archs.pipelines import pipeline_spec; "
        "s = pipeline_spec('sdxl-base'); call_shapes(s, 'unet', 2); pipeline_calls(s); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
