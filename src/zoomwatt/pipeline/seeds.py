"""One base seed, a distinct reproducible seed per keyframe.

The public notebooks reuse one seed (even the same noise) for every keyframe, which repeats
texture at each zoom level. Here keyframe ``i`` gets the first 32-bit word of NumPy's
``SeedSequence(base_seed, spawn_key=(i,))``: a documented, platform-independent hash, so the
same base seed and index always give the same seed and different indices give unrelated ones.
"""

from __future__ import annotations

import numpy as np


def keyframe_seed(base_seed: int, keyframe_index: int) -> int:
    """The seed of keyframe ``keyframe_index`` (0 = the first) under ``base_seed``."""
    sequence = np.random.SeedSequence(entropy=base_seed, spawn_key=(keyframe_index,))
    return int(sequence.generate_state(1, dtype=np.uint32)[0])
