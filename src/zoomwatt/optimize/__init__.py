"""zoomwatt.optimize."""
