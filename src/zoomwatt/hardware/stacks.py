"""Which software stack a prediction stands for, and that stack's figures.

A hardware profile describes a chip as its default stack runs it (``default_stack``: eager
PyTorch for the NVIDIA and CPU profiles, Core ML for Apple, QNN for Snapdragon, OpenVINO for the
Intel NPU); its ``stacks`` section says what each other stack changes (efficiencies per op
class, the per-kernel overhead, fusion; :class:`~zoomwatt.hardware.schema.SoftwareStack`).
:func:`resolve_stack` picks the stack a prediction asks for (None: the default) and lays over it
the figures fitted to the published measurements, which live apart from the profiles in
:data:`FITTED_FILE` (every number ``fitted:``, written by the fit against the evidence set,
``zoomwatt validate``). Fitted figures apply to the shipped profile of their name only: a
user's edited copy is another device. They apply to the default stack too, where they stand in
for the ``compute`` section's estimates (``fitted=False``, ``DeviceOptions(fitted_stacks=
False)``, gives the profile's own figures). They are written by ``python -m
zoomwatt.evidence.fit_stacks --write``, each with the held-out error of its fit.

The file sits beside the profiles it is laid over (``zoomwatt/hardware/data``); the evidence
package writes it and this module reads it as data, so neither the hardware layer nor the
performance model imports the evidence package (``zoomwatt hardware show`` shows the figures
without loading the model).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from zoomwatt.hardware.loader import PROFILE_DIR
from zoomwatt.hardware.schema import HardwareProfile, SoftwareStack, parse_fitted_stacks
from zoomwatt.hardware.yaml_io import load_yaml_mapping

FITTED_FILE = Path(__file__).resolve().parent / "data" / "fitted_stacks.yaml"


@lru_cache(maxsize=4)
def load_fitted_stacks(path: str | Path = FITTED_FILE) -> dict[str, dict[str, SoftwareStack]]:
    """Profile name -> stack name -> fitted figures, from ``path`` (checked; read once)."""
    return parse_fitted_stacks(load_yaml_mapping(path, "a fitted-stacks file"), str(path))


def is_shipped(profile: HardwareProfile) -> bool:
    """Whether ``profile`` is the shipped file of its name (not a user's copy, not ``host``)."""
    return profile.origin == str(PROFILE_DIR / f"{profile.name}.yaml")


def with_fitted(profile: HardwareProfile, path: str | Path | None = None) -> HardwareProfile:
    """``profile`` with all the fitted figures of its name laid over its stacks (shipped
    profiles only; for showing and checking them); an :class:`~zoomwatt.errors.InputError` if
    they name a stack it does not list."""
    path = FITTED_FILE if path is None else path
    fitted = load_fitted_stacks(path).get(profile.name)
    if not fitted or not is_shipped(profile):
        return profile
    return profile.with_fitted(fitted, f"{Path(path).name}: profiles.{profile.name}")


def resolve_stack(
    profile: HardwareProfile, name: str | None = None, *, fitted: bool = True
) -> SoftwareStack:
    """The stack ``name`` of ``profile`` (None: its default stack), with its fitted figures
    when ``fitted`` and ``profile`` is the shipped one; an :class:`~zoomwatt.errors.InputError`
    naming the stacks the profile has for a stack it does not list."""
    stack = profile.stack(name)
    if not fitted or not is_shipped(profile):
        return stack
    extra = load_fitted_stacks(FITTED_FILE).get(profile.name, {}).get(stack.name)
    return stack if extra is None else stack.merged(extra)
