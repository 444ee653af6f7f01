"""Each published figure as a case: the workload read from the record (per-call kinds one CFG
branch at batch 1, explicit attention where the source names it, assumptions stated), the
figure's kind from per-call stage times (hand-computed), and every figure the model cannot
predict listed with its reason, none dropped."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from zoomwatt.errors import InputError
from zoomwatt.evidence import load_published
from zoomwatt.evidence.cases import (
    CaseSetup,
    NotPredictable,
    case_setup,
    energy_value,
    figure_value,
)

FIGURES = {f.id: f for f in load_published()}


def kind(figure_id, timed, **changes):
    return dataclasses.replace(FIGURES[figure_id], timed=timed, **changes)


# seconds per call, calls per image: 50 steps at batch 4 is 12.5 UNet calls (batch 8) per image
PER_CALL = {"text_encoder": 0.01, "unet": 0.05, "vae_decoder": 0.2}
CALLS = {"text_encoder": 2 / 4, "unet": 50 / 4, "vae_decoder": 1 / 4}
# per image: 0.5 x 0.01 + 12.5 x 0.05 + 0.25 x 0.2 = 0.005 + 0.625 + 0.05 = 0.68 s


def test_kinds_from_per_call_times_hand_computed():
    figure = FIGURES["E7"]  # e2e of a batch of 4
    assert figure_value(kind("E7", "e2e_s"), PER_CALL, CALLS, 4) == pytest.approx(0.68 * 4)
    assert figure_value(kind("E7", "it_per_s"), PER_CALL, CALLS, 4) == pytest.approx(1 / 0.05)
    assert figure_value(kind("E7", "unet_call_s"), PER_CALL, CALLS, 4) == 0.05
    assert figure_value(kind("E7", "vae_decoder_call_s"), PER_CALL, CALLS, 4) == 0.2
    assert figure_value(kind("E7", "text_encoder_call_s"), PER_CALL, CALLS, 4) == 0.01
    eight = kind("E7", "throughput_images_per_s", accelerators=8)
    assert figure_value(eight, PER_CALL, CALLS, 4) == pytest.approx(8 / 0.68)  # 11.76 images/s
    # arrays over parameter values go through the same formula
    grid = {k: np.array([v, 2 * v]) for k, v in PER_CALL.items()}
    assert figure_value(figure, grid, CALLS, 4) == pytest.approx([2.72, 5.44])
    with pytest.raises(InputError, match="a latency kind"):
        figure_value(kind("E7", "energy_j_per_image"), PER_CALL, CALLS, 4)


def test_energy_kinds_hand_computed():
    assert energy_value(FIGURES["E1b"], 500.0, 2.0) == 500.0  # J per image as predicted
    # 8 accelerators at 500 J per image, 2 s per image each: 8 x 250 W = 2000 W
    power = kind("M2b", "system_power_w", conditions="the accelerators' power", accelerators=8)
    assert energy_value(power, 500.0, 2.0) == pytest.approx(2000.0)


def test_a_call_kind_is_one_cfg_branch_at_batch_one():
    setup = case_setup(FIGURES["Q1"])  # AI Hub UNet call, SD 2.1 base, w8a16
    assert isinstance(setup, CaseSetup)
    spec = setup.spec
    assert (spec.pipeline, spec.size, spec.batch, spec.cfg, spec.steps) == (
        "sd21-base",
        512,
        1,
        False,
        1,
    )
    assert (spec.dtype, spec.resolved_activation_dtype, setup.stack) == ("int8", "fp16", "qnn")


def test_a_pipeline_call_keeps_the_records_workload_and_says_what_it_assumed():
    setup = case_setup(FIGURES["E7"])  # ML.ENERGY SD 2.1, batch 4, resolution not stated
    spec = setup.spec
    assert (spec.size, spec.steps, spec.batch, spec.cfg, spec.dtype) == (768, 50, 4, True, "fp16")
    assert "precision not stated: fp16" in setup.assumptions
    assert "resolution not stated: the pipeline's native 768 px" in setup.assumptions
    mlperf = case_setup(FIGURES["M1"]).spec  # offline throughput: batch not stated
    assert mlperf.batch == 1 and "batch not stated: 1" in case_setup(FIGURES["M1"]).assumptions


def test_attention_as_the_source_names_it():
    assert case_setup(FIGURES["P4"]).spec.attention == "matmul"  # "default (non-SDPA)"
    assert case_setup(FIGURES["P2"]).spec.attention == "sdpa"  # bf16 + SDPA
    assert case_setup(FIGURES["A1"]).spec.attention == "matmul"  # Core ML SPLIT_EINSUM_V2
    assert case_setup(FIGURES["A7"]).spec.attention == "matmul"  # Core ML ORIGINAL


@pytest.mark.parametrize(
    ("figure_id", "reason"),
    [
        ("S2", "pipeline lcm-sd15: not in the architecture catalog"),
        ("S1", "stack streamdiffusion: no hardware profile describes it"),
        ("P3", "stack torchao+compile: no hardware profile describes it"),
        ("Q13", "stack qnn-onnx: the snapdragon-8gen3 profile lists qnn"),
        ("M2b", "power of the whole server at the wall"),
        ("A9", "includes loading the models from storage"),
    ],
)
def test_unpredictable_figures_carry_their_reason(figure_id, reason):
    result = case_setup(FIGURES[figure_id])
    assert isinstance(result, NotPredictable) and reason in result.reason


def test_load_time_rules_out_the_end_to_end_figure_only():
    assert isinstance(case_setup(FIGURES["A9"]), NotPredictable)  # e2e with reduceMemory
    assert isinstance(case_setup(FIGURES["A9b"]), CaseSetup)  # its denoising loop: predicted


# Read from the records: load time in the e2e (A8-A10), qnn-onnx (Q13-Q16), the whole server
# (M2b), torchao (P3), StreamDiffusion (S1, S1b) and LCM (S2, S2b).
UNPREDICTABLE = {
    "A8",
    "A9",
    "A10",
    "Q13",
    "Q14",
    "Q15",
    "Q16",
    "M2b",
    "P3",
    "S1",
    "S1b",
    "S2",
    "S2b",
}


def test_no_figure_is_dropped():
    results = {f.id: case_setup(f) for f in FIGURES.values()}
    assert set(results) == set(FIGURES)  # every figure is a case or a reason
    missing = {i for i, r in results.items() if isinstance(r, NotPredictable)}
    assert missing == UNPREDICTABLE
    assert all(r.reason for r in results.values() if isinstance(r, NotPredictable))
