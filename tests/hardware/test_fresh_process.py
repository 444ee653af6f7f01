"""Host calibration of the CPU in a fresh process: dispatch, the child's answer, and the cold
weight copies that leave no touched free memory behind."""

from __future__ import annotations

import json

import pytest
import torch

import zoomwatt.hardware.host_calibration as host_calibration
from zoomwatt.errors import InputError, NotMeasurableError, ZoomwattError
from zoomwatt.hardware.fresh_process import (
    ANSWER_PREFIX,
    _answer,
    calibrate_in_fresh_process,
    main,
)
from zoomwatt.hardware.host_probe import TorchCpuProbe


def test_the_cpu_probe_is_calibrated_in_a_fresh_process_and_others_here(monkeypatch):
    calls = []

    def fresh(plan, reference_dtype, stacks, threads):
        calls.append((plan, reference_dtype, stacks, threads))
        return {"fresh": True}

    monkeypatch.setattr(host_calibration, "calibrate_in_fresh_process", fresh)
    monkeypatch.setattr(host_calibration, "calibrate_host", lambda *a: {"here": True})
    probe = TorchCpuProbe()
    assert host_calibration._calibrate(probe, "tiny", "bf16", ("openvino",)) == {"fresh": True}
    assert calls == [("tiny", "bf16", ("openvino",), torch.get_num_threads())]

    class SubProbe(TorchCpuProbe):  # a probe a caller made (tests, other devices): here
        pass

    assert host_calibration._calibrate(SubProbe(), "tiny", None, ()) == {"here": True}


def _line(answer) -> str:
    return ANSWER_PREFIX + json.dumps(answer)


def test_the_childs_answer_is_its_profile_or_its_error():
    assert _answer(f"log line\n{_line({'profile': {'a': 1}})}\n", 0) == {"a": 1}
    # a profile before a crash at shutdown is kept; a stray JSON line is not an answer
    assert _answer(_line({"profile": {"a": 1}}) + '\n{"profile": 2}', -11) == {"a": 1}
    with pytest.raises(NotMeasurableError, match="fp32 matmul could not run"):
        _answer(_line({"error": "fp32 matmul could not run", "measurable": False}), 3)
    with pytest.raises(ZoomwattError, match="exit status -9, no answer"):
        _answer("", -9)  # killed before it answered
    for odd in ("0", "[1]", '{"profile": 3}', "{not json"):  # never a traceback
        with pytest.raises(ZoomwattError, match="no answer"):
            _answer(ANSWER_PREFIX + odd, 1)
    with pytest.raises(InputError, match=r"plan='x': expected one of \['full'\]"):
        _answer(_line({"error": "e", "input": ["plan", "x", "one of ['full']"]}), 2)


def test_the_child_answers_an_input_error_as_one_line(capsys):
    threads = str(torch.get_num_threads())  # the child sets them: keep this process's
    assert main(["--plan", "nope", "--threads", threads]) == 2
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith(ANSWER_PREFIX)
    answer = json.loads(line[len(ANSWER_PREFIX) :])
    assert answer["input"][:2] == ["plan", "nope"]


def test_a_real_child_process_raises_the_input_error_here():
    with pytest.raises(InputError, match="plan='nope': expected one of"):
        calibrate_in_fresh_process("nope", None, (), 1)
    with pytest.raises(InputError, match="threads=0: expected a whole number"):
        calibrate_in_fresh_process("tiny", None, (), 0)


def test_cold_copies_are_views_of_one_block_with_the_weights_strides():
    probe = TorchCpuProbe()
    first = torch.randn(4, 3, 2, 2).contiguous(memory_format=torch.channels_last)
    copies = probe._copies(first, 5)
    assert len(copies) == 5
    block = copies[0].untyped_storage().data_ptr()
    for i, copy in enumerate(copies):
        assert copy.untyped_storage().data_ptr() == block  # one allocation
        assert copy.storage_offset() == i * 48  # 4*3*2*2 = 48 elements apart
        assert copy.stride() == first.stride()  # channels-last kept
        assert torch.equal(copy, first)
