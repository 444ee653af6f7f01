"""The evidence set: published measurements that the predictions are checked against.

``load_published()`` returns every figure of ``data/published.yaml`` as a checked
:class:`PublishedFigure`. The package sits at the layer of ``optimizer`` and ``measurement``: it
may import ``hardware``, ``perfmodel`` and ``workload``; only ``reporting``, ``cli`` and ``api``
import it.
"""

from __future__ import annotations

from zoomwatt.evidence.published import (
    DATA_FILE,
    PIPELINES,
    PRECISIONS,
    STACKS,
    TIMED_UNITS,
    PublishedFigure,
    load_published,
    parse_published,
)

__all__ = [
    "DATA_FILE",
    "PIPELINES",
    "PRECISIONS",
    "STACKS",
    "TIMED_UNITS",
    "PublishedFigure",
    "load_published",
    "parse_published",
]
