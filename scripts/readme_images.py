"""Remake the README's keyframe pictures (docs/images/zoom_keyframe_K.jpg) from the main job.

The main job (scripts/main.sh) keeps its keyframes in out/zoom.work; this picks keyframes 0, 1
and 4 of that run (the start photo, the first border made, a zoom four keyframes out) and writes
them as 256 px JPEGs (quality 85, about 25 KB each) with their picture checks in a caption file.
Without that folder it runs the main job's zoom first (512x512, the shipped photo, the default
patch method, 9 keyframes; about a minute).

    .venv/bin/python scripts/readme_images.py [--work-dir out/zoom.work]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHOWN = (0, 1, 4)
SIDE_PX = 256
QUALITY = 85
PROMPT = "a cup of espresso on a saucer on a wooden table"  # as in scripts/main.sh


def main_job_keyframes(work_dir: Path) -> list[np.ndarray]:
    """The main job's keyframes, made first if the folder holds none."""
    from zoomwatt.pipeline.samples import sample_image_path
    from zoomwatt.pipeline.zoom import zoom

    files = sorted((work_dir / "keyframes").glob("*.png"))
    if len(files) <= max(SHOWN):
        out = work_dir.with_name(work_dir.name.removesuffix(".work") + ".mp4")
        zoom(
            prompt=PROMPT, image=sample_image_path(), keyframes=9, frames_per_keyframe=30,
            out=out, work_dir=work_dir, overwrite=True,
        )  # fmt: skip
        files = sorted((work_dir / "keyframes").glob("*.png"))
    return [cv2.imread(str(f), cv2.IMREAD_COLOR) for f in files]  # BGR, as cv2 writes them


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, default=ROOT / "out" / "zoom.work")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    keyframes = main_job_keyframes(args.work_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    for index in SHOWN:
        small = cv2.resize(keyframes[index], (SIDE_PX, SIDE_PX), interpolation=cv2.INTER_AREA)
        path = args.out / f"zoom_keyframe_{index}.jpg"
        cv2.imwrite(str(path), small, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
        print(f"wrote {path} ({path.stat().st_size // 1024} KB)")
    checks = args.work_dir.with_name(args.work_dir.name.removesuffix(".work") + "_checks.json")
    if checks.is_file():
        data = json.loads(checks.read_text())
        rows = {row["index"]: row for row in data["keyframes"]}
        caption = {i: rows[i] for i in SHOWN if i in rows}
        (args.out / "zoom_keyframes_checks.json").write_text(json.dumps(caption, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
