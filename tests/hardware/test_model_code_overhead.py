"""The host's per-kernel overhead as the pipeline's own code issues it: the tiny models'
calls over their counted kernels (the timing itself is a machine's; here it is a stand-in)."""

from __future__ import annotations

import pytest

from zoomwatt.hardware import model_code_overhead as mco


def test_the_overhead_is_the_calls_time_over_their_kernels(monkeypatch):
    times = iter([0.004, 0.012, 0.002])  # s: text encoder, UNet, VAE decoder (stand-ins)
    monkeypatch.setattr(mco, "typical_time", lambda fn, sync, min_time_s: next(times))
    result = mco.model_code_overhead(lambda: None, 0.01)
    names = [name for name, _, _ in result.calls]
    assert names == ["text encoder", "UNet", "VAE decoder"]
    kernels = [k for _, _, k in result.calls]
    assert all(k > 20 for k in kernels)  # every call is tens of kernels (2 layers, 2 levels)
    # (4 + 12 + 2) ms over all counted kernels
    assert result.seconds_per_kernel == pytest.approx(0.018 / sum(kernels), rel=1e-12)
    text = result.describe()
    assert text.startswith(f"{1e6 * 0.018 / sum(kernels):.1f} us per kernel (text encoder ")
    assert f"UNet {1e6 * 0.012 / kernels[1]:.0f} us" in text


def test_the_calls_run(monkeypatch):
    """Each call runs (the stand-in timer calls it once)."""
    ran = []

    def once(fn, sync, min_time_s):
        ran.append(fn())
        return 1e-3

    monkeypatch.setattr(mco, "typical_time", once)
    mco.model_code_overhead(lambda: None, 0.01)
    assert len(ran) == 3 and all(out is not None for out in ran)


def test_no_counted_kernel_is_not_a_figure(monkeypatch):
    """A call the tracer counts no kernel in gives no per-kernel figure (not seconds per call)."""
    from zoomwatt.errors import NotMeasurableError
    from zoomwatt.workload import records

    monkeypatch.setattr(mco, "typical_time", lambda fn, sync, min_time_s: 1e-3)
    monkeypatch.setattr(records.LayerRecord, "is_kernel", property(lambda self: False))
    with pytest.raises(NotMeasurableError, match="counted no kernels in the tiny text encoder"):
        mco.model_code_overhead(lambda: None, 0.01)
