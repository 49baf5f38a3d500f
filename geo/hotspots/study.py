"""A study: the reports and the area one analysis covers, as the caller may see them, and the
bins its statistics use."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd

from geo.casework.errors import NotFound
from geo.casework.scope import Actor
from geo.crs import area_m2
from geo.hotspots import budget
from geo.hotspots.bins import Bins, auto_resolution, grid_bins, hex_bins
from geo.hotspots.reports import (
    HotspotQuery,
    Reports,
    count_reports,
    load_reports,
    study_grids,
    study_outline,
)
from geo.store import Store


@dataclass
class Study:
    query: HotspotQuery
    reports: Reports
    grids: gpd.GeoDataFrame
    outline: object  # WGS84 union of the grids
    area_m2: float
    label: str = "the area"  # how messages name the area: "area 220204", "your jurisdiction"
    _bins: dict = field(default_factory=dict, repr=False)

    def resolution(self, h3_resolution: int | None = None) -> int:
        """`h3_resolution`, or the one chosen from the reports (within the bins limit)."""
        return h3_resolution or auto_resolution(self.outline, len(self.reports),
                                                max_cells=budget.LIMITS.bins)

    def bins(self, kind: str = "grid", h3_resolution: int | None = None) -> Bins:
        """The study's grids, or H3 cells (resolution chosen from the reports when None);
        built once per study."""
        if kind == "grid":
            key = ("grid", 0)
        else:
            key = ("h3", self.resolution(h3_resolution))
        if key not in self._bins:
            self._bins[key] = grid_bins(self.grids) if kind == "grid" else hex_bins(self.outline,
                                                                                   key[1])
        return self._bins[key]


def open_study(store: Store, actor: Actor, q: HotspotQuery) -> Study:
    """The reports and grids of `q` that `actor` may see; NotFound when the area is not in
    their jurisdiction (or does not exist), TooCostly when it holds more reports than one
    analysis may read (counted before reading them)."""
    grids = study_grids(store, actor, q.area)
    if grids.empty:
        where = f"area {q.area}" if q.area else "any area"
        raise NotFound(f"no grids of {where} in your jurisdiction")
    label = (f"area {q.area}" if q.area else
             "the whole city" if actor.role == "admin" else "your jurisdiction")
    budget.check_reports(count_reports(store, actor, q), q.since, q.until, label)
    outline = study_outline(grids)
    reports = load_reports(store, actor, q)
    budget.on_time("reading the reports")
    return Study(q, reports, grids, outline, float(area_m2(outline)), label)
