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
for study in analyze predict; do
    if $ZW "$study" --help >/dev/null 2>&1; then
        echo
        case $study in
            analyze) $ZW analyze ;;
            predict) $ZW predict --hw all ;;
        esac
    fi
done
echo
echo "main: the video is out/zoom.mp4"
