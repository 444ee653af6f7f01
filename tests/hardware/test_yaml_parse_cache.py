"""Parsed profiles are kept as JSON in the cache folder (PyYAML's pure-Python parser costs about
50 ms a profile): what is read back equals a fresh parse, a changed file is parsed again, and a
damaged entry is ignored."""

from __future__ import annotations

from zoomwatt.errors import InputError
from zoomwatt.hardware import yaml_io

TEXT = "name: x\npeak: 1500.25\nlist: [1, 2]\nnested: {a: null, b: true}\n"


def test_cached_mapping_equals_a_fresh_parse(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOOMWATT_CACHE_DIR", str(tmp_path / "cache"))
    f = tmp_path / "p.yaml"
    f.write_text(TEXT)
    first = yaml_io.load_yaml_mapping(f)
    entry = yaml_io._parsed_path(f.read_bytes())
    assert entry.is_file()
    monkeypatch.setattr(yaml_io, "parse_yaml_text", None)  # a second read parses nothing
    again = yaml_io.load_yaml_mapping(f)
    assert again == first == {"name": "x", "peak": 1500.25, "list": [1, 2],
                              "nested": {"a": None, "b": True}}  # fmt: skip
    assert type(again["peak"]) is float and type(again["list"][0]) is int


def test_changed_file_and_damaged_entry_are_parsed_again(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOOMWATT_CACHE_DIR", str(tmp_path / "cache"))
    f = tmp_path / "p.yaml"
    f.write_text(TEXT)
    yaml_io.load_yaml_mapping(f)
    f.write_text(TEXT.replace("1500.25", "2500.25"))
    assert yaml_io.load_yaml_mapping(f)["peak"] == 2500.25
    yaml_io._parsed_path(f.read_bytes()).write_text("{not json")
    assert yaml_io.load_yaml_mapping(f)["peak"] == 2500.25


def test_errors_are_never_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOOMWATT_CACHE_DIR", str(tmp_path / "cache"))
    f = tmp_path / "p.yaml"
    f.write_text("a: 1\na: 2\n")  # a duplicate key: refused every time
    for _ in range(2):
        try:
            yaml_io.load_yaml_mapping(f)
        except InputError as exc:
            assert "a" in str(exc)
        else:
            raise AssertionError("duplicate key accepted")
    assert not (tmp_path / "cache" / "yaml").exists() or not any(
        (tmp_path / "cache" / "yaml").iterdir()
    )
