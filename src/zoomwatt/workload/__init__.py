"""zoomwatt.workload."""
