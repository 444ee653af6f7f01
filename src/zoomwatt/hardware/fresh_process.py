"""Host calibration of this CPU in a fresh Python process, so that what the calling process
allocated before cannot change what the calibration measures.

Why: a fresh output of 32 MiB or more is mapped afresh by glibc and its pages are faulted in
when first written (hardware/fresh_buffers.py), but only where the heap has no free memory to
serve it from. A process whose heap holds touched free memory serves such outputs from it
instead: on the 2-core Xeon (2026-12-03), after 100 tensors of 16 MiB were freed under a live
one, SiLU with a fresh 64 MiB output ran at 10.1 GB/s against 3.4 in a fresh process. A host
profile cached that day (17:37 UTC, by a process not known) had measured its SiLU sweep at
fault-free speed at 32 and 64 MiB, found no buffer and priced no faults: it predicted the fp32
UNet's convolutions at 256 px at 833 ms against 1454 measured. A calibration in a new process
cannot inherit such a heap, and measures the state every new process starts in.

The child runs ``python -m zoomwatt.hardware.fresh_process`` with the caller's interpreter,
package and thread count, logs to the caller's stderr and answers one JSON object on stdout:
``{"profile": DATA}`` or ``{"error": MESSAGE, "measurable": false}`` (a
:class:`~zoomwatt.errors.NotMeasurableError` raised in the child, raised again here).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from zoomwatt.errors import NotMeasurableError, ZoomwattError

log = logging.getLogger(__name__)

#: Longest a fresh-process calibration may take (the full plan with stacks takes about 2 min)
CALIBRATION_TIMEOUT_S = 1800


def calibrate_in_fresh_process(
    plan: str, reference_dtype: str | None, stacks: tuple[str, ...], threads: int
) -> dict[str, Any]:
    """:func:`~zoomwatt.hardware.host_calibration.calibrate_host` of the CPU, run in a new
    Python process with ``threads`` torch threads: the profile data it returns."""
    package_root = str(Path(__file__).resolve().parents[2])  # the folder holding zoomwatt/
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    command = [sys.executable, "-m", __name__, "--plan", plan, "--threads", str(threads)]
    command += ["--log-level", str(logging.getLogger("zoomwatt").getEffectiveLevel())]
    if reference_dtype:
        command += ["--reference-dtype", reference_dtype]
    if stacks:
        command += ["--stacks", ",".join(stacks)]
    log.info("calibrating in a fresh process: %s", " ".join(command[1:]))
    try:
        done = subprocess.run(
            command, env=env, stdout=subprocess.PIPE, text=True, timeout=CALIBRATION_TIMEOUT_S,
            check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NotMeasurableError(
            f"the host calibration's process could not run ({exc}); check that "
            f"{sys.executable} starts, or use a shipped profile (zoomwatt hardware list)"
        ) from exc
    return _answer(done.stdout, done.returncode)


def _answer(stdout: str, returncode: int) -> dict[str, Any]:
    """The child's profile data from its last stdout line; its error raised again."""
    lines = stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        answer = {}
    if "profile" in answer and returncode == 0:
        return answer["profile"]
    message = answer.get("error") or f"exit status {returncode}, no answer (its log is above)"
    if answer.get("measurable") is False:
        raise NotMeasurableError(message)
    raise ZoomwattError(f"the host calibration's process failed: {message}")


def main(argv: list[str] | None = None) -> int:
    """The child: calibrate with the arguments given and print the answer as JSON."""
    parser = argparse.ArgumentParser(description="zoomwatt host calibration, fresh process")
    parser.add_argument("--plan", required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--log-level", type=int, default=logging.WARNING)
    parser.add_argument("--reference-dtype", default=None)
    parser.add_argument("--stacks", default="")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format="%(message)s")

    import torch

    from zoomwatt.hardware.host_calibration import calibrate_host
    from zoomwatt.hardware.host_probe import TorchCpuProbe

    torch.set_num_threads(args.threads)
    stacks = tuple(s for s in args.stacks.split(",") if s)
    try:
        data = calibrate_host(TorchCpuProbe(), args.plan, args.reference_dtype, stacks)
    except NotMeasurableError as exc:
        print(json.dumps({"error": str(exc), "measurable": False}))
        return 3
    except ZoomwattError as exc:
        print(json.dumps({"error": str(exc)}))
        return 2
    print(json.dumps({"profile": data}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
