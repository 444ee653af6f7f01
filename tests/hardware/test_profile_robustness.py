"""Broken or hostile hardware profile files: one short error line each, never a traceback.

Every bad file is rejected by the loader with a ZoomwattError whose message is one line of
under 300 characters naming the file (and the key or line), and through the command line
(``zoomwatt hardware show FILE``) with exit status 2 and that one line on stderr. A seeded fuzz
test mutates the shipped profiles and checks the same for whatever it makes, through the path
``--hw FILE`` takes (loader, then the perf model's device parameters and a prediction).
"""

from __future__ import annotations

import copy
import logging
import math
import random
import time

import numpy as np
import pytest
import yaml

from zoomwatt.cli.main import main
from zoomwatt.errors import ZoomwattError
from zoomwatt.hardware import PROFILE_DIR, load_profile, parse_profile, shipped_profile_names
from zoomwatt.hardware.host_cache import host_cache_path, read_host_cache, write_host_cache
from zoomwatt.hardware.quantity import UNITS
from zoomwatt.hardware.yaml_io import MAX_FILE_BYTES, dump_yaml, load_yaml_mapping
from zoomwatt.perfmodel import PredictOptions, device_params, make_stage, predict
from zoomwatt.workload.records import LayerRecord, OpClass

MAX_MESSAGE = 300
RPI5 = (PROFILE_DIR / "rpi5.yaml").read_text()
SHIPPED = {name: (PROFILE_DIR / f"{name}.yaml").read_text() for name in shipped_profile_names()}


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOOMWATT_CACHE_DIR", str(tmp_path / "cache"))


def edit(old: str, new: str, text: str = RPI5) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def billion_laughs(levels: int = 9) -> str:
    """The classic alias bomb: 9 levels of 9 aliases each is 9^9 'lol's from ~1 KB."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


HUGE = "1" + "0" * 5000  # 10**5000
BANDWIDTH = "bandwidth: {value: 17.1, unit: GB/s,"

# id -> (file content: text or bytes, fragments the message must contain besides the file)
CASES = {
    "alias_bomb": (billion_laughs(), ["line 1", "anchor", "aliases"]),
    "alias_reuse": (
        edit("    value: 0.56\n", "    value: &scale 0.56\n").replace(
            "value: 0.35,", "value: *scale,"
        ),
        ["anchor", "&scale"],
    ),
    "duplicate_key": (
        edit(f"  {BANDWIDTH}", f"  {BANDWIDTH} source: x}}\n  {BANDWIDTH}"),
        ["key='bandwidth'", "line 42", "also at line 41"],
    ),
    "not_utf8": (
        RPI5.encode().replace(b"Raspberry Pi 5 8GB", b"Raspberry Pi 5 \xff8GB"),
        ["UTF-8"],
    ),
    "latin1": (RPI5.replace("8GB,", "8GB \u00b5,").encode("latin-1"), ["UTF-8", "line 4"]),
    "huge_int": (edit("value: 17.1,", f"value: {HUGE},"), ["line 41", "integer", "400 digits"]),
    "huge_int_quoted_value": (
        edit("value: 17.1,", f"value: '{HUGE}',"),
        ["memory.bandwidth.value", "a finite number"],
    ),
    "huge_int_quantity_string": (
        edit(f"{BANDWIDTH}", f"bandwidth: '{HUGE} GB/s'\n  #"),
        ["memory.bandwidth", "a mapping {value"],
    ),
    "int_too_big_for_float": (
        edit("value: 17.1,", f"value: {'9' * 350},"),
        ["memory.bandwidth.value", "a finite number"],
    ),
    "unit_is_a_list": (edit("unit: GB/s,", "unit: [GB, s],"), ["memory.bandwidth.unit"]),
    "unit_is_a_mapping": (edit("unit: GB/s,", "unit: {GB: s},"), ["memory.bandwidth.unit"]),
    "quantity_is_a_list": (
        edit(f"{BANDWIDTH}", "bandwidth: [17.1, GB/s]\n  #"),
        ["memory.bandwidth", "a mapping {value"],
    ),
    "mixed_keys": (
        edit("    fp32:", "    1: {value: 1, unit: TOP/s, source: x}\n    fp32:"),
        ["line 22", "key='1'", "text key"],
    ),
    "bool_key": (edit("memory:\n", "memory:\n  yes: 1\n"), ["line 38", "key='yes'", "bool"]),
    "null_key": (edit("notes:\n", "~: 1\nnotes:\n"), ["key='~'", "null"]),
    "list_key": (edit("notes:\n", "? [a, b]\n: 1\nnotes:\n"), ["key=", "text key"]),
    "overflow_after_scaling": (
        edit("value: 17.1, unit: GB/s", "value: 1.0e+308, unit: TB/s"),
        ["memory.bandwidth.value", "1e+18 TB/s"],
    ),
    "underflow_to_tiny": (
        edit("value: 17.1, unit: GB/s", "value: 5.0e-324, unit: B/s"),
        ["memory.bandwidth.value", "1e-30"],
    ),
    "overflow_of_derived_energy": (
        edit("    value: 10\n", "    value: 1.0e+308\n"),
        ["process.overhead_factor.value"],
    ),
    "infinity": (edit("value: 17.1,", "value: .inf,"), ["memory.bandwidth.value", "finite"]),
    "negative_cap": (edit("value: 12, unit: W", "value: -12, unit: W"), ["power.cap.value"]),
    "nan_value": (edit("value: 17.1,", "value: .nan,"), ["line 41", "NaN"]),
    "nan_text_value": (edit("value: 17.1,", "value: 'nan',"), ["memory.bandwidth.value"]),
    "nan_schema": (edit("schema: 1", "schema: .NaN"), ["line 2", "NaN"]),
    "nan_in_calibration": (RPI5 + "calibration: {seconds: .nan}\n", ["NaN"]),
    "nan_key": (edit("notes:\n", ".nan: 1\nnotes:\n"), ["key='.nan'", "float"]),
    "empty_file": ("", ["(empty file)"]),
    "only_comments": ("# a profile\n\n# to be written\n", ["(empty file)"]),
    "null_document": ("~\n", ["(null)"]),
    "top_level_list": ("- schema: 1\n- name: x\n", ["top level"]),
    "top_level_scalar": ("rpi5\n", ["top level", "'rpi5'"]),
    "top_level_huge_int": (HUGE + "\n", ["integer"]),
    "too_large": (RPI5 + "#" + "x" * MAX_FILE_BYTES + "\n", ["1 MiB", "size"]),
    "python_tag": (edit("name: rpi5", "name: !!python/object/apply:os.system [ls]"), ["tag"]),
    "binary_tag": (edit("name: rpi5", "name: !!binary aGVsbG8="), ["tag"]),
    "merge_key": (edit("memory:\n", "memory:\n  <<: {type: DDR4}\n"), ["key='<<'", "merge"]),
    "deep_nesting": ("a: " + "[" * 100_000 + "]" * 100_000 + "\n", ["nesting", "32 levels"]),
    "control_character": (edit("schema: 1", "schema: 1\x00"), ["line 2", "#x0000"]),
    "impossible_date": (edit("schema: 1", "schema: 2024-13-45"), ["date", "2024-13-45"]),
    "two_documents": (RPI5 + "---\n" + RPI5, ["single document"]),
    "syntax_error": ("name: [unclosed\n", ["valid YAML", "line 2"]),
}


def check_message(message: str, *fragments: str) -> None:
    assert "\n" not in message, message
    assert len(message) < MAX_MESSAGE, (len(message), message)
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def run_cli(argv, capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("case", list(CASES))
def test_bad_profile_gets_one_short_line(case, tmp_path, capsys):
    content, fragments = CASES[case]
    path = tmp_path / f"{case}.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    started = time.perf_counter()
    with pytest.raises(ZoomwattError) as err:
        load_profile(str(path))
    assert time.perf_counter() - started < 5.0  # no bomb goes off
    check_message(str(err.value), str(path), *fragments)

    status, out, err_text = run_cli(["hardware", "show", str(path)], capsys)
    assert status == 2
    assert "Traceback" not in err_text and out == ""
    lines = err_text.splitlines()
    assert len(lines) == 1, err_text
    assert lines[0] == f"zoomwatt hardware: error: {err.value}"


def test_directory_is_not_a_profile(tmp_path, capsys):
    folder = tmp_path / "profiles.yaml"
    folder.mkdir()
    with pytest.raises(ZoomwattError) as err:
        load_profile(str(folder))
    check_message(str(err.value), str(folder), "not a folder")
    status, _, err_text = run_cli(["hardware", "show", str(folder)], capsys)
    assert status == 2 and len(err_text.splitlines()) == 1 and "Traceback" not in err_text


@pytest.mark.parametrize(
    "name",
    ["missing.yaml", "a" * 5000 + ".yaml", "bad\x00name.yaml", "line\nbreak/x.yaml"],
    ids=["missing", "name-too-long", "nul-in-name", "newline-in-name"],
)
def test_odd_paths_are_one_line(name, tmp_path, capsys):
    path = str(tmp_path / name)
    with pytest.raises(ZoomwattError) as err:
        load_profile(path)
    check_message(str(err.value), "existing hardware profile file")
    status, _, err_text = run_cli(["hardware", "show", path], capsys)
    assert status == 2 and len(err_text.splitlines()) == 1 and "Traceback" not in err_text


def test_mixed_key_types_in_code_built_data_are_rejected_cleanly():
    # parse_profile is public: data built in code (not from YAML) may mix key types
    data = yaml.safe_load(RPI5)
    data["compute"]["dense"][1] = data["compute"]["dense"]["fp32"]
    data["compute"]["dense"]["fp64"] = data["compute"]["dense"]["fp32"]
    with pytest.raises(ZoomwattError) as err:
        parse_profile(data, "code.yaml")
    check_message(str(err.value), "code.yaml: compute.dense", "fp64")
    data = yaml.safe_load(RPI5)
    data["memory"]["bandwidth"][2] = "x"
    data["memory"]["bandwidth"]["speed"] = "x"
    with pytest.raises(ZoomwattError) as err:
        parse_profile(data, "code.yaml")
    check_message(str(err.value), "code.yaml: memory.bandwidth", "speed")


def test_long_path_is_cut_in_messages(tmp_path):
    folder = tmp_path.joinpath(*(["d" * 50] * 4))
    folder.mkdir(parents=True)
    path = folder / "mine.yaml"
    path.write_text(edit("value: 17.1,", "value: .nan,"))
    with pytest.raises(ZoomwattError) as err:
        load_profile(str(path))
    check_message(str(err.value), "...", "dddd/mine.yaml: line 41")


@pytest.mark.parametrize("name", shipped_profile_names())
def test_shipped_profiles_read_as_plain_safe_load_does(name):
    path = PROFILE_DIR / f"{name}.yaml"
    assert load_yaml_mapping(path) == yaml.safe_load(path.read_text())


def test_dump_writes_shared_objects_out():
    shared = {"value": 1, "unit": "W", "estimate": "x"}
    text = dump_yaml({"a": shared, "b": [shared, shared]})
    assert "&" not in text and "*" not in text
    assert yaml.safe_load(text) == {"a": shared, "b": [shared, shared]}


# ---------------------------------------------------------------------------- host cache


def host_data() -> dict:
    from test_host_calibration import FakeProbe

    from zoomwatt.hardware.host_calibration import calibrate_host

    return calibrate_host(FakeProbe(), "tiny")


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"schema: 1\nname: [unclosed\n",
        billion_laughs().encode(),
        b"\xff\xfe\x00garbage",
        b"- just\n- a list\n",
        b"schema: 1\nname: host\n",  # valid YAML, not a profile
        b"calibration: [1, 2]\n",  # load_host_profile read calibration.get(...) from this
    ],
    ids=["empty", "syntax", "alias-bomb", "binary", "list", "partial", "calibration-list"],
)
def test_damaged_host_cache_is_recalibrated(content, caplog, capsys):
    from test_host_calibration import FakeProbe

    from zoomwatt.hardware.host_calibration import cached_host_profile, load_host_profile

    path = host_cache_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="zoomwatt.hardware.host_cache"):
        assert read_host_cache() is None
        assert cached_host_profile() is None
    assert "damaged host cache" in caplog.text
    status, out, _ = run_cli(["hardware", "list"], capsys)
    assert status == 0 and "host: not calibrated yet" in out
    probe = FakeProbe()
    profile = load_host_profile(probe=probe)  # recalibrates and rewrites the cache
    assert probe.matmul_calls > 0 and profile.name == "host"
    assert read_host_cache() is not None


def test_truncated_host_cache_is_ignored_or_still_valid():
    write_host_cache(host_data())
    text = host_cache_path().read_bytes()
    assert read_host_cache() is not None
    ignored = 0
    for cut in range(0, len(text), max(1, len(text) // 40)):
        host_cache_path().write_bytes(text[:cut])
        data = read_host_cache()  # never raises
        if data is None:
            ignored += 1
        else:  # cut inside the free-form calibration section: still a profile
            parse_profile(data, "host.yaml")
    assert ignored > 30


def test_host_cache_that_is_a_folder_is_not_fatal(caplog):
    from test_host_calibration import FakeProbe

    from zoomwatt.hardware.host_calibration import load_host_profile

    host_cache_path().mkdir(parents=True)
    with caplog.at_level(logging.WARNING, logger="zoomwatt.hardware.host_cache"):
        assert read_host_cache() is None
        profile = load_host_profile(probe=FakeProbe())  # measured, only not cached
    assert profile.name == "host"
    assert "could not cache" in caplog.text


# ---------------------------------------------------------------------------- fuzz

FUZZ_SEED = 20240612
FUZZ_CASES = 300
# the harness parses and writes with libyaml where it can; the loader under test is its own
SHIPPED_DATA = {name: yaml.safe_load(text) for name, text in SHIPPED.items()}
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _junk(rng: random.Random):
    """A value of a random wrong (or right) type for any field."""
    choices = [
        lambda: [],
        lambda: [rng.random(), "GB/s"],
        lambda: {},
        lambda: {"value": rng.random()},
        lambda: {"value": 1, "unit": rng.choice(list(UNITS)), "source": "fuzz"},
        lambda: {"value": rng.choice([1e308, 5e-324, -1.0, 0.0]), "unit": "TB/s", "source": "f"},
        lambda: {rng.randint(0, 9): "int key", "text": "key"},
        lambda: 10 ** rng.randint(300, 4000),
        lambda: -(10 ** rng.randint(1, 30)),
        lambda: rng.choice([float("nan"), float("inf"), float("-inf")]),
        lambda: rng.choice(["nan", "inf", "-inf", ".nan", "1e308 TB/s", "1e5000"]),
        lambda: rng.choice(["GB", "W", "pJ/bit", "TOP/s", "furlongs", "", " "]),
        lambda: -rng.random() * 10 ** rng.randint(0, 12),
        lambda: rng.random() * 10 ** rng.randint(-40, 40),
        lambda: rng.choice([True, False, None, 0, 1, 2]),
        lambda: rng.randbytes(rng.randint(1, 16)),  # dumped as !!binary
        lambda: rng.randbytes(rng.randint(1, 16)).decode("latin-1"),
        lambda: "x" * rng.randint(0, 3000),
        lambda: [[[[[[[[[]]]]]]]]],
    ]
    return rng.choice(choices)()


def _containers(node, path=()):
    """Every (container, key) in a parsed profile."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield node, key
            yield from _containers(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield node, i
            yield from _containers(value, (*path, i))


def _mutate_data(rng: random.Random, name: str) -> tuple[str, bytes]:
    data = copy.deepcopy(SHIPPED_DATA[name])
    steps = []
    plausible = rng.random() < 0.5  # only edits that often still load
    for _ in range(rng.randint(1, 3)):
        spots = list(_containers(data))
        container, key = rng.choice(spots)
        roll = 0.0 if plausible else rng.random()
        if roll < 0.2:  # a plausible edit that often still loads: another size or unit
            figures = [
                c
                for c, k in spots
                if k == "value" and isinstance(c, dict) and type(c["value"]) in (int, float)
            ]
            if not figures:
                continue
            figure = rng.choice(figures)
            if rng.random() < 0.7:  # a nearby figure
                figure["value"] = figure["value"] * 10 ** rng.uniform(-2, 1)
            else:  # anything, down to the tiniest and up to the largest floats
                figure["value"] = rng.choice([0, -1, 1]) * 10 ** rng.uniform(-320, 308)
            if rng.random() < 0.3 and str(figure.get("unit")) in UNITS:
                dimension = UNITS[figure["unit"]][0]
                figure["unit"] = rng.choice([u for u, (d, _) in UNITS.items() if d == dimension])
            steps.append(f"set a value to {figure['value']:g} {figure.get('unit')}")
        elif roll < 0.5 and isinstance(container, dict):
            del container[key]
            steps.append(f"delete {key!r}")
        else:
            junk = _junk(rng)
            container[key] = junk
            steps.append(f"set {key!r} to {type(junk).__name__}")
    return "; ".join(steps), yaml.dump(data, Dumper=DUMPER, sort_keys=False).encode()


def _mutate_text(rng: random.Random, name: str) -> tuple[str, bytes]:
    text = SHIPPED[name]
    raw = bytearray(text.encode())
    kind = rng.choice(["truncate", "flip", "alias", "duplicate", "huge", "insert", "indent"])
    if kind == "truncate":
        cut = rng.randrange(len(raw))
        return f"truncate at {cut}", bytes(raw[:cut])
    if kind == "flip":
        spots = [rng.randrange(len(raw)) for _ in range(rng.randint(1, 8))]
        for i in spots:
            raw[i] ^= rng.randint(1, 255)
        return f"flip bytes {spots}", bytes(raw)
    lines = text.splitlines(keepends=True)
    i = rng.randrange(len(lines))
    if kind == "alias":
        spots = [k for k, line in enumerate(lines) if "value: " in line]
        a, b = sorted(rng.sample(spots, 2))
        lines[a] = lines[a].replace("value: ", "value: &v ", 1)
        lines[b] = lines[b].replace("value: ", "value: *v #", 1)
        return f"anchor line {a + 1}, alias line {b + 1}", "".join(lines).encode()
    if kind == "duplicate":
        lines.insert(i, lines[i])
        return f"duplicate line {i + 1}", "".join(lines).encode()
    if kind == "huge":
        spots = [k for k, line in enumerate(lines) if "value: " in line]
        k = rng.choice(spots)
        digits = "9" * rng.choice([310, 399, 401, 5000])
        lines[k] = lines[k].replace("value: ", f"value: {digits} #", 1)
        return f"huge int on line {k + 1}", "".join(lines).encode()
    if kind == "insert":
        junk = rng.choice([b"\t", b"\x00", b"\xff\xfe", b"{", b"[", b": ", b"&a ", b"*a ", b"!!"])
        at = rng.randrange(len(raw))
        return f"insert {junk!r} at {at}", bytes(raw[:at] + junk + raw[at:])
    lines[i] = " " * rng.randint(1, 5) + lines[i]
    return f"indent line {i + 1}", "".join(lines).encode()


LAYERS = [
    LayerRecord("m", "conv", OpClass.CONV, int(1e9), int(2e9), 1e6, 4e6, 4e6, "fp16"),
    LayerRecord("m", "mm", OpClass.LINEAR, int(1e8), int(2e8), 1e6, 1e5, 1e5, "fp16"),
    LayerRecord("m", "norm", OpClass.NORM, 0, int(1e7), 0.0, 4e6, 4e6, "fp16"),
]
STAGES = [make_stage("unet", LAYERS, 20), make_stage("frame", LAYERS[2:], 30, per_frame=True)]


def _use(profile) -> None:
    """What ``--hw FILE`` does with a profile: the perf model's arrays, then a prediction;
    everything must be finite (NaN only marks an unsupported dtype)."""
    params = device_params(profile)
    for name in ("peak_ops_per_s", "sparse_peak_ops_per_s", "mac_energy_j"):
        values = np.asarray(getattr(params, name))
        supported = values[~np.isnan(values)]
        assert supported.size and np.all(np.isfinite(supported)) and np.all(supported > 0), name
    for name in (
        "efficiency",
        "dram_j_per_byte",
        "on_chip_j_per_byte",
        "bandwidth_bytes_per_s",
        "on_chip_buffer_bytes",
        "static_power_w",
        "idle_power_w",
        "power_cap_w",
        "kernel_overhead_s",
        "reuse_half",
    ):
        values = np.asarray(getattr(params, name), dtype=float)
        assert np.all(np.isfinite(values)) and np.all(values >= 0), name
    if params.supports("fp16"):
        result = predict(STAGES, profile, PredictOptions(frames_per_keyframe=30, target_fps=30))
        for name in ("output_fps", "avg_power_w", "energy_per_frame_j", "fps_per_watt"):
            assert math.isfinite(getattr(result, name)), name


def test_fuzzed_profiles_load_or_fail_with_one_short_line(tmp_path):
    rng = random.Random(FUZZ_SEED)
    names = sorted(SHIPPED)
    outcomes = {"loaded": 0, "rejected": 0, "longest message": 0}
    started = time.perf_counter()
    path = tmp_path / "fuzzed.yaml"
    for case in range(FUZZ_CASES):
        name = rng.choice(names)
        mutate = _mutate_data if rng.random() < 0.5 else _mutate_text
        how, content = mutate(rng, name)
        path.write_bytes(content)
        try:
            try:
                profile = load_profile(str(path))
            except ZoomwattError as exc:
                check_message(str(exc), "fuzzed.yaml")
                outcomes["rejected"] += 1
                outcomes["longest message"] = max(outcomes["longest message"], len(str(exc)))
                continue
            _use(profile)
            outcomes["loaded"] += 1
        except Exception as exc:
            shown = content[:20_000].decode("utf-8", "replace")
            raise AssertionError(
                f"fuzz case {case} (seed {FUZZ_SEED}, {name}: {how}) raised "
                f"{type(exc).__name__}: {str(exc)[:500]}\n--- input ---\n{shown}"
            ) from exc
    elapsed = time.perf_counter() - started
    print(f"fuzz: {FUZZ_CASES} cases in {elapsed:.2f} s: {outcomes}")
    assert outcomes["loaded"] > 0 and outcomes["rejected"] > 0
    assert elapsed < 60  # a few seconds on a quiet machine


def test_unmutated_shipped_profiles_pass_the_fuzz_checks():
    for name in SHIPPED:
        _use(load_profile(name))
