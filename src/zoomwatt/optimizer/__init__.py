"""The article's optimizations as what-ifs: real where possible, predicted everywhere.

Typical use::

    from zoomwatt.optimizer import OptimizeOptions, explore

    result = explore("jetson-orin-nano", OptimizeOptions(target_fps=30.0))
    result.baseline, result.pareto, result.best, result.to_dict()

Techniques, each also usable alone: :mod:`.quantize` and :mod:`.prune` (real, on tensors),
:mod:`.real_error` (apply to a model, measure the output error), :mod:`.weight_sharing`
(k-means, the 512 -> 160 bits example), :mod:`.compressed_table` (predicted bytes and dtypes),
:mod:`.offchip` (tiling and loop-order search), :mod:`.frequency` (DVFS, layer-wise frequency),
:mod:`.search` (every combination, vectorized).
"""

from __future__ import annotations

from zoomwatt.optimizer.results import Candidate, ExploreResult
from zoomwatt.optimizer.search import OptimizeOptions, SearchSpace, explore

__all__ = ["Candidate", "ExploreResult", "OptimizeOptions", "SearchSpace", "explore"]
