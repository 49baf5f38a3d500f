"""Everything a dispatcher looks at around one issue: its grid, the ranked candidate teams
where they are with the route each would take, the cameras that can see the spot and open
issues of the same kind nearby; and the same as map features (`dispatch_features`)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import shapely

from geo.cameras import view_sectors
from geo.casework.dispatch import candidates, team_rows
from geo.casework.errors import InvalidInput
from geo.casework.nearby import nearby_open
from geo.casework.read import get_issue
from geo.casework.scope import Actor
from geo.crs import to_metric
from geo.i18n import _
from geo.model import DEFAULT_POLICY, Policy
from geo.store import Store
from geo.store.base import valid_grids

MAX_NEARBY_M = 5000.0


def dispatch_view(store: Store, actor: Actor, issue_id: int, now: datetime, k: int = 5,
                  nearby_m: float = 500.0, policy: Policy = DEFAULT_POLICY) -> dict:
    """The issue (as `actor` may see it) and its surroundings, each with coordinates; the
    candidates ranked by ETA under the workload `policy`."""
    if not 0 < nearby_m <= MAX_NEARBY_M:
        raise InvalidInput(_("nearby_m must be above 0 and at most {n} metres").format(
            n=f"{MAX_NEARBY_M:.0f}"))
    ranked = candidates(store, actor, issue_id, now, k, policy=policy)  # NotFound unless `actor` may see it
    issue = get_issue(store, actor, issue_id, now)
    views = store.cameras_seeing(issue["lon"], issue["lat"])
    ids = [c["team_id"] for c in ranked["candidates"]]
    with store.snapshot() as tx:
        d = tx.dialect
        grid = tx.one(f"SELECT code, name, {d.wkb('g.geom')} AS wkb FROM grid g "
                      f"WHERE g.code = :code AND {valid_grids(None, 'g')}",
                      {"code": issue["grid_code"]})
        at = ({t["id"]: t for t in team_rows(tx, d.in_list("t.id", "ids"), {"ids": ids})}
              if ids else {})
        nearby = nearby_open(tx, actor, issue["category_code"], issue["lon"], issue["lat"],
                             exclude=issue_id, limit=50, radius_m=nearby_m)
        places = {c["id"]: c for c in tx.rows(
            f"SELECT c.id, {d.lon('c')} AS lon, {d.lat('c')} AS lat FROM camera c "
            f"WHERE {d.in_list('c.id', 'ids')}", {"ids": [v.camera_id for v in views]})
        } if views else {}
    teams = [c | {"lon": at[c["team_id"]]["lon"], "lat": at[c["team_id"]]["lat"]}
             for c in ranked["candidates"]]
    seeing = [{"camera_id": v.camera_id, "kind": v.kind, "distance_m": round(v.distance_m, 1),
               "bearing_deg": round(v.bearing_deg, 1), "heading_deg": v.heading_deg,
               "fov_deg": v.fov_deg, "range_m": v.range_m,
               "lon": places[v.camera_id]["lon"], "lat": places[v.camera_id]["lat"]}
              for v in views]
    return {"issue": issue, "grid": grid, "candidates": teams, "mode": ranked["mode"],
            "none_reason": ranked["none_reason"], "filter": ranked["filter"],
            "policy": ranked.get("policy"),
            "cameras": seeing, "nearby": nearby}


ENDPOINT_M = 0.1  # a route's end this close to its marker is the marker (rounding)
ISSUE_FIELDS = ("category_code", "category_name", "state", "version", "light", "description",
                "reported_at", "state_since", "due_at", "grid_code", "address")


def route_line(candidate: dict, here: tuple[float, float]) -> tuple[shapely.LineString, str]:
    """The way a candidate would go, from the team to the issue, and how it is drawn: along
    its `route` ("road"), or the straight line when there is none ("straight")."""
    there = (candidate["lon"], candidate["lat"])
    points = [tuple(p) for p in candidate.get("route") or ()]
    if len(points) < 2:
        return shapely.LineString([there, here]), "straight"
    # The line ends exactly at the markers: an end that differs from one by rounding is
    # moved onto it, one farther off gets a leg to it.
    if _near(points[0], there):
        points[0] = there
    else:
        points.insert(0, there)
    if _near(points[-1], here):
        points[-1] = here
    else:
        points.append(here)
    return shapely.LineString(points), "road"


def _near(a: tuple[float, float], b: tuple[float, float]) -> bool:
    x, y = to_metric([a[0], b[0]], [a[1], b[1]])
    return float(np.hypot(x[1] - x[0], y[1] - y[0])) < ENDPOINT_M


def dispatch_features(view: dict) -> tuple[list[str], list, list[dict]]:
    """`dispatch_view` as map features (ids, geometries, properties), each with a `kind`:
    issue, grid, candidate (the team) and route (its way there), camera and camera_view,
    nearby."""
    issue = view["issue"]
    here = (issue["lon"], issue["lat"])
    ids, geoms, props = [f"issue:{issue['id']}"], [shapely.Point(here)], [
        {"kind": "issue", "id": issue["id"], **{k: issue.get(k) for k in ISSUE_FIELDS},
         "mode": view["mode"], "filter": view["filter"], "policy": view["policy"],
         "none_reason": view["none_reason"]}]
    if view["grid"]:
        ids.append(f"grid:{view['grid']['code']}")
        geoms.append(shapely.from_wkb(bytes(view["grid"]["wkb"])))
        props.append({"kind": "grid", "code": view["grid"]["code"], "name": view["grid"]["name"]})
    for c in view["candidates"]:
        fields = {k: v for k, v in c.items() if k not in ("lon", "lat", "route", "kind")}
        fields["team_kind"] = c["kind"]  # `kind` says which feature it is
        line, drawn = route_line(c, here)
        ids += [f"team:{c['team_id']}", f"route:{c['team_id']}"]
        geoms += [shapely.Point(c["lon"], c["lat"]), line]
        props += [{"kind": "candidate", **fields}, {"kind": "route", "drawn": drawn, **fields}]
    if view["cameras"]:
        cams = view["cameras"]
        sectors = view_sectors([c["lon"] for c in cams], [c["lat"] for c in cams],
                               [np.nan if c["heading_deg"] is None else c["heading_deg"]
                                for c in cams], [c["fov_deg"] for c in cams],
                               [c["range_m"] for c in cams])
        for c, sector in zip(cams, sectors, strict=True):
            fields = {k: v for k, v in c.items() if k not in ("lon", "lat", "kind")}
            fields["camera_kind"] = c["kind"]
            ids += [f"camera:{c['camera_id']}", f"view:{c['camera_id']}"]
            geoms += [shapely.Point(c["lon"], c["lat"]), sector]
            props += [{"kind": "camera", **fields}, {"kind": "camera_view", **fields}]
    for n in view["nearby"]:
        ids.append(f"nearby:{n['id']}")
        geoms.append(shapely.Point(n["lon"], n["lat"]))
        props.append({"kind": "nearby", **{k: n[k] for k in ("id", "state", "reported_at",
                                                              "distance_m")}})
    return ids, geoms, props
