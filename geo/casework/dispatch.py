"""Choosing teams: ranked candidates for an issue, the normal/emergency switch (平急结合),
and team positions reported by the teams' devices."""

from __future__ import annotations

import time
import weakref
from datetime import datetime, timedelta

from geo.casework.errors import Forbidden, InvalidInput, NotFound
from geo.casework.read import fetch
from geo.casework.scope import Actor, visible_teams
from geo.casework.workload import last_assigned, read_workload
from geo.codes import LENGTHS, at_level
from geo.crs import CoordinateError, check_metric_area, to_storage
from geo.i18n import _, ngettext
from geo.model import DEFAULT_POLICY, EtaMatch, Policy, TeamFilter, TeamMatch, Workload
from geo.store import Store
from geo.store.sql import Tx, as_dt, as_json
from geo.taxonomy import CATEGORY_BY_CODE, TEAM_STATUSES

MODES = ("normal", "emergency")
STALE_AFTER = timedelta(minutes=15)  # a live position older than this is flagged as stale


def rosters(mode: str) -> tuple[str, ...]:
    """A roster serves in normal times; in an emergency the B roster is called in too."""
    return ("A", "B") if mode == "emergency" else ("A",)


def _mode_row(row: dict | None) -> dict:
    if row is None:
        return {"mode": "normal", "changed_by": None, "changed_at": None, "reason": None}
    return {"mode": row["mode"], "changed_by": row["changed_by"],
            "changed_at": as_dt(row["changed_at"]), "reason": row["reason"]}


def read_mode(tx: Tx) -> dict:
    """The city-wide mode, who set it, when and why, and the areas (districts, streets)
    switched on their own."""
    rows = tx.rows("SELECT area_code, mode, changed_by, changed_at, reason FROM area_mode "
                   "ORDER BY area_code")
    city = next((r for r in rows if r["area_code"] == ""), None)
    return {**_mode_row(city),
            "areas": [{"area": r["area_code"], **_mode_row(r)} for r in rows if r["area_code"]]}


def _areas_of(street_code: str | None) -> list[str]:
    """The area_mode rows that decide a street's mode: the city, its district, itself."""
    if not street_code:
        return [""]
    return ["", at_level(street_code, "district"), street_code]


def street_mode(modes: dict[str, str], street_code: str | None) -> str:
    """A street is in emergency when the city, its district or the street itself is
    (`modes`: area code → mode, as `area_modes` reads them)."""
    return ("emergency" if any(modes.get(a) == "emergency" for a in _areas_of(street_code))
            else "normal")


def area_modes(tx: Tx) -> dict[str, str]:
    """Every area's switch: area code ('' the city) → mode."""
    return {r["area_code"]: r["mode"] for r in tx.rows("SELECT area_code, mode FROM area_mode")}


def mode_for_dispatch(tx: Tx, street_code: str | None = None) -> str:
    """The mode a dispatch in a street is checked under, with the rows that decide it (the
    city's, the district's, the street's) locked until the dispatch commits: a switch waits
    for the dispatch, or the dispatch, coming second, sees the new mode. A B-roster dispatch
    thus never commits after the switch back to normal."""
    areas = _areas_of(street_code)
    rows = tx.rows(f"SELECT area_code, mode FROM area_mode WHERE "
                   f"{tx.dialect.in_list('area_code', 'areas')}{tx.dialect.for_share()}",
                   {"areas": areas})
    return street_mode({r["area_code"]: r["mode"] for r in rows}, street_code)


_MODE_TTL_S = 1.0  # how long a process reuses the mode it read; a switch reaches all within it
_mode_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # store → (read at, mode)


def _cached_modes(store: Store) -> tuple[dict, dict[str, str]]:
    """The city-wide mode and every area's, re-read at most once a second per store (asked
    on every report)."""
    hit = _mode_cache.get(store)
    if hit and time.monotonic() - hit[0] < _MODE_TTL_S:
        return hit[1], hit[2]
    with store.snapshot() as tx:
        mode, modes = read_mode(tx), area_modes(tx)
    _mode_cache[store] = (time.monotonic(), mode, modes)
    return mode, modes


def get_mode(store: Store) -> dict:
    """The current mode (city-wide, and the areas switched on their own)."""
    return _cached_modes(store)[0]


def mode_of_street(store: Store, street_code: str | None) -> str:
    """The mode a street is in now (see `street_mode`), from the cached switches."""
    return street_mode(_cached_modes(store)[1], street_code)


def _check_area(actor: Actor, area: str) -> str:
    """A district or street code the actor may switch: in their jurisdiction (admins: any)."""
    if not area.isdigit() or len(area) not in (LENGTHS["district"], LENGTHS["street"]):
        raise InvalidInput(_("area must be a district or street code, not {area}").format(
            area=area), code="invalid_area")
    if actor.role != "admin" and not actor.covers_code(area):
        raise Forbidden(_("area {area} lies outside your jurisdiction").format(area=area),
                        code="outside_jurisdiction")
    return area


def set_mode(store: Store, actor: Actor, mode: str, reason: str, now: datetime,
             area: str | None = None) -> dict:
    """Switch the whole city (`area` None) or one district or street of the actor's
    jurisdiction between normal and emergency mode."""
    if mode not in MODES:
        raise InvalidInput(_("mode must be one of {modes}").format(modes=", ".join(MODES)))
    area = "" if not area else _check_area(actor, area)
    with store.tx() as tx:
        if area and tx.one("SELECT code FROM district WHERE code = :a UNION ALL SELECT code "
                           "FROM street WHERE code = :a", {"a": area}) is None:
            raise NotFound(_("no district or street {area}").format(area=area),
                           code="unknown_area")
        tx.run("INSERT INTO area_mode (area_code, mode, changed_by, changed_at, reason) VALUES "
               "(:a, :m, :by, :now, :reason) ON CONFLICT (area_code) DO UPDATE SET "
               "mode = excluded.mode, changed_by = excluded.changed_by, "
               "changed_at = excluded.changed_at, reason = excluded.reason",
               {"a": area, "m": mode, "by": actor.username, "now": now, "reason": reason})
        out = read_mode(tx)
    _mode_cache.pop(store, None)
    return out


def _diagnose(tx: Tx, category_code: str, street_code: str, mode: str) -> str:
    """Why no team qualifies, by relaxing one condition at a time."""
    d = tx.dialect
    base = {"cat": category_code, "street": street_code}
    handles = d.list_contains("t.categories", "cat")
    covers = d.list_contains("t.jurisdiction", "street")

    def count(cond: str, extra: dict | None = None) -> int:
        return tx.one(f"SELECT count(*) AS n FROM team t WHERE {cond}", {**base, **(extra or {})})["n"]

    if count(handles) == 0:
        return _("no team in the city handles category {category}").format(
            category=category_code)
    in_area = count(f"{handles} AND {covers}")
    if in_area == 0:
        return _("no team that handles {category} has street {street} in its "
                 "jurisdiction").format(category=category_code, street=street_code)
    available = count(f"{handles} AND {covers} AND t.status = 'available'")
    if available == 0:
        return ngettext(
            "the {n} team handling {category} in street {street} is busy or off duty",
            "all {n} teams handling {category} in street {street} are busy or off duty",
            in_area).format(n=in_area, category=category_code, street=street_code)
    if mode != "normal":
        return _("no team qualifies")
    return ngettext(
        "the {n} available team handling {category} in street {street} is on the B "
        "(emergency) roster; switch to emergency mode to dispatch it",
        "the {n} available teams handling {category} in street {street} are on the B "
        "(emergency) roster; switch to emergency mode to dispatch them",
        available).format(n=available, category=category_code, street=street_code)


RANKINGS = ("eta", "distance")


def match_fields(m: EtaMatch | TeamMatch, workload: Workload) -> dict:
    """What every list of ranked teams says of a team (candidates, the intake's answer); a
    straight-line ranking has no road facts, but the workload rule holds for it too."""
    open_n = workload.open_assignments.get(m.team_id, 0)
    road = isinstance(m, EtaMatch)
    return {"rank": m.rank, "team_id": m.team_id, "name": m.name, "kind": m.kind,
            "distance_m": round(m.distance_m, 1),
            "eta_s": round(m.eta_s, 1) if road else None,
            "road_m": None if not road or m.road_m is None else round(m.road_m, 1),
            "basis": m.basis if road else None, "via": list(m.via) if road else None,
            "open_assignments": open_n,
            "recommended": m.recommended if road else open_n < workload.policy.max_open,
            "reason": m.reason}


def _stale(now: datetime, source: str, at: datetime | None) -> bool:
    return source == "home" or (at is not None and now - at > STALE_AFTER)


def candidates(store: Store, actor: Actor, issue_id: int, now: datetime, k: int = 5,
               by: str = "eta", policy: Policy = DEFAULT_POLICY) -> dict:
    """Ranked teams for an issue: the quickest to arrive along the roads first (`by="eta"`,
    weighing workload by `policy`), or the nearest in a straight line
    (`by="distance"`); each with its distance, ETA, reason and staleness."""
    if not 1 <= k <= 50:
        raise InvalidInput(_("k must be between 1 and 50"))
    if by not in RANKINGS:
        raise InvalidInput(_("rank by one of {rankings}, not {by}").format(
            rankings=", ".join(RANKINGS), by=by))
    with store.snapshot() as tx:
        issue = fetch(tx, actor, issue_id)
        mode = street_mode(area_modes(tx), issue["street_code"])
        workload = read_workload(tx, policy)
    if issue["street_code"] is None:
        raise InvalidInput(_("issue {issue} lies outside every grid: no jurisdiction to "
                             "dispatch in").format(issue=issue_id), code="outside_city")
    team_filter = TeamFilter(category=issue["category_code"], statuses=("available",),
                             street_code=issue["street_code"], rosters=rosters(mode))
    if by == "eta":
        ranked = store.nearest_by_eta(issue["lon"], issue["lat"], k=k, team_filter=team_filter,
                                      workload=workload)
    else:
        ranked = store.nearest_teams(issue["lon"], issue["lat"], k=k, team_filter=team_filter)
    out = []
    for m in ranked:
        stale = _stale(now, m.position_source, m.position_at)
        fields = match_fields(m, workload)
        if stale:
            fields["reason"] = _("{reason}; position is stale: confirm by radio before "
                                 "dispatch").format(reason=fields["reason"])
        out.append({**fields, "status": m.status, "position_source": m.position_source,
                    "position_at": m.position_at, "stale": stale,
                    "route": [[round(x, 7), round(y, 7)] for x, y in getattr(m, "route", ())]})
    why = None
    with store.snapshot() as tx:
        last = last_assigned(tx, [c["team_id"] for c in out])
        if not out:
            why = _diagnose(tx, issue["category_code"], issue["street_code"], mode)
    for c in out:
        c["last_assigned_at"] = last.get(c["team_id"])
    category = CATEGORY_BY_CODE[issue["category_code"]]
    return {"issue_id": issue_id, "mode": mode, "category_code": category.code,
            "handled_by": list(category.handled_by), "street_code": issue["street_code"],
            "filter": team_filter.describe(), "ranked_by": by,
            "policy": workload.describe() if by == "eta" else _("straight-line distance"),
            "candidates": out, "none_reason": why}


def check_teams(tx: Tx, issue: dict, team_ids: list[str], mode: str) -> list[dict]:
    """The teams a dispatch names, each checked against the issue; InvalidInput says which
    team fails and why. Their rows stay locked until the dispatch commits, so that a team
    going off duty or onto the B roster meanwhile waits, or is seen."""
    if not 1 <= len(team_ids) <= 10:
        raise InvalidInput(_("name between 1 and 10 teams"))
    if len(set(team_ids)) != len(team_ids):
        raise InvalidInput(_("a team is named twice"))
    if mode != "emergency":  # the city is not; the issue's district or street may be
        mode = mode_for_dispatch(tx, issue["street_code"])
    d = tx.dialect
    rows = {r["id"]: r for r in tx.rows(
        f"SELECT id, name, kind, status, roster, categories, jurisdiction FROM team t "
        f"WHERE {d.in_list('t.id', 'ids')} ORDER BY t.id{d.for_share()}", {"ids": team_ids})}
    teams = []
    for tid in team_ids:
        t = rows.get(tid)
        if t is None:
            raise InvalidInput(_("no team with id {team}").format(team=tid),
                               code="unknown_team")
        if issue["category_code"] not in as_json(t["categories"]):
            raise InvalidInput(_("team {team} does not handle category {category}").format(
                team=tid, category=issue["category_code"]), code="team_unsuitable")
        if issue["street_code"] not in as_json(t["jurisdiction"]):
            raise InvalidInput(_("team {team} has no jurisdiction over street {street}").format(
                team=tid, street=issue["street_code"]), code="team_unsuitable")
        if t["status"] == "off_duty":
            raise InvalidInput(_("team {team} is off duty").format(team=tid),
                               code="team_off_duty")
        if t["roster"] not in rosters(mode):
            raise InvalidInput(_("team {team} is on the B roster, which serves only in "
                                 "emergency mode").format(team=tid), code="team_b_roster")
        teams.append(t)
    return teams


def update_team(store: Store, actor: Actor, team_id: str, now: datetime,
                lon: float | None = None, lat: float | None = None, crs: str = "wgs84",
                status: str | None = None) -> dict:
    """A team's device reports its position and/or status. The time is the server's."""
    if actor.role != "admin" and actor.team_id != team_id:
        raise Forbidden(_("only members of this team (or an admin) may update it"))
    if status is not None and status not in TEAM_STATUSES:
        raise InvalidInput(_("status must be one of {statuses}").format(
            statuses=", ".join(TEAM_STATUSES)))
    if (lon is None) != (lat is None):
        raise InvalidInput(_("give both lon and lat, or neither"))
    if lon is None and status is None:
        raise InvalidInput(_("nothing to update: give a position, a status or both"))
    point = None
    if lon is not None:
        try:
            x, y = to_storage(lon, lat, crs)
            check_metric_area(x, y)
        except CoordinateError as exc:
            raise InvalidInput(str(exc)) from None
        point = (float(x[0]), float(y[0]))
    with store.tx() as tx:
        d = tx.dialect
        if tx.one("SELECT id FROM team WHERE id = :t", {"t": team_id}) is None:
            raise NotFound(_("no team {team}").format(team=team_id))
        if point is not None:
            tx.run(f"UPDATE team SET {d.set_team_position()}, position_at = :now WHERE id = :t",
                   {"lon": point[0], "lat": point[1], "now": now, "t": team_id})
        if status is not None:
            tx.run("UPDATE team SET status = :s WHERE id = :t", {"s": status, "t": team_id})
        return team_rows(tx, "t.id = :t", {"t": team_id})[0]


def team_rows(tx: Tx, where: str, params: dict) -> list[dict]:
    """Teams matching a WHERE condition on `t`, at their last reported position or home base."""
    rows = tx.rows(f"SELECT t.id, t.name, t.kind, t.status, t.roster, t.position_at, "
                   f"{tx.dialect.team_point('t')} FROM team t WHERE {where} ORDER BY t.id", params)
    return [{**r, "position_at": as_dt(r["position_at"])} for r in rows]


def list_teams(store: Store, actor: Actor) -> list[dict]:
    """The teams `actor` may see, at their last reported position (home base if none)."""
    with store.snapshot() as tx:
        where, params = visible_teams(actor, tx.dialect)
        return team_rows(tx, where, params)
