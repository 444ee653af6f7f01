"""The software stacks' figures fitted to the published measurements, with their held-out error.

Per software stack, two parameters, the same for every device that runs it: one multiplier on
the efficiency of every op class (capped at 1) and one overhead figure (the kernel overhead; for
eager PyTorch the host's time to issue a kernel, see
:mod:`~zoomwatt.evidence.case_model`). No parameter per device or per case: a device's own
figures cannot be held out.

The fit (:func:`fit_stacks`) is a deterministic grid search: the grid point with the smallest
mean |ln(predicted / published)| over the stack's latency figures, each device weighing the same
(the mean over its figures), the first such point in grid order on a tie. A stack is fitted only
where its figures cover at least :data:`MIN_DEVICES` devices, so that it can be held out.

Held out, leave-one-device-out: for each device, the stack's parameters are fitted again on the
other devices' figures (the prior where fewer than :data:`MIN_DEVICES` remain) and predict the
device's figures. The fitted parameters are used (:attr:`StackFit.applied`) only where they
predict the held-out devices better than the profiles' own figures do (the same mean, held
out); elsewhere the stack keeps the profiles' figures, and says so.

``python -m zoomwatt.evidence.fit_stacks --write`` writes the shipped files from a fresh fit
(:mod:`zoomwatt.evidence.shipped_files`); ``--check`` says whether they are up to date.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from zoomwatt.evidence.case_model import (
    MULTIPLIERS,
    OVERHEAD_FIGURE,
    OVERHEADS_US,
    CaseModel,
    StackParameters,
)

#: A stack is fitted only to figures of at least this many devices (so one can be held out).
MIN_DEVICES = 2


@dataclass(frozen=True)
class StackFit:
    """One stack's fit: on every device, and leave-one-device-out."""

    stack: str
    devices: tuple[str, ...]  # devices with latency figures of the stack
    figure_ids: tuple[str, ...]
    fitted: StackParameters | None  # fitted to every device (None: too few devices)
    held_out_fits: dict[str, StackParameters] = field(
        default_factory=dict
    )  # device -> fit without it
    held_out_loss: float | None = None  # device-weighted mean |ln(pred/pub)|, fitted, held out
    prior_loss: float = 0.0  # the same with the profiles' own figures

    @property
    def prior(self) -> StackParameters:
        return StackParameters(self.stack)

    @property
    def applied(self) -> bool:
        """Whether the fitted figures predict the held-out devices better than the prior."""
        return self.held_out_loss is not None and self.held_out_loss < self.prior_loss

    @property
    def in_sample(self) -> StackParameters:
        """What the shipped figures are: the fit on every device, or the prior."""
        return self.fitted if self.applied and self.fitted is not None else self.prior

    def held_out(self, device: str) -> StackParameters:
        """The parameters that predict ``device`` without having seen it."""
        return self.held_out_fits[device] if self.applied else self.prior


@dataclass(frozen=True)
class FitResult:
    stacks: dict[str, StackFit]

    def in_sample(self, stack: str) -> StackParameters:
        fit = self.stacks.get(stack)
        return fit.in_sample if fit is not None else StackParameters(stack)

    def held_out(self, stack: str, device: str) -> StackParameters:
        fit = self.stacks.get(stack)
        return fit.held_out(device) if fit is not None else StackParameters(stack)


def _loss(cases: Sequence[CaseModel], errors: dict[str, np.ndarray]) -> np.ndarray:
    """Device-weighted mean of |ln(pred/pub)| over ``cases``, at every grid point."""
    devices = sorted({c.figure.device for c in cases})
    total = 0.0
    for device in devices:
        mine = [errors[c.figure.id] for c in cases if c.figure.device == device]
        total = total + sum(mine) / len(mine)
    return total / len(devices)


def _grid_fit(stack: str, cases: Sequence[CaseModel], errors: dict[str, np.ndarray]):
    """The best grid point for ``cases`` (a StackParameters), None with too few devices."""
    if len({c.figure.device for c in cases}) < MIN_DEVICES:
        return None
    loss = _loss(cases, errors)
    i, j = np.unravel_index(int(np.argmin(loss)), loss.shape)
    return StackParameters(stack).with_grid_point(int(i), int(j))


def _point_error(case: CaseModel, params: StackParameters, errors, priors) -> float:
    """|ln(pred/pub)| of ``case`` with ``params`` (a grid point, or the prior)."""
    if params.is_prior:
        return priors[case.figure.id]
    overhead = getattr(params, f"{OVERHEAD_FIGURE.get(params.stack, 'kernel_overhead')}_us")
    i, j = MULTIPLIERS.index(params.efficiency_multiplier), OVERHEADS_US.index(overhead)
    return float(errors[case.figure.id][i, j])


def _device_mean(cases, device_params, errors, priors) -> float:
    """Device-weighted mean |ln(pred/pub)| with each device's parameters."""
    per_device = []
    for device in sorted({c.figure.device for c in cases}):
        mine = [c for c in cases if c.figure.device == device]
        params = device_params(device)
        per_device.append(np.mean([_point_error(c, params, errors, priors) for c in mine]))
    return float(np.mean(per_device))


def fit_stack(stack: str, cases: Sequence[CaseModel], errors, priors) -> StackFit:
    """Fit ``stack`` to ``cases`` (its latency cases) and hold each device out.
    ``errors``: id -> |ln(pred/pub)| on the grid; ``priors``: id -> the same for the prior."""
    devices = tuple(sorted({c.figure.device for c in cases}))
    fitted = _grid_fit(stack, cases, errors)
    held = {}
    for device in devices:
        rest = [c for c in cases if c.figure.device != device]
        held[device] = _grid_fit(stack, rest, errors) or StackParameters(stack)
    prior_loss = _device_mean(cases, lambda d: StackParameters(stack), errors, priors)
    held_loss = None
    if fitted is not None:
        held_loss = _device_mean(cases, held.__getitem__, errors, priors)
    ids = tuple(c.figure.id for c in cases)
    return StackFit(stack, devices, ids, fitted, held, held_loss, prior_loss)


def fit_stacks(models: Sequence[CaseModel]) -> FitResult:
    """Fit every stack's parameters to the latency cases of ``models``, held out and not."""
    latency = [m for m in models if m.is_latency]
    errors, priors = {}, {}
    for m in latency:
        published = m.figure.value_si
        errors[m.figure.id] = np.abs(np.log(m.grid_values() / published))
        priors[m.figure.id] = abs(
            float(np.log(m.value(StackParameters(m.setup.stack)) / published))
        )
    stacks = sorted({m.setup.stack for m in latency})
    fits = {}
    for stack in stacks:
        cases = [m for m in latency if m.setup.stack == stack]
        fits[stack] = fit_stack(stack, cases, errors, priors)
    return FitResult(fits)


def main(argv: list[str] | None = None) -> int:
    """``python -m zoomwatt.evidence.fit_stacks [--write | --check]``."""
    from zoomwatt.evidence import shipped_files

    parser = argparse.ArgumentParser(
        prog="python -m zoomwatt.evidence.fit_stacks",
        description="Fit the software stacks' figures to the published measurements "
        "(leave-one-device-out) and write or check the shipped fitted figures.",
    )
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--write", action="store_true", help="write the shipped files")
    what.add_argument("--check", action="store_true", help="exit 1 if they are not up to date")
    args = parser.parse_args(argv)
    texts = shipped_files.fresh_texts()
    if args.write:
        for path in shipped_files.write(texts):
            print(f"fit_stacks: wrote {path}")
        return 0
    stale = shipped_files.stale(texts)
    for path in stale:
        print(f"fit_stacks: {path} differs from a fresh fit", file=sys.stderr)
    if args.check:
        return 1 if stale else 0
    print(texts[shipped_files.FITTED_FILE], end="")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
