"""A page of current grids (网格) in a box or a street, with the open issues in each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import shapely

from geo.casework.read import Box, open_load
from geo.casework.scope import Actor
from geo.codes import LENGTHS
from geo.simplify import simplified
from geo.store import Store
from geo.store.base import valid_grids


@dataclass(frozen=True)
class GridPage:
    """One page of grids (ordered by code) and how many match in all."""

    rows: list[dict]  # code, name, community_code, households
    geoms: np.ndarray  # WGS84, simplified as asked
    load: dict[str, dict]  # per grid code with open issues: open, yellow, overdue, worst_light
    matched: int


def grid_page(store: Store, actor: Actor, box: Box | None, street: str | None, limit: int,
              offset: int, now: datetime, simplify_m: float = 0.0) -> GridPage:
    """Current grids intersecting `box` (by bounding box) and in `street`, a page of them,
    with the open issues in each that `actor` may see, read in one snapshot."""
    with store.snapshot() as tx:
        d = tx.dialect
        cond, params = [valid_grids(None, "g")], {}
        if box:
            cond.append(d.polygon_in_bbox("g"))
            params.update(zip(("bbox_minx", "bbox_miny", "bbox_maxx", "bbox_maxy"), box,
                              strict=True))
        if street:
            cond.append(f"substr(g.code, 1, {LENGTHS['street']}) = :street")
            params["street"] = street
        where = " AND ".join(cond)
        matched = tx.one(f"SELECT count(*) AS n FROM grid g WHERE {where}", params)["n"]
        rows = tx.rows(f"SELECT g.code, g.name, g.community_code, g.households, "
                       f"{d.wkb('g.geom')} AS wkb FROM grid g WHERE {where} ORDER BY g.code "
                       "LIMIT :limit OFFSET :offset", {**params, "limit": limit, "offset": offset})
        load = open_load(tx, actor, "grid", [r["code"] for r in rows], now)
    geoms = simplified(shapely.from_wkb([bytes(r.pop("wkb")) for r in rows]), simplify_m)
    return GridPage(rows, geoms, load, int(matched))
