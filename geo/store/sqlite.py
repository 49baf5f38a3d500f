"""Embedded backend: one SQLite file (standard library), spatial work in process.

Polygons are stored as WKB with their bounding box. Locate runs on a `GridIndex`, nearest
on a `TeamTable` and camera checks on arrays, each cached in memory and rebuilt when the
`revision` counter of its layer (bumped by triggers) moves on.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.codes import LENGTHS
from geo.crs import STORAGE_EPSG
from geo.i18n import _
from geo.store.base import (
    AREA_TABLES,
    OPEN_TIMEOUT_S,
    SCHEMA_VERSION,
    Progress,
    Store,
    StoreError,
    area_rows,
    bulk_history,
    duplicate_ids,
    issue_lifecycle,
    migrations,
    short_reason,
    time_order,
    upsert_categories,
    valid_grids,
)
from geo.store.kept import KeptSpatial
from geo.store.sql import (
    SQLITE,
    TS_FORMAT,
    DatabaseBusy,
    SqliteTx,
    as_dt,
    json_text,
    sqlite_busy,
)

_CHUNK = 100_000


def ts(t) -> str | None:
    """A timestamp (naive means UTC) as the stored text, TS_FORMAT."""
    if t is None or (isinstance(t, float) and np.isnan(t)) or t is pd.NaT:
        return None
    t = pd.Timestamp(t)
    t = t.tz_localize(UTC) if t.tzinfo is None else t.tz_convert(UTC)
    return t.strftime(TS_FORMAT)


def ts_column(column) -> np.ndarray:
    """`ts` for a whole column, None where missing (TS_FORMAT, formatted by numpy in bulk)."""
    t = pd.to_datetime(pd.Series(column), utc=True)
    text = np.datetime_as_string(t.dt.tz_convert(None).to_numpy("datetime64[us]"), unit="us")
    out = np.char.add(text, "Z").astype(object)
    out[t.isna().to_numpy()] = None
    return out


def objects(column) -> np.ndarray:
    """A column as Python values for the driver, None where missing."""
    values = pd.Series(column).to_numpy(dtype=object, copy=True)
    values[pd.isna(values)] = None
    return values


class SqliteStore(KeptSpatial, Store):
    """A griddispatch database in one SQLite file."""

    backend = "sqlite"
    dialect = SQLITE

    def __init__(self, path: str | Path, statement_timeout_ms: int | None = None):
        self.path = str(path)
        self.statement_timeout_ms = statement_timeout_ms
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # One connection per thread: a sqlite3 connection must not be used by two threads at
        # once. WAL lets them read concurrently; writers take turns through `_lock`.
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._shared = self._connect() if self.path == ":memory:" else None
        self._lock = threading.RLock()
        self._closed = False

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                               timeout=10.0)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        self._connections.append(conn)
        return conn

    @property
    def _conn(self) -> sqlite3.Connection:
        """This thread's connection (an in-memory database has one, shared under the lock)."""
        if self._closed:
            raise StoreError(_("the database {path} is closed: open it again first").format(
                path=self.path))
        if self._shared is not None:
            return self._shared
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    # --- life ---------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return not self._closed

    def open(self, timeout_s: float = OPEN_TIMEOUT_S) -> SqliteStore:
        """Connections are made per thread on first use; a closed file store may be opened
        again, an in-memory one not (its data went with its connection)."""
        if self._closed:
            if self._shared is not None:
                raise StoreError("an in-memory database cannot be opened again: its data went "
                                 "with close()")
            self._local = threading.local()  # the closed connections must not be used again
            self._closed = False
        return self

    def close(self) -> None:
        self._closed = True
        for conn in self._connections:
            conn.close()
        self._connections.clear()

    def health(self, timeout_s: float) -> tuple[str | None, str | None]:
        """Reads the schema version from the file, so that a file that is gone or unreadable
        is reported. A local file answers at once or not at all: `timeout_s` has nothing to
        bound."""
        if self._shared is None and not os.path.exists(self.path):  # a probe must not create it
            return None, f"the database file {self.path} is gone"
        try:
            with self.snapshot() as tx:  # the in-memory connection only under the lock
                return tx.one(SCHEMA_VERSION)["version"], None
        except Exception as exc:  # a health check reports what failed instead of failing
            return None, short_reason(exc)

    def _label(self) -> str:
        return self.path

    def _transaction(self):
        store = self

        class _Tx:
            def __enter__(self_inner):
                # IMMEDIATE takes the file's write lock before the first read, so a write
                # transaction decides on rows that no other process can change before it
                # commits (a DEFERRED one that read first could only fail at its first write).
                store._lock.acquire()
                try:
                    store._conn.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:
                    store._lock.release()
                    if sqlite_busy(exc):
                        raise DatabaseBusy(f"another process kept the database file {store.path} "
                                           f"locked for writing: {exc}") from exc
                    raise
                except BaseException:
                    store._lock.release()
                    raise
                return store._conn

            def __exit__(self_inner, exc_type, *_):
                try:
                    store._conn.execute("ROLLBACK" if exc_type else "COMMIT")
                finally:
                    store._lock.release()

        return _Tx()

    @contextmanager
    def tx(self):
        with self._transaction() as conn:
            yield SqliteTx(conn, self.statement_timeout_ms)

    @contextmanager
    def snapshot(self):
        if self._shared is not None:  # one in-memory connection: take turns
            with self.tx() as tx:
                yield tx
            return
        conn = self._conn
        conn.execute("BEGIN DEFERRED")  # WAL: readers see a snapshot and never block writers
        try:
            yield SqliteTx(conn, self.statement_timeout_ms)
        finally:
            conn.execute("ROLLBACK")

    @contextmanager
    def _reads(self):
        """This thread's connection as it is: a locate in the middle of a transaction reads
        within it (SQLite cannot open a second one on the connection)."""
        yield SqliteTx(self._conn, self.statement_timeout_ms)

    def schema_version(self) -> str | None:
        row = self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        ).fetchone()
        if row is None:
            return None
        return self._conn.execute(SCHEMA_VERSION).fetchone()[0]

    def migrate(self) -> list[str]:
        with self._lock:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            done = {r[0] for r in self._conn.execute("SELECT version FROM schema_migrations")}
            applied = []
            for version, sql in migrations("sqlite"):
                if version in done:
                    continue
                stamp = ts(datetime.now(UTC))
                # executescript runs the whole file; BEGIN/COMMIT makes it all-or-nothing.
                try:
                    self._conn.executescript(
                        f"BEGIN;\n{sql}\nINSERT INTO schema_migrations VALUES "
                        f"('{version}', '{stamp}');\nCOMMIT;"
                    )
                except sqlite3.Error:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise
                applied.append(version)
            with self.tx() as tx:
                upsert_categories(tx)
            return applied

    # --- bulk load ----------------------------------------------------------------------
    # Bulk rows go to executemany as tuples in column order, so positional `?`: a dict of
    # `:name` parameters per row would cost a Python object per row.
    def _load_layers(self, city, progress: Progress) -> None:
        with self._transaction() as c:
            for table, columns, rows in area_rows(city, shapely.to_wkb):
                c.executemany(f"INSERT INTO {table} ({', '.join(columns)}) "
                              f"VALUES ({', '.join('?' * len(columns))})", rows)
            g = city.grids
            b = shapely.bounds(g.geometry.values)
            c.executemany(
                "INSERT INTO grid (code, community_code, name, geom, minx, miny, maxx, maxy, "
                "workers, households, valid_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                zip(g.code, g.community_code, g.name, shapely.to_wkb(g.geometry.values),
                    b[:, 0], b[:, 1], b[:, 2], b[:, 3], (json_text(w) for w in g.workers),
                    (int(h) for h in g.households), (ts(v) for v in g.valid_from), strict=True),
            )
            progress(_("stored {n} grids").format(n=len(g)))
            cam = city.cameras
            c.executemany(
                "INSERT INTO camera VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                zip(cam.id, cam.kind, cam.geometry.x, cam.geometry.y,
                    (None if np.isnan(h) else float(h) for h in cam.heading_deg),
                    cam.fov_deg, cam.range_m, cam.status, cam.stream_ref, strict=True),
            )
            s = city.sites
            c.executemany(
                "INSERT INTO site VALUES (?, ?, ?, ?, ?, ?)",
                zip(s.id, s.kind, s.name, shapely.to_wkb(s.geometry.values),
                    (int(w) for w in s.watch_level), s.department, strict=True),
            )
            t = city.teams
            c.executemany(
                "INSERT INTO team VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                zip(t.id, t.name, t.kind, t.geometry.x, t.geometry.y,
                    (None if np.isnan(v) else float(v) for v in t.position_lon),
                    (None if np.isnan(v) else float(v) for v in t.position_lat),
                    (ts(v) for v in t.position_at), t.status,
                    (json_text(list(v)) for v in t.categories),
                    (json_text(list(v)) for v in t.jurisdiction), t.roster, strict=True),
            )
            progress(_("stored {cameras} cameras, {sites} sites, {teams} teams").format(
                cameras=len(cam), sites=len(s), teams=len(t)))

    def add_issues(self, issues: gpd.GeoDataFrame, progress: Progress | None = None,
                   events: pd.DataFrame | None = None,
                   assignments: pd.DataFrame | None = None) -> int:
        self._require_schema()
        progress = progress or (lambda _m: None)
        lon = issues.geometry.x.to_numpy()
        lat = issues.geometry.y.to_numpy()
        located = self.locate_many(lon, lat)
        life = issue_lifecycle(issues)
        order = time_order(issues)
        n = len(issues)

        times = {c: ts_column(v) for c, v in (("reported_at", issues.reported_at),
                                         ("state_since", life.state_since),
                                         ("due_at", life.due_at), ("closed_at", life.closed_at))}
        columns = [issues.category_code.to_numpy(), issues.description.to_numpy(), lon, lat,
                   issues.source_crs.to_numpy(), times["reported_at"],
                   located.grid_code.to_numpy(), located.community_code.to_numpy(),
                   located.street_code.to_numpy(), located.district_code.to_numpy(),
                   life.state.to_numpy(), times["state_since"], times["due_at"],
                   times["closed_at"], times["state_since"], life.rating.to_numpy(),
                   life.rework_count.to_numpy(), life.overdue_steps.to_numpy(),
                   life.channel.to_numpy(), life.reported_by.to_numpy(),
                   located.compound_code.to_numpy(), located.building_code.to_numpy()]
        with self._transaction() as c:
            # Ids are given here, in time order, so that the trail can refer to them.
            first = c.execute("SELECT coalesce(max(id), 0) + 1 FROM issue").fetchone()[0]
            ids = np.empty(n, np.int64)
            ids[order] = first + np.arange(n)
            duplicate_of = duplicate_ids(life, ids)
            # Through a table without constraints or indexes, then into `issue` in one
            # statement: inserted a statement per row, `issue`'s checks and partial indexes
            # made each row about twice as dear.
            names = ("id, category_code, description, lon, lat, source_crs, reported_at, "
                     "grid_code, community_code, street_code, district_code, state, state_since, "
                     "due_at, closed_at, updated_at, rating, rework_count, overdue_steps, channel, "
                     "reported_by, compound_code, building_code, duplicate_of")
            c.execute(f"CREATE TEMP TABLE new_issue AS SELECT {names} FROM issue WHERE 0")
            for start in range(0, n, _CHUNK):
                rows = order[start:start + _CHUNK]
                c.executemany(
                    "INSERT INTO new_issue VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    zip(ids[rows].tolist(), *(col[rows] for col in columns), duplicate_of[rows],
                        strict=True),
                )
                progress(_("stored issues {k}/{n}").format(k=f"{min(start + _CHUNK, n):,}",
                                                           n=f"{n:,}"))
            c.execute(f"INSERT INTO issue ({names}) SELECT {names} FROM new_issue ORDER BY id")
            c.execute("DROP TABLE new_issue")
            trail, teams = bulk_history(life, ids, events, assignments)
            c.executemany(
                "INSERT INTO issue_event (issue_id, at, actor, action, from_state, to_state, "
                "reason, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                zip(trail.issue_id.tolist(), ts_column(trail["at"]),
                    *(objects(trail[c]) for c in ("actor", "action", "from_state", "to_state",
                                                  "reason", "details")), strict=True))
            c.executemany(
                "INSERT INTO assignment (issue_id, team_id, lead, assigned_at, assigned_by, "
                "active) VALUES (?, ?, ?, ?, ?, ?)",
                zip(teams.issue_id.tolist(), objects(teams.team_id),
                    teams.lead.astype(bool).tolist(), ts_column(teams.assigned_at),
                    objects(teams.assigned_by), teams.active.astype(bool).tolist(), strict=True))
            progress(_("stored {events} audit entries, {assignments} assignments").format(
                events=f"{len(trail):,}", assignments=f"{len(teams):,}"))
        return n

    def _write_roads(self, rows: pd.DataFrame, lines: np.ndarray, replace: bool) -> None:
        b = shapely.bounds(lines)
        with self._transaction() as c:
            held = c.execute("SELECT count(*) FROM road").fetchone()[0]
            if held and not replace:
                raise StoreError(_("the database already holds {n} roads: replace them "
                                   "(--replace) or keep them").format(n=f"{held:,}"))
            c.execute("DELETE FROM road")
            c.executemany(
                "INSERT INTO road (id, name, class, oneway, speed_kmh, length_m, source, target, "
                "cost, reverse_cost, geom, minx, miny, maxx, maxy) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                zip(rows.id.tolist(), objects(rows.name), objects(rows["class"]),
                    rows.oneway.astype(int).tolist(), rows.speed_kmh.tolist(),
                    rows.length_m.tolist(), rows.source.tolist(), rows.target.tolist(),
                    rows.cost.tolist(), rows.reverse_cost.tolist(), shapely.to_wkb(lines),
                    b[:, 0], b[:, 1], b[:, 2], b[:, 3], strict=True))

    # --- reading layers -----------------------------------------------------------------
    def _read_layer(self, layer: str) -> gpd.GeoDataFrame:
        if layer == "roads":
            df = pd.read_sql_query("SELECT name, class, oneway, speed_kmh, geom FROM road "
                                   "ORDER BY id", self._conn)
            df["oneway"] = df.oneway.astype(bool)
            return _wkb_frame(df)
        if layer == "grids":
            df = pd.read_sql_query(
                "SELECT g.code, g.name, g.community_code, c.street_code, "
                f"substr(g.code, 1, {LENGTHS['district']}) AS district_code, g.workers, "
                "g.households, g.valid_from, g.geom FROM grid g "
                f"JOIN community c ON c.code = g.community_code WHERE {valid_grids(None)} "
                "ORDER BY g.code", self._conn)
            df["workers"] = [", ".join(json.loads(w)) for w in df.workers]
            return _wkb_frame(df)
        if layer == "compounds":
            df = pd.read_sql_query(
                "SELECT code, name, community_code, property_company_id, households, built_year, "
                "geom FROM compound ORDER BY code", self._conn)
            return _wkb_frame(df)
        if layer == "buildings":
            df = pd.read_sql_query(
                "SELECT code, compound_code, name, floors, households, geom FROM building "
                "ORDER BY code", self._conn)
            return _wkb_frame(df)
        if layer in AREA_TABLES:
            df = pd.read_sql_query(f"SELECT * FROM {AREA_TABLES[layer]} ORDER BY code",
                                   self._conn)
            return _wkb_frame(df)
        if layer == "sites":
            df = pd.read_sql_query("SELECT * FROM site ORDER BY id", self._conn)
            return _wkb_frame(df)
        if layer == "cameras":
            df = pd.read_sql_query("SELECT * FROM camera ORDER BY id", self._conn)
            return _point_frame(df, "lon", "lat")
        if layer == "teams":
            df = pd.read_sql_query(
                "SELECT id, name, kind, status, roster, categories, jurisdiction, position_at, "
                "coalesce(position_lon, home_lon) AS lon, coalesce(position_lat, home_lat) AS lat "
                "FROM team ORDER BY id", self._conn)
            for col in ("categories", "jurisdiction"):
                df[col] = [", ".join(json.loads(v)) for v in df[col]]
            return _point_frame(df, "lon", "lat")
        df = pd.read_sql_query(
            "SELECT id, category_code, description, source_crs, reported_at, grid_code, "
            "community_code, street_code, district_code, state, due_at, closed_at, rating, "
            "lon, lat FROM issue ORDER BY id",
            self._conn)
        return _point_frame(df, "lon", "lat")

    # --- rows of the kept structures (geo.store.kept) ----------------------------------
    def _read_revisions(self) -> dict[str, int]:
        # A lone statement reads a consistent state without a transaction of its own. Inside
        # a transaction the counters may be this transaction's own, which a rollback takes
        # back: a structure built on them is kept under a number no commit will give.
        conn = self._conn
        revisions = dict(conn.execute("SELECT layer, n FROM revision").fetchall())
        if conn.in_transaction:
            return {layer: -1 - n for layer, n in revisions.items()}
        return revisions

    def _team_rows(self) -> list[dict]:
        rows = self._conn.execute(
            "SELECT id, name, kind, status, roster, categories, jurisdiction, position_lon, "
            "position_lat, position_at, home_lon, home_lat FROM team").fetchall()
        return [
            {"id": r[0], "name": r[1], "kind": r[2], "status": r[3], "roster": r[4],
             "categories": json.loads(r[5]), "jurisdiction": json.loads(r[6]),
             "lon": r[10] if r[7] is None else r[7], "lat": r[11] if r[8] is None else r[8],
             "position_source": "home" if r[7] is None else "live",
             "position_at": as_dt(r[9])}
            for r in rows
        ]

    def _camera_frame(self) -> pd.DataFrame:
        return pd.read_sql_query(
            "SELECT id, kind, lon, lat, heading_deg, fov_deg, range_m, status FROM camera "
            "ORDER BY id", self._conn)


def _wkb_frame(df: pd.DataFrame) -> gpd.GeoDataFrame:
    geom = shapely.from_wkb(df.pop("geom").to_numpy())
    return gpd.GeoDataFrame(df, geometry=geom, crs=STORAGE_EPSG)


def _point_frame(df: pd.DataFrame, x: str, y: str) -> gpd.GeoDataFrame:
    geom = gpd.points_from_xy(df.pop(x), df.pop(y))
    return gpd.GeoDataFrame(df, geometry=geom, crs=STORAGE_EPSG)
