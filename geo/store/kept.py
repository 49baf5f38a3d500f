"""Locate, team ranking and camera checks answered in process, on structures built from the
database and kept while the layers they come from are unchanged.

Every layer a structure is built from has a row in the `revision` table, moved on by triggers
in the same transaction as the change (on PostgreSQL at commit, once per transaction), so a
reader that finds the number it built with knows its copy is current. The revisions are read
in one query per operation, or once for a whole request inside `revisions_pinned()`: a grid
published or a team moved by any process is used by every other process's next request.
A structure is read after the revisions it is kept under, so it is never older than them.
"""

from __future__ import annotations

import functools
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.cameras import MAX_RANGE_M, visible
from geo.crs import degree_box
from geo.gridindex import GridIndex
from geo.model import CameraView, TeamFilter, TeamMatch
from geo.store.base import location, location_sql, utc, valid_grids
from geo.teamrank import TeamTable

PAST_INDEXES = 4  # grid indexes of past moments kept (locate at=..., per epoch)

# Revisions read once for the request under way, per store: {id(store): {layer: n}}.
_PINNED: ContextVar[dict[int, dict[str, int]] | None] = ContextVar("pinned_revisions",
                                                                   default=None)


class KeptValues:
    """Values kept under the revision they were built at, current while the revision read is
    the same (equal, not at least: the counters start at a random number, so a database
    made anew does not meet the old one's revisions). One thread
    builds a given value at a time, the others wait for it (a city's grid index takes a
    while)."""

    def __init__(self):
        self._values: dict[object, tuple[int, object]] = {}
        self._locks: dict[object, threading.RLock] = {}
        self._guard = threading.Lock()

    def get(self, name, rev, build):
        hit = self._values.get(name)
        if hit is not None and hit[0] == rev:
            return hit[1]
        with self._guard:
            lock = self._locks.setdefault(name, threading.RLock())
        with lock:
            hit = self._values.get(name)
            if hit is not None and hit[0] == rev:
                return hit[1]
            value = build()
            with self._guard:
                self._values[name] = (rev, value)
            return value

    def drop_older(self, prefix: str, keep: int) -> None:
        """Keep only the `keep` newest values whose name is a tuple starting with `prefix`."""
        with self._guard:
            names = [n for n in self._values if isinstance(n, tuple) and n[0] == prefix]
            for name in names[:-keep] if len(names) > keep else []:
                self._values.pop(name, None)
                self._locks.pop(name, None)


def _one_read(primitive):
    """The primitive with the revisions read once for all the structures it uses."""
    @functools.wraps(primitive)
    def pinned(self, *args):
        with self.revisions_pinned():
            return primitive(self, *args)
    return pinned


class KeptSpatial:
    """The spatial primitives of a Store, answered on kept structures. A backend gives the
    rows (`_team_rows`, `_camera_frame`, `_read_revisions`); past grids, compounds and
    buildings come from `Store.polygons`."""

    @property
    def _kept(self) -> KeptValues:
        kept = self.__dict__.get("_kept_values")
        if kept is None:
            kept = self.__dict__.setdefault("_kept_values", KeptValues())
        return kept

    # --- revisions ----------------------------------------------------------------------
    def _read_revisions(self) -> dict[str, int]:
        """Every layer's revision, in one statement (on nearly every request)."""
        raise NotImplementedError

    def _revision(self, layer: str) -> int:
        pinned = _PINNED.get()
        if pinned is None:
            return self._read_revisions()[layer]
        revs = pinned.get(id(self))
        if revs is None:
            revs = pinned[id(self)] = self._read_revisions()
        return revs[layer]

    @contextmanager
    def revisions_pinned(self):
        """Within the block, the kept structures are checked against revisions read once, at
        their first use: one query for a whole request instead of one per structure. A change
        committed meanwhile is seen by the next block."""
        token = _PINNED.set({} if _PINNED.get() is None else _PINNED.get())
        try:
            yield
        finally:
            _PINNED.reset(token)

    def _road_revision(self) -> int:
        return self._revision("road")

    # --- kept structures ----------------------------------------------------------------
    def _polygon_index(self, layer: str, at: datetime | None = None) -> GridIndex:
        codes, wkb = self.polygons(layer, at)
        return GridIndex(codes, shapely.from_wkb(np.array(wkb, dtype=object)))

    def _current(self) -> tuple[GridIndex, dict[str, tuple]]:
        """The current grids' index and, per grid, `location`'s arguments (its code and the
        names of the grid and of its areas), from one statement: the two always agree."""
        def build():
            with self._reads() as tx:
                rows = tx.rows(location_sql("grid g", valid_grids(None),
                                            f"{tx.dialect.wkb('g.geom')} AS wkb")
                               + " ORDER BY g.code")
            codes = np.array([r["code"] for r in rows], dtype=object)
            index = GridIndex(codes, shapely.from_wkb(
                np.array([bytes(r.pop("wkb")) for r in rows], dtype=object)))
            return index, {r["code"]: tuple(r.values()) for r in rows}

        return self._kept.get("grid", (self._revision("grid"), self._revision("area")), build)

    def grid_index(self, at: datetime | None = None) -> GridIndex:
        """The in-process index of the grids current now (kept) or at a past moment."""
        self._require_schema()
        if at is None:
            return self._current()[0]
        # The grids valid at `at` change only where some validity begins or ends: one index
        # serves every moment after the same last change (a few kept).
        rev = self._revision("grid")
        at = utc(at)
        with self._reads() as tx:
            epoch = tx.one(
                "SELECT max(t) AS t FROM (SELECT max(valid_from) AS t FROM grid "
                "WHERE valid_from <= :at UNION ALL SELECT max(valid_to) FROM grid "
                "WHERE valid_to <= :at) e", {"at": at})["t"]
        index = self._kept.get(("past", rev, str(epoch)), rev,
                               lambda: self._polygon_index("grid", at))
        self._kept.drop_older("past", PAST_INDEXES)
        return index

    def current_grids(self) -> gpd.GeoDataFrame:
        """The current grids, read once per revision of the grid table (vector tiles cut
        them, through the frame's spatial index, many times a second)."""
        self._require_schema()
        return self._kept.get("grid_frame", self._revision("grid"),
                              lambda: self._read_layer("grids"))

    def _below_index(self, layer: str) -> GridIndex:
        """The in-process index of the compounds or buildings."""
        return self._kept.get(layer, self._revision(layer), lambda: self._polygon_index(layer))

    def _team_table(self) -> TeamTable:
        return self._kept.get("team", self._revision("team"),
                              lambda: TeamTable.from_rows(self._team_rows()))

    def _camera_arrays(self) -> pd.DataFrame:
        return self._kept.get("camera", self._revision("camera"), self._camera_frame)

    def _team_rows(self) -> list[dict]:
        """Every team as TeamTable.from_rows takes it (lists as lists, times in UTC)."""
        raise NotImplementedError

    def _camera_frame(self) -> pd.DataFrame:
        """Columns id, kind, lon, lat, heading_deg (NaN: all round), fov_deg, range_m,
        status; by id."""
        raise NotImplementedError

    # --- the primitives -----------------------------------------------------------------
    @_one_read
    def _grid_codes(self, lon, lat, at):
        index = self.grid_index(at)
        return index.codes, index.locate(lon, lat)

    @_one_read
    def _locate_one(self, lon, lat, at):
        self._require_schema()
        if at is None:
            index, places = self._current()
            idx = index.locate(np.array([lon]), np.array([lat]))[0]
            return None if idx < 0 else location(*places[index.codes[idx]])
        table, idx = self._grid_codes(np.array([lon]), np.array([lat]), at)
        if idx[0] < 0:
            return None
        with self._reads() as tx:
            row = tx.one(location_sql("grid g", f"g.code = :code AND {valid_grids(at)}"),
                         {"code": table[idx[0]], "at": utc(at)})
        return None if row is None else location(*row.values())

    @_one_read
    def _below_codes(self, lon, lat):
        self._require_schema()
        out = []
        for layer in ("compound", "building"):
            index = self._below_index(layer)
            out.append((index.codes, index.locate(lon, lat)))
        return tuple(out)

    @_one_read
    def _teams_passing(self, f: TeamFilter) -> TeamTable:
        self._require_schema()
        return self._team_table().passing(f)

    @_one_read
    def _nearest(self, lon, lat, k, f):
        self._require_schema()
        table = self._team_table()
        point, rank, team, dist = table.nearest_many(lon, lat, k, f)
        return pd.DataFrame({"point": point, "rank": rank, "team_id": table.ids[team],
                             "distance_m": dist})

    @_one_read
    def _team_matches(self, lon, lat, k, f) -> list[TeamMatch]:
        self._require_schema()
        return self._team_table().matches(lon, lat, k, f)

    @_one_read
    def _cameras(self, lon, lat, include_offline) -> list[CameraView]:
        self._require_schema()
        cams = self._camera_arrays()
        west, south, east, north = degree_box(lon, lat, MAX_RANGE_M)
        near = cams[cams.lat.between(south, north) & cams.lon.between(west, east)]
        if not include_offline:
            near = near[near.status == "online"]
        sees, dist, bearing = visible(near.lon, near.lat, near.heading_deg, near.fov_deg,
                                      near.range_m, lon, lat)
        out = [
            CameraView(r.id, r.kind, float(d), float(b), float(r.range_m),
                       None if np.isnan(r.heading_deg) else float(r.heading_deg), float(r.fov_deg))
            for r, d, b in zip(near[sees].itertuples(), dist[sees], bearing[sees], strict=True)
        ]
        return sorted(out, key=lambda v: (v.distance_m, v.camera_id))
