"""zoomwatt.perfmodel."""
