"""The off-chip and frequency studies on the pipeline's model stages, as summaries for
``explore`` and ``zoomwatt optimize --study``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from zoomwatt.hardware.schema import HardwareProfile
from zoomwatt.optimizer.frequency import FrequencyStudy, frequency_study
from zoomwatt.optimizer.offchip import (
    ROW_ACTIVATION_J,
    ROW_BYTES,
    OffChipStudy,
    mobilenet_shapes,
    shapes_from_table,
    study_shapes,
    vgg16_shapes,
)
from zoomwatt.optimizer.results import to_jsonable
from zoomwatt.perfmodel import DeviceParams, build_layer_table, layer_costs
from zoomwatt.perfmodel.stage import Stage

# Eyeriss (Chen et al., ISSCC 2016): 108 KB global buffer; used for the VGG-16/MobileNet check
CNN_ACCELERATOR_BUFFER_BYTES = 108 * 1024
# ROMANet (arXiv 1902.10222), DRAM energy saved over its baseline schedule
ROMANET_PUBLISHED_SAVING = {"AlexNet": 0.12, "VGG-16": 0.36, "MobileNet": 0.46}


def layer_calls(stages: Sequence[Stage]) -> np.ndarray:
    """Calls per keyframe of every layer (its stage's calls)."""
    return np.concatenate([np.full(len(s.layers), s.calls_per_keyframe) for s in stages])


def pipeline_offchip(stages: Sequence[Stage], profile: HardwareProfile) -> OffChipStudy:
    """Naive vs searched schedules of the conv/linear layers that run per keyframe."""
    table = build_layer_table(stages)
    calls = layer_calls(stages)
    shapes, idx = shapes_from_table(table)
    keep = [k for k, i in enumerate(idx) if calls[i] > 0]
    return study_shapes(
        [shapes[k] for k in keep],
        profile.on_chip_buffer.si,
        profile.dram_energy.si,
        [float(calls[idx[k]]) for k in keep],
    )


def offchip_summary(
    stages: Sequence[Stage], profile: HardwareProfile, params: DeviceParams
) -> dict[str, Any]:
    """Per keyframe: DRAM bytes and energy of the conv/linear layers, naive vs searched vs the
    performance model's assumption; and the VGG-16 / MobileNet sanity check."""
    # 1. the pipeline
    study = pipeline_offchip(stages, profile)
    table = build_layer_table(stages)
    calls = layer_calls(stages)
    _, idx = shapes_from_table(table)
    costs = layer_costs(table, params)
    model_bytes = float(np.sum(costs.dram_bytes[idx] * calls[idx]))
    # 2. the sanity check on CNN shapes (8-bit data, 108 KB buffer)
    sanity = {}
    for name, shapes in (("VGG-16", vgg16_shapes()), ("MobileNet", mobilenet_shapes())):
        s = study_shapes(shapes, CNN_ACCELERATOR_BUFFER_BYTES, profile.dram_energy.si)
        sanity[name] = {
            "naive_dram_bytes": s.naive_dram_bytes,
            "searched_dram_bytes": s.searched_dram_bytes,
            "energy_saving": s.energy_saving,
            "published_saving": ROMANET_PUBLISHED_SAVING[name],
        }
    worst = sorted(
        study.layers, key=lambda la: -(la.naive.dram_energy_j - la.searched.dram_energy_j)
    )[:5]
    return {
        "buffer_bytes": study.buffer_bytes,
        "row_bytes": ROW_BYTES,
        "row_activation_j": ROW_ACTIVATION_J,
        "layers": len(study.layers),
        "per_keyframe": {
            "naive_dram_bytes": study.naive_dram_bytes,
            "searched_dram_bytes": study.searched_dram_bytes,
            "lower_bound_bytes": study.lower_bound_bytes,
            "model_assumed_dram_bytes": model_bytes,
            "naive_dram_energy_j": study.naive_dram_energy_j,
            "searched_dram_energy_j": study.searched_dram_energy_j,
            "naive_row_miss_energy_j": study.naive_row_miss_energy_j,
            "searched_row_miss_energy_j": study.searched_row_miss_energy_j,
            "energy_saving": study.energy_saving,
            "bytes_saving": study.bytes_saving,
        },
        "largest_savings": [to_jsonable(la) for la in worst],
        "sanity_check": sanity,
        "note": "the performance model (and the search) assume weights read once and "
        "activations spilled only beyond the buffer; model_assumed_dram_bytes is that figure "
        "for the same layers",
    }


def pipeline_frequency(
    stages: Sequence[Stage], profile: HardwareProfile, params: DeviceParams
) -> list[FrequencyStudy]:
    """Under the profile's power cap, and for least energy at the nominal latency."""
    table = build_layer_table(stages)
    calls = layer_calls(stages)
    capped = frequency_study(table, calls, profile, params)
    nominal_latency = capped.plans[0].latency_s
    same_time = frequency_study(table, calls, profile, params, latency_target_s=nominal_latency)
    return [capped, same_time]


def frequency_summary(
    stages: Sequence[Stage], profile: HardwareProfile, params: DeviceParams
) -> list[dict[str, Any]]:
    return [
        to_jsonable(s) | {"saving": s.saving} for s in pipeline_frequency(stages, profile, params)
    ]
