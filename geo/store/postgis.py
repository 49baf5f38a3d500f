"""PostgreSQL/PostGIS backend: psycopg 3 with a connection pool, plain SQL, GiST indexes.

Spatial work runs in the database: locate is `ST_Covers` through the GiST index with the
same tie rule as the embedded backend (smallest grid code wins on shared edges), nearest is
a KNN scan of the index on teams' positions projected to EPSG:4551, camera visibility uses
geodesic distance and azimuth on the spheroid.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from datetime import UTC

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from geo.codes import LENGTHS
from geo.crs import STORAGE_EPSG
from geo.i18n import _
from geo.store.base import (
    OPEN_TIMEOUT_S,
    POOL_SIZE,
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
from geo.store.sql import POSTGIS, PgTx, to_pyformat

_CHUNK = 50_000
CONNECT_TIMEOUT_S = 10  # making a connection to a host that does not answer is given up after this

# The key of the transaction-level advisory lock that lets one process at a time apply
# migrations to a database (any number may start `griddispatch init` at once).
MIGRATION_LOCK = 20261122


def _execute(conn: psycopg.Connection, sql: str, params: dict) -> psycopg.Cursor:
    """Run a `:name` statement on a connection, as `PgTx` does, for this module's own SQL."""
    return conn.execute(to_pyformat(sql), params)


def _copy_csv(cur, table: str, frame: pd.DataFrame, not_null: tuple[str, ...] = ()) -> None:
    """COPY a frame into the same-named columns of `table`, as CSV in chunks: an empty field
    is NULL, except in the `not_null` columns, where it is an empty string."""
    force = f", FORCE_NOT_NULL ({', '.join(not_null)})" if not_null else ""
    with cur.copy(f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN (FORMAT csv{force})"
                  ) as copy:
        for start in range(0, len(frame), _CHUNK):
            copy.write(frame.iloc[start:start + _CHUNK].to_csv(header=False, index=False))


def _ewkb(geoms) -> list[str]:
    return list(shapely.to_wkb(shapely.set_srid(np.asarray(geoms), STORAGE_EPSG), hex=True,
                               include_srid=True))


def _connection_settings(url: str, statement_timeout_ms: int | None) -> dict:
    """What every pooled connection is made with: UTC, the statement timeout if any, and a
    connect timeout unless the URL gives its own."""
    options = "-c timezone=UTC"
    if statement_timeout_ms:
        options += f" -c statement_timeout={int(statement_timeout_ms)}"
    settings = {"autocommit": False, "options": options}
    try:
        given = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:  # refused, with its message, when the pool connects
        given = {}
    if "connect_timeout" not in given and not os.environ.get("PGCONNECT_TIMEOUT"):
        settings["connect_timeout"] = CONNECT_TIMEOUT_S
    return settings


class PostgisStore(KeptSpatial, Store):
    """A griddispatch database in PostgreSQL with PostGIS. Built unconnected; `open` opens
    a connection pool, `close` closes it, and `open` again opens a new one."""

    backend = "postgis"
    dialect = POSTGIS

    def __init__(self, url: str, min_size: int = 1, max_size: int = POOL_SIZE,
                 statement_timeout_ms: int | None = None):
        self.url = url
        self._min_size, self._max_size = min_size, max_size
        self._settings = _connection_settings(url, statement_timeout_ms)
        self._statement_timeout_ms = statement_timeout_ms
        self._opening = threading.Lock()  # two threads opening at once make one pool
        self.pool = self._new_pool()

    def _new_pool(self) -> ConnectionPool:
        return ConnectionPool(self.url, min_size=self._min_size, max_size=self._max_size,
                              open=False, kwargs=self._settings)

    # --- life ---------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return not self.pool.closed

    def open(self, timeout_s: float = OPEN_TIMEOUT_S) -> PostgisStore:
        with self._opening:
            if not self.pool.closed:
                return self
            self.pool = self._new_pool()  # a pool that was open once cannot be opened again
            try:
                self.pool.open(wait=True, timeout=timeout_s)
            except Exception as exc:  # the pool wraps connection errors in PoolTimeout
                self.pool.close()
                raise StoreError(_("cannot connect to {url}: {problem}").format(
                    url=_redact(self.url), problem=exc)) from exc
            return self

    def close(self) -> None:
        self.pool.close()

    def health(self, timeout_s: float) -> tuple[str | None, str | None]:
        """Waits at most `timeout_s` for a pooled connection, then reads the schema version
        under a statement timeout of `timeout_s` (or the store's own, if shorter), the setting
        and the read sent together; the commit that follows is not bounded by the probe. A
        new connection is bounded by CONNECT_TIMEOUT_S; one whose network hangs in the middle
        of the query is bounded by TCP, not by this probe."""
        limit_ms = max(1, round(timeout_s * 1000))
        if self._statement_timeout_ms:
            limit_ms = min(limit_ms, int(self._statement_timeout_ms))
        try:
            with self.pool.connection(timeout=timeout_s) as conn, conn.pipeline():
                conn.execute(f"SET LOCAL statement_timeout = {limit_ms}")
                return conn.execute(SCHEMA_VERSION).fetchone()[0], None
        except PoolTimeout:
            return None, (f"no database connection within {timeout_s:g} s (every connection "
                          "busy, or the database cannot be reached)")
        except Exception as exc:  # a health check reports what failed instead of failing
            return None, short_reason(exc)

    @contextmanager
    def tx(self):
        with self.pool.connection() as conn:  # commits on success, rolls back on error
            yield PgTx(conn)

    snapshot = tx  # READ COMMITTED reads never wait for writers here either

    def _label(self) -> str:
        return _redact(self.url)

    # --- schema -------------------------------------------------------------------------
    def schema_version(self) -> str | None:
        with self.pool.connection() as conn:
            exists = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0]
            if exists is None:
                return None
            return conn.execute(SCHEMA_VERSION).fetchone()[0]

    def migrate(self) -> list[str]:
        applied = []
        with self.pool.connection() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                         "(version text PRIMARY KEY, applied_at timestamptz NOT NULL)")
            conn.commit()
            # One migrator at a time; each file with its bookkeeping row in one transaction.
            conn.execute(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            for version, sql in migrations("postgis"):
                if version in done:
                    continue
                conn.execute(sql)
                _execute(conn, "INSERT INTO schema_migrations VALUES (:version, now())",
                         {"version": version})
                applied.append(version)
            upsert_categories(PgTx(conn))
            conn.commit()
        return applied

    # --- bulk load ----------------------------------------------------------------------
    def _load_layers(self, city, progress: Progress) -> None:
        with self.pool.connection() as conn, conn.cursor() as cur:
            for table, columns, rows in area_rows(city, _ewkb):
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            g = city.grids
            with cur.copy("COPY grid (code, community_code, name, geom, workers, households, "
                          "valid_from) FROM STDIN") as copy:
                for row in zip(g.code, g.community_code, g.name, _ewkb(g.geometry.values),
                               g.workers, (int(h) for h in g.households), g.valid_from,
                               strict=True):
                    copy.write_row(row)
            progress(_("stored {n} grids").format(n=len(g)))
            cam = city.cameras
            with cur.copy("COPY camera (id, kind, geom, heading_deg, fov_deg, range_m, status, "
                          "stream_ref) FROM STDIN") as copy:
                for row in zip(cam.id, cam.kind, _ewkb(cam.geometry.values),
                               (None if np.isnan(h) else float(h) for h in cam.heading_deg),
                               cam.fov_deg, cam.range_m, cam.status, cam.stream_ref,
                               strict=True):
                    copy.write_row(row)
            s = city.sites
            with cur.copy("COPY site (id, kind, name, geom, watch_level, department) "
                          "FROM STDIN") as copy:
                for row in zip(s.id, s.kind, s.name, _ewkb(s.geometry.values),
                               (int(w) for w in s.watch_level), s.department, strict=True):
                    copy.write_row(row)
            t = city.teams
            live = shapely.points(t.position_lon.to_numpy(float), t.position_lat.to_numpy(float))
            live_hex = [None if np.isnan(x) else h for x, h in
                        zip(t.position_lon, _ewkb(live), strict=True)]
            with cur.copy("COPY team (id, name, kind, home, position, position_at, status, "
                          "categories, jurisdiction, roster) FROM STDIN") as copy:
                for row in zip(t.id, t.name, t.kind, _ewkb(t.geometry.values), live_hex,
                               (None if v is None or v is pd.NaT else v for v in t.position_at),
                               t.status, (list(v) for v in t.categories),
                               (list(v) for v in t.jurisdiction), t.roster, strict=True):
                    copy.write_row(row)
            progress(_("stored {cameras} cameras, {sites} sites, {teams} teams").format(
                cameras=len(cam), sites=len(s), teams=len(t)))
            conn.commit()
            cur.execute("ANALYZE")

    def add_issues(self, issues: gpd.GeoDataFrame, progress: Progress | None = None,
                   events: pd.DataFrame | None = None,
                   assignments: pd.DataFrame | None = None) -> int:
        """Insert issues and locate them in one set-based UPDATE through the GiST index, then
        their audit trail and assignments by COPY, all in one transaction."""
        self._require_schema()
        progress = progress or (lambda _m: None)
        life = issue_lifecycle(issues)
        n = len(issues)

        def stamps(column) -> list:
            t = pd.to_datetime(column, utc=True)
            return [None if v is pd.NaT else v for v in t.dt.to_pydatetime()]

        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE new_issue (LIKE issue INCLUDING DEFAULTS) "
                        "ON COMMIT DROP")
            # Ids are taken from the sequence here, in time order, so that the trail can
            # refer to them.
            cur.execute(to_pyformat("SELECT nextval(pg_get_serial_sequence('issue', 'id')) "
                                    "FROM generate_series(1, :n)"), {"n": n})
            ids = np.empty(n, np.int64)
            ids[time_order(issues)] = np.sort(np.array([r[0] for r in cur.fetchall()], np.int64))
            cols = ("id, category_code, description, geom, source_crs, reported_at, state, "
                    "state_since, due_at, closed_at, updated_at, rating, rework_count, "
                    "overdue_steps, channel, reported_by, duplicate_of")
            since = stamps(life.state_since)
            with cur.copy(f"COPY new_issue ({cols}) FROM STDIN") as copy:
                for k, row in enumerate(zip(ids.tolist(), issues.category_code,
                                            issues.description, _ewkb(issues.geometry.values),
                                            issues.source_crs, stamps(issues.reported_at),
                                            life.state, since, stamps(life.due_at),
                                            stamps(life.closed_at), since, life.rating,
                                            life.rework_count, life.overdue_steps, life.channel,
                                            life.reported_by, duplicate_ids(life, ids),
                                            strict=True), start=1):
                    copy.write_row(row)
                    if k % 200_000 == 0:
                        progress(_("stored issues {k}/{n}").format(k=f"{k:,}", n=f"{n:,}"))
            cur.execute("ANALYZE new_issue")
            # Tie rule as everywhere: the smallest covering grid code wins.
            areas = ", ".join(f"{level}_code = left(hit.code, {LENGTHS[level]})"
                              for level in ("community", "street", "district"))
            cur.execute(
                "WITH hit AS (SELECT DISTINCT ON (n.ctid) n.ctid AS row_id, g.code "
                f"FROM new_issue n JOIN grid g ON {valid_grids(None)} AND ST_Covers(g.geom, n.geom) "
                f"ORDER BY n.ctid, g.code) UPDATE new_issue n SET grid_code = hit.code, {areas} "
                "FROM hit WHERE n.ctid = hit.row_id"
            )
            for table, column in (("compound", "compound_code"), ("building", "building_code")):
                cur.execute(
                    f"WITH hit AS (SELECT DISTINCT ON (n.ctid) n.ctid AS row_id, b.code FROM "
                    f"new_issue n JOIN {table} b ON ST_Covers(b.geom, n.geom) ORDER BY n.ctid, "
                    f"b.code) UPDATE new_issue n SET {column} = hit.code FROM hit "
                    "WHERE n.ctid = hit.row_id")
            progress(_("located issues"))
            located = ("grid_code, community_code, street_code, district_code, compound_code, "
                       "building_code")
            cur.execute(f"INSERT INTO issue ({cols}, {located}) OVERRIDING SYSTEM VALUE SELECT "
                        f"{cols}, {located} FROM new_issue ORDER BY id")
            trail, teams = bulk_history(life, ids, events, assignments)
            _copy_csv(cur, "issue_event", trail, not_null=("reason",))
            _copy_csv(cur, "assignment", teams)
            progress(_("stored {events} audit entries, {assignments} assignments").format(
                events=f"{len(trail):,}", assignments=f"{len(teams):,}"))
            conn.commit()
        return n

    # --- reading layers -----------------------------------------------------------------
    def _write_roads(self, rows: pd.DataFrame, lines: np.ndarray, replace: bool) -> None:
        with self.pool.connection() as conn, conn.cursor() as cur:
            # The table's lock first: two imports at once take turns, and the count below
            # stays true until this one commits.
            cur.execute("LOCK TABLE road IN SHARE ROW EXCLUSIVE MODE")
            held = cur.execute("SELECT count(*) FROM road").fetchone()[0]
            if held and not replace:
                raise StoreError(_("the database already holds {n} roads: replace them "
                                   "(--replace) or keep them").format(n=f"{held:,}"))
            cur.execute("DELETE FROM road")
            with cur.copy("COPY road (id, name, class, oneway, speed_kmh, length_m, source, "
                          "target, cost, reverse_cost, geom) FROM STDIN") as copy:
                for row in zip(rows.id.tolist(), rows.name, rows["class"],
                               rows.oneway.astype(bool).tolist(), rows.speed_kmh.tolist(),
                               rows.length_m.tolist(), rows.source.tolist(),
                               rows.target.tolist(), rows.cost.tolist(),
                               rows.reverse_cost.tolist(), _ewkb(lines), strict=True):
                    copy.write_row(row)
            conn.commit()
            cur.execute("ANALYZE road")

    def _read_revisions(self) -> dict[str, int]:
        # One statement on its own, without a transaction around it: one round trip where
        # BEGIN, SELECT and COMMIT take three (it is read by nearly every request).
        with self.pool.connection() as conn:
            conn.autocommit = True
            try:
                rows = conn.execute("SELECT layer, n FROM revision").fetchall()
            finally:
                if not conn.broken:  # a broken one is thrown away by the pool
                    conn.autocommit = False
        return dict(rows)

    def _team_rows(self) -> list[dict]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                "SELECT id, name, kind, status, roster, categories, jurisdiction, "
                "ST_X(coalesce(position, home)) AS lon, ST_Y(coalesce(position, home)) AS lat, "
                "CASE WHEN position IS NULL THEN 'home' ELSE 'live' END AS position_source, "
                "position_at FROM team").fetchall()
        for r in rows:
            r["position_at"] = r["position_at"].astimezone(UTC) if r["position_at"] else None
        return rows

    def _camera_frame(self) -> pd.DataFrame:
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT id, kind, ST_X(geom), ST_Y(geom), heading_deg, fov_deg, range_m, status "
                "FROM camera ORDER BY id").fetchall()
        return pd.DataFrame(rows, columns=["id", "kind", "lon", "lat", "heading_deg", "fov_deg",
                                           "range_m", "status"]).astype(
            {"lon": float, "lat": float, "heading_deg": float, "fov_deg": float,
             "range_m": float})

    def _read_layer(self, layer: str) -> gpd.GeoDataFrame:
        sql = {
            "roads": "SELECT name, class, oneway, speed_kmh, ST_AsBinary(geom) AS geom "
                     "FROM road ORDER BY id",
            "grids": "SELECT g.code, g.name, g.community_code, "
                     f"left(g.code, {LENGTHS['street']}) AS street_code, "
                     f"left(g.code, {LENGTHS['district']}) AS district_code, "
                     "array_to_string(g.workers, ', ') AS workers, g.households, g.valid_from, "
                     f"ST_AsBinary(g.geom) AS geom FROM grid g WHERE {valid_grids(None)} "
                     "ORDER BY g.code",
            "districts": "SELECT code, name, ST_AsBinary(geom) AS geom FROM district ORDER BY code",
            "compounds": "SELECT code, name, community_code, property_company_id, households, "
                         "built_year, ST_AsBinary(geom) AS geom FROM compound ORDER BY code",
            "buildings": "SELECT code, compound_code, name, floors, households, "
                         "ST_AsBinary(geom) AS geom FROM building ORDER BY code",
            "streets": "SELECT code, district_code, name, ST_AsBinary(geom) AS geom FROM street "
                       "ORDER BY code",
            "communities": "SELECT code, street_code, name, ST_AsBinary(geom) AS geom "
                           "FROM community ORDER BY code",
            "sites": "SELECT id, kind, name, watch_level, department, ST_AsBinary(geom) AS geom "
                     "FROM site ORDER BY id",
            "cameras": "SELECT id, kind, heading_deg, fov_deg, range_m, status, stream_ref, "
                       "ST_AsBinary(geom) AS geom FROM camera ORDER BY id",
            "teams": "SELECT id, name, kind, status, roster, array_to_string(categories, ', ') "
                     "AS categories, array_to_string(jurisdiction, ', ') AS jurisdiction, "
                     "position_at, ST_AsBinary(coalesce(position, home)) AS geom "
                     "FROM team ORDER BY id",
            "issues": "SELECT id, category_code, description, source_crs, reported_at, "
                      "grid_code, community_code, street_code, district_code, state, due_at, "
                      "closed_at, rating, ST_AsBinary(geom) AS geom FROM issue ORDER BY id",
        }[layer]
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(sql).fetchall()
            columns = [d.name for d in cur.description]
        df = pd.DataFrame(rows, columns=columns)
        geom = shapely.from_wkb(np.array([bytes(b) for b in df.pop("geom")], dtype=object))
        return gpd.GeoDataFrame(df, geometry=geom, crs=STORAGE_EPSG)


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparseable database URL>"
    info.pop("password", None)
    return " ".join(f"{k}={v}" for k, v in info.items())

