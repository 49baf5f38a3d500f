"""Cameras, key sites and teams in a box."""

from __future__ import annotations

import geopandas as gpd
import shapely

from geo.cameras import view_sectors
from geo.casework.dispatch import list_teams
from geo.casework.read import Box
from geo.casework.scope import Actor
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
