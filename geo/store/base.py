"""The storage contract shared by the PostGIS and the embedded SQLite backends.

`Store` does the work that must be identical everywhere (input validation, CRS conversion
at the edge, deriving the community/street/district codes from a grid code, explaining
rankings); each backend supplies only the storage and the spatial primitives.
"""

from __future__ import annotations

import threading
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Self

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.codes import LENGTHS, at_level
from geo.crs import STORAGE_EPSG, check_metric_area, in_metric_area, to_metric, to_storage
from geo.i18n import _
from geo.model import CameraView, EtaMatch, Location, TeamFilter, TeamMatch, Workload
from geo.store.sql import Dialect, Tx
from geo.taxonomy import CATEGORIES, TEAM_KINDS, TEAM_STATUSES
from geo.teamrank import TeamTable
from geo.workflow import STATES, TERMINAL, step_limit

if TYPE_CHECKING:  # routing modules load scipy's graphs: imported where a method routes
    from geo.roads.network import RoadNetwork

LOCATED_TABLES = {"grid": "grid", "compound": "compound", "building": "building"}
LOCATED_COLUMNS = ("grid_code", "community_code", "street_code", "district_code", "compound_code",
                   "building_code")
LAYERS = ("grids", "cameras", "sites", "teams", "issues", "districts", "streets", "communities",
          "roads", "compounds", "buildings")
MAX_K = 100
POOL_SIZE = 8  # PostGIS connections per process, for the service and the command line alike
OPEN_TIMEOUT_S = 15.0  # how long opening a store waits for its database
Progress = Callable[[str], None]

# Every table that holds data, those that refer to others first (`clear` empties them all).
DATA_TABLES = ("alarm_raise", "alarm",  # alarms refer to issues
               # below and beside the grid (issue 15's rooms), children first
               "whistle_event", "whistle_unit", "whistle",
               "dispute_notice", "dispute_event", "dispute_follow_up", "session_mediator",
               "mediation_session", "dispute_party",
               "dispute", "squad_member", "mediation_squad",
               "property_talk", "responsibility",
               "idempotency", "photo", "assignment", "issue_event", "auth_session",
               "login_throttle", "api_key", "app_user", "department",
               "resident_head", "building_unit", "building", "compound", "property_company",
               "area_mode",
               "issue", "team", "site", "camera",
               "grid", "plan_grid", "plan_draft",  # published grids name their plan
               "community", "street", "district", "road", "water")
# The `setting` row a loaded demo city leaves (`load_city`, `demo_city`); `clear` removes it.
DEMO_MARKER = "demo_city"


def valid_grids(at: datetime | None, alias: str = "g") -> str:
    """The grids current now (`at` None), or those valid at the moment :at
    (valid_from <= at < valid_to)."""
    if at is None:
        return f"{alias}.valid_to IS NULL"
    return f"{alias}.valid_from <= :at AND ({alias}.valid_to IS NULL OR {alias}.valid_to > :at)"


# The table of each area layer; it is also the area's level in geo.codes.
AREA_TABLES = {"districts": "district", "streets": "street", "communities": "community"}

_COUNTED = {**AREA_TABLES, "grids": f"grid g WHERE {valid_grids(None)}", "cameras": "camera",
            "sites": "site", "teams": "team", "issues": "issue", "roads": "road"}


def _counts_sql(layers: tuple[str, ...]) -> str:
    """One statement that counts the rows of each of `layers`."""
    return "SELECT " + ", ".join(f"(SELECT count(*) FROM {_COUNTED[layer]}) AS {layer}"
                                 for layer in layers)

_UPSERT_CATEGORY = (
    "INSERT INTO category VALUES (:code, :network, :name_zh, :name_en, :handled_by, "
    ":duplicate_radius_m) ON CONFLICT (code) DO UPDATE SET network = excluded.network, "
    "name_zh = excluded.name_zh, name_en = excluded.name_en, handled_by = excluded.handled_by, "
    "duplicate_radius_m = excluded.duplicate_radius_m")


def upsert_categories(tx: Tx) -> None:
    """Write the catalogue of problem categories (geo.taxonomy) over what the database holds:
    the code is the truth, the database a copy that foreign keys can refer to."""
    tx.run_many(_UPSERT_CATEGORY, [
        {"code": k.code, "network": k.network, "name_zh": k.name_zh, "name_en": k.name_en,
         "handled_by": list(k.handled_by), "duplicate_radius_m": k.duplicate_radius_m}
        for k in CATEGORIES])


def area_rows(city, encode: Callable[[np.ndarray], Sequence]
              ) -> Iterator[tuple[str, list[str], Iterator[tuple]]]:
    """Per area table of a city (districts, streets, communities: parents first), its columns
    and its rows, geometries written by `encode` (an array of polygons to the backend's form)."""
    for table, frame, parent in (("district", city.districts, None),
                                 ("street", city.streets, "district_code"),
                                 ("community", city.communities, "street_code")):
        columns = ["code", "name", "geom"] + ([parent] if parent else [])
        extra = [frame[parent]] if parent else []
        yield table, columns, zip(frame.code, frame.name, encode(frame.geometry.values), *extra,
                                  strict=True)


def location(code: str, grid: str, community: str, street: str, district: str) -> Location:
    """A grid's Location from its code and the names of the grid and of its areas."""
    return Location(code, grid, at_level(code, "community"), community, at_level(code, "street"),
                    street, at_level(code, "district"), district)


def location_sql(grid: str, where: str = "", more: str = "") -> str:
    """The statement whose row is `location`'s arguments: the code and name of the grid that
    `grid` yields (a FROM item `g` with code, name and community_code, kept by `where`) and
    the names of its community, street and district; then the columns `more`, if any."""
    return ("SELECT g.code, g.name AS grid, c.name AS community, s.name AS street, "
            "d.name AS district" + (f", {more}" if more else "") + " FROM " + grid
            + " JOIN community c ON c.code = g.community_code"
            " JOIN street s ON s.code = c.street_code JOIN district d ON d.code = s.district_code"
            + (f" WHERE {where}" if where else ""))


# The schema version: the newest migration applied.
SCHEMA_VERSION = "SELECT max(version) AS version FROM schema_migrations"


def short_reason(exc: BaseException) -> str:
    """The first line of an error, for a health check to report."""
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


class StoreError(Exception):
    """A storage problem a user can act on (not initialised, already holds data, ...)."""


def check_team_filter(f: TeamFilter) -> TeamFilter:
    """Reject filter values that can never match, naming the valid ones."""
    if f.kind is not None and f.kind not in TEAM_KINDS:
        raise ValueError(_("unknown team kind {kind}; expected one of {kinds}").format(
            kind=f.kind, kinds=", ".join(TEAM_KINDS)))
    for s in f.statuses or ():
        if s not in TEAM_STATUSES:
            raise ValueError(_("unknown team status {status}; expected one of {statuses}").format(
                status=s, statuses=", ".join(TEAM_STATUSES)))
    return f


def check_k(k: int) -> int:
    """k for nearest queries: 1..MAX_K."""
    if not isinstance(k, int | np.integer) or not 1 <= k <= MAX_K:
        raise ValueError(_("k must be a whole number from 1 to {max}, got {k}").format(
            max=MAX_K, k=k))
    return int(k)


# The times the service computes with: windows, slices, numpy/pandas times and a parsed
# `at` or `datetime` all stay in range (a time outside is refused, never overflows later).
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def utc(t: datetime | None) -> datetime | None:
    """Timezone-aware UTC datetime; naive input is taken as UTC."""
    if t is None:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


class Store(ABC):
    """A griddispatch database. Open one with `geo.store.open_store(url)`."""

    backend: str
    dialect: Dialect
    _ready = False  # the schema was found once: it does not go away

    # --- life ----------------------------------------------------------------------------
    def open(self, timeout_s: float = OPEN_TIMEOUT_S) -> Self:
        """Connect, waiting up to `timeout_s` for the database (StoreError if it does not
        answer); nothing to do where connections are made on first use. Opening an open store
        does nothing; a closed one (or one whose opening failed) may be opened again."""
        return self

    @property
    def is_open(self) -> bool:
        """Whether the store may be used: opened (where that connects) and not closed."""
        return True

    @abstractmethod
    def close(self) -> None:
        """Release connections (`open` makes them again)."""

    @abstractmethod
    def health(self, timeout_s: float) -> tuple[str | None, str | None]:
        """(the schema version, None) if the database answers within `timeout_s`, else (None,
        why not). One connection and one query; never raises: for health checks."""

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, *exc):
        self.close()

    # --- schema and bulk data ----------------------------------------------------------
    @abstractmethod
    def migrate(self) -> list[str]:
        """Apply pending schema migrations; return the versions applied now."""

    @abstractmethod
    def schema_version(self) -> str | None:
        """The newest applied migration, or None for an empty database."""

    @abstractmethod
    def _label(self) -> str:
        """The database as messages name it (never with its password)."""

    def _require_schema(self) -> None:
        if self._ready:
            return
        self._ready = self.schema_version() is not None
        if not self._ready:
            raise StoreError(_("database {name} is not initialised: run `griddispatch "
                               "init`").format(name=self._label()))

    def counts(self, layers: tuple[str, ...] = tuple(_COUNTED)) -> dict[str, int]:
        """Rows per layer (current grids only), of every layer or of those named, in one
        statement."""
        self._require_schema()
        with self.snapshot() as tx:
            return tx.one(_counts_sql(layers))

    def load_city(self, city, progress: Progress | None = None) -> None:
        """Write every layer of a generated city (fixtures.jilin.City): the areas, grids and
        assets in one transaction, then the issues with their history (`add_issues`)."""
        self._require_schema()
        progress = progress or (lambda _m: None)
        self._load_layers(city, progress)
        if getattr(city, "roads", None) is not None:
            n = self.add_roads(city.roads)
            progress(_("stored {n} roads").format(n=f"{n:,}"))
        if getattr(city, "river", None) is not None:
            self.add_water([city.river], [getattr(city, "river_name", None) or ""], ["river"])
        from geo.store import cityparts  # the rooms below the grid use the store
        for part in cityparts.BEFORE_ISSUES:
            part(self, city)
        self.add_issues(city.issues, progress, city.events, city.assignments)
        for part in cityparts.AFTER_ISSUES:
            part(self, city)
        with self.tx() as tx:  # last: only a city loaded whole is marked (`demo_city`)
            tx.run("INSERT INTO setting (key, value) VALUES (:k, :v) ON CONFLICT (key) DO "
                   "UPDATE SET value = excluded.value",
                   {"k": DEMO_MARKER, "v": datetime.now(UTC).isoformat()})

    def demo_city(self) -> datetime | None:
        """When the generated demo city was loaded into this database (None: it holds no demo
        city). The living demo's simulator runs only against a database so marked."""
        self._require_schema()
        with self.snapshot() as tx:
            row = tx.one("SELECT value FROM setting WHERE key = :k", {"k": DEMO_MARKER})
        return datetime.fromisoformat(row["value"]) if row else None

    @abstractmethod
    def _load_layers(self, city, progress: Progress) -> None:
        """The areas (see `area_rows`), grids, cameras, sites and teams of a city, in one
        transaction."""

    def clear(self) -> None:
        """Delete every row of every layer (the schema stays)."""
        self._require_schema()
        with self.tx() as tx:
            for statement in tx.dialect.delete_all(DATA_TABLES):
                tx.run(statement)
            tx.run("DELETE FROM setting WHERE key = :k", {"k": DEMO_MARKER})

    def add_roads(self, roads: gpd.GeoDataFrame, replace: bool = False) -> int:
        """Store a road layer (see geo.roads.frame), noded into junctions, in one transaction:
        with `replace` it takes the place of the network held, else the store must hold none.
        A layer that fails its checks is a RoadError and nothing is written."""
        from geo.roads.frame import check_roads
        from geo.roads.network import RoadNetwork

        self._require_schema()
        frame = check_roads(roads)
        net = RoadNetwork(frame)
        rows = pd.DataFrame({
            "id": np.arange(1, len(frame) + 1), "name": frame["name"], "class": frame["class"],
            "oneway": frame["oneway"], "speed_kmh": frame["speed_kmh"], "length_m": net.length_m,
            "source": net.source + 1, "target": net.target + 1, "cost": net.forward_s,
            "reverse_cost": np.where(net.oneway, -1.0, net.backward_s)})
        self._write_roads(rows, frame.geometry.values, replace)
        return len(frame)

    @abstractmethod
    def _write_roads(self, rows: pd.DataFrame, lines: np.ndarray, replace: bool) -> None:
        """Write the road rows (columns of the road table but geom) and their lines in one
        transaction, first deleting the roads held if `replace`, else refusing (StoreError)
        when there are any."""

    @abstractmethod
    def _road_revision(self) -> int:
        """A number that changes whenever the road table does."""

    def road_network(self) -> RoadNetwork | None:
        """The routable network of the roads held (None without roads), built once per
        revision of the road table."""
        from geo.roads.network import RoadNetwork

        self._require_schema()
        rev = self._road_revision()
        hit = getattr(self, "_network", None)
        if hit is not None and hit[0] == rev:
            return hit[1]
        # One thread builds it while the others wait: a city's network is large.
        with self.__dict__.setdefault("_network_lock", threading.Lock()):
            hit = getattr(self, "_network", None)
            if hit is not None and hit[0] == rev:
                return hit[1]
            roads = self._read_layer("roads")  # read after the revision: never older than it
            net = RoadNetwork(roads) if len(roads) else None
            self._network = (rev, net)
            return net

    def add_water(self, polygons, names: list[str], kinds: list[str]) -> int:
        """Store water polygons (storage CRS) for the offline basemap in place of those held,
        in one transaction; `kinds` are "river" or "lake"."""
        self._require_schema()
        geoms = [g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g])
                 for g in polygons]
        with self.tx() as tx:
            d = tx.dialect
            tx.run("DELETE FROM water")
            tx.run_many(f"INSERT INTO water (id, name, kind, {d.polygon_columns()}) "
                        f"VALUES (:id, :name, :kind, {d.polygon_values('g')})",
                        [{"id": i, "name": n, "kind": k, **d.polygon_params(g, "g")}
                         for i, (g, n, k) in enumerate(zip(geoms, names, kinds, strict=True), 1)])
        return len(geoms)

    def water(self) -> gpd.GeoDataFrame:
        """The water held (id, name, kind, geometry in the storage CRS), by id."""
        self._require_schema()
        with self.snapshot() as tx:
            rows = tx.rows(f"SELECT id, name, kind, {tx.dialect.wkb('geom')} AS wkb FROM water "
                           "ORDER BY id")
        geoms = shapely.from_wkb([bytes(r["wkb"]) for r in rows]) if rows else []
        return gpd.GeoDataFrame({"id": [int(r["id"]) for r in rows],
                                 "name": [r["name"] for r in rows],
                                 "kind": [r["kind"] for r in rows]}, geometry=list(geoms),
                                crs=STORAGE_EPSG)

    @abstractmethod
    def _teams_passing(self, f: TeamFilter) -> TeamTable:
        """The teams that pass the filter, at the position they are ranked by."""

    def nearest_by_eta(self, lon: float, lat: float, k: int = 3,
                       team_filter: TeamFilter | None = None, crs: str = "wgs84",
                       workload: Workload | None = None, geometry: bool = True
                       ) -> list[EtaMatch]:
        """The k teams passing the filter that reach the point first along the roads (see
        geo.roads.eta), with the teams held back by the workload limit that would have ranked
        among them; each with its ETA, road and straight-line metres and reason."""
        from geo.roads.ranking import rank_by_eta  # routing: imported by those who route

        f = check_team_filter(team_filter or TeamFilter())
        x, y = to_storage(lon, lat, crs)
        check_metric_area(x, y)
        mx, my = to_metric(x, y)
        with self.revisions_pinned():  # the roads and the teams on one read of the revisions
            net, teams = self.road_network(), self._teams_passing(f)
        return rank_by_eta(net, teams, float(mx[0]), float(my[0]), check_k(k), f, workload,
                           geometry)

    def nearest_by_eta_many(self, lon, lat, k: int = 3, team_filter: TeamFilter | None = None,
                            crs: str = "wgs84") -> pd.DataFrame:
        """Batch ETA ranking: rows (point, rank, team_id, distance_m, eta_s, road_m, basis);
        points outside the metric CRS's area get no rows, as in `nearest_teams_many`."""
        from geo.roads.ranking import rank_by_eta

        f = check_team_filter(team_filter or TeamFilter())
        x, y = to_storage(lon, lat, crs)
        k = check_k(k)
        with self.revisions_pinned():
            net, teams = self.road_network(), self._teams_passing(f)
        mx, my = to_metric(x, y)
        rows = []
        for i in np.flatnonzero(in_metric_area(x, y)):
            for m in rank_by_eta(net, teams, float(mx[i]), float(my[i]), k, f, None, False):
                rows.append((i, m.rank, m.team_id, m.distance_m, m.eta_s, m.road_m, m.basis))
        return pd.DataFrame(rows, columns=["point", "rank", "team_id", "distance_m", "eta_s",
                                           "road_m", "basis"]).astype(
            {"point": np.int64, "rank": np.int64, "distance_m": float, "eta_s": float,
             "road_m": float})

    @abstractmethod
    def add_issues(self, issues: gpd.GeoDataFrame, progress: Progress | None = None,
                   events: pd.DataFrame | None = None,
                   assignments: pd.DataFrame | None = None) -> int:
        """Insert issues (storage CRS), locating each to its grid on the way, with their audit
        trail and team assignments (see `bulk_history`); return the count. Ids follow
        `reported_at`."""

    def read_layer(self, layer: str) -> gpd.GeoDataFrame:
        """A whole layer as a GeoDataFrame in the storage CRS (current grids only)."""
        self._require_schema()
        if layer not in LAYERS:
            raise ValueError(_("unknown layer {layer}; expected one of {layers}").format(
                layer=layer, layers=", ".join(LAYERS)))
        return self._read_layer(layer)

    def current_grids(self) -> gpd.GeoDataFrame:
        """The current grids as read_layer("grids") gives them (a backend may keep them)."""
        return self.read_layer("grids")

    @contextmanager
    def revisions_pinned(self):
        """Within the block, structures kept in process (geo.store.kept) are checked against
        the layers' revisions read once; a backend that keeps none has nothing to pin."""
        yield

    @abstractmethod
    def _read_layer(self, layer: str) -> gpd.GeoDataFrame:
        """One of LAYERS, read."""

    @abstractmethod
    def tx(self) -> AbstractContextManager[Tx]:
        """A transaction for plain SQL (see geo.store.sql): committed on success, else rolled back."""

    @abstractmethod
    def snapshot(self) -> AbstractContextManager[Tx]:
        """A read-only transaction: a consistent view that does not wait for writers."""

    def _reads(self) -> AbstractContextManager[Tx]:
        """Where the spatial primitives read their few rows: a snapshot, unless a backend
        can read within whatever transaction its caller has open."""
        return self.snapshot()

    # --- backend spatial primitives (storage CRS, validated input) ---------------------
    @abstractmethod
    def _grid_codes(self, lon: np.ndarray, lat: np.ndarray, at: datetime | None
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Factorised grid codes per point, by the tie rule of geo.gridindex: (a table of
        codes, and per point an index into it or -1 outside). Factorised so that batch
        results cost a gather per point, not a string operation."""

    @abstractmethod
    def _locate_one(self, lon: float, lat: float, at: datetime | None) -> Location | None:
        """One point (storage CRS, validated): its grid by the tie rule and the names of the
        grid's areas, or None outside."""

    @abstractmethod
    def _nearest(self, lon: np.ndarray, lat: np.ndarray, k: int, f: TeamFilter) -> pd.DataFrame:
        """Columns point, rank, team_id, distance_m; ordered by point then rank."""

    @abstractmethod
    def _team_matches(self, lon: float, lat: float, k: int, f: TeamFilter) -> list[TeamMatch]:
        """The ranked teams for one point, with details."""

    @abstractmethod
    def _cameras(self, lon: float, lat: float, include_offline: bool) -> list[CameraView]:
        """Cameras that see the point, nearest first."""

    # --- the public spatial operations --------------------------------------------------
    def locate(self, lon: float, lat: float, crs: str = "wgs84",
               at: datetime | None = None) -> Location | None:
        """The grid (and community, street, district) covering a point, or None if outside.

        `at` asks which grid owned the point at that moment (boundary history)."""
        x, y = to_storage(lon, lat, crs)
        return self._locate_one(float(x[0]), float(y[0]), utc(at))

    def locate_many(self, lon, lat, crs: str = "wgs84", at: datetime | None = None
                    ) -> pd.DataFrame:
        """Batch locate: one row per point with grid/community/street/district codes and the
        compound and building codes below the grid (None outside)."""
        return pd.DataFrame({column: gather(table, idx) for column, (table, idx)
                             in self.locate_factorised(lon, lat, crs, at).items()}, copy=False)

    def locate_factorised(self, lon, lat, crs: str = "wgs84", at: datetime | None = None
                          ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Batch locate as factorised columns, for writers that never make a string per point:
        per column of LOCATED_COLUMNS, (a table of codes, per point an index into it or -1)."""
        x, y = to_storage(lon, lat, crs)
        table, idx = self._grid_codes(x, y, utc(at))
        idx = np.asarray(idx, dtype=np.int64)
        out = {}
        for level, (prefixes, which) in level_tables(table).items():
            out[f"{level}_code"] = (prefixes, np.where(idx < 0, -1, which[idx]))
        for column, (below, bidx) in zip(("compound_code", "building_code"),
                                         self._below_codes(x, y), strict=True):
            out[column] = (np.asarray(below, dtype=object), np.asarray(bidx, dtype=np.int64))
        return out

    def polygons(self, layer: str, at: datetime | None = None) -> tuple[np.ndarray, list]:
        """Codes and WKB of the grids valid at `at` (the current ones when None), or of every
        compound or building (`layer` grid, compound, building), in code order: what a batch
        run elsewhere (a cluster's workers) locates against."""
        self._require_schema()
        with self._reads() as tx:
            geom = tx.dialect.wkb("g.geom")
            where = valid_grids(utc(at)) if layer == "grid" else "1 = 1"
            rows = tx.rows(f"SELECT g.code, {geom} AS wkb FROM {LOCATED_TABLES[layer]} g "
                           f"WHERE {where} ORDER BY g.code", {"at": utc(at)})
        return (np.array([r["code"] for r in rows], dtype=object),
                [bytes(r["wkb"]) for r in rows])

    def locate_below(self, lon: float, lat: float, crs: str = "wgs84") -> Below:
        """The compound (小区) and building (楼栋) covering a point, by the grids' tie rule
        (the smallest code wins on a shared edge); their fields are None outside."""
        self._require_schema()
        x, y = to_storage(lon, lat, crs)
        (ctable, cidx), (btable, bidx) = self._below_codes(x[:1], y[:1])
        compound = ctable[cidx[0]] if cidx[0] >= 0 else None
        building = btable[bidx[0]] if bidx[0] >= 0 else None
        if compound is None and building is None:
            return Below()
        with self._reads() as tx:
            names = {r["code"]: r["name"] for r in tx.rows(
                "SELECT code, name FROM compound WHERE code = :c UNION ALL "
                "SELECT code, name FROM building WHERE code = :b", {"c": compound, "b": building})}
        return Below(compound, names.get(compound), building, names.get(building))

    @abstractmethod
    def _below_codes(self, lon: np.ndarray, lat: np.ndarray
                     ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """Factorised compound codes and building codes per point (storage CRS), each as
        `_grid_codes` gives grid codes: (table, index per point or -1)."""

    def nearest_teams(self, lon: float, lat: float, k: int = 3,
                      team_filter: TeamFilter | None = None, crs: str = "wgs84"
                      ) -> list[TeamMatch]:
        """The k nearest teams that pass the filter, with distances in metres and reasons."""
        f = check_team_filter(team_filter or TeamFilter())
        x, y = to_storage(lon, lat, crs)
        check_metric_area(x, y)
        return self._team_matches(float(x[0]), float(y[0]), check_k(k), f)

    def nearest_teams_many(self, lon, lat, k: int = 3, team_filter: TeamFilter | None = None,
                           crs: str = "wgs84") -> pd.DataFrame:
        """Batch nearest: rows (point, rank, team_id, distance_m) for each input point.

        Points outside the metric CRS's area get no rows: a distance there would be wrong."""
        f = check_team_filter(team_filter or TeamFilter())
        x, y = to_storage(lon, lat, crs)
        k = check_k(k)
        served = np.flatnonzero(in_metric_area(x, y))
        if len(served) == len(x):
            return self._nearest(x, y, k, f)
        ranked = self._nearest(x[served], y[served], k, f)
        ranked["point"] = served[ranked["point"].to_numpy(dtype=np.int64)]
        return ranked

    def cameras_seeing(self, lon: float, lat: float, crs: str = "wgs84",
                       include_offline: bool = False) -> list[CameraView]:
        """Cameras within range whose view sector contains the point (domes see all round)."""
        x, y = to_storage(lon, lat, crs)
        return self._cameras(float(x[0]), float(y[0]), include_offline)


@dataclass(frozen=True)
class Below:
    """What lies below the grid at a point: its compound (小区) and building (楼栋), each
    None where the point is in none."""

    compound_code: str | None = None
    compound_name: str | None = None
    building_code: str | None = None
    building_name: str | None = None


_LEVEL_TABLES: dict[int, tuple[weakref.ref, dict]] = {}
_LEVEL_TABLES_LOCK = threading.Lock()


def level_tables(codes: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per level (grid, community, street, district), each area's code once and per grid code
    the index of its area's: made once per table of codes (a grid index's, which lives as long
    as its boundary revision) rather than on every batch, which at 200,000 grids cost more
    than locating a million points."""
    with _LEVEL_TABLES_LOCK:
        hit = _LEVEL_TABLES.get(id(codes))
        if hit is not None and hit[0]() is codes:
            return hit[1]
    tables = {}
    for level in ("grid", "community", "street", "district"):
        prefixes, which = np.unique(np.array([c[:LENGTHS[level]] for c in codes] or [""],
                                             dtype=object), return_inverse=True)
        tables[level] = (prefixes, which.ravel())
    with _LEVEL_TABLES_LOCK:
        for key in [k for k, (ref, _t) in _LEVEL_TABLES.items() if ref() is None]:
            del _LEVEL_TABLES[key]  # tables of indexes gone
        _LEVEL_TABLES[id(codes)] = (weakref.ref(codes), tables)
    return tables


def gather(table: np.ndarray, idx: np.ndarray) -> pd.Series:
    """Factorised codes per point as an object column, None where the index is -1."""
    idx = np.asarray(idx, dtype=np.int64)
    values = np.array(list(table) + [None], dtype=object)
    return pd.Series(values[np.where(idx < 0, len(table), idx)], dtype=object)


def issue_lifecycle(issues: pd.DataFrame) -> pd.DataFrame:
    """State columns for bulk-loaded issues. Imports are history: without a `state` column an
    issue counts as closed when it was reported. Open states get their step's deadline.
    rating, rework_count, overdue_steps, channel, reported_by and duplicate_of_row (the row
    of the issue a merged one was merged into, -1 for the others) are taken when given."""
    n = len(issues)
    reported = pd.to_datetime(issues["reported_at"], utc=True).reset_index(drop=True)
    state = (issues["state"].astype(object).reset_index(drop=True) if "state" in issues
             else pd.Series(["closed"] * n, dtype=object))
    unknown = sorted(set(state) - set(STATES))
    if unknown:
        raise ValueError(f"unknown issue state(s) {unknown}; expected one of {', '.join(STATES)}")
    since = (pd.to_datetime(issues["state_since"], utc=True).reset_index(drop=True)
             if "state_since" in issues else reported)
    finished = state.isin(TERMINAL).to_numpy()
    closed_at = since.where(finished)
    category = issues["category_code"].astype(object).reset_index(drop=True)
    due = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns, UTC]")
    for (code, st), rows in pd.DataFrame({"c": category, "s": state})[~finished].groupby(
            ["c", "s"]).groups.items():
        due[rows] = since[rows] + step_limit(code, st)
    out = pd.DataFrame({"state": state, "state_since": since, "due_at": due,
                        "closed_at": closed_at, "updated_at": since})
    for column, default in (("rating", None), ("rework_count", 0), ("overdue_steps", 0),
                            ("channel", "import"), ("reported_by", None),
                            ("duplicate_of_row", -1)):
        out[column] = (issues[column].astype(object).reset_index(drop=True) if column in issues
                       else pd.Series([default] * n, dtype=object))
    rating = pd.to_numeric(out["rating"]).astype("Int64")
    out["rating"] = rating.astype(object).where(rating.notna(), None)
    duplicate = out["duplicate_of_row"].to_numpy(dtype=np.int64)
    merged = (state == "merged").to_numpy()
    wrong = np.flatnonzero(merged != (duplicate >= 0)) if n else []
    if len(wrong):
        raise ValueError(f"issue row {wrong[0]}: duplicate_of_row must name the row of the issue "
                         "it was merged into exactly when its state is merged")
    if merged.any() and ((duplicate[merged] >= n) | (duplicate[merged] == np.flatnonzero(merged))
                         ).any():
        raise ValueError("duplicate_of_row must be another row of the same frame")
    out["duplicate_of_row"] = duplicate
    out["reported_by"] = out["reported_by"].where(out["reported_by"].notna(), None)
    return out


def duplicate_ids(life: pd.DataFrame, ids: np.ndarray) -> np.ndarray:
    """Per issue row, the id of the issue it was merged into (None if not merged)."""
    row = life["duplicate_of_row"].to_numpy(dtype=np.int64)
    into = pd.Series(ids[np.maximum(row, 0)] if len(row) else row).astype(object)
    return into.where(row >= 0, None).to_numpy(dtype=object)


def time_order(issues: pd.DataFrame) -> np.ndarray:
    """Rows by `reported_at` (stable): bulk-loaded ids follow the time of report."""
    reported = pd.to_datetime(issues["reported_at"], utc=True).dt.tz_convert(None).to_numpy()
    return np.argsort(reported, kind="stable")


def bulk_history(life: pd.DataFrame, ids: np.ndarray, events: pd.DataFrame | None = None,
                 assignments: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Audit entries and team assignments of bulk-loaded issues, keyed by the issues' new ids
    (`ids[row]`), the entries oldest first.

    `events` (issue row, at, actor, action, from_state, to_state, reason, details as JSON
    text) must give every issue a trail that ends in its state; a merge entry's details are
    filled in here with the id it was merged into. Without `events`, each issue gets a single
    `import` entry, from nothing to its state at its state_since: the trail says where it came
    from rather than inventing the steps. Without `assignments`, nothing is assigned."""
    n = len(life)
    if events is None:
        trail = pd.DataFrame({"issue": np.arange(n), "at": life["state_since"],
                              "actor": "import", "action": "import", "from_state": None,
                              "to_state": life["state"], "reason": "", "details": "{}"})
    else:
        trail = events.reset_index(drop=True)
        rows = trail["issue"].to_numpy(dtype=np.int64)
        if len(rows) and (rows.min() < 0 or rows.max() >= n):
            raise ValueError("an audit entry names an issue row that is not in the frame")
        trail = trail.sort_values("at", kind="stable", ignore_index=True)
        ends = trail.drop_duplicates("issue", keep="last").set_index("issue")["to_state"]
        ends = ends.reindex(range(n)).to_numpy(dtype=object)
        wrong = np.flatnonzero(ends != life["state"].to_numpy(dtype=object))
        if len(wrong):
            row, end = wrong[0], ends[wrong[0]]
            raise ValueError(f"issue row {row} is {life['state'][row]} but its audit trail "
                             + ("is empty" if pd.isna(end) else f"ends in {end}"))
        merge = (trail["action"] == "merge").to_numpy()
        if merge.any():
            into = ids[life["duplicate_of_row"].to_numpy()[trail["issue"].to_numpy()[merge]]]
            trail.loc[merge, "details"] = ('{"duplicate_of": ' + pd.Series(into).astype(str)
                                           + "}").to_numpy(dtype=object)
    trail.insert(0, "issue_id", ids[trail.pop("issue").to_numpy(dtype=np.int64)])
    trail = trail[["issue_id", "at", "actor", "action", "from_state", "to_state", "reason",
                   "details"]]
    columns = ["issue_id", "team_id", "lead", "assigned_at", "assigned_by", "active"]
    if assignments is None or not len(assignments):
        return trail, pd.DataFrame({c: [] for c in columns})
    teams = assignments.reset_index(drop=True)
    teams.insert(0, "issue_id", ids[teams.pop("issue").to_numpy(dtype=np.int64)])
    return trail, teams[columns]


def migrations(backend: str) -> list[tuple[str, str]]:
    """(version, SQL) of a backend's migration files, oldest first."""
    folder = resources.files("geo.store") / "migrations" / backend
    files = sorted(p for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(p.name.removesuffix(".sql"), p.read_text(encoding="utf-8")) for p in files]
