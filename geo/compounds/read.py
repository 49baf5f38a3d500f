"""What the API and the map read of compounds and buildings: the polygons in a box, one
compound with its buildings, units, heads (三长) and property company, the heads of an area
by roster, and what lies below the grid at a point."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from geo.casework.dispatch import area_modes, street_mode
from geo.casework.errors import Forbidden, InvalidInput, NotFound
from geo.casework.scope import Actor
from geo.codes import LENGTHS
from geo.i18n import _
from geo.store import Store

MAX_FEATURES = 2000  # polygons per answer
MAX_HEADS = 5000  # heads per answer
ROSTERS = ("A", "B")
LEVELS = ("compound", "building", "unit")


@dataclass(frozen=True)
class Page:
    ids: list[str]
    geoms: np.ndarray
    props: list[dict]
    matched: int


_COLUMNS = {
    "compound": "t.code, t.name, t.community_code, t.property_company_id, t.households, "
                "t.built_year",
    "building": "t.code, t.compound_code, t.name, t.floors, t.households",
}


def in_box(store: Store, table: str, box: tuple[float, float, float, float], limit: int) -> Page:
    """The compounds or buildings whose polygons meet the box, by code, at most `limit`;
    `matched` counts them all."""
    if table not in _COLUMNS:
        raise ValueError(table)
    limit = max(1, min(int(limit), MAX_FEATURES))
    params = dict(zip(("bbox_minx", "bbox_miny", "bbox_maxx", "bbox_maxy"), box, strict=True))
    with store.snapshot() as tx:
        where = tx.dialect.polygon_in_bbox("t")
        matched = tx.one(f"SELECT count(*) AS n FROM {table} t WHERE {where}", params)["n"]
        rows = tx.rows(f"SELECT {_COLUMNS[table]}, {tx.dialect.wkb('t.geom')} AS wkb "
                       f"FROM {table} t WHERE {where} ORDER BY t.code LIMIT :limit",
                       {**params, "limit": limit})
    geoms = shapely.from_wkb([bytes(r.pop("wkb")) for r in rows]) if rows else np.array([])
    return Page([r["code"] for r in rows], geoms, rows, int(matched))


def _heads(tx, where: str, params: dict, phones: bool) -> list[dict]:
    rows = tx.rows("SELECT h.id, h.level, h.area_code, h.name, h.phone, h.roster, h.agency "
                   f"FROM resident_head h WHERE {where} ORDER BY h.roster, h.level, "
                   "h.area_code, h.id LIMIT :max_heads", {**params, "max_heads": MAX_HEADS})
    for r in rows:
        r["id"] = int(r["id"])
        if not phones:
            r["phone"] = None
    return rows


def compound_detail(store: Store, actor: Actor, code: str, phones: bool) -> dict:
    """A compound with its property company, buildings (each with its units) and heads;
    heads' phones only when `phones` (scope people:read) and the compound lies in the
    actor's jurisdiction."""
    phones = phones and actor.covers_code(code)
    with store.snapshot() as tx:
        c = tx.one("SELECT c.code, c.name, c.community_code, m.name AS community_name, "
                   "c.households, c.built_year, c.property_company_id FROM compound c "
                   "JOIN community m ON m.code = c.community_code WHERE c.code = :code",
                   {"code": code})
        if c is None:
            raise NotFound(_("no compound {code}").format(code=code), code="unknown_compound")
        company_id = c.pop("property_company_id")
        company = None if company_id is None else tx.one(
            "SELECT id, name, phone, address FROM property_company WHERE id = :id",
            {"id": company_id})
        buildings = tx.rows("SELECT code, name, floors, households FROM building "
                            "WHERE compound_code = :code ORDER BY code", {"code": code})
        units = tx.rows("SELECT u.code, u.building_code, u.number, u.households FROM "
                        "building_unit u JOIN building b ON b.code = u.building_code WHERE "
                        "b.compound_code = :code ORDER BY u.building_code, u.number",
                        {"code": code})
        heads = _heads(tx, "(h.area_code = :code OR h.area_code LIKE :below)",
                       {"code": code, "below": code + "-%"}, phones)
    by_building: dict[str, list] = {}
    for u in units:
        by_building.setdefault(u.pop("building_code"), []).append(u)
    for b in buildings:
        b["units"] = by_building.get(b["code"], [])
    return {**c, "property_company": company, "buildings": buildings, "heads": heads}


def check_area(actor: Actor, area: str | None) -> str:
    """An area code (district, street or community; '' or None: the city) the actor may
    name: within their jurisdiction, the whole city for admins only."""
    area = area or ""
    if area and (not area.isdigit() or len(area) not in (LENGTHS["district"], LENGTHS["street"],
                                                         LENGTHS["community"])):
        raise InvalidInput(_("area must be a district, street or community code, not "
                             "{area}").format(area=area), code="invalid_area")
    if actor.role == "admin":
        return area
    if not area:
        raise Forbidden(_("only an admin may act on the whole city: name a district, street "
                          "or community of your jurisdiction"), code="outside_jurisdiction")
    if not actor.covers_code(area):
        raise Forbidden(_("area {area} lies outside your jurisdiction").format(area=area),
                        code="outside_jurisdiction")
    return area


def heads_of_area(store: Store, actor: Actor, area: str | None, roster: str | None,
                  phones: bool) -> list[dict]:
    """The heads of the compounds in an area (district, street or community code, within the
    caller's jurisdiction; the whole city for admins), of one roster or both, each with the
    compound it serves."""
    area = check_area(actor, area)
    if roster is not None and roster not in ROSTERS:
        raise InvalidInput(_("roster must be A or B, not {roster}").format(roster=roster),
                           code="invalid_roster")
    with store.snapshot() as tx:
        where = "h.area_code LIKE :prefix" + (" AND h.roster = :roster" if roster else "")
        rows = _heads(tx, where, {"prefix": area + "%", "roster": roster}, phones)
    for r in rows:
        r["compound_code"] = r["area_code"][:LENGTHS["community"] + 5]
    return rows


def below_at(store: Store, actor: Actor, lon: float, lat: float, crs: str = "wgs84",
             phones: bool = False) -> dict:
    """What lies below the grid at a point, for the places answer: {compound: {code, name,
    households, property_company_id, property_company} | None, building: {code, name,
    floors, households} | None, heads: the heads (三长) of that compound, of the building and
    of its units, rosters A and B; phones only with `phones` (scope people:read) and inside
    the actor's jurisdiction}."""
    below = store.locate_below(lon, lat, crs)
    phones = phones and actor.covers_code(below.compound_code)
    if below.compound_code is None and below.building_code is None:
        return {"compound": None, "building": None, "heads": []}
    with store.snapshot() as tx:
        compound = None if below.compound_code is None else tx.one(
            "SELECT c.code, c.name, c.households, p.id AS property_company_id, "
            "p.name AS property_company FROM compound c LEFT JOIN property_company p ON "
            "p.id = c.property_company_id WHERE c.code = :code", {"code": below.compound_code})
        building = None if below.building_code is None else tx.one(
            "SELECT code, name, floors, households FROM building WHERE code = :code",
            {"code": below.building_code})
        where, params = ["h.area_code = :compound"], {"compound": below.compound_code or ""}
        if below.building_code:
            where.append("h.area_code = :building OR h.area_code LIKE :units")
            params |= {"building": below.building_code, "units": below.building_code + "-%"}
        heads = _heads(tx, "(" + " OR ".join(where) + ")", params, phones)
    return {"compound": compound, "building": building, "heads": heads}


def emergency_heads(store: Store, actor: Actor, box: tuple[float, float, float, float],
                    phones: bool) -> Page:
    """The B roster's heads (from assigned agencies) where they serve now: per compound in
    the box whose street is in emergency (the city, its district or the street switched) and
    in the actor's jurisdiction, a point inside the compound with its B-roster heads. Phones
    only with `phones` (scope people:read)."""
    params = dict(zip(("bbox_minx", "bbox_miny", "bbox_maxx", "bbox_maxy"), box, strict=True))
    with store.snapshot() as tx:
        modes = area_modes(tx)
        if "emergency" not in modes.values():
            return Page([], np.array([]), [], 0)
        rows = tx.rows(f"SELECT t.code, t.name, {tx.dialect.wkb('t.geom')} AS wkb FROM compound t "
                       f"WHERE {tx.dialect.polygon_in_bbox('t')} ORDER BY t.code", params)
        rows = [r for r in rows if street_mode(modes, r["code"][:LENGTHS["street"]]) ==
                "emergency" and actor.covers_code(r["code"])]
        heads: dict[str, list] = {}
        for r in rows:
            heads[r["code"]] = _heads(tx, "h.roster = 'B' AND (h.area_code = :c OR h.area_code "
                                          "LIKE :below)", {"c": r["code"], "below": r["code"] + "-%"},
                                      phones)
    rows = [r for r in rows if heads[r["code"]]][:MAX_FEATURES]
    geoms = (shapely.point_on_surface(shapely.from_wkb([bytes(r["wkb"]) for r in rows]))
             if rows else np.array([]))
    props = [{"compound_code": r["code"], "compound_name": r["name"], "heads": heads[r["code"]]}
             for r in rows]
    return Page([r["code"] for r in rows], geoms, props, len(rows))
