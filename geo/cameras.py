"""Which cameras can see a point: within range and inside the view sector (dome: all round)."""

from __future__ import annotations

import numpy as np
import shapely

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


def view_sectors(cam_lon, cam_lat, heading_deg, fov_deg, range_m, arc_points: int = 12):
    """Polygons (WGS-84) of what cameras see: a geodesic sector of `fov` around `heading` out
    to `range`, or a full circle for a dome. Drawn on maps; `visible` answers the question."""
    cam_lon = np.asarray(cam_lon, float)
    cam_lat = np.asarray(cam_lat, float)
    fov = np.minimum(np.asarray(fov_deg, float), 360.0)
    heading = np.nan_to_num(np.asarray(heading_deg, float), nan=0.0)
    dome = fov >= 360.0
    steps = np.linspace(-0.5, 0.5, arc_points + 1)
    azimuths = heading[:, None] + fov[:, None] * steps[None, :]  # (n, arc_points + 1)
    n, m = azimuths.shape
    reach = np.repeat(np.asarray(range_m, float), m)
    lon, lat, _ = GEOD.fwd(np.repeat(cam_lon, m), np.repeat(cam_lat, m), azimuths.ravel(), reach)
    arc = np.stack([np.asarray(lon).reshape(n, m), np.asarray(lat).reshape(n, m)], axis=-1)
    apex = np.stack([cam_lon, cam_lat], axis=-1)[:, None, :]
    # A sector is apex → arc → apex; a dome's ring is the arc alone, closed on itself.
    rings = [a[:-1] if d else np.concatenate([p, a]) for a, p, d in zip(arc, apex, dome, strict=True)]
    return np.array([shapely.Polygon(r) for r in rings], dtype=object)
