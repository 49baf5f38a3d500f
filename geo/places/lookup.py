"""One point, everything an operator needs about it.

- Where: the grid covering it by the store's locate (its tie rule: the smallest grid code on a
  shared edge), then its community, street and district. A point outside every grid says so.
- Who: per level the named responsible people (四级包保: district leader, street cadre,
  community secretary, grid head) as `responsible`; the grid's workers (the names the grid row
  holds), the teams serving its street and the staff accounts bound to its community, street
  or district, shown to those whose jurisdiction holds them.
- Below the grid: the compound (小区) and building (楼栋) at the point with their heads (三长).
  Phones only when the caller may call them (`phones`, the route's people:read): the
  responsible people's everywhere (the city's contact list, as /responsibility gives it),
  the heads' inside the caller's jurisdiction (geo.compounds.read.below_at).
- What sees it: cameras within range whose view sector holds it (geo.cameras, geodesic), each
  with the sector as a GeoJSON polygon for the map.
- What is open nearby: open issues the actor may see within `radius_m` (geodesic metres),
  nearest first, at most `limit`.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import shapely
from shapely.geometry import mapping

from geo.cameras import view_sectors
from geo.casework.errors import InvalidInput
from geo.casework.read import is_open
from geo.casework.scope import AREA_ROLES, Actor, visible_issues, visible_teams
from geo.compounds.read import below_at
from geo.crs import GEOD, degree_box
from geo.i18n import _
from geo.places.locate import outside_message, storage_point
from geo.responsibility.chain import responsible_chain
from geo.store import Store
from geo.store.base import valid_grids
from geo.store.sql import Tx, as_dt, as_json
from geo.taxonomy import category_label, team_kind_label
from geo.workflow import light, role_label

DEFAULT_RADIUS_M = 300.0
MAX_RADIUS_M = 2000.0
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_TEAMS = 50
MAX_PEOPLE = 20
SECTOR_DIGITS = 6  # about 0.1 m: enough to draw a sector
ARC_POINTS = 48  # a drawn dome's edge is within 0.3% of its range


def place_at(store: Store, actor: Actor, lon: float, lat: float, now: datetime,
             crs: str = "wgs84", radius_m: float = DEFAULT_RADIUS_M,
             limit: int = DEFAULT_LIMIT, phones: bool = False) -> dict:
    """What is at (lon, lat) in `crs`, as `actor` may see it (see the module)."""
    if not 0 < radius_m <= MAX_RADIUS_M:
        raise InvalidInput(_("radius_m must be above 0 and at most {n} metres").format(
            n=int(MAX_RADIUS_M)))
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(_("limit must be from 1 to {n}").format(n=MAX_LIMIT))
    px, py = storage_point(lon, lat, crs)
    where = store.locate(px, py)
    cameras = _cameras(store, px, py)
    with store.snapshot() as tx:
        nearby, total = _nearby(tx, actor, px, py, now, radius_m, limit)
        answer = {
            "point": {"lon": px, "lat": py, "crs": "wgs84",
                      "given": {"lon": lon, "lat": lat, "crs": crs}},
            "inside": where is not None,
            "message": None if where else outside_message(),
            "grid": None, "community": None, "street": None, "district": None,
        }
        if where is not None:
            answer.update(_areas(tx, actor, where, phones))
    answer["below"] = below_at(store, actor, px, py, phones=phones)
    answer["cameras"] = cameras
    answer["nearby_issues"] = {"radius_m": radius_m, "total": total, "items": nearby}
    return answer


def _areas(tx: Tx, actor: Actor, where, phones: bool) -> dict:
    d = tx.dialect
    responsible = {lv["level"]: lv["people"] for lv in responsible_chain(tx, where.grid_code,
                                                                         phones)}
    grid = tx.one(f"SELECT code, name, workers, households FROM grid g WHERE g.code = :c AND "
                  f"{valid_grids(None, 'g')}", {"c": where.grid_code})
    workers = as_json(grid["workers"]) if grid else []
    covered = actor.role == "admin" or (actor.role in AREA_ROLES and
                                        actor.covers(where.street_code))
    team_where, team_params = visible_teams(actor, d)
    teams = tx.rows(f"SELECT t.id, t.name, t.kind, t.status FROM team t WHERE {team_where} AND "
                    f"{d.list_contains('t.jurisdiction', 'street')} ORDER BY t.kind, t.id "
                    "LIMIT :n", {**team_params, "street": where.street_code, "n": MAX_TEAMS})
    community_covered = actor.role == "admin" or (actor.role in AREA_ROLES and
                                                  actor.covers_code(where.community_code))
    community_staff = _staff(tx, where.community_code) if community_covered else []
    return {
        "grid": {"code": where.grid_code, "name": where.grid_name,
                 "households": grid["households"] if grid else None,
                 "responsible": responsible.get("grid", []),
                 "people": [{"name": w, "role": "grid_worker",
                             "role_label": role_label("grid_worker")} for w in workers or []]},
        "community": {"code": where.community_code, "name": where.community_name,
                      "responsible": responsible.get("community", []), "people": community_staff},
        "street": {"code": where.street_code, "name": where.street_name,
                   "responsible": responsible.get("street", []),
                   "people": _staff(tx, where.street_code) if covered else [],
                   "teams": [t | {"kind_label": team_kind_label(t["kind"])}
                             for t in teams]},
        "district": {"code": where.district_code, "name": where.district_name,
                     "responsible": responsible.get("district", []),
                     "people": _staff(tx, where.district_code) if covered else []},
    }


def _staff(tx: Tx, code: str) -> list[dict]:
    """Active staff accounts bound to exactly this community, street or district."""
    rows = tx.rows("SELECT username, display_name, role FROM app_user u WHERE active = :yes AND "
                   f"{tx.dialect.in_list('role', 'roles')} AND "
                   f"{tx.dialect.list_contains('u.jurisdiction', 'code')} ORDER BY role, username "
                   "LIMIT :n", {"yes": True, "roles": list(AREA_ROLES), "code": code,
                               "n": MAX_PEOPLE})
    return [{"name": r["display_name"] or r["username"], "username": r["username"],
             "role": r["role"], "role_label": role_label(r["role"])} for r in rows]


def _cameras(store: Store, lon: float, lat: float) -> list[dict]:
    """Every camera that sees the point, offline ones too (their status says so), nearest
    first, with its view sector as GeoJSON."""
    views = store.cameras_seeing(lon, lat, include_offline=True)
    if not views:
        return []
    with store.snapshot() as tx:
        d = tx.dialect
        at = {r["id"]: r for r in tx.rows(
            f"SELECT c.id, c.status, {d.lon('c')} AS lon, {d.lat('c')} AS lat FROM camera c "
            f"WHERE {d.in_list('c.id', 'ids')}", {"ids": [v.camera_id for v in views]})}
    sectors = view_sectors([at[v.camera_id]["lon"] for v in views],
                           [at[v.camera_id]["lat"] for v in views],
                           [np.nan if v.heading_deg is None else v.heading_deg for v in views],
                           [v.fov_deg for v in views], [v.range_m for v in views],
                           arc_points=ARC_POINTS)
    return [{"id": v.camera_id, "kind": v.kind, "status": at[v.camera_id]["status"],
             "lon": at[v.camera_id]["lon"], "lat": at[v.camera_id]["lat"],
             "distance_m": round(v.distance_m, 1), "bearing_deg": round(v.bearing_deg, 1),
             "range_m": v.range_m, "heading_deg": v.heading_deg, "fov_deg": v.fov_deg,
             "sector": mapping(shapely.set_precision(s, 10 ** -SECTOR_DIGITS))}
            for v, s in zip(views, sectors, strict=True)]


def _nearby(tx: Tx, actor: Actor, lon: float, lat: float, now: datetime, radius_m: float,
            limit: int) -> tuple[list[dict], int]:
    """Open issues `actor` may see within `radius_m` geodesic metres, nearest first (ties by
    id), the first `limit`; and how many there are in all."""
    d = tx.dialect
    west, south, east, north = degree_box(lon, lat, radius_m)
    where, params = visible_issues(actor, d)
    rows = tx.rows(
        f"SELECT i.id, i.category_code, i.state, i.state_since, i.due_at, i.reported_at, "
        f"i.grid_code, i.description, {d.lon('i')} AS lon, {d.lat('i')} AS lat FROM issue i "
        f"WHERE {where} AND {is_open('i')} AND {d.in_bbox('i')}",
        {**params, "bbox_minx": west, "bbox_maxx": east, "bbox_miny": south, "bbox_maxy": north})
    if not rows:
        return [], 0
    _az, _back, dist = GEOD.inv(np.full(len(rows), lon), np.full(len(rows), lat),
                                [r["lon"] for r in rows], [r["lat"] for r in rows])
    found = sorted(((float(m), r) for m, r in zip(np.atleast_1d(dist), rows, strict=True)
                    if m <= radius_m), key=lambda p: (p[0], p[1]["id"]))
    out = []
    for m, r in found[:limit]:
        since, due = as_dt(r["state_since"]), as_dt(r["due_at"])
        out.append({"id": int(r["id"]), "category_code": r["category_code"],
                    "category_name": category_label(r["category_code"]),
                    "state": r["state"], "light": light(r["state"], since, due, now) if due else None,
                    "distance_m": round(m, 1), "lon": r["lon"], "lat": r["lat"],
                    "reported_at": as_dt(r["reported_at"]), "grid_code": r["grid_code"],
                    "description": r["description"][:200]})
    return out, len(found)
