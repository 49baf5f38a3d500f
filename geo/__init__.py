"""Spatial core of griddispatch: grids (网格), teams, cameras and key sites, and the storage behind them.

Nothing in this package imports the web layer (`api`) or the map pages (`maps`).
"""
