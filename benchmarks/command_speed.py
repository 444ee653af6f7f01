"""Does every command answer at once? Whole-command wall time against the targets of issue 12.

Runs each command below as a subprocess, the way a user types it (the ``zoomwatt`` script of
this interpreter's environment): one warm-up run (which also fills the caches), then
``--repeats`` timed runs, and prints the median against its target. Then the first ``analyze``
after installing: a fresh, empty ``ZOOMWATT_CACHE_DIR`` for every run, median of
``--cold-repeats``. Warm runs share one temporary cache folder (``--cache-dir`` to use another,
e.g. your own), so the user's cache is left alone. The machine's load average is kept with the
figures: on a shared machine they are noisy. The figures, the machine and the date are
appended to benchmarks/results/command_speed.jsonl (``--no-record`` to only print them).

    .venv/bin/python benchmarks/command_speed.py [--repeats 5] [--cold-repeats 3] [--no-record]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from device_info import append_record, describe

RESULTS = Path(__file__).resolve().parent / "results" / "command_speed.jsonl"
HELP_S, HARDWARE_S, ANALYZE_S, PREDICT_S, OPTIMIZE_S, COLD_ANALYZE_S = 0.3, 0.5, 1.0, 1.0, 1.5, 3.0

SUBCOMMANDS = ("zoom", "hardware", "predict", "analyze", "optimize", "measure", "report")
# (command line after `zoomwatt`, target in seconds), warm cache.
COMMANDS: list[tuple[str, float]] = [
    ("--help", HELP_S),
    *((f"{name} --help", HELP_S) for name in SUBCOMMANDS),
    ("hardware list", HARDWARE_S),
    ("hardware show jetson-orin-nano", HARDWARE_S),
    ("analyze", ANALYZE_S),
    ("analyze --format json --no-cfg --every 5", ANALYZE_S),
    ("analyze --format csv --layers", ANALYZE_S),
    ("analyze --pipeline sd15-inpaint --vae taesd --dtype int8 --attention matmul", ANALYZE_S),
    ("predict --hw all", PREDICT_S),
    ("predict --hw jetson-orin-nano --format json", PREDICT_S),
    ("optimize --hw jetson-orin-nano", OPTIMIZE_S),
]
COLD_COMMAND = "analyze"


def zoomwatt_command() -> list[str]:
    """The installed ``zoomwatt`` script next to this interpreter, else ``python -m``."""
    script = Path(sys.executable).with_name("zoomwatt")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "zoomwatt.cli.main"]


def timed_run(argv: list[str], cache_dir: str) -> float:
    env = os.environ | {"ZOOMWATT_CACHE_DIR": cache_dir}
    start = time.perf_counter()
    done = subprocess.run(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: exit {done.returncode}\n{done.stderr[-2000:]}")
    return wall


def measure(command: str, target: float, runs: list[float]) -> dict[str, object]:
    median = statistics.median(runs)
    return {
        "command": f"zoomwatt {command}",
        "median_s": round(median, 3),
        "all_s": [round(t, 3) for t in runs],
        "target_s": target,
        "meets_target": median <= target,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per command")
    parser.add_argument("--cold-repeats", type=int, default=3, help="cold-cache analyze runs")
    parser.add_argument("--cache-dir", default=None, help="cache folder of the warm runs")
    parser.add_argument("--no-record", action="store_true", help="print only")
    args = parser.parse_args()

    base = zoomwatt_command()
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="zoomwatt-speed-") as tmp:
        warm_cache = args.cache_dir or str(Path(tmp) / "warm")
        for command, target in COMMANDS:
            argv = [*base, *command.split()]
            timed_run(argv, warm_cache)  # warm-up: fills the caches, loads the files
            runs = [timed_run(argv, warm_cache) for _ in range(args.repeats)]
            rows.append(measure(command, target, runs))
            print(f"  {rows[-1]['command']}: {rows[-1]['median_s']:.2f} s", file=sys.stderr)
        cold = []
        for i in range(args.cold_repeats):
            cold.append(timed_run([*base, *COLD_COMMAND.split()], str(Path(tmp) / f"cold{i}")))
        rows.append(
            measure(COLD_COMMAND, COLD_ANALYZE_S, cold) | {"cache": "cold (empty cache folder)"}
        )
    load_after = os.getloadavg()

    width = max(len(str(r["command"])) for r in rows) + 2
    print(f"{'command':{width}} {'median':>8} {'target':>7}  verdict   runs (s)")
    for r in rows:
        name = str(r["command"]) + (" [cold cache]" if "cache" in r else "")
        verdict = "met" if r["meets_target"] else "MISSED"
        runs = ", ".join(f"{t:.2f}" for t in r["all_s"])  # type: ignore[union-attr]
        print(f"{name:{width}} {r['median_s']:>7.2f}s {r['target_s']:>6.1f}s  {verdict:8}  {runs}")
    print(
        f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after "
        f"({describe()['cores']} cores): figures on a busy machine are noisy"
    )
    record = {
        "benchmark": "command_speed",
        **describe(),
        "repeats": args.repeats,
        "cold_repeats": args.cold_repeats,
        "load_average_before": round(load_before[0], 2),
        "load_average_after": round(load_after[0], 2),
        # Python's bytecode cache: off here makes every run compile zoomwatt's sources again
        "bytecode_cache": "off (PYTHONDONTWRITEBYTECODE)" if sys.dont_write_bytecode else "on",
        "commands": rows,
        "all_met": all(r["meets_target"] for r in rows),
    }
    if not args.no_record:
        append_record(RESULTS, record)
        print(f"recorded in {RESULTS}")


if __name__ == "__main__":
    main()
