"""HTTP service and command line of griddispatch."""
