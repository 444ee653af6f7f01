#!/usr/bin/env bash
# Set up zoomwatt in ./.venv: Python packages, PyTorch, the package itself (editable) and its
# test tools. Safe to run again: it does nothing when pyproject.toml has not changed.
#
# PyTorch: `pip install torch==$TORCH_VERSION`. On Linux x86_64, PyPI's wheel of that version is
# the CUDA build, right for a machine with an NVIDIA GPU; where a CPU build of it lies on local
# disk (as on this project's development machines) pip takes that. For a CPU-only machine that
# should not download the CUDA build, set ZOOMWATT_TORCH_INDEX=https://download.pytorch.org/whl/cpu
# (or any index), or pre-install the torch you want in .venv: an installed torch >= 2.4 is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
TORCH_VERSION=${ZOOMWATT_TORCH_VERSION:-2.13.0}
VENV=.venv
STAMP=$VENV/.zoomwatt-setup

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "setup: $PYTHON is $("$PYTHON" --version 2>&1); zoomwatt needs Python 3.10 or newer" >&2
    exit 1
fi

want="$(cat pyproject.toml scripts/setup.sh scripts/constraints.txt | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    exit 0
fi

echo "setup: creating $VENV and installing zoomwatt (about a minute)..." >&2
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

if ! "$VENV/bin/python" -c 'import torch, sys; v = tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2]); sys.exit(v < (2, 4))' 2>/dev/null; then
    if [ -n "${ZOOMWATT_TORCH_INDEX:-}" ]; then
        "${PIP[@]}" install "torch==$TORCH_VERSION" --index-url "$ZOOMWATT_TORCH_INDEX"
    else
        "${PIP[@]}" install "torch==$TORCH_VERSION"
    fi
fi
"${PIP[@]}" install -e ".[dev]" -c scripts/constraints.txt  # the tested library versions
# A first command, as a smoke test: it reads the traces shipped in the package
# (src/zoomwatt/workload/data/traces; with other torch, diffusers or transformers versions than
# they were recorded with, it traces the models once into the user's cache, about 9 s).
"$VENV/bin/zoomwatt" analyze >/dev/null || echo "setup: warming the workload cache failed" >&2
echo "$want" > "$STAMP"
"$VENV/bin/python" -c 'import torch; print(f"setup: done (torch {torch.__version__}, CUDA available: {torch.cuda.is_available()})")' >&2
