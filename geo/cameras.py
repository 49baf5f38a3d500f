"""Which cameras can see a point: within range and inside the view sector (dome: all round)."""

from __future__ import annotations

import numpy as np

from geo.crs import GEOD

MAX_RANGE_M = 5000.0  # the schema caps camera range; also the search radius


def angle_off_heading(bearing_deg, heading_deg) -> np.ndarray:
    """Absolute difference between a bearing and a heading, in 0..180 degrees."""
    return np.abs((np.asarray(bearing_deg) - np.asarray(heading_deg) + 540.0) % 360.0 - 180.0)


def visible(cam_lon, cam_lat, heading_deg, fov_deg, range_m, lon: float, lat: float):
    """For arrays of cameras: (mask of those seeing the point, geodesic distance, bearing)."""
    cam_lon = np.asarray(cam_lon, float)
    cam_lat = np.asarray(cam_lat, float)
    bearing, _, distance = GEOD.inv(
        cam_lon, cam_lat, np.full_like(cam_lon, lon), np.full_like(cam_lat, lat)
    )
    bearing = np.asarray(bearing) % 360.0
    distance = np.asarray(distance)
    fov = np.asarray(fov_deg, float)
    heading = np.nan_to_num(np.asarray(heading_deg, float), nan=0.0)
    in_sector = (fov >= 360.0) | (angle_off_heading(bearing, heading) <= fov / 2.0)
    return (distance <= np.asarray(range_m, float)) & in_sector, distance, bearing
