"""What a fresh buffer costs on a CPU: one formula for the calibration that measures a conv with
it and the roofline that predicts one.

Eager PyTorch reorders a convolution's weights into oneDNN's blocked layout at every call, into
a buffer allocated for that call. glibc serves a request of 32 MiB or more with a fresh ``mmap``
(its threshold for reusing freed memory stops growing there), whose pages the reorder then
faults in one by one; below it the buffer is recycled. The host calibration measures both
figures on the machine itself, with SiLU writing fresh outputs of doubling sizes: the size
where it slows (``memory.on_chip_buffer``) and the time per byte beyond it
(``memory.spill_bandwidth``), so nothing here is a constant of one CPU. A profile may state
the rate oneDNN's fresh reorder buffers fault at apart (``memory.reorder_fault_bandwidth``);
the host calibration measures it with a conv beyond the buffer against the conv fit, but only
records it (``calibration.measured.conv_fault_fit``): on the AMD EPYC Zen 5 (2026-12-04,
``benchmarks/conv_faults.py``) fp32 convs with 56 and 112 MiB of weights faulted at 1.35-3.7
GB/s against SiLU's 5.0-5.6, but one calibration to the next read 0.85 to 38 GB/s.

A conv on plain (NCHW) tensors has two more: oneDNN reorders its input into a blocked buffer
and computes its output into another, then reorders that back, both allocated per call; a
channels-last conv reads and writes the tensors in place. fp32 3x3 convs on the same Xeon, plain
against channels-last: 128 channels at 256x256 (32 MiB in, 32 out) 84 against 69 ms, 256 at
256x256 (64 MiB each) 277 against 246 ms, 256 at 128x128 (16 MiB each, below the buffer) 60.2
against 58.3 ms: 14-31 ms beyond 32 MiB, 5-7 GB/s of faults.

Measured on the 2-core AMX Xeon (2026-12-03, one process, median call): bf16 channels-last 3x3
convs with 28, 42 and 56 MiB of weights (1280->1280, 1920->1280, 2560->1280 channels, 8x8,
batch 2) took 5.1, 18.8 and 24.2 ms with glibc's default thresholds and 4.8, 8.9 and 12.5 ms
with ``mallopt(M_MMAP_THRESHOLD, 1 GiB)``: 0.3, 9.9 and 11.7 ms of faults, 4.3-5.0 GB/s for
the buffers of 32 MiB and more, against a calibrated spill bandwidth of 4.8 GB/s. In fp32, 36
MiB of weights (1024 channels, 4x4, batch 2) took 13.8 ms against 3.7.
"""

from __future__ import annotations

from typing import Any

#: ``calibration.conv_weight_faults`` of a host profile whose conv class leaves these faults
#: out, so that the roofline adds them per conv (perfmodel/device_params.py)
WEIGHT_FAULTS_APART = "apart"


def fresh_buffer_fault_s(nbytes: Any, buffer_bytes: Any, fault_bytes_per_s: Any) -> Any:
    """Seconds to fault in one fresh buffer (a conv's reordered weights, or a plain-layout
    conv's reordered input or output): all its bytes at ``fault_bytes_per_s`` (the reorder
    fault bandwidth, or the spill bandwidth) where it is at least the buffer, none below
    (arrays broadcast)."""
    import numpy as np  # lazily: the hardware commands that list profiles need none

    w = np.asarray(nbytes, dtype=float)
    return np.where(w >= buffer_bytes, w / np.asarray(fault_bytes_per_s, dtype=float), 0.0)
