"""Step 1, report (基层报单): validate, locate, store, and say where it is, who is nearest and
which open reports nearby may be the same problem."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import shapely
from shapely.geometry import Point

from geo.casework import read
from geo.casework.dispatch import match_fields, mode_of_street, rosters
from geo.casework.errors import Forbidden, InvalidInput
from geo.casework.idempotency import IdempotencyKey, remember
from geo.casework.nearby import nearby_open
from geo.casework.scope import AREA_ROLES, Actor
from geo.casework.workload import read_workload
from geo.crs import SOURCE_CRS, CoordinateError, check_metric_area, to_storage
from geo.i18n import _
from geo.model import DEFAULT_POLICY, Policy, TeamFilter
from geo.store import Store
from geo.store.base import valid_grids
from geo.store.sql import DatabaseBusy, Tx
from geo.taxonomy import CATEGORY_BY_CODE
from geo.workflow import due_at

MAX_DESCRIPTION = 4000
MAX_LOCATE_ATTEMPTS = 3
CHANNELS = {"grid_worker": "grid_worker", "citizen": "citizen_app", "device": "device"}


@dataclass(frozen=True)
class Report:
    category_code: str
    description: str
    lon: float
    lat: float
    crs: str = "wgs84"
    address: str | None = None


def _validate(r: Report) -> tuple[float, float]:
    if r.category_code not in CATEGORY_BY_CODE:
        raise InvalidInput(_("unknown category {category}; known categories: {known}").format(
            category=r.category_code, known=", ".join(CATEGORY_BY_CODE)),
            code="unknown_category")
    if r.crs not in SOURCE_CRS:
        raise InvalidInput(_("unknown crs {crs}; expected one of {known}").format(
            crs=r.crs, known=", ".join(SOURCE_CRS)), code="unknown_crs")
    if len(r.description) > MAX_DESCRIPTION:
        raise InvalidInput(_("description is longer than {n} characters").format(
            n=MAX_DESCRIPTION))
    try:
        x, y = to_storage(r.lon, r.lat, r.crs)
        check_metric_area(x, y)
    except CoordinateError as exc:
        raise InvalidInput(str(exc), code="invalid_coordinates") from None
    return float(x[0]), float(y[0])


class _GridRetired(Exception):
    """The grid a report was located in was retired by a publish before the report was stored."""


def _hold_grid(tx: Tx, code: str, lon: float, lat: float) -> None:
    """Keep the grid the report was located in current until the report commits: a publish
    retiring it meanwhile waits, then re-locates this report with the other open issues. One
    that committed first has retired the row or redrawn it without the point: locate again.
    (A new grid of the same publish with a smaller code that also covers the point can only
    share a boundary with this one; such a point keeps this grid.)"""
    row = tx.one(f"SELECT {tx.dialect.wkb('geom')} AS wkb FROM grid g WHERE code = :g AND "
                 f"{valid_grids(None, 'g')}{tx.dialect.for_share()}", {"g": code})
    if row is None or not shapely.covers(shapely.from_wkb(bytes(row["wkb"])), Point(lon, lat)):
        raise _GridRetired


def _named(code: str | None, name: str | None) -> dict | None:
    return None if code is None else {"code": code, "name": name}


def report(store: Store, actor: Actor, r: Report, now: datetime,
           idem: IdempotencyKey | None = None, channel: str | None = None,
           policy: Policy = DEFAULT_POLICY) -> dict:
    """File a report; returns the stored issue with its location, the teams that would arrive
    first (workload weighed by `policy`) and possible duplicates."""
    lon, lat = _validate(r)
    for _attempt in range(MAX_LOCATE_ATTEMPTS):
        try:
            # The kept indexes checked against the revisions once per attempt: a retry after
            # a publish reads them anew.
            with store.revisions_pinned():
                return _file(store, actor, r, lon, lat, now, idem, channel, policy)
        except _GridRetired:
            continue  # a publish moved the boundary meanwhile: locate again in the new grids
    raise DatabaseBusy("the grid boundaries changed repeatedly while the report was filed")


def _file(store: Store, actor: Actor, r: Report, lon: float, lat: float, now: datetime,
          idem: IdempotencyKey | None, channel: str | None, policy: Policy) -> dict:
    where = store.locate(lon, lat)
    if where is None:
        raise InvalidInput(_("({lon}, {lat}) in {crs} lies outside every grid of this city: "
                             "report it to the authority responsible for that place").format(
                                 lon=r.lon, lat=r.lat, crs=r.crs), code="outside_city")
    if actor.role in AREA_ROLES and not actor.covers(where.street_code):
        raise Forbidden(_("the point lies in {street} ({code}), outside your "
                          "jurisdiction").format(street=where.street_name,
                                                 code=where.street_code),
                        code="outside_jurisdiction")
    below = store.locate_below(lon, lat)
    category = CATEGORY_BY_CODE[r.category_code]
    with store.snapshot() as tx:
        duplicates = nearby_open(tx, actor, category.code, lon, lat)
        workload = None if actor.role == "citizen" else read_workload(tx, policy)
    # Ranked before the write transaction, for staff only (a citizen is not told who comes):
    # a pooled backend must not hold two connections.
    teams = [] if workload is None else store.nearest_by_eta(lon, lat, k=3, team_filter=TeamFilter(
        category=category.code, statuses=("available",), street_code=where.street_code,
        rosters=rosters(mode_of_street(store, where.street_code))), workload=workload,
        geometry=False)
    with store.tx() as tx:
        _hold_grid(tx, where.grid_code, lon, lat)
        token = secrets.token_urlsafe(12)
        row = tx.one(
            f"INSERT INTO issue (category_code, description, {tx.dialect.point_columns()}, "
            "source_crs, reported_at, grid_code, community_code, street_code, district_code, "
            "compound_code, building_code, state, version, state_since, due_at, updated_at, "
            "channel, reported_by, address, open311_token) VALUES (:cat, :desc, "
            f"{tx.dialect.point_values()}, :crs, :now, :grid, :community, :street, :district, "
            ":compound, :building, 'reported', 1, :now, :due, :now, :channel, :by, :address, "
            f":token) RETURNING {read.issue_columns(tx.dialect, 'issue')}",
            {"cat": category.code, "desc": r.description, "lon": lon, "lat": lat, "crs": r.crs,
             "now": now, "grid": where.grid_code, "community": where.community_code,
             "street": where.street_code, "district": where.district_code,
             "compound": below.compound_code, "building": below.building_code,
             "due": due_at(category.code, "reported", now),
             "channel": channel or CHANNELS.get(actor.role, "operator"), "by": actor.username,
             "address": r.address, "token": token})
        issue_id = int(row["id"])
        tx.run("INSERT INTO issue_event (issue_id, at, actor, action, from_state, to_state, "
               "reason, details) VALUES (:id, :now, :actor, 'report', NULL, 'reported', '', :d)",
               {"id": issue_id, "now": now, "actor": actor.username,
                "d": {"crs": r.crs, "lon": r.lon, "lat": r.lat, "grid_code": where.grid_code}})
        issue = read.present(row, now, actor)
        body = {
            "issue": issue,
            "location": where.__dict__,
            "compound": _named(below.compound_code, below.compound_name),
            "building": _named(below.building_code, below.building_name),
            "recommended_teams": [match_fields(m, workload) for m in teams],
            "possible_duplicates": duplicates,
            "open311_token": token,
        }
        remember(tx, idem, 201, body, now)
    return body
