"""Travel times by pgRouting on a PostGIS store's road table, with the same rules as
geo.roads.eta: each point is put on its nearest road (in EPSG:4551 metres, ties to the lower
road id) at the fraction along it, and `pgr_withPointsCost` finds the quickest way between
those road points on the directed graph (cost forwards, reverse_cost backwards, -1 closed).
The walks off the road are added as in geo.roads.eta. One query answers one issue and many
teams: the reference the in-process ranking is checked and measured against."""

from __future__ import annotations

import numpy as np

from geo.crs import METRIC_EPSG
from geo.roads.classes import OFF_NETWORK_SPEED_MS

_SNAP = f"""
CREATE TEMP TABLE gd_point ON COMMIT DROP AS
SELECT q.i AS pid, r.id AS edge_id,
       -- A point at a road's very end is not routed from by pgRouting: keep it a hair inside.
       least(greatest(ST_LineLocatePoint(ST_Transform(r.geom, {METRIC_EPSG}), q.m), 1e-9),
             1 - 1e-9) AS fraction,
       ST_Distance(ST_Transform(r.geom, {METRIC_EPSG}), q.m) AS offset_m,
       'b'::char AS side
FROM (SELECT i, ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), 4326), {METRIC_EPSG}) AS m
      FROM unnest(%(lon)s::float8[], %(lat)s::float8[]) WITH ORDINALITY AS p(lon, lat, i)) q
CROSS JOIN LATERAL (  -- by index order (KNN), then equal distances by id
    SELECT k.id, k.geom FROM (
        SELECT r.id, r.geom, ST_Transform(r.geom, {METRIC_EPSG}) <-> q.m AS d FROM road r
        ORDER BY ST_Transform(r.geom, {METRIC_EPSG}) <-> q.m LIMIT 8) k
    ORDER BY k.d, k.id LIMIT 1) r
"""

# pgRouting keeps one point of those at the same place on the same road: each place is
# given once, under its first pid.
_PLACES = """
CREATE TEMP TABLE gd_place ON COMMIT DROP AS
SELECT p.pid, min(p.pid) OVER (PARTITION BY p.edge_id, p.fraction) AS place FROM gd_point p
"""
_COST = """
SELECT -c.start_pid AS pid, c.agg_cost FROM pgr_withPointsCost(
    'SELECT id, source, target, cost, reverse_cost FROM road',
    'SELECT pid, edge_id, fraction, side FROM gd_point WHERE pid IN (SELECT place FROM gd_place)',
    %(teams)s::bigint[], -%(issue)s::bigint, directed => true, driving_side => 'b') c
"""


def pgrouting_eta(store, issue_lonlat: tuple[float, float], team_lon, team_lat) -> np.ndarray:
    """Seconds from each team position to the issue (WGS84), np.nan where pgRouting finds
    no route."""
    if len(team_lon) == 0:
        return np.zeros(0)
    lon = [issue_lonlat[0], *map(float, team_lon)]
    lat = [issue_lonlat[1], *map(float, team_lat)]
    with store.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
        cur.execute(_SNAP, {"lon": lon, "lat": lat})
        offsets = dict(cur.execute("SELECT pid, offset_m FROM gd_point").fetchall())
        cur.execute(_PLACES)
        place = dict(cur.execute("SELECT pid, place FROM gd_place").fetchall())
        starts = sorted({place[i] for i in range(2, len(lon) + 1)} - {place[1]})
        costs = dict(cur.execute(_COST, {"teams": [-p for p in starts], "issue": place[1]}
                                 ).fetchall()) if starts else {}
        costs[place[1]] = 0.0  # a team where the issue is
    out = np.full(len(lon) - 1, np.nan)
    for pid in range(2, len(lon) + 1):
        if place[pid] in costs:
            out[pid - 2] = costs[place[pid]] + (offsets[pid] + offsets[1]) / OFF_NETWORK_SPEED_MS
    return out
