"""Shipped model architectures (configs, no weights) and the builder that makes modules of them.

- :mod:`zoomwatt.archs.catalog`: which pipelines and models ship, and their configs (JSON).
- :mod:`zoomwatt.archs.build`: ``build_model(pipeline, component, device="meta")``.
- :mod:`zoomwatt.archs.tiny`: a tiny random SD2 inpainting pipeline saved to disk, for tests.

Importing this package does not import torch; the submodules that need it do.
"""
