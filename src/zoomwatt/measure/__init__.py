"""zoomwatt.measure."""
