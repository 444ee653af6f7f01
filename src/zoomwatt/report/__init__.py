"""zoomwatt.report."""
