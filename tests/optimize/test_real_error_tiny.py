"""Real quantization, pruning and weight sharing on the tiny SD2 UNet (CI), error measured."""

from __future__ import annotations

import math

import pytest
import torch

from zoomwatt.errors import InputError
from zoomwatt.optimizer.real_error import (
    CHOICES,
    measure_choices,
    share_model,
    snr_db,
    unet_inputs,
    weight_layers,
)


def test_snr_by_hand():
    ref = torch.tensor([3.0, 4.0])  # signal 25
    out = torch.tensor([3.0, 4.5])  # noise 0.25 -> 10 log10(100) = 20 dB
    assert snr_db(ref, out) == pytest.approx(20.0)
    assert snr_db(ref, ref) == math.inf


@pytest.fixture(scope="module")
def one_thread():
    """Tiny tensors run faster on one thread, and do not stall when other jobs share the CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_errors(tiny_unet, one_thread):
    inputs = unet_inputs(tiny_unet, 8)
    with torch.no_grad():
        before = tiny_unet(*inputs).sample.clone()
    errors = {e.choice: e for e in measure_choices(tiny_unet, inputs)}
    with torch.no_grad():
        after = tiny_unet(*inputs).sample
    return errors, before, after


def test_every_choice_measured_and_weights_restored(tiny_errors, tiny_unet):
    errors, before, after = tiny_errors
    assert set(errors) == set(CHOICES)
    assert torch.equal(before, after)  # the model is unchanged afterwards
    n_layers = len(weight_layers(tiny_unet))
    for e in errors.values():
        assert e.error_db == pytest.approx(-e.snr_db)
        assert e.layers_changed + e.layers_skipped == n_layers
        assert e.max_abs_error > 0


def test_error_ordering(tiny_errors):
    errors, _, _ = tiny_errors
    snr = {k: e.snr_db for k, e in errors.items()}
    assert snr["fp16"] > snr["w8a16"] > snr["w4a16"]  # fewer bits, more error
    assert snr["w8a16"] > snr["w8a8"]  # quantizing activations too adds error
    assert snr["share6"] > snr["share4"]  # more shared values, less error
    assert snr["fp16"] > 40
    # 2:4 cannot apply to conv_in (9 input channels)
    assert errors["2:4"].layers_skipped >= 1


def test_share_model_per_layer(tiny_unet, one_thread):
    rows = share_model(tiny_unet, 4, max_layers=5)
    assert len(rows) == 5
    for r in rows:
        # n x 4 + 16 x 16 bits against n x 16
        assert r.shared_bits == r.n_weights * 4 + 256
        assert r.compression_ratio == pytest.approx(r.n_weights * 16 / r.shared_bits)


def test_combined_choice_is_about_the_sum_of_its_noises(tiny_unet, tiny_errors, one_thread):
    from zoomwatt.optimizer.error_table import combine_db

    errors, _, _ = tiny_errors
    (combo,) = measure_choices(tiny_unet, unet_inputs(tiny_unet, 8), ["share6+w8a8"])
    predicted = combine_db([errors["share6"].error_db, errors["w8a8"].error_db])
    # the search adds noise powers; measured and added agree within 3 dB here
    assert abs(combo.error_db - predicted) < 3.0
    assert combo.error_db > max(errors["share6"].error_db, errors["w8a8"].error_db) - 0.5


def test_split_choice():
    from zoomwatt.optimizer.real_error import split_choice

    assert split_choice("w8a16+2:4") == ["2:4", "w8a16"]
    assert split_choice("w4a8+share4+prune50") == ["prune50", "share4", "w4a8"]
    with pytest.raises(InputError, match="choice"):
        split_choice("w8a8+w4a8")


def test_unknown_choice(tiny_unet):
    with pytest.raises(InputError, match="choice"):
        measure_choices(tiny_unet, unet_inputs(tiny_unet, 8), ["int3"])
