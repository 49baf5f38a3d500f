"""The chain of named responsible people (四级包保) above a place: the district's leader, the
street's cadre, the community's secretary and the grid's head, each level with its people.
Names and titles are for anyone who may read the map; phones only for those who may call
them (scope people:read), which the caller decides and passes as `phones`."""

from __future__ import annotations

from datetime import date

from geo.casework.errors import InvalidInput, NotFound
from geo.codes import LENGTHS, LEVELS, level_name
from geo.i18n import _
from geo.store import Store
from geo.store.base import valid_grids
from geo.store.sql import Tx

TABLES = {"district": "district", "street": "street", "community": "community", "grid": "grid"}


def _day(value) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def chain_of(tx: Tx, code: str, phones: bool = False) -> list[dict]:
    """From the district down to the area `code` names (a district, street, community or grid
    code): per level its code, name and people, the leading one first. A level that names no
    area of the city is left out."""
    levels = [lv for lv in LEVELS if LENGTHS[lv] <= len(code)]
    codes = {lv: code[:LENGTHS[lv]] for lv in levels}
    d = tx.dialect
    people = tx.rows("SELECT area_code, name, title, phone, since FROM responsibility WHERE "
                     f"{d.in_list('area_code', 'codes')} ORDER BY id",
                     {"codes": list(codes.values())})
    out = []
    for lv in levels:
        extra = f" AND {valid_grids(None, 'a')}" if lv == "grid" else ""
        area = tx.one(f"SELECT a.name FROM {TABLES[lv]} a WHERE a.code = :c{extra}",
                      {"c": codes[lv]})
        if area is None:
            continue
        out.append({"level": lv, "level_name": level_name(lv), "area_code": codes[lv],
                    "area_name": area["name"],
                    "people": [{"name": p["name"], "title": p["title"], "since": _day(p["since"]),
                                **({"phone": p["phone"]} if phones else {})}
                               for p in people if p["area_code"] == codes[lv]]})
    return out


def responsible_chain(tx: Tx, grid_code: str, phones: bool = False) -> list[dict]:
    """The four levels' responsible people above a grid (district, street, community, grid);
    for the places answer and the map's tooltips."""
    return chain_of(tx, grid_code, phones)


def responsibility_for(store: Store, code: str | None = None, lon: float | None = None,
                       lat: float | None = None, phones: bool = False) -> dict:
    """GET /responsibility: the chain for an area code, or for the grid covering a point
    (WGS84)."""
    if (code is None) == (lon is None or lat is None):
        raise InvalidInput(_("give either code (a district, street, community or grid code) "
                             "or lon and lat"), code="code_or_point")
    if code is None:
        where = store.locate(lon, lat)
        if where is None:
            raise NotFound(_("This point lies outside the city's grids: no grid, community or "
                             "street is responsible for it here."), code="outside_city")
        code = where.grid_code
    if len(code) not in LENGTHS.values() or not code.isdigit():
        raise InvalidInput(_("code must be a district (6 digits), street (9), community (12) "
                             "or grid (15) code, not {code}").format(code=code[:20]),
                           code="invalid_code")
    with store.snapshot() as tx:
        levels = chain_of(tx, code, phones)
    if not levels or levels[-1]["area_code"] != code:
        raise NotFound(_("no area {code} in the city").format(code=code), code="unknown_area")
    return {"code": code, "phones": phones, "levels": levels}
