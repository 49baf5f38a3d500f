"""A study: the reports and the area one analysis covers, as the caller may see them, and the
bins its statistics use.

The reports are counted when a study is opened and read only when an analysis first uses
them, so that the budget prices an analysis from the count and the area and refuses it
before a single report is read. The analyses and the hotspot map share the studies opened
in the last minute (`cached_study`)."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np

from geo.casework.errors import NotFound
from geo.casework.scope import Actor
from geo.crs import area_m2, geoms_to_metric
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
from geo.i18n import N_, _
from geo.store import Store
from geo.ttlcache import TTLCache


@dataclass
class Study:
    query: HotspotQuery
    grids: gpd.GeoDataFrame
    outline: object  # WGS84 union of the grids
    area_m2: float
    count: int  # the reports of the query, counted in the database before any is read
    read: Callable[[], Reports] = field(repr=False)
    # How messages name the area, as a message id to translate where it is shown (the study
    # is cached across readers of either language), its {area} the query's area code.
    label: str = N_("the area")
    _reports: Reports | None = field(default=None, repr=False)
    _reading: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _bins: dict = field(default_factory=dict, repr=False)
    _outline_m: object = field(default=None, repr=False)

    def outline_metric(self):
        """The outline in EPSG:4551, projected once (the budget prices its parts often)."""
        if self._outline_m is None:
            self._outline_m = geoms_to_metric(np.array([self.outline], dtype=object))[0]
        return self._outline_m

    @property
    def loaded(self) -> bool:
        """Whether the reports have been read."""
        return self._reports is not None

    @property
    def reports(self) -> Reports:
        """The reports, read once, on first use (concurrent users wait for the one read)."""
        with self._reading:
            if self._reports is None:
                self._reports = self.read()
                budget.on_time(_("reading the reports"))
        return self._reports

    def resolution(self, h3_resolution: int | None = None) -> int:
        """`h3_resolution`, or the one chosen from the report count (within the bins limit)."""
        return h3_resolution or auto_resolution(self.outline, self.count,
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


def _reader(store: Store, actor: Actor, q: HotspotQuery) -> Callable[[], Reports]:
    """A reader of the reports that does not keep the store alive (studies are cached by
    store, weakly)."""
    ref = weakref.ref(store)

    def read() -> Reports:
        alive = ref()
        if alive is None:
            raise RuntimeError("the store of this study has been closed")
        return load_reports(alive, actor, q)
    return read


def open_study(store: Store, actor: Actor, q: HotspotQuery) -> Study:
    """The grids of `q` that `actor` may see, and their reports counted (read on first use);
    NotFound when the area is not in their jurisdiction (or does not exist), TooCostly when
    it holds more reports than one analysis may read."""
    grids = study_grids(store, actor, q.area)
    if grids.empty:
        raise NotFound(_("no grids of area {area} in your jurisdiction").format(area=q.area)
                       if q.area else _("no grids of any area in your jurisdiction"))
    label = (N_("area {area}") if q.area else
             N_("the whole city") if actor.role == "admin" else N_("your jurisdiction"))
    count = count_reports(store, actor, q)
    budget.check_reports(count, q.since, q.until, _(label).format(area=q.area))
    outline = study_outline(grids)
    return Study(q, grids, outline, float(area_m2(outline)), count, _reader(store, actor, q),
                 label)


# What the cached studies may hold in all: their reports (counted, read or not; about 100
# bytes each), oldest dropped first. Two studies at the reports limit fit.
STUDIES: TTLCache[Study] = TTLCache(ttl_s=60.0, max_weight=3_000_000,
                                    weight=lambda study: study.count)


def cached_study(store: Store, actor: Actor, q: HotspotQuery) -> Study:
    """The study of `q` for callers with `actor`'s reach, kept for a minute, so that a map
    asking for every layer counts and reads the reports once. It holds the area and the
    report count; the reports are read when an analysis first uses them, so an analysis
    refused on its price reads none."""
    return STUDIES.get_or_make(store, (actor.role, actor.jurisdiction, q),
                               lambda: open_study(store, actor, q))
