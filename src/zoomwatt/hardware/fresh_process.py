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
package and thread count, logs to the caller's stderr and answers one line on stdout,
:data:`ANSWER_PREFIX` and a JSON object: ``{"profile": DATA}``, or ``{"error": MESSAGE}`` with
``"input"`` (an :class:`~zoomwatt.errors.InputError`'s argument, value and expectation) or
``"measurable": false`` (a :class:`~zoomwatt.errors.NotMeasurableError`), raised again here as
the same class.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from zoomwatt.errors import InputError, NotMeasurableError, ZoomwattError

log = logging.getLogger(__name__)

#: Longest a fresh-process calibration may take (the full plan with stacks takes about 2 min)
CALIBRATION_TIMEOUT_S = 1800


#: The child's answer line starts with this, so that no other output is taken for it
ANSWER_PREFIX = "zoomwatt-calibration-answer: "


def calibrate_in_fresh_process(
    plan: str, reference_dtype: str | None, stacks: tuple[str, ...], threads: int
) -> dict[str, Any]:
    """:func:`~zoomwatt.hardware.host_calibration.calibrate_host` of the CPU, run in a new
    Python process with ``threads`` torch threads (the one setting of the caller's it takes):
    the profile data it returns."""
    # 1. inputs (the plan, dtype and stacks are the calibration's own to check, in the child)
    if not isinstance(threads, int) or threads < 1:
        raise InputError("threads", threads, "a whole number of torch threads, at least 1")
    # 2. the command, with this package importable where it is a source checkout
    env = dict(os.environ)
    package_root = Path(__file__).resolve().parents[2]  # the folder holding zoomwatt/
    if package_root.name not in ("site-packages", "dist-packages"):
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(package_root), env.get("PYTHONPATH")) if p
        )
    command = [sys.executable, "-m", __name__, "--plan", plan, "--threads", str(threads)]
    command += ["--log-level", str(logging.getLogger("zoomwatt").getEffectiveLevel())]
    if reference_dtype:
        command += ["--reference-dtype", reference_dtype]
    if stacks:
        command += ["--stacks", ",".join(stacks)]
    # 3. run it, and read its answer
    log.info("calibrating in a fresh process: %s", " ".join(command[1:]))
    try:
        done = subprocess.run(
            command, env=env, stdout=subprocess.PIPE, text=True, timeout=CALIBRATION_TIMEOUT_S,
            check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise NotMeasurableError(
            f"the host calibration's process ran past {CALIBRATION_TIMEOUT_S} s; is the machine "
            "busy? Or use a shipped profile (zoomwatt hardware list)"
        ) from exc
    except OSError as exc:
        raise NotMeasurableError(
            f"the host calibration's process could not run ({exc}); check that "
            f"{sys.executable} starts, or use a shipped profile (zoomwatt hardware list)"
        ) from exc
    return _answer(done.stdout, done.returncode)


def _answer(stdout: str, returncode: int) -> dict[str, Any]:
    """The child's profile data from its answer line (the last with :data:`ANSWER_PREFIX`);
    its error raised again, as the package's. A profile that came before a failed exit (a
    crash at interpreter shutdown) is kept, and the exit status logged."""
    answer: Any = {}
    for line in reversed(stdout.splitlines()):
        if line.startswith(ANSWER_PREFIX):
            with contextlib.suppress(json.JSONDecodeError):
                answer = json.loads(line[len(ANSWER_PREFIX) :])
            break
    if not isinstance(answer, dict):
        answer = {}
    if isinstance(answer.get("profile"), dict):
        if returncode != 0:
            log.warning("the calibration's process exited with %s after its answer", returncode)
        return answer["profile"]
    message = answer.get("error") or f"exit status {returncode}, no answer (its log is above)"
    if answer.get("input") is not None:
        argument, value, expected = answer["input"]
        raise InputError(argument, value, expected)
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
    except InputError as exc:
        _say({"error": str(exc), "input": [exc.argument, exc.value, exc.expected]})
        return 2
    except NotMeasurableError as exc:
        _say({"error": str(exc), "measurable": False})
        return 3
    except ZoomwattError as exc:
        _say({"error": str(exc)})
        return 2
    _say({"profile": data})
    return 0


def _say(answer: dict[str, Any]) -> None:
    """The child's one answer line on stdout (the protocol, not a log message)."""
    print(ANSWER_PREFIX + json.dumps(answer, default=str), flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
