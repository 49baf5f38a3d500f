"""Cameras, key sites and teams in a box; teams in clusters when the view holds too many."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from geo.cameras import view_sectors
from geo.casework.dispatch import list_teams
from geo.casework.read import Box
from geo.casework.scope import Actor
from geo.crs import to_metric
from geo.store import Store

INTERNAL_COLUMNS = ("stream_ref",)  # a camera's stream address: opaque, never published


def in_box(store: Store, layer: str, box: Box | None, view: bool = False) -> gpd.GeoDataFrame:
    """The cameras or key sites (`layer`) in `box`, without internal columns; `view` gives
    cameras as the area they see (a sector, or a circle for domes)."""
    frame = store.read_layer(layer)
    if box is not None:
        frame = frame[frame.intersects(shapely.box(*box))]
    if view and layer == "cameras" and len(frame):
        frame = frame.set_geometry(view_sectors(frame.geometry.x, frame.geometry.y,
                                                frame.heading_deg, frame.fov_deg, frame.range_m))
    return frame.drop(columns=[c for c in INTERNAL_COLUMNS if c in frame])


def teams_in_box(store: Store, actor: Actor, box: Box | None) -> list[dict]:
    """The teams `actor` may see at their last reported positions (home base if none), those
    in `box` when one is given."""
    rows = list_teams(store, actor)
    if box:
        rows = [r for r in rows if box[0] <= r["lon"] <= box[2] and box[1] <= r["lat"] <= box[3]]
    return rows


# Zoomed out, a city's teams are too many to draw one by one (38,000 at 200,000 grids): past
# this many in the view they come as clusters, one per square of the size the map asks for.
CLUSTER_FROM = 300
TEAM_STATUSES = ("available", "busy", "off_duty")


def team_clusters(rows: list[dict], cell_m: float) -> list[dict]:
    """The teams grouped by square of `cell_m` (EPSG:4551): per square its id, the mean
    position of its teams, their count and their count per status; in square order."""
    if not rows:
        return []
    lon = np.array([r["lon"] for r in rows])
    lat = np.array([r["lat"] for r in rows])
    x, y = to_metric(lon, lat)
    kx, ky = np.floor(x / cell_m).astype(np.int64), np.floor(y / cell_m).astype(np.int64)
    keys, group = np.unique(np.column_stack([kx, ky]), axis=0, return_inverse=True)
    group = group.ravel()
    count = np.bincount(group, minlength=len(keys))
    status = np.array([r["status"] for r in rows], dtype=object)
    by_status = {s: np.bincount(group[status == s], minlength=len(keys)) for s in TEAM_STATUSES}
    mean_lon = np.bincount(group, lon, len(keys)) / count
    mean_lat = np.bincount(group, lat, len(keys)) / count
    return [{"id": f"cluster-{int(a)}-{int(b)}", "lon": float(mean_lon[k]),
             "lat": float(mean_lat[k]), "cluster": True, "count": int(count[k]),
             **{s: int(by_status[s][k]) for s in TEAM_STATUSES}}
            for k, (a, b) in enumerate(keys)]
