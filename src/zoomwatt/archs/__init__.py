"""zoomwatt.archs."""
