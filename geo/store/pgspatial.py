"""Spatial primitives answered by PostGIS itself: `ST_Covers` through the GiST index with the
tie rule of the in-process index (smallest grid code wins on shared edges), a KNN scan of the
index on teams' positions projected to EPSG:4551, camera visibility by geodesic distance and
azimuth on the spheroid.

`PostgisStore` answers these in process (geo.store.kept); `PostgisSqlStore` is the same store
with the database doing the spatial work, which benchmarks measure against and tests hold the
in-process answers to.
"""

from __future__ import annotations

from datetime import UTC

import numpy as np
import pandas as pd
from psycopg.rows import dict_row

from geo.cameras import MAX_RANGE_M
from geo.crs import METRIC_EPSG
from geo.model import CameraView, TeamFilter, TeamMatch, explain_rank
from geo.store.base import location, location_sql, valid_grids
from geo.store.postgis import PostgisStore, _execute
from geo.store.sql import POSTGIS, to_pyformat
from geo.teamrank import TeamTable

_CHUNK = 50_000

def _point(lon: str, lat: str) -> str:
    return POSTGIS.point_values(lon, lat)


def _metric(geom: str) -> str:
    return f"ST_Transform({geom}, {METRIC_EPSG})"


_TEAM_AT = _metric("coalesce(t.position, t.home)")
_CAMERAS = f"""
WITH q AS (SELECT {_point(":lon", ":lat")}::geography AS g)
SELECT * FROM (
    SELECT c.id, c.kind, c.range_m, c.heading_deg, c.fov_deg,
           ST_Distance(c.geom::geography, q.g) AS distance_m,
           coalesce(degrees(ST_Azimuth(c.geom::geography, q.g)), 0) AS bearing_deg
    FROM camera c, q
    WHERE ST_DWithin(c.geom::geography, q.g, :max_range)
      AND (:include_offline OR c.status = 'online')
) v
WHERE v.distance_m <= v.range_m
  AND (v.fov_deg >= 360
       OR abs(mod((v.bearing_deg - v.heading_deg + 540)::numeric, 360) - 180) <= v.fov_deg / 2)
ORDER BY v.distance_m, v.id
"""


def _locate_many(valid: str) -> str:
    return f"""
SELECT p.i, g.code
FROM unnest(:lon::float8[], :lat::float8[]) WITH ORDINALITY AS p(lon, lat, i)
CROSS JOIN LATERAL (
    SELECT g.code FROM grid g
    WHERE {valid} AND ST_Covers(g.geom, {_point("p.lon", "p.lat")})
    ORDER BY g.code LIMIT 1
) g
"""


def _below_many(table: str) -> str:
    """Per point, the code of the compound or building covering it, by the tie rule."""
    return f"""
SELECT p.i, b.code
FROM unnest(:lon::float8[], :lat::float8[]) WITH ORDINALITY AS p(lon, lat, i)
CROSS JOIN LATERAL (
    SELECT b.code FROM {table} b WHERE ST_Covers(b.geom, {_point("p.lon", "p.lat")})
    ORDER BY b.code LIMIT 1
) b
"""


# The index answers KNN only for a bare `ORDER BY geom <-> point`, so the inner query takes
# a few spare rows by index order and the outer one breaks distance ties by team id.
_KNN_SPARE = 8


def _nearest_many(where: str) -> str:
    point = _metric(_point("p.lon", "p.lat"))
    return f"""
SELECT p.i - 1 AS point, t.rank, t.id AS team_id, t.distance_m
FROM unnest(:lon::float8[], :lat::float8[]) WITH ORDINALITY AS p(lon, lat, i)
CROSS JOIN LATERAL (
    SELECT q.id, q.distance_m, row_number() OVER (ORDER BY q.distance_m, q.id) AS rank
    FROM (
        SELECT t.id, {_TEAM_AT} <-> {point} AS distance_m
        FROM team t
        WHERE {where}
        ORDER BY {_TEAM_AT} <-> {point}
        LIMIT :k + :spare
    ) q
    ORDER BY q.distance_m, q.id
    LIMIT :k
) t
ORDER BY point, rank
"""


def _team_matches(where: str) -> str:
    return f"""
SELECT * FROM (
    SELECT t.id, t.name, t.kind, t.status, t.position IS NOT NULL AS live, t.position_at,
           {_TEAM_AT} <-> q.m AS distance_m
    FROM team t, (SELECT {_metric(_point(":x", ":y"))} AS m) q
    WHERE {where}
    ORDER BY {_TEAM_AT} <-> q.m
    LIMIT :k + :spare
) nearest ORDER BY distance_m, id LIMIT :k"""


def _team_where(f: TeamFilter) -> tuple[str, dict]:
    clauses, params = ["true"], {}
    if f.kind:
        clauses.append("t.kind = :kind")
        params["kind"] = f.kind
    if f.statuses:
        clauses.append("t.status = ANY(:statuses)")
        params["statuses"] = list(f.statuses)
    if f.rosters:
        clauses.append("t.roster = ANY(:rosters)")
        params["rosters"] = list(f.rosters)
    if f.category:
        clauses.append(":category = ANY(t.categories)")
        params["category"] = f.category
    if f.street_code:
        clauses.append(":street = ANY(t.jurisdiction)")
        params["street"] = f.street_code
    return " AND ".join(clauses), params


class PostgisSqlStore(PostgisStore):
    """A PostGIS store whose locate, team ranking and camera checks run as SQL in the database."""

    def _teams_passing(self, f: TeamFilter) -> TeamTable:
        self._require_schema()
        where, params = _team_where(f)
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(to_pyformat(
                "SELECT t.id, t.name, t.kind, t.status, t.roster, t.categories, t.jurisdiction, "
                "ST_X(coalesce(t.position, t.home)) AS lon, "
                "ST_Y(coalesce(t.position, t.home)) AS lat, "
                "CASE WHEN t.position IS NULL THEN 'home' ELSE 'live' END AS position_source, "
                f"t.position_at FROM team t WHERE {where}"), params).fetchall()
        for r in rows:
            r["position_at"] = r["position_at"].astimezone(UTC) if r["position_at"] else None
        return TeamTable.from_rows(rows)


    def _grid_codes(self, lon, lat, at):
        self._require_schema()
        valid = valid_grids(at)
        idx = np.full(len(lon), -1, dtype=np.int64)
        table: dict[str, int] = {}
        with self.pool.connection() as conn:
            if len(lon) == 1:
                row = _execute(conn, f"SELECT g.code FROM grid g WHERE {valid} AND ST_Covers("
                               f"g.geom, {_point(':x', ':y')}) ORDER BY g.code LIMIT 1",
                               {"x": float(lon[0]), "y": float(lat[0]), "at": at}).fetchone()
                if row:
                    table[row[0]] = 0
                    idx[0] = 0
            else:
                sql = _locate_many(valid)
                for start in range(0, len(lon), _CHUNK):
                    end = min(start + _CHUNK, len(lon))
                    rows = _execute(conn, sql, {"lon": lon[start:end].tolist(),
                                                "lat": lat[start:end].tolist(), "at": at})
                    for i, code in rows:
                        idx[start + i - 1] = table.setdefault(code, len(table))
        return np.array(list(table), dtype=object), idx

    def _below_codes(self, lon, lat):
        self._require_schema()
        out = []
        with self.pool.connection() as conn:
            for table in ("compound", "building"):
                idx = np.full(len(lon), -1, dtype=np.int64)
                codes: dict[str, int] = {}
                sql = _below_many(table)
                for start in range(0, len(lon), _CHUNK):
                    end = min(start + _CHUNK, len(lon))
                    rows = _execute(conn, sql, {"lon": lon[start:end].tolist(),
                                                "lat": lat[start:end].tolist()})
                    for i, code in rows:
                        idx[start + i - 1] = codes.setdefault(code, len(codes))
                out.append((np.array(list(codes), dtype=object), idx))
        return tuple(out)

    def _locate_one(self, lon, lat, at):
        """Grid by the tie rule and the names of its areas, in one round trip."""
        self._require_schema()
        covering = (f"(SELECT g.code, g.name, g.community_code FROM grid g WHERE "
                    f"{valid_grids(at)} AND ST_Covers(g.geom, {_point(':x', ':y')}) "
                    "ORDER BY g.code LIMIT 1) g")
        with self.pool.connection() as conn:
            row = _execute(conn, location_sql(covering),
                           {"x": lon, "y": lat, "at": at}).fetchone()
        return None if row is None else location(*row)

    def _nearest(self, lon, lat, k, f):
        self._require_schema()
        where, params = _team_where(f)
        sql = _nearest_many(where)
        frames = []
        with self.pool.connection() as conn:
            for start in range(0, len(lon), _CHUNK):
                end = min(start + _CHUNK, len(lon))
                rows = _execute(conn, sql, {**params, "k": k, "spare": _KNN_SPARE,
                                            "lon": lon[start:end].tolist(),
                                            "lat": lat[start:end].tolist()}).fetchall()
                part = pd.DataFrame(rows, columns=["point", "rank", "team_id", "distance_m"])
                part["point"] += start
                frames.append(part)
        df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            columns=["point", "rank", "team_id", "distance_m"])
        return df.astype({"point": np.int64, "rank": np.int64, "distance_m": float})

    def _team_matches(self, lon, lat, k, f) -> list[TeamMatch]:
        self._require_schema()
        where, params = _team_where(f)
        with self.pool.connection() as conn:
            rows = _execute(conn, _team_matches(where), {**params, "x": lon, "y": lat, "k": k,
                                                         "spare": _KNN_SPARE}).fetchall()
        out = []
        for rank, (tid, name, kind, status, live, at, dist) in enumerate(rows, start=1):
            source = "live" if live else "home"
            at = at.astimezone(UTC) if at else None
            out.append(TeamMatch(rank, tid, name, kind, status, float(dist), source, at,
                                 explain_rank(rank, float(dist), source, at, f)))
        return out

    def _cameras(self, lon, lat, include_offline) -> list[CameraView]:
        self._require_schema()
        with self.pool.connection() as conn:
            rows = _execute(conn, _CAMERAS, {"lon": lon, "lat": lat, "max_range": MAX_RANGE_M,
                                             "include_offline": include_offline}).fetchall()
        return [CameraView(r[0], r[1], float(r[5]), float(r[6]) % 360.0, float(r[2]),
                           None if r[3] is None else float(r[3]), float(r[4])) for r in rows]

