"""zoomwatt.pipeline."""
