"""Where a map page starts (the extent of the user's streets) and how large the areas of each
level are: the page draws the finest level of which not too many fit in its view."""

from __future__ import annotations

import geopandas as gpd

from geo.casework.scope import Actor
from geo.codes import LENGTHS, at_level
from geo.crs import METRIC_EPSG
from geo.store import Store

Bounds = tuple[float, float, float, float]  # west, south, east, north (WGS84)
_LEVEL_TABLES = (("grids", "grid", " WHERE valid_to IS NULL"), ("communities", "community", ""),
                 ("streets", "street", ""))


def area_levels(store: Store, streets: gpd.GeoDataFrame) -> list[dict]:
    """Grids, communities and streets with their mean area in m² (EPSG:4551), finest first."""
    city_m2 = float(streets.to_crs(METRIC_EPSG).area.sum())
    with store.snapshot() as tx:
        counts = {level: tx.one(f"SELECT count(*) AS n FROM {table}{where}")["n"]
                  for level, table, where in _LEVEL_TABLES}
    return [{"level": level, "mean_m2": round(city_m2 / max(int(n), 1))}
            for level, n in counts.items()]


def jurisdiction_bounds(streets: gpd.GeoDataFrame, actor: Actor) -> Bounds:
    """The extent of the streets in `actor`'s jurisdiction (the whole city for admins, or when
    the jurisdiction names no street we hold)."""
    if actor.role != "admin" and actor.jurisdiction:
        mine = streets[streets.code.isin(actor.jurisdiction) |
                       streets.code.str[:LENGTHS["district"]].isin(actor.jurisdiction)]
        if len(mine):
            streets = mine
    return tuple(float(v) for v in streets.total_bounds)


def street_bounds(streets: gpd.GeoDataFrame, area_code: str) -> Bounds:
    """The extent of the street holding `area_code` (the whole city when it holds none)."""
    mine = streets[streets.code == at_level(area_code, "street")]
    return tuple(float(v) for v in (mine if len(mine) else streets).total_bounds)
