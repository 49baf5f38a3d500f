"""A grid's history: every outline its code has had, when each held (valid_from up to, not
including, valid_to), the plan whose publishing made it current and the plan that retired it.
The versions a city was loaded with have no plan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import shapely

from geo.casework.errors import NotFound
from geo.i18n import _
from geo.store import Store
from geo.store.sql import as_dt


@dataclass(frozen=True)
class Plan:
    id: int
    title: str
    area_code: str
    created_by: str
    published_by: str | None
    published_at: datetime


@dataclass(frozen=True)
class GridVersion:
    row: int  # the grid row: a version no longer current is CODE@ROW in the OGC API
    code: str
    name: str
    community_code: str
    households: int | None
    valid_from: datetime
    valid_to: datetime | None  # None: the current version
    geom: shapely.MultiPolygon
    published_by_plan: Plan | None  # None: loaded with the city
    retired_by_plan: Plan | None  # None: current, or retired outside a plan


_PLAN_COLUMNS = "id, title, area_code, created_by, published_by, published_at"


def _plan(row: dict | None) -> Plan | None:
    if row is None or row["id"] is None:
        return None
    return Plan(int(row["id"]), row["title"], row["area_code"], row["created_by"],
                row["published_by"], as_dt(row["published_at"]))


def grid_history(store: Store, code: str) -> list[GridVersion]:
    """The versions of grid `code`, oldest first (NotFound if the code never existed)."""
    with store.snapshot() as tx:
        d = tx.dialect
        rows = tx.rows(f"SELECT id, code, name, community_code, households, valid_from, valid_to, "
                       f"plan_id, {d.wkb('geom')} AS wkb FROM grid WHERE code = :code "
                       "ORDER BY valid_from", {"code": code})
        if not rows:
            raise NotFound(_("no grid has ever had the code {code}").format(code=code))
        plan_ids = sorted({int(r["plan_id"]) for r in rows if r["plan_id"] is not None})
        published = {p.id: p for p in map(_plan, tx.rows(
            f"SELECT {_PLAN_COLUMNS} FROM plan_draft WHERE {d.in_list('id', 'ids')}",
            {"ids": plan_ids}))} if plan_ids else {}
        # A publish ends the versions it replaces at its own instant, inside its area.
        ends = [r["valid_to"] for r in rows if r["valid_to"] is not None]
        retiring = tx.rows(
            f"SELECT {_PLAN_COLUMNS} FROM plan_draft WHERE state = 'published' "
            f"AND {d.in_list('published_at', 'ends')} "
            "AND substr(:code, 1, length(area_code)) = area_code",
            {"ends": ends, "code": code}) if ends else []
    retired_at = {p.published_at: p for p in map(_plan, retiring)}
    return [GridVersion(
        int(r["id"]), r["code"], r["name"], r["community_code"], r["households"], as_dt(r["valid_from"]),
        as_dt(r["valid_to"]) if r["valid_to"] is not None else None,
        shapely.from_wkb(bytes(r["wkb"])),
        published.get(int(r["plan_id"])) if r["plan_id"] is not None else None,
        retired_at.get(as_dt(r["valid_to"])) if r["valid_to"] is not None else None)
        for r in rows]
