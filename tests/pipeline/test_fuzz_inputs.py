"""Bounded, seeded fuzzing of the zoom's file inputs (prompt schedules, work-folder
manifests): every input either loads or raises a ZoomwattError with one short line; nothing
else (no traceback, no hang, no read outside the work folder). A few hundred cases, about a
second; the failing input is printed."""

from __future__ import annotations

import json
import random

import numpy as np

from zoomwatt.errors import ZoomwattError
from zoomwatt.pipeline.prompts import load_schedule
from zoomwatt.pipeline.workdir import KeyframeStore

CASES = 300
ODD_VALUES = [
    None, True, 0, -1, 1e308, float("nan"), float("inf"), 10**30, "", "x" * 3000, "../x",
    "/etc/passwd", [], [1, [2, [3]]], {}, {"a": {"b": {}}}, "\u00e9\u4e2d", "\x00",
]  # fmt: skip


def check_one_line(exc: ZoomwattError, what: str) -> None:
    text = str(exc)
    assert "\n" not in text and len(text) < 600, (what, text[:300])


def random_schedule(rng: random.Random) -> bytes:
    starts = ["0", "1", "2.5", "-1", "nan", "inf", "-inf", "1e400", "abc", '"3"', "", "0x10"]
    prompts = ["a forest", '"a, quoted"', '"unterminated', "", "x" * 2500, "caf\u00e9", "#"]
    lines = []
    for _ in range(rng.randint(0, 6)):
        kind = rng.random()
        if kind < 0.7:
            lines.append(f"{rng.choice(starts)},{rng.choice(prompts)}")
        elif kind < 0.85:
            lines.append(rng.choice(["", "# comment", ",,,", '"', "0"]))
        else:
            lines.append("".join(chr(rng.randint(1, 0x2FF)) for _ in range(rng.randint(1, 20))))
    data = "\n".join(lines).encode("utf-8")
    if rng.random() < 0.15:  # a few bytes that are not UTF-8
        cut = rng.randint(0, len(data))
        data = data[:cut] + bytes([rng.randint(0x80, 0xFF)]) + data[cut:]
    return data


def test_prompt_schedules_never_end_in_a_traceback(tmp_path):
    rng = random.Random(12)
    path = tmp_path / "s.csv"
    for case in range(CASES):
        data = random_schedule(rng)
        path.write_bytes(data)
        unit = rng.choice(["seconds", "keyframes"])
        default = rng.choice([None, "a forest"])
        try:
            schedule = load_schedule(path, unit, default)
        except ZoomwattError as exc:
            check_one_line(exc, f"case {case}: {data!r}")
            continue
        starts = [row.start for row in schedule.rows]
        assert starts == sorted(set(starts)) and starts[0] == 0, (case, data)


def mutate(rng: random.Random, value, depth=0):
    """``value`` with one random part replaced, dropped or retyped."""
    if isinstance(value, dict) and value and depth < 4 and rng.random() < 0.8:
        key = rng.choice(sorted(value))
        out = dict(value)
        if rng.random() < 0.2:
            del out[key]
        else:
            out[key] = mutate(rng, value[key], depth + 1)
        return out
    if isinstance(value, list) and value and depth < 4 and rng.random() < 0.8:
        out = list(value)
        i = rng.randrange(len(out))
        out[i] = mutate(rng, out[i], depth + 1)
        return out
    return rng.choice(ODD_VALUES)


def test_work_folder_manifests_never_end_in_a_traceback(tmp_path):
    rng = random.Random(5)
    image = np.zeros((16, 16, 3), np.uint8)
    folder = tmp_path / "work"
    store = KeyframeStore(folder, {"size": [16, 16]})
    store.open(resume=False, overwrite=True)
    for index in range(2):
        store.save(index, image, seed=index, prompt="p")
    good = json.loads((folder / "manifest.json").read_text())
    outside = tmp_path / "outside.png"
    for case in range(CASES):
        manifest = mutate(rng, good)
        text = json.dumps(manifest)
        if rng.random() < 0.1:
            text = text[: rng.randrange(len(text) + 1)]  # a torn write
        (folder / "manifest.json").write_text(text)
        resumed = KeyframeStore(folder, {"size": [16, 16]})
        try:
            done = resumed.open(resume=True, overwrite=False)
        except ZoomwattError as exc:
            check_one_line(exc, f"case {case}: {text[:200]}")
            continue
        assert 0 <= done <= 2, (case, text)
        for i in range(done):
            assert resumed.load(i).shape == (16, 16, 3)
        assert not outside.exists()
        (folder / "manifest.json").write_text(json.dumps(good))
