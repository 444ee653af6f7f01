"""The memory format convolutions run in, by device and dtype: one rule for the pipeline that
runs the models and for the host calibration that times the conv class, since a convolution's
speed depends on it.

On a CPU, oneDNN computes a 16-bit convolution in a channels-last (NHWC) or blocked layout; an
input and weights in PyTorch's plain layout (NCHW) cost it a slower path whose extra time grows
with the activations, not the arithmetic. Measured on the 2-core AMX Xeon (2026-12-03, median
of repeated calls, one process): a bf16 3x3 conv of 128 channels at 256x256 took 49.4 ms plain
against 8.7 ms channels-last, 256 channels at 64x64 5.5 against 2.0 ms, 1024 channels at 4x4
(batch 2) 3.0 against 2.6 ms; in fp32 the same convolutions took 84 against 69, 15.1 against
15.1 and 13.0 against 14.3 ms. So 16-bit models on a CPU run channels-last (as Intel's CPU
recipes for bf16 do) and fp32 ones keep PyTorch's default; CUDA keeps the default too (a
channels-last CUDA run is the fast path's ``channels_last`` switch).
"""

from __future__ import annotations

#: dtypes whose convolutions run channels-last on a CPU
CHANNELS_LAST_CPU_DTYPES = ("bf16", "fp16")
#: stages whose input is channels-last in any dtype: the picture comes in as (H, W, 3) pixels and
#: the pipelines (diffusers' image processor, the fast path) hand the VAE encoder a permuted view
#: of it, so its convolutions run channels-last all through
CHANNELS_LAST_INPUT_STAGES = ("vae_encoder",)


def channels_last_convs(device: str, dtype: str) -> bool:
    """True where the models' convolutions run channels-last: a 16-bit dtype on a CPU (not
    on CUDA, MPS or XPU, which keep PyTorch's default)."""
    return str(device).split(":")[0] == "cpu" and dtype in CHANNELS_LAST_CPU_DTYPES


def cpu_conv_channels_last(stage: str, dtype: str) -> bool:
    """Whether a stage's convolutions run channels-last on a CPU: a 16-bit dtype, or a stage
    fed a channels-last input (:data:`CHANNELS_LAST_INPUT_STAGES`); else plain (NCHW), for
    which oneDNN reorders the input and output into fresh blocked buffers at every call."""
    return channels_last_convs("cpu", dtype) or str(stage) in CHANNELS_LAST_INPUT_STAGES
