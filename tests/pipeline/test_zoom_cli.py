"""``zoomwatt zoom`` from the command line: a run, and one clear error per bad input before any
work starts (no video, no work folder)."""

from __future__ import annotations

import pytest

from zoomwatt.cli.main import main
from zoomwatt.pipeline.video import read_video_frames


def run_cli(tmp_path, *extra, prompt=("--prompt", "a forest")):
    args = [
        "zoom",
        *prompt,
        "--size",
        "64x64",
        "--keyframes",
        "2",
        "--frames-per-keyframe",
        "3",
        "--out",
        str(tmp_path / "z.mp4"),
        "--no-progress",
        *extra,
    ]
    return main(args)


def test_cli_renders_a_video(tmp_path, capsys):
    assert run_cli(tmp_path) == 0
    assert len(read_video_frames(tmp_path / "z.mp4")) == 4  # 1 + 3 * (2 - 1)
    out = capsys.readouterr().out
    assert "4 frames" in out and "than real time" in out


def test_cli_json(tmp_path, capsys):
    import json

    assert run_cli(tmp_path, "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["frames"] == 4 and len(data["timings"]) == 2
    assert {"interpolation_s", "video_write_s", "inpaint_s"} <= set(data["timings"][1])


def bad(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "empty.csv").write_text("# nothing\n")
    (tmp_path / "order.csv").write_text("0,a\n4,b\n2,c\n")
    (tmp_path / "pickles" / "unet").mkdir(parents=True)
    (tmp_path / "pickles" / "model_index.json").write_text(
        '{"_class_name": "StableDiffusionInpaintPipeline", '
        '"unet": ["diffusers", "UNet2DConditionModel"]}'
    )
    (tmp_path / "pickles" / "unet" / "config.json").write_text("{}")
    (tmp_path / "pickles" / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"\x80")
    (tmp_path / "nomodels").mkdir()
    return tmp_path


CASES = [
    # (arguments, the argument named in the error, a fragment of what was expected)
    (["--image", "{t}/missing.png"], "image", "readable image file"),
    (["--image", "{t}/notes.txt"], "image", "image file PIL can read"),
    (["--size", "100x64"], "size", "multiple of 8"),
    (["--size", "big"], "size", "WIDTHxHEIGHT"),
    (["--border", "30"], "border", "at most 28 px"),
    (["--border", "0"], "border", "at least 1 pixel"),
    (["--frames-per-keyframe", "0"], "frames_per_keyframe", "N >= 1"),
    (["--keyframes", "0"], "keyframes", "from 1 to 10000"),
    (["--backend", "dalle"], "backend", "one of classical, sd2"),
    (["--fps", "0"], "fps", "from 1 to 240"),
    (["--feather", "9"], "feather", "0 to 7 px"),
    (["--backend", "sd2", "--model", "{t}/nomodels"], "model", "model_index.json"),
    (["--backend", "sd2", "--model", "{t}/pickles"], "model", "safetensors"),
    (["--backend", "sd2", "--model", "{t}/nowhere"], "model", "does not exist"),
    (["--backend", "sd2", "--model", "nobody/no-such-model"], "model", "Hugging Face cache"),
    (["--out", "{t}/no/such/dir/z.mp4"], "out", "existing folder"),
    (["--out", "{t}/z.avi"], "out", ".mp4 or .gif"),
    (["--prompts", "{t}/empty.csv"], "prompts", "at least one"),
    (["--prompts", "{t}/order.csv"], "prompts", "increasing order"),
    (["--prompt", "  "], "prompt", "non-empty"),
]


@pytest.mark.parametrize(("extra", "argument", "fragment"), CASES)
def test_bad_input_fails_before_work(tmp_path, capsys, extra, argument, fragment):
    bad(tmp_path)
    extra = [e.replace("{t}", str(tmp_path)) for e in extra]
    prompt = () if "--prompts" in extra or "--prompt" in extra else ("--prompt", "a forest")
    assert run_cli(tmp_path, *extra, prompt=prompt) == 2
    err = capsys.readouterr().err
    assert f"{argument}=" in err and fragment in err, err
    assert len(err.strip().splitlines()) == 1  # one clear line
    assert not (tmp_path / "z.mp4").exists() and not list(tmp_path.glob("z.mp4*.partial"))
    assert not (tmp_path / "z.work").exists()


def test_missing_prompt(tmp_path, capsys):
    assert run_cli(tmp_path, prompt=()) == 2
    assert "prompt=None: expected a prompt" in capsys.readouterr().err


def test_unwritable_output(tmp_path, capsys):
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    # root may write anywhere but in /sys, which refuses new files to everyone.
    target = locked / "z.mp4" if not os.access(locked, os.W_OK) else "/sys/zoomwatt-test.mp4"
    try:
        assert run_cli(tmp_path, "--out", str(target)) == 2
        err = capsys.readouterr().err
        assert f"out='{target}': expected a file that can be written" in err
    finally:
        locked.chmod(0o700)


def test_output_over_a_folder(tmp_path, capsys):
    (tmp_path / "dir.mp4").mkdir()
    assert run_cli(tmp_path, "--out", str(tmp_path / "dir.mp4")) == 2
    assert "not a folder" in capsys.readouterr().err
