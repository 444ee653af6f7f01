"""Bad input to the sd2 backend is refused before any work starts, with one clean line.

Each case corrupts a copy of the tiny SD2 inpainting pipeline (or passes a bad option) and checks
both ways in: constructing the backend raises a :class:`ZoomwattError` whose message is one line
under 300 characters, and ``zoomwatt zoom --backend sd2`` exits with status 2, prints that one
line and no traceback, and leaves nothing behind (no work folder, no output, no lock file: the
backend is made, and checks its files, before the zoom touches the disk). Errors the libraries
can still raise when the weights load are translated into the same kind of line.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
from pathlib import Path

import pytest

from zoomwatt.cli.main import main
from zoomwatt.errors import InputError, ZoomwattError
from zoomwatt.pipeline.backends import create_backend
from zoomwatt.pipeline.backends.model_files import PipelineFiles, describe_load_error
from zoomwatt.pipeline.backends.sd2 import MAX_STEPS, SD2Inpainter, check_device
from zoomwatt.pipeline.backends.sd2_fast import SD2FastInpainter

MAX_LINE = 300
UNET = "unet/diffusion_pytorch_model.safetensors"
VAE = "vae/diffusion_pytorch_model.safetensors"
TEXT = "text_encoder/model.safetensors"
ARCHS = Path(__file__).resolve().parents[2] / "src" / "zoomwatt" / "archs"


# --- helpers -------------------------------------------------------------------------------


def zoom_cli(model: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "zoom",
            "--backend",
            "sd2",
            "--model",
            str(model),
            "--prompt",
            "x",
            "--size",
            "64x64",
            "--keyframes",
            "2",
            "--frames-per-keyframe",
            "2",
            "--steps",
            "1",
            "--no-progress",
            "--out",
            str(out),
            *extra,
        ]
    )


def assert_one_clean_line(message: str) -> None:
    assert "\n" not in message and len(message) < MAX_LINE, (len(message), message)
    assert "Traceback" not in message


def assert_refused(tmp_path, capsys, model, match, options=None, cli=()):
    """The constructor and the command line refuse, with one line matching ``match``, and the
    zoom leaves nothing in ``tmp_path`` but the model folder."""
    before = sorted(p.name for p in tmp_path.iterdir())
    settings = {"steps": 1, "device": "cpu", **(options or {})}
    with pytest.raises(ZoomwattError) as info:
        SD2Inpainter(model=str(model), **settings)
    assert_one_clean_line(str(info.value))
    assert re.search(match, str(info.value)), str(info.value)

    capsys.readouterr()
    out = tmp_path / "x.mp4"
    assert zoom_cli(model, out, *cli) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("zoomwatt zoom: error: ")
    assert_one_clean_line(lines[0])
    assert re.search(match, lines[0]), lines[0]
    assert not (tmp_path / "x.work").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no output, partial or lock
    return str(info.value)


@pytest.fixture
def model(tmp_path, tiny_sd2_dir):
    """A fresh copy of the tiny pipeline to corrupt."""
    return Path(shutil.copytree(tiny_sd2_dir, tmp_path / "model"))


def edit_json(folder: Path, rel: str, change) -> None:
    path = folder / rel
    data = json.loads(path.read_text(encoding="utf-8"))
    data = change(data) or data
    path.write_text(json.dumps(data), encoding="utf-8")


def set_key(key, value):
    def change(data):
        data[key] = value

    return change


def drop_key(key):
    def change(data):
        del data[key]

    return change


def read_safetensors(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + length]), raw[8 + length :]


def write_safetensors(path: Path, header: dict, data: bytes) -> None:
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


def edit_header(rel: str, change):
    def corrupt(folder: Path) -> None:
        header, data = read_safetensors(folder / rel)
        data = change(header, data)
        write_safetensors(folder / rel, header, data)

    return corrupt


def first_tensor(header: dict) -> str:
    return min((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"])


def _bad_shape(header, data):
    header[first_tensor(header)]["shape"][0] += 1
    return data


def _overlap(header, data):
    names = sorted(
        (k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"]
    )
    begin, end = header[names[1]]["data_offsets"]
    header[names[1]]["data_offsets"] = [begin - 4, end - 4]
    return data


def _bad_dtype(header, data):
    header[first_tensor(header)]["dtype"] = "F128"
    return data


def _no_offsets(header, data):
    del header[first_tensor(header)]["data_offsets"]
    return data


def _bad_metadata(header, data):
    header["__metadata__"] = {"format": 1}
    return data


# --- corrupt files -------------------------------------------------------------------------

FILE_CASES = {
    # model_index.json
    "index_is_a_list": (
        lambda m: (m / "model_index.json").write_text("[1, 2]"),
        r"model_index.json to be a JSON object.*It is a JSON list",
    ),
    "index_is_a_string": (
        lambda m: (m / "model_index.json").write_text('"unet"'),
        r"model_index.json to be a JSON object.*It is a JSON string",
    ),
    "index_is_not_json": (
        lambda m: (m / "model_index.json").write_text("{"),
        r"model_index.json to be valid JSON",
    ),
    "index_is_not_utf8": (
        lambda m: (m / "model_index.json").write_bytes(b'\xff\xfe{"unet": 1}'),
        r"model_index.json to be JSON in UTF-8. Byte 0 \(0xff\)",
    ),
    "index_holds_nan": (
        lambda m: (m / "model_index.json").write_text('{"unet": NaN}'),
        r"model_index.json to hold finite numbers only. It holds NaN",
    ),
    "index_nested_too_deep": (
        lambda m: (m / "model_index.json").write_text("[" * 100_000 + "]" * 100_000),
        r"model_index.json to be JSON nested a sane depth",
    ),
    "index_pair_of_one": (
        lambda m: edit_json(m, "model_index.json", set_key("unet", ["diffusers"])),
        r'model_index.json to give the unet as \["library", "class"\]',
    ),
    "index_pair_is_a_string": (
        lambda m: edit_json(m, "model_index.json", set_key("vae", "diffusers")),
        r'model_index.json to give the vae as \["library", "class"\]',
    ),
    "index_pair_of_nulls": (
        lambda m: edit_json(m, "model_index.json", set_key("text_encoder", [None, None])),
        r'model_index.json to give the text_encoder as \["library", "class"\]',
    ),
    "index_wrong_class": (
        lambda m: edit_json(m, "model_index.json", set_key("unet", ["diffusers", "UNet2DModel"])),
        r"model_index.json to give the unet as diffusers UNet2DConditionModel.*It gives "
        r"'diffusers' 'UNet2DModel'",
    ),
    "index_other_library": (
        lambda m: edit_json(m, "model_index.json", set_key("scheduler", ["os", "system"])),
        r"to give the scheduler as diffusers a ...Scheduler class.*It gives 'os' 'system'",
    ),
    "index_optional_pair_malformed": (
        lambda m: edit_json(m, "model_index.json", set_key("safety_checker", [None])),
        r"to give the safety_checker as \[\"library\", \"class\"\] or \[null, null\]",
    ),
    **{
        f"index_without_{name}": (
            lambda m, name=name: edit_json(m, "model_index.json", drop_key(name)),
            rf"model_index.json to list the {name} component. It does not",
        )
        for name in ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
    },
    # unet/config.json
    "unet_config_not_json": (
        lambda m: (m / "unet/config.json").write_text("{"),
        r"unet/config.json to be valid JSON",
    ),
    "unet_config_is_a_list": (
        lambda m: (m / "unet/config.json").write_text("[]"),
        r"unet/config.json to be a JSON object. It is a JSON list",
    ),
    "unet_config_not_utf8": (
        lambda m: (m / "unet/config.json").write_bytes(b'{"in_channels": "\xe9"}'),
        r"unet/config.json to be JSON in UTF-8",
    ),
    "unet_text_to_image": (
        lambda m: edit_json(m, "unet/config.json", set_key("in_channels", 4)),
        r"unet/config.json to have in_channels 9 \(an inpainting UNet\). It is 4: a "
        r"text-to-image UNet. Use an inpainting model, e.g. stabilityai/",
    ),
    "unet_in_channels_missing": (
        lambda m: edit_json(m, "unet/config.json", drop_key("in_channels")),
        r"unet/config.json to set in_channels",
    ),
    "unet_in_channels_text": (
        lambda m: edit_json(m, "unet/config.json", set_key("in_channels", "9")),
        r"unet/config.json to have in_channels an integer from 1 to 1024. It is '9'",
    ),
    "unet_in_channels_float": (
        lambda m: edit_json(m, "unet/config.json", set_key("in_channels", 9.0)),
        r"in_channels an integer",
    ),
    "unet_out_channels_wrong": (
        lambda m: edit_json(m, "unet/config.json", set_key("out_channels", 3)),
        r"unet/config.json to have out_channels 4 \(the VAE's latent_channels\). It is 3",
    ),
    "unet_channels_absurd": (
        lambda m: edit_json(m, "unet/config.json", set_key("block_out_channels", [10**12, 64])),
        r"block_out_channels as integers from 1 to 8192",
    ),
    "unet_channels_text": (
        lambda m: edit_json(m, "unet/config.json", set_key("block_out_channels", "abc")),
        r"block_out_channels as integers",
    ),
    "unet_channels_missing": (
        lambda m: edit_json(m, "unet/config.json", drop_key("block_out_channels")),
        r"unet/config.json to set block_out_channels",
    ),
    "unet_block_types_mismatch": (
        lambda m: edit_json(m, "unet/config.json", set_key("down_block_types", ["DownBlock2D"])),
        r"down_block_types as 2 block names",
    ),
    "unet_groups_do_not_divide": (
        lambda m: edit_json(m, "unet/config.json", set_key("norm_num_groups", 7)),
        r"norm_num_groups dividing every block_out_channels. 7 does not divide \[32, 64\]",
    ),
    "unet_cross_attention_wrong": (
        lambda m: edit_json(m, "unet/config.json", set_key("cross_attention_dim", 64)),
        r"cross_attention_dim 32 \(the text encoder's hidden_size\). It is 64",
    ),
    "unet_layers_absurd": (
        lambda m: edit_json(m, "unet/config.json", set_key("layers_per_block", 10**9)),
        r"layers_per_block as 2 integers from 1 to 128",
    ),
    "unet_config_disagrees_with_weights": (
        lambda m: edit_json(m, "unet/config.json", set_key("block_out_channels", [64, 64])),
        r"unet/config.json to match its weights. It makes conv_in.weight \[64, 9, 3, 3\]; the "
        r"weights hold \[32, 9, 3, 3\]",
    ),
    # vae/config.json
    "vae_config_not_json": (
        lambda m: (m / "vae/config.json").write_text("nope"),
        r"vae/config.json to be valid JSON",
    ),
    "vae_latent_channels_disagree": (
        lambda m: edit_json(m, "vae/config.json", set_key("latent_channels", 5)),
        r"vae/config.json to match its weights. It makes decoder.conv_in.weight",
    ),
    "vae_three_blocks": (
        lambda m: edit_json(m, "vae/config.json", set_key("block_out_channels", [16, 16, 16])),
        r"vae/config.json to have 4 block_out_channels \(8x downsampling",
    ),
    "vae_scaling_negative": (
        lambda m: edit_json(m, "vae/config.json", set_key("scaling_factor", -1)),
        r"vae/config.json to have scaling_factor a number",
    ),
    "vae_not_rgb": (
        lambda m: edit_json(m, "vae/config.json", set_key("in_channels", 4)),
        r"vae/config.json to have in_channels 3 \(RGB\)",
    ),
    # text_encoder/config.json
    "text_config_not_json": (
        lambda m: (m / "text_encoder/config.json").write_text("nope"),
        r"text_encoder/config.json to be valid JSON",
    ),
    "text_width_disagrees": (
        lambda m: edit_json(m, "text_encoder/config.json", set_key("hidden_size", 64)),
        r"text_encoder/config.json to match its weights. It makes "
        r"embeddings.token_embedding.weight \[514, 64\]",
    ),
    "text_heads_do_not_divide": (
        lambda m: edit_json(m, "text_encoder/config.json", set_key("num_attention_heads", 5)),
        r"hidden_size a multiple of num_attention_heads. 32 is not a multiple of 5",
    ),
    "text_width_missing": (
        lambda m: edit_json(m, "text_encoder/config.json", drop_key("hidden_size")),
        r"text_encoder/config.json to set hidden_size",
    ),
    "text_positions_too_few": (
        lambda m: edit_json(m, "text_encoder/config.json", set_key("max_position_embeddings", 10)),
        r"max_position_embeddings >= the tokenizer's 77 tokens. It is 10",
    ),
    # tokenizer, scheduler
    "tokenizer_json_damaged": (
        lambda m: (m / "tokenizer/tokenizer.json").write_text("nope"),
        r"tokenizer/tokenizer.json to be valid JSON",
    ),
    "tokenizer_files_missing": (
        lambda m: (m / "tokenizer/tokenizer.json").unlink(),
        r"tokenizer/ to hold tokenizer.json, or vocab.json and merges.txt",
    ),
    "scheduler_config_damaged": (
        lambda m: (m / "scheduler/scheduler_config.json").write_text("nope"),
        r"scheduler/scheduler_config.json to be valid JSON",
    ),
    "scheduler_config_missing": (
        lambda m: (m / "scheduler/scheduler_config.json").rename(m / "scheduler/other.json"),
        r"scheduler/ to hold scheduler_config.json",
    ),
    "scheduler_no_timesteps": (
        lambda m: edit_json(
            m, "scheduler/scheduler_config.json", set_key("num_train_timesteps", 0)
        ),
        r"num_train_timesteps an integer from 1 to 100000. It is 0",
    ),
    "scheduler_prediction_unknown": (
        lambda m: edit_json(m, "scheduler/scheduler_config.json", set_key("prediction_type", "x")),
        r"prediction_type one of epsilon, v_prediction, sample",
    ),
    # safetensors headers
    "weights_empty": (
        lambda m: (m / UNET).write_bytes(b""),
        rf"expected an intact {UNET}. It has 0 bytes: too short for safetensors",
    ),
    "weights_seven_bytes": (
        lambda m: (m / UNET).write_bytes(b"\x01" * 7),
        r"It has 7 bytes: too short for safetensors",
    ),
    "weights_truncated": (
        lambda m: (m / UNET).write_bytes((m / UNET).read_bytes()[:1000]),
        rf"expected an intact {UNET}. Its header needs \d+ bytes, the file has 1000: "
        r"truncated",
    ),
    "weights_truncated_in_the_tensors": (
        lambda m: (m / UNET).write_bytes((m / UNET).read_bytes()[:-100]),
        r"Its tensors need \d+ data bytes or more, it has \d+: truncated",
    ),
    "weights_garbage": (
        lambda m: (m / UNET).write_bytes(bytes(range(256)) * 20),
        r"Its header length \d+ is over 100 MB: not safetensors",
    ),
    "weights_header_length_beyond_file": (
        lambda m: (m / UNET).write_bytes(struct.pack("<Q", 10**9) + (m / UNET).read_bytes()[8:]),
        r"Its header length 1000000000 is over 100 MB",
    ),
    "weights_header_length_a_bit_beyond_file": (
        lambda m: (m / UNET).write_bytes(
            struct.pack("<Q", (m / UNET).stat().st_size) + (m / UNET).read_bytes()[8:]
        ),
        r"Its header needs \d+ bytes, the file has \d+: truncated",
    ),
    "weights_header_not_json": (
        lambda m: (m / UNET).write_bytes(struct.pack("<Q", 20) + b"{not json at all!!!}" + b"\0"),
        r"Its header is not JSON: damaged, or not safetensors",
    ),
    "weights_header_a_list": (
        lambda m: (m / UNET).write_bytes(struct.pack("<Q", 2) + b"[]"),
        r"Its header is a JSON list, not an object",
    ),
    "weights_trailing_bytes": (
        lambda m: (m / UNET).write_bytes((m / UNET).read_bytes() + b"\0" * 16),
        r"Its tensors cover \d+ of its \d+ data bytes",
    ),
    "weights_shape_and_bytes_disagree": (
        edit_header(UNET, _bad_shape),
        r"Tensor '[\w.]+' has \d+ bytes; its shape and dtype need \d+",
    ),
    "weights_tensors_overlap": (
        edit_header(UNET, _overlap),
        r"Its tensors overlap or leave gaps",
    ),
    "weights_unknown_dtype": (
        edit_header(UNET, _bad_dtype),
        r"has an unknown dtype 'F128'",
    ),
    "weights_tensor_without_offsets": (
        edit_header(UNET, _no_offsets),
        r"has no valid dtype, shape and offsets",
    ),
    "weights_metadata_not_strings": (
        edit_header(UNET, _bad_metadata),
        r"Its __metadata__ is not an object of strings",
    ),
    "vae_weights_truncated": (
        lambda m: (m / VAE).write_bytes((m / VAE).read_bytes()[:5000]),
        rf"expected an intact {VAE}. Its header needs",
    ),
    "text_weights_garbage": (
        lambda m: (m / TEXT).write_bytes(b"\xff" * 4096),
        rf"expected an intact {TEXT}. Its header length \d+ is over 100 MB",
    ),
}


@pytest.mark.parametrize("case", list(FILE_CASES))
def test_damaged_pipeline_is_refused_before_work(case, model, tmp_path, capsys):
    corrupt, match = FILE_CASES[case]
    corrupt(model)
    message = assert_refused(tmp_path, capsys, model, match)
    assert message.startswith(f"model={str(model)!r}: expected ")
    assert message.endswith("Re-download or re-save the pipeline") or "inpainting" in message


# --- bad options ---------------------------------------------------------------------------


def _torch():
    return pytest.importorskip("torch")


OPTION_CASES = {
    "device_tpu": (
        {"device": "tpu"},
        ["--device", "tpu"],
        r"device='tpu': expected a device "
        r"this machine has: cpu.*torch knows no device 'tpu'",
    ),
    "device_garbage": ({"device": "blah:x"}, ["--device", "blah:x"], r"torch knows no device"),
    "device_bad_index": ({"device": "cuda:x"}, ["--device", "cuda:x"], r"TYPE:INDEX, e.g. cuda:0"),
    "device_meta": ({"device": "meta"}, ["--device", "meta"], r"The pipeline cannot run on meta"),
    "device_cpu_index": ({"device": "cpu:3"}, ["--device", "cpu:3"], r"one CPU device"),
    "device_cuda_beyond_count": (
        {"device": "cuda:99"},
        ["--device", "cuda:99"],
        r"device='cuda:99': expected a device this machine has: cpu",
    ),
    "guidance_nan": ({"guidance": float("nan")}, ["--guidance", "nan"], r"guidance=nan"),
    "guidance_inf": ({"guidance": float("inf")}, ["--guidance", "inf"], r"guidance=inf"),
    "guidance_negative": ({"guidance": -1.0}, ["--guidance", "-1"], r"guidance=-1.0: expected "),
    "steps_zero": ({"steps": 0}, ["--steps", "0"], r"steps=0: expected a whole number"),
    "steps_negative": ({"steps": -5}, ["--steps", "-5"], r"steps=-5"),
    "steps_absurd": (
        {"steps": 100_000},
        ["--steps", "100000"],
        rf"steps=100000: expected a whole number of denoising steps from 1 to {MAX_STEPS}",
    ),
    "steps_just_beyond_the_cap": (
        {"steps": MAX_STEPS + 1},
        ["--steps", str(MAX_STEPS + 1)],
        "1001",
    ),
    "scheduler_unknown": (
        {"scheduler": "fast"},
        ["--scheduler", "fast"],
        r"scheduler='fast': expected one of pndm, ddim",
    ),
}


@pytest.mark.parametrize("case", list(OPTION_CASES))
def test_bad_option_is_refused_before_work(case, model, tmp_path, capsys):
    options, cli, match = OPTION_CASES[case]
    if case.startswith("device_cuda") and _torch().cuda.device_count() > 99:
        pytest.skip("a machine with 100 GPUs")
    assert_refused(tmp_path, capsys, model, match, options, cli)


def test_cuda_and_mps_where_there_are_none(model, tmp_path, capsys):
    torch = _torch()
    if not torch.cuda.is_available():
        assert_refused(
            tmp_path,
            capsys,
            model,
            r"device='cuda'.*torch sees no CUDA GPU",
            {"device": "cuda"},
            ["--device", "cuda"],
        )
    if not torch.backends.mps.is_available():
        assert_refused(
            tmp_path,
            capsys,
            model,
            r"device='mps'.*torch here has no MPS device",
            {"device": "mps"},
            ["--device", "mps"],
        )


def test_steps_beyond_the_schedulers_timesteps(model, tmp_path, capsys):
    edit_json(model, "scheduler/scheduler_config.json", set_key("num_train_timesteps", 10))
    assert_refused(
        tmp_path,
        capsys,
        model,
        r"steps=20: expected at most the scheduler's 10 training "
        r"timesteps",
        {"steps": 20},
        ["--steps", "20"],
    )


def test_bad_types_through_the_api(tiny_sd2_dir):
    """What the command line cannot pass, the Python API can: still one clean line."""
    for options, match in (
        ({"dtype": "int3"}, r"dtype='int3': expected one of fp32, fp16, bf16"),
        ({"dtype": ["fp16"]}, r"dtype=\['fp16'\]"),
        ({"steps": 2.5}, r"steps=2.5"),
        ({"steps": "20"}, r"steps='20'"),
        ({"steps": True}, r"steps=True"),
        ({"guidance": "7.5"}, r"guidance='7.5'"),
        ({"scheduler": ["pndm"]}, r"scheduler=\['pndm'\]"),
        ({"device": 3}, r"device=3: expected a device name"),
        ({"model": ""}, r"model='': expected a pipeline folder or a Hugging Face repo id"),
        ({"model": None}, r"model=None"),
    ):
        settings = {"model": str(tiny_sd2_dir), "device": "cpu", **options}
        with pytest.raises(InputError, match=match) as info:
            SD2Inpainter(**settings)
        assert_one_clean_line(str(info.value))
    with pytest.raises(InputError, match=r"a whole number") as info:
        SD2Inpainter(model=str(tiny_sd2_dir), steps=10**400)
    assert_one_clean_line(str(info.value))
    with pytest.raises(InputError, match=r"fast='yes': expected FastOptions"):
        SD2FastInpainter(model=str(tiny_sd2_dir), device="cpu", fast="yes")
    with pytest.raises(InputError, match=r"stpes=3: expected an option of SD2Inpainter"):
        create_backend("sd2", model=str(tiny_sd2_dir), stpes=3)


def test_bad_dtype_on_the_command_line_is_an_argparse_error(model, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        zoom_cli(model, tmp_path / "x.mp4", "--dtype", "int3")
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'int3'" in err and "Traceback" not in err
    assert not (tmp_path / "x.work").exists()


def test_good_values_still_pass(tiny_sd2_dir):
    """The edges of each range, and what the fingerprint records, as before."""
    backend = SD2Inpainter(
        model=str(tiny_sd2_dir), steps=MAX_STEPS, guidance=0.0, device="cpu", dtype="bf16"
    )
    assert backend.fingerprint() == {
        "backend": "sd2",
        "model": str(tiny_sd2_dir),
        "steps": MAX_STEPS,
        "guidance": 0.0,
        "scheduler": "pndm",
        "device": "cpu",
        "dtype": "bf16",
    }
    assert SD2Inpainter(model=tiny_sd2_dir, steps=20.0, device="cpu").steps == 20  # a Path too
    assert check_device("cpu") == "cpu" and check_device("cpu:0") == "cpu:0"
    assert SD2Inpainter(model=str(tiny_sd2_dir)).device in ("cpu", "cuda")


def test_base_interface_has_a_do_nothing_warmup():
    from zoomwatt.pipeline.backends.classical import ClassicalInpainter

    backend = ClassicalInpainter()
    assert backend.warmup(64, 64, "x") == 0.0
    assert getattr(backend, "warmup", None) is not None


# --- the real configs pass -----------------------------------------------------------------


def test_published_sd2_inpainting_configs_pass(tmp_path):
    """The configs of stabilityai/stable-diffusion-2-inpainting (shipped in zoomwatt.archs)
    pass the config checks, as the tiny pipeline's do."""

    def load(name):
        return {
            k: v
            for k, v in json.loads((ARCHS / name).read_text(encoding="utf-8")).items()
            if k != "_source"
        }

    for component, name in (
        ("unet", "sd2_inpaint_unet.json"),
        ("vae", "sd2_inpaint_vae.json"),
        ("text_encoder", "sd2_inpaint_text_encoder.json"),
    ):
        (tmp_path / component).mkdir()
        (tmp_path / component / "config.json").write_text(json.dumps(load(name)))
    files = PipelineFiles(tmp_path, "stabilityai/stable-diffusion-2-inpainting")
    files.weights_shapes = lambda component, library: {}  # no weights here: configs only
    assert files.check_text_encoder(77) == 1024
    assert files.check_vae() == 4
    files.check_unet(4, 1024)


def test_sharded_weights_are_checked(model, tmp_path, capsys):
    """A sharded UNet (an index naming shard files) is checked shard by shard."""
    weights = model / UNET
    shard = model / "unet" / "diffusion_pytorch_model-00001-of-00001.safetensors"
    weights.rename(shard)
    header, _ = read_safetensors(shard)
    index = {"weight_map": {name: shard.name for name in header if name != "__metadata__"}}
    (model / "unet" / "diffusion_pytorch_model.safetensors.index.json").write_text(
        json.dumps(index)
    )
    PipelineFiles(model).check_components(PipelineFiles(model).check_index())  # sound
    shard.write_bytes(shard.read_bytes()[:2000])
    assert_refused(tmp_path, capsys, model, r"unet/diffusion_pytorch_model-00001-of-00001")
    index["weight_map"]["x"] = "../escape.safetensors"
    (model / "unet" / "diffusion_pytorch_model.safetensors.index.json").write_text(
        json.dumps(index)
    )
    assert_refused(tmp_path, capsys, model, r"to list shard files in its folder")


def test_header_check_agrees_with_the_safetensors_library(tiny_sd2_dir, tmp_path):
    """Seeded corruptions of a real file: whatever the safetensors library refuses, the header
    check refuses too (as one InputError); what it accepts, the check accepts."""
    import numpy as np
    from safetensors import safe_open

    original = (tiny_sd2_dir / VAE).read_bytes()
    (length,) = struct.unpack("<Q", original[:8])
    rng = np.random.default_rng(0)
    path = tmp_path / "vae.safetensors"
    files = PipelineFiles(tmp_path)
    for trial in range(120):
        raw = bytearray(original)
        kind = trial % 3
        if kind == 0:  # cut anywhere
            raw = raw[: int(rng.integers(0, len(raw)))]
        elif kind == 1:  # flip a byte of the header
            position = int(rng.integers(0, 8 + length))
            raw[position] = int(rng.integers(0, 256))
        else:  # append or drop a few bytes
            raw = raw + b"\0" * int(rng.integers(1, 9)) if trial % 2 else raw[:-1]
        path.write_bytes(bytes(raw))
        try:
            with safe_open(str(path), framework="numpy") as handle:
                handle.keys()
            library_ok = True
        except Exception:
            library_ok = False
        try:
            files.safetensors_header(path.name)
            ours_ok = True
        except InputError as exc:
            assert_one_clean_line(str(exc))
            ours_ok = False
        assert ours_ok == library_ok, (trial, kind)


# --- errors at weight load -----------------------------------------------------------------


def test_library_error_at_load_is_one_line_naming_the_component(model, tmp_path, capsys):
    """A block type diffusers does not know passes the file checks (names are not checked) and
    fails when the weights load: one line naming the component and the fix, no traceback."""
    types = ["FooBlock2D", "DownBlock2D"]
    edit_json(model, "unet/config.json", set_key("down_block_types", types))
    backend = SD2Inpainter(model=str(model), steps=1, device="cpu")
    with pytest.raises(InputError) as info:
        backend.pipe  # noqa: B018 - loads the weights
    message = str(info.value)
    assert_one_clean_line(message)
    assert re.search(
        r"expected a pipeline diffusers can load. Loading unet/ failed with "
        r"'ValueError: FooBlock2D does not exist'. Re-download",
        message,
    ), message
    assert message.endswith("Re-download or re-save the pipeline")
    capsys.readouterr()
    assert zoom_cli(model, tmp_path / "x.mp4") == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith("zoomwatt zoom: error: model=") and "unet/" in line
    assert len(line) < MAX_LINE


def test_load_errors_name_the_file_without_the_folder(tmp_path):
    folder = tmp_path / "m"
    exc = OSError(f"It looks like the config file at '{folder}/unet/config.json' is not valid.")
    text = describe_load_error(str(folder), folder, exc)
    assert text.startswith("unet/config.json failed with ") and "OSError: It looks" in text
    assert str(folder) not in text
    assert describe_load_error("x", folder, KeyError()) == "its files failed with 'KeyError'"
