"""Geometry simplified for a map's zoom level, with the tolerance in metres."""

from __future__ import annotations

import numpy as np
import shapely

from geo.crs import geoms_from_metric, geoms_to_metric


def simplified(geoms, tolerance_m: float) -> np.ndarray:
    """Geometries simplified in metres (EPSG:4551, topology kept), for a map's zoom level."""
    geoms = np.asarray(geoms, dtype=object)
    if tolerance_m <= 0:
        return geoms
    flat = shapely.simplify(geoms_to_metric(geoms), tolerance_m, preserve_topology=True)
    return geoms_from_metric(flat)
