#!/usr/bin/env bash
# Set up (if needed) and run the main job on the shipped defaults: the infinite-zoom video with
# the classical backend (no weights needed), the study of what the feature costs, a check of the
# performance model against a measured run on this machine, and the report that shows it all.
# Everything lands in ./out. Extra arguments go to `zoomwatt zoom`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
ZW=.venv/bin/zoomwatt
PROMPT="a cup of espresso on a saucer on a wooden table"  # what the start photo shows
started=$SECONDS
step() { echo; echo "== main [$((SECONDS - started)) s]: $*"; }

PHOTO=$(.venv/bin/python -c 'from zoomwatt.pipeline.samples import sample_image_path as p; print(p())')
step "1/5 the zoom video: out of a CC0 photo (src/zoomwatt/data), classical patch outpainter, 241 frames"
$ZW zoom --prompt "$PROMPT" --image "$PHOTO" \
    --keyframes 9 --frames-per-keyframe 30 --out out/zoom.mp4 --work-dir out/zoom.work \
    --overwrite "$@"
step "2/5 what the feature asks of a machine, per stage and per second"
$ZW analyze
step "3/5 on which device it runs at 30 fps, at what power, how long"
$ZW predict --hw all
step "4/5 predicted vs measured here: full-size SD2 architecture, random weights (about 2 min)"
$ZW measure --validate --keyframes 3 --results out/measure
step "5/5 the report"
$ZW report --out out/report --video out/zoom.mp4 --measurements out/measure --prompt "$PROMPT"
echo
echo "main: done in $((SECONDS - started)) s"
echo "main: the video is out/zoom.mp4"
echo "main: the report is out/report/index.html (open it in a browser; it works offline)"
