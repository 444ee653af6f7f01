"""The Python API: one function per command, the README's examples run as written, and the
functions give what the commands print."""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stdout
from pathlib import Path

import pytest

import zoomwatt
from zoomwatt.cli.main import main

README = Path(__file__).parents[1] / "README.md"


def readme_api_examples() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Python API") :]
    section = section[: section.index("\n## ", 5)]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks, "the README's Python API section has no example"
    return "\n".join(blocks)


def test_readme_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_api_examples(), str(README), "exec"), {})
    assert (tmp_path / "zoom.mp4").is_file() and (tmp_path / "report" / "index.html").is_file()
    assert "measure:" not in capsys.readouterr().err  # the API prints no progress


def test_every_command_has_a_function():
    for name in ("zoom", "analyze", "predict", "optimize", "measure", "report", "validate"):
        assert callable(getattr(zoomwatt, name)), name


def test_predict_function_is_the_command(tmp_path):
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["predict", "--hw", "rpi5,h100-sxm", "--steps", "4", "--format", "json"]) == 0
    from zoomwatt.cli.predict_command import to_json

    run = zoomwatt.predict(hw="rpi5,h100-sxm", steps=4)
    assert json.loads(json.dumps(to_json(run))) == json.loads(out.getvalue())


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: zoomwatt.predict(hw="rpi5", stepz=4), "stepz=4: expected an option"),
        (lambda: zoomwatt.predict(steps=4), "hw=None: expected a value"),
        (lambda: zoomwatt.analyze(pipeline="sd9"), "pipeline='sd9': expected one of"),
        (lambda: zoomwatt.optimize(hw="rpi5", format="json"), "format='json': expected an"),
    ],
)
def test_bad_keywords_are_one_line(call, fragment):
    with pytest.raises(zoomwatt.InputError) as info:
        call()
    assert fragment in str(info.value) and "\n" not in str(info.value)
