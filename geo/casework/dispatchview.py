"""Everything a dispatcher looks at around one issue: its grid, the ranked candidate teams
where they are, the cameras that can see the spot and open issues of the same kind nearby."""

from __future__ import annotations

from datetime import datetime

from geo.casework.dispatch import candidates, team_rows
from geo.casework.errors import InvalidInput
from geo.casework.nearby import nearby_open
from geo.casework.read import get_issue
from geo.casework.scope import Actor
from geo.store import Store
from geo.store.base import valid_grids

MAX_NEARBY_M = 5000.0


def dispatch_view(store: Store, actor: Actor, issue_id: int, now: datetime, k: int = 5,
                  nearby_m: float = 500.0) -> dict:
    """The issue (as `actor` may see it) and its surroundings, each with coordinates."""
    if not 0 < nearby_m <= MAX_NEARBY_M:
        raise InvalidInput(f"nearby_m must be above 0 and at most {MAX_NEARBY_M:.0f} metres")
    ranked = candidates(store, actor, issue_id, now, k)  # NotFound unless `actor` may see it
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
            "cameras": seeing, "nearby": nearby}
