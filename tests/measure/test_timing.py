"""Timing: warm-up excluded, median of repeats (fake clock), hooks per call and per layer."""

from __future__ import annotations

import pytest
import torch

from zoomwatt.errors import InputError
from zoomwatt.measurement import CallTimer, summarize, time_layers, time_repeats


class FakeClock:
    """Each call of the timed function advances time by the next duration in the list."""

    def __init__(self, durations):
        self.now = 0.0
        self.durations = list(durations)

    def __call__(self):
        return self.now

    def tick(self):
        self.now += self.durations.pop(0)


def test_warmup_is_excluded_and_the_median_reported():
    clock = FakeClock([10.0, 1.0, 3.0, 2.0])
    timing = time_repeats(clock.tick, warmup=1, repeats=3, clock=clock)
    assert timing.warmup_s == (10.0,)
    assert timing.samples_s == (1.0, 3.0, 2.0)
    assert timing.median_s == 2.0 and timing.min_s == 1.0 and timing.max_s == 3.0
    assert timing.repeats == 3


def test_sync_is_called_around_each_call():
    calls = []
    time_repeats(lambda: calls.append("fn"), warmup=0, repeats=2, sync=lambda: calls.append("s"))
    assert calls == ["s", "fn", "s", "s", "fn", "s"]


@pytest.mark.parametrize("kwargs", [{"repeats": 0}, {"warmup": -1}, {"repeats": True}])
def test_bad_repeat_counts(kwargs):
    with pytest.raises(InputError):
        time_repeats(lambda: None, **kwargs)


def test_summarize_needs_samples():
    with pytest.raises(InputError, match="samples_s"):
        summarize([])


def _tiny_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.SiLU(), torch.nn.Conv2d(4, 2, 1)
    )


def test_call_timer_times_each_call():
    model = _tiny_model()
    x = torch.randn(1, 3, 8, 8)
    with CallTimer(model) as timer:
        model(x)
        model(x)
    model(x)  # detached: not timed
    samples = timer.take()
    assert len(samples) == 2 and all(s > 0 for s in samples)
    assert timer.samples_s == []


def test_time_layers_every_leaf_with_warmup_excluded():
    model = _tiny_model()
    x = torch.randn(1, 3, 8, 8)
    ticks = iter(range(10_000))
    layers = time_layers(
        model, lambda: model(x), warmup=2, repeats=3, clock=lambda: float(next(ticks))
    )
    assert [la.module for la in layers] == ["0", "1", "2"]
    assert [la.kind for la in layers] == ["Conv2d", "SiLU", "Conv2d"]
    for la in layers:
        assert la.timing.repeats == 3  # warm-up calls not among the samples
        assert la.calls_per_model_call == 1
        assert la.timing.median_s == 1.0  # one fake tick between pre and post hook
    # hooks are removed afterwards
    assert not any(m._forward_hooks for m in model.modules())


def test_disturbed_samples_are_left_out_unless_all_are():
    from zoomwatt.measurement.timing import summarize_undisturbed

    t = summarize_undisturbed([1.0, 5.0, 1.2, 1.1], [0.95, 0.4, 0.9, None])
    assert t.samples_s == (1.0, 1.2, 1.1) and t.disturbed_s == (5.0,)
    assert t.median_s == 1.1
    every = summarize_undisturbed([4.0, 5.0], [0.5, 0.4])
    assert every.samples_s == (4.0, 5.0) and every.disturbed_s == ()
    with pytest.raises(InputError, match="cpu_shares"):
        summarize_undisturbed([1.0], [])
