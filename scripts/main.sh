#!/usr/bin/env bash
# Set up (if needed) and run the main job on the shipped defaults: the infinite-zoom video with
# the classical backend (no weights needed), then the study of what the feature costs.
# Everything lands in ./out. Extra arguments go to `zoomwatt zoom`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
ZW=.venv/bin/zoomwatt
$ZW zoom --prompt "an overgrown ancient temple in a misty jungle" \
    --keyframes 9 --frames-per-keyframe 30 --out out/zoom.mp4 --work-dir out/zoom.work \
    --overwrite "$@"
echo
$ZW analyze                 # what the feature asks of a machine, per stage and per second
echo
$ZW predict --hw all        # on which device it runs at 30 fps, at what power, how long
echo
echo "main: the video is out/zoom.mp4"
