"""Bad input to `zoomwatt zoom`, each seen on an earlier main as a traceback, a hang or a wrong
file: now one error line (argument, value, what was expected), exit status 2, no traceback, no
work folder and no video."""

from __future__ import annotations

import json
import struct
import zlib

import pytest

from zoomwatt.cli.main import main


def zoom_cli(tmp_path, *extra) -> list[str]:
    return [
        "zoom",
        "--prompt",
        "a forest",
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


def png_header_only(path, width, height) -> None:
    """A PNG that declares width x height but holds (almost) no pixels: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def schedules(tmp_path) -> None:
    (tmp_path / "latin1.csv").write_bytes(b"0, caf\xe9 au lait\n")
    (tmp_path / "quote.csv").write_text('0, "an unterminated\n2, prompt\n')
    (tmp_path / "nan.csv").write_text("nan, a forest\n")
    (tmp_path / "inf.csv").write_text("0, a forest\ninf, a desert\n")
    (tmp_path / "huge.csv").write_text("0, a forest\n" * 200_000)


CASES = [
    # (extra arguments, argument named, a fragment of what was expected)
    (["--fps", "inf"], "fps", "finite frame rate"),
    (["--fps", "1e300"], "fps", "from 1 to 240"),
    (["--fps", "1e-4"], "fps", "from 1 to 240"),
    (["--fps", "nan"], "fps", "finite frame rate"),
    (["--fps", "30", "--out", "{t}/z.gif"], "fps", "100/k frames per second"),
    (["--fps", "60", "--out", "{t}/z.gif"], "fps", "at most 50 for a GIF"),
    (["--size", "100000x100000"], "size", "from 16 to 4096"),
    (["--keyframes", "100000000000"], "keyframes", "from 1 to 10000"),
    (["--frames-per-keyframe", "100000000000"], "frames_per_keyframe", "from 1 to 3600"),
    (["--keyframes", "9000", "--frames-per-keyframe", "3000"], "keyframes", "216000 frames"),
    (["--image", "{t}/bomb.png"], "image", "at most 64 megapixels"),
    (["--image", "{t}/broken.png"], "image", "image file PIL can read"),
    (["--prompts", "{t}/latin1.csv"], "prompts", "UTF-8"),
    (["--prompts", "{t}/quote.csv"], "prompts", "CSV"),
    (["--prompts", "{t}/nan.csv"], "prompts", "(finite)"),
    (["--prompts", "{t}/inf.csv"], "prompts", "(finite)"),
    (["--prompts", "{t}/huge.csv"], "prompts", "at most 1024 KiB"),
    (["--prompt", "x" * 5000], "prompt", "at most 2000 characters"),
    (["--seed", "-1"], "seed", "an integer from 0"),
]


@pytest.mark.parametrize(
    ("extra", "argument", "fragment"), CASES, ids=[c[0][0] + c[0][1][:12] for c in CASES]
)
def test_bad_input_gives_one_line(tmp_path, capsys, extra, argument, fragment):
    schedules(tmp_path)
    png_header_only(tmp_path / "bomb.png", 100_000, 100_000)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    extra = [e.replace("{t}", str(tmp_path)) for e in extra]
    args = zoom_cli(tmp_path, *extra)
    if "--prompts" in extra:
        args[1:3] = []
    assert main(args) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and len(lines[0]) < 400, err
    assert f"{argument}=" in err and fragment in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "z.work").exists()
    assert not list(tmp_path.glob("z.*.partial")) and not (tmp_path / "z.mp4").exists()


def test_exact_ntsc_rate_is_accepted(tmp_path):
    assert main(zoom_cli(tmp_path, "--fps", "29.97002997002997")) == 0


# --- the work folder's manifest, on --resume --------------------------------------------


def run_once(tmp_path) -> None:
    assert main(zoom_cli(tmp_path)) == 0


MANIFESTS = [
    ("a list", lambda m: [m]),
    ("keyframes not a list", lambda m: {**m, "keyframes": {"0": 1}}),
    ("settings not a mapping", lambda m: {**m, "settings": "all"}),
    ("an entry outside the folder", lambda m: _entry(m, file="../outside.png")),
    ("an absolute entry", lambda m: _entry(m, file="/etc/passwd")),
    ("an entry missing a key", lambda m: _entry(m, drop="sha256")),
    ("an entry with a bool index", lambda m: _entry(m, index=True)),
    ("an entry of the wrong type", lambda m: {**m, "keyframes": [7]}),
]


def _entry(manifest, drop=None, **changes):
    first = dict(manifest["keyframes"][0], **changes)
    if drop:
        first.pop(drop)
    return {**manifest, "keyframes": [first, *manifest["keyframes"][1:]]}


@pytest.mark.parametrize(("what", "change"), MANIFESTS, ids=[m[0] for m in MANIFESTS])
def test_resume_refuses_a_bad_manifest(tmp_path, capsys, what, change):
    run_once(tmp_path)
    path = tmp_path / "z.work" / "manifest.json"
    path.write_text(json.dumps(change(json.loads(path.read_text()))))
    (tmp_path / "z.mp4").unlink()
    capsys.readouterr()
    assert main(zoom_cli(tmp_path, "--resume")) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "manifest.json" in err and "--overwrite" in err, err
    assert not (tmp_path / "outside.png").exists() and not (tmp_path / "z.mp4").exists()
