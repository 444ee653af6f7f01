"""Shipped model architectures (configs, no weights) and the builder that makes modules of them.

- :mod:`zoomwatt.archs.catalog`: which pipelines and models ship, and their configs (JSON).
- :mod:`zoomwatt.archs.pipelines`: each pipeline as a ``PipelineSpec`` (components, kind,
  native size, default steps and guidance, prediction type, extra UNet conditioning).
- :mod:`zoomwatt.archs.calls`: the model calls per picture and example inputs for tracing one.
- :mod:`zoomwatt.archs.model_dir`: ``--model DIR``, a local diffusers folder read as a
  ``PipelineSpec`` from its JSON configs alone.
- :mod:`zoomwatt.archs.build`: ``build_model(pipeline, component, device="meta")``,
  ``build_component(spec, component)``.
- :mod:`zoomwatt.archs.tiny`: a tiny random SD2 inpainting pipeline saved to disk, for tests.

Importing this package does not import torch; the submodules that need it do.
"""
