"""``zoomwatt hardware``: list, show and calibrate hardware profiles."""

from __future__ import annotations

import argparse
import json
from typing import Any

from zoomwatt.hardware import HOST, HardwareProfile, load_profile, shipped_profile_names
from zoomwatt.hardware.quantity import Quantity
from zoomwatt.hardware.schema import CALIBRATED_STACKS

_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def format_si(value: float, unit: str) -> str:
    """989.5e12, 'FLOP/s' -> '989.5 TFLOP/s'."""
    for factor, prefix in _PREFIXES:
        if abs(value) >= factor:
            return f"{value / factor:.4g} {prefix}{unit}"
    return f"{value:.4g} {unit}"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "hardware",
        help="list, show and calibrate hardware profiles",
        description="Hardware profiles: device figures (peak throughput per dtype, memory, "
        "energies, power), each with its source or marked as an estimate. 'host' is this "
        "machine, measured by short micro-benchmarks and cached.",
    )
    sub = p.add_subparsers(dest="hardware_command", metavar="ACTION")
    sub.required = True

    q = sub.add_parser("list", help="the profiles --hw accepts")
    q.add_argument("--format", choices=["table", "json"], default="table")
    q.set_defaults(func=run_list)

    q = sub.add_parser("show", help="every figure of one profile with its source")
    q.add_argument("name", metavar="NAME", help="profile name, 'host', or a path to a .yaml file")
    q.add_argument("--format", choices=["table", "json"], default="table")
    q.set_defaults(func=run_show)

    q = sub.add_parser("calibrate", help="measure this machine and cache it as 'host'")
    q.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    q.add_argument(
        "--plan",
        choices=["quick", "full"],
        default="quick",
        help="quick: about a second or two; full: larger kernels, longer",
    )
    q.add_argument(
        "--stack",
        action="append",
        choices=list(CALIBRATED_STACKS),
        default=[],
        help="calibrate this software stack too (openvino: its CPU plugin's conv and GEMM "
        "rates, for predict --hw host --stack openvino and the openvino lever; openvino-int8: "
        "the same with NNCF-style int8 weights, for the nncf-int8 lever); repeatable",
    )
    q.add_argument("--format", choices=["table", "json"], default="table")
    q.set_defaults(func=run_calibrate)


def _summary(profile: HardwareProfile) -> dict[str, Any]:
    def peak(dtype: str) -> float | None:
        q = profile.peak_dense.get(dtype)
        return q.si if q is not None else None

    return {
        "name": profile.name,
        "class": profile.device_class,
        "description": profile.description,
        "fp16_ops_per_s": peak("fp16"),
        "int8_ops_per_s": peak("int8"),
        "fp32_ops_per_s": peak("fp32"),
        "memory_bytes": profile.memory_capacity.si,
        "bandwidth_bytes_per_s": profile.memory_bandwidth.si,
        "on_chip_bytes": profile.on_chip_buffer.si,
        "power_cap_w": profile.power_cap.si,
        "battery_wh": profile.battery.si if profile.battery is not None else None,
    }


def _fmt_opt(value: float | None, unit: str) -> str:
    return "-" if value is None else format_si(value, unit)


def run_list(args: argparse.Namespace) -> int:
    from zoomwatt.hardware.host_calibration import cached_host_profile

    # 1. compute
    rows = [_summary(load_profile(name)) for name in shipped_profile_names()]
    host = cached_host_profile()
    host_row = _summary(host) if host is not None else None
    # 2. render
    if args.format == "json":
        print(json.dumps({"profiles": rows, "host": host_row}, indent=2))
        return 0
    header = [
        "name",
        "class",
        "fp16 dense",
        "int8 dense",
        "DRAM",
        "bandwidth",
        "on-chip",
        "cap",
        "battery",
    ]
    table = [
        [
            r["name"],
            r["class"],
            _fmt_opt(r["fp16_ops_per_s"], "FLOP/s"),
            _fmt_opt(r["int8_ops_per_s"], "OP/s"),
            format_si(r["memory_bytes"], "B"),
            format_si(r["bandwidth_bytes_per_s"], "B/s"),
            format_si(r["on_chip_bytes"], "B"),
            f"{r['power_cap_w']:g} W",
            "n/a" if r["battery_wh"] is None else f"{r['battery_wh']:g} Wh",
        ]
        for r in [*rows, *([host_row] if host_row else [])]
    ]
    _print_table(header, table)
    if host_row is None:
        print(
            f"\n{HOST}: not calibrated yet (zoomwatt hardware calibrate, or first use of "
            f"--hw {HOST})"
        )
    print("\nDetails and sources: zoomwatt hardware show NAME")
    return 0


def _quantity_row(path: str, q: Quantity) -> dict[str, Any]:
    kind, _, text = q.provenance.partition(": ")  # source, fitted or estimate
    return {"field": path, "value": q.value, "unit": q.unit, "si": q.si, kind: text}


def _figures(profile: HardwareProfile) -> list[tuple[str, Quantity]]:
    """Every figure of the profile, its software stacks' included."""
    return [*profile.quantities(), *profile.stack_quantities()]


def _render_profile(profile: HardwareProfile, fmt: str) -> None:
    rows = [_quantity_row(path, q) for path, q in _figures(profile)]
    if fmt == "json":
        head = {
            "name": profile.name,
            "description": profile.description,
            "device_class": profile.device_class,
            "origin": profile.origin,
            "process_node": profile.process_node,
            "memory_type": profile.memory_type,
            "notes": list(profile.notes),
            "calibration": profile.calibration,
            "default_stack": profile.default_stack,
            "stacks": list(profile.stack_names),
        }
        print(json.dumps(head | {"fields": rows}, indent=2))
        return
    print(f"{profile.name}: {profile.description}")
    print(
        f"  class {profile.device_class}, process {profile.process_node}, "
        f"memory {profile.memory_type}"
    )
    print(f"  file {profile.origin}")
    print(f"  stacks {', '.join(profile.stack_names)} (default {profile.default_stack})")
    for note in profile.notes:
        print(f"  note: {note}")
    print()
    table = []
    for path, q in _figures(profile):
        table.append([path, q.as_text(), q.provenance])
    _print_table(["field", "value", "provenance"], table)
    n_est = sum(1 for _, q in _figures(profile) if q.is_estimate)
    n_fit = sum(1 for _, q in _figures(profile) if q.is_fitted)
    fitted = f", {n_fit} fitted to published measurements (zoomwatt validate)" if n_fit else ""
    print(f"\n{len(table)} figures, {n_est} of them estimates{fitted}.")


def run_show(args: argparse.Namespace) -> int:
    from zoomwatt.hardware.stacks import with_fitted

    # the figures predictions use: a shipped profile's fitted stack figures laid over its own
    _render_profile(with_fitted(load_profile(args.name)), args.format)
    return 0


def run_calibrate(args: argparse.Namespace) -> int:
    from zoomwatt.hardware.host_cache import host_cache_path
    from zoomwatt.hardware.host_calibration import load_host_profile

    profile = load_host_profile(
        recalibrate=True, plan=args.plan, device=args.device, stacks=tuple(args.stack)
    )
    if args.format == "table":
        print(
            f"calibrated in {profile.calibration.get('seconds')} s, cached in {host_cache_path()}\n"
        )
    _render_profile(profile, args.format)
    return 0


def _print_table(header: list[str], rows: list[list[str]]) -> None:
    """Left-aligned columns; the last column is not padded (it may be long text)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    widths[-1] = min(widths[-1], 40)

    def fmt(row: list[str]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()

    print(fmt(header))
    print(fmt(["-" * w for w in widths]))
    for row in rows:
        print(fmt(row))
