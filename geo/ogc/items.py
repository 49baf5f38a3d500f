"""The items of a collection: a page of features in a box (storage lon/lat) and a time, with
the number that match in all, or one feature by its id.

- grids: the current ones, or those valid at an instant or during an interval (their
  validity history); a version that is not current has the id `CODE@ROW`;
- issues: those the caller may see (its jurisdiction, in the query), newest first, filtered
  by the time they were reported;
- teams: those the caller may see, at their last reported position;
- the other layers as `griddispatch export` writes them, read at most every STATIC_TTL_S
  seconds per store (they change when a plan is published or a file is imported)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.casework import read
from geo.casework.dispatch import list_teams
from geo.casework.errors import InvalidInput, NotFound
from geo.casework.scope import Actor
from geo.codes import LENGTHS
from geo.i18n import _
from geo.layers.points import INTERNAL_COLUMNS, teams_in_box
from geo.ogc import filters
from geo.ogc.collections import TEMPORAL
from geo.store import Store
from geo.store.base import EARLIEST, LATEST, valid_grids
from geo.store.sql import as_dt
from geo.ttlcache import TTLCache

DEFAULT_LIMIT = 10
MAX_LIMIT = read.MAX_PAGE
STATIC_TTL_S = 30.0
_STATIC: TTLCache[gpd.GeoDataFrame] = TTLCache(ttl_s=STATIC_TTL_S, max_weight=8, per_owner=True)
ISSUE_PROPERTIES = ("category_code", "category_name", "state", "light", "overdue",
                    "reported_at", "due_at", "grid_code", "community_code", "street_code",
                    "district_code", "description", "rating")
TEAM_PROPERTIES = ("name", "kind", "status", "roster", "position_at")


@dataclass(frozen=True)
class When:
    """A `datetime` parameter: an instant (start == end) or an interval, either end open."""

    start: datetime | None
    end: datetime | None

    @property
    def instant(self) -> bool:
        return self.start is not None and self.start == self.end


@dataclass
class Page:
    ids: list
    geoms: np.ndarray
    props: list[dict]
    matched: int


def _moment(text: str) -> datetime:
    """RFC 3339 text as aware UTC (a time without an offset is UTC, as everywhere in the
    API), within the years the service computes with."""
    try:
        moment = datetime.fromisoformat(text)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        moment = None
    if moment is None or not EARLIEST <= moment < LATEST:
        raise InvalidInput(_("datetime: {text} is not an RFC 3339 date or time from 1900 to 2199 "
                             "(2026-05-01, 2026-05-01T08:30:00Z)").format(text=text[:40]),
                           code="invalid_datetime")
    return moment


def parse_when(text: str | None) -> When | None:
    """'2026-05-01T00:00:00Z', '2026-05-01' (that day, UTC), 'A/B', '../B', 'A/..'."""
    if not text:
        return None
    if "/" not in text:
        start = _moment(text)
        if len(text) == 10:  # a date: the whole day
            return When(start, start + timedelta(days=1) - timedelta(microseconds=1))
        return When(start, start)
    first, _sep, last = text.partition("/")
    start = None if first in ("", "..") else _moment(first)
    end = None if last in ("", "..") else _moment(last)
    if start and end and end < start:
        raise InvalidInput(_("datetime: the interval ends before it begins"),
                           code="invalid_datetime")
    return When(start, end)


def _window(offset: int, limit: int | None) -> slice:
    """Features offset.. of a page; every one from offset when limit is None."""
    return slice(offset, None if limit is None else offset + limit)


def _records(frame: pd.DataFrame) -> list[dict]:
    plain = frame.astype(object).where(frame.notna(), None)
    return plain.to_dict("records")


def _static(store: Store, cid: str) -> gpd.GeoDataFrame:
    def make():
        frame = store.read_layer(cid)
        frame = frame.drop(columns=[c for c in INTERNAL_COLUMNS if c in frame])
        if cid == "roads":  # no code of their own: numbered in the stored order
            frame.insert(0, "id", np.arange(1, len(frame) + 1))
        return frame
    return _STATIC.get_or_make(store, cid, make)


def city_bbox(store: Store) -> tuple[float, float, float, float]:
    """The extent of the districts (every collection lies in the city), lon/lat."""
    frame = _static(store, "districts")
    if not len(frame):
        return (-180.0, -90.0, 180.0, 90.0)
    return tuple(float(v) for v in frame.total_bounds)


def _static_page(store: Store, cid: str, key: str, box, limit: int, offset: int) -> Page:
    frame = _static(store, cid)
    if box is not None:
        frame = frame.iloc[np.sort(frame.sindex.query(shapely.box(*box), predicate="intersects"))]
    part = frame.iloc[_window(offset, limit)]
    props = _records(part.drop(columns=part.geometry.name))
    return Page(list(part[key]), part.geometry.values, props, len(frame))


def _grid_condition(when: When | None) -> tuple[str, dict]:
    if when is None:
        return valid_grids(None), {}
    if when.instant:
        return valid_grids(when.start), {"at": when.start}
    cond, params = [], {}
    if when.end is not None:
        cond.append("g.valid_from <= :until")
        params["until"] = when.end
    if when.start is not None:
        cond.append("(g.valid_to IS NULL OR g.valid_to > :since)")
        params["since"] = when.start
    return " AND ".join(cond) or "1 = 1", params


def version_id(code: str, row: int) -> str:
    """The feature id of a grid version that is no longer current (the current one's is its
    code)."""
    return f"{code}@{row}"


def _grid_rows(store: Store, where: str, params: dict, limit: int | None, offset: int) -> Page:
    """Grids by `where`, in code order (a code's versions oldest first); all when `limit` is
    None."""
    page = "" if limit is None else " LIMIT :limit OFFSET :offset"
    with store.snapshot() as tx:
        d = tx.dialect
        matched = tx.one(f"SELECT count(*) AS n FROM grid g WHERE {where}", params)["n"]
        rows = tx.rows(f"SELECT g.id, g.code, g.name, g.community_code, g.households, "
                       f"g.valid_from, g.valid_to, {d.wkb('g.geom')} AS wkb FROM grid g "
                       f"WHERE {where} ORDER BY g.code, g.valid_from{page}",
                       {**params, "limit": limit, "offset": offset})
    geoms = shapely.from_wkb([bytes(r["wkb"]) for r in rows]) if rows else np.array([])
    ids = [version_id(r["code"], r["id"]) if r["valid_to"] is not None else r["code"]
           for r in rows]
    props = [{"code": r["code"], "name": r["name"], "community_code": r["community_code"],
              "street_code": r["code"][:LENGTHS["street"]],
              "district_code": r["code"][:LENGTHS["district"]], "households": r["households"],
              "valid_from": as_dt(r["valid_from"]), "valid_to": as_dt(r["valid_to"])}
             for r in rows]
    return Page(ids, geoms, props, int(matched))


def _grid_page(store: Store, box, when: When | None, limit: int, offset: int) -> Page:
    where, params = _grid_condition(when)
    if box is None:
        return _grid_rows(store, where, params, limit, offset)
    # The index matches bounding boxes; the grids that meet the box are kept, then paged.
    with store.snapshot() as tx:
        where = f"{where} AND {tx.dialect.polygon_in_bbox('g')}"
    params.update(zip(("bbox_minx", "bbox_miny", "bbox_maxx", "bbox_maxy"), box, strict=True))
    page = _grid_rows(store, where, params, None, 0)
    keep = np.flatnonzero(shapely.intersects(page.geoms, shapely.box(*box))) if page.ids else []
    part = keep[_window(offset, limit)]
    return Page([page.ids[i] for i in part], page.geoms[part], [page.props[i] for i in part],
                len(keep))


def _issue_page(store: Store, actor: Actor, box, when: When | None, limit: int | None,
                offset: int, now: datetime) -> Page:
    since = when.start if when else None
    until = (when.end + timedelta(microseconds=1)) if when and when.end else None
    items: list[dict] = []
    while True:  # pages of the read model's size; every one when limit is None
        want = MAX_LIMIT if limit is None else min(limit - len(items), MAX_LIMIT)
        q = read.IssueQuery(since=since, until=until, bbox=box, limit=want,
                            offset=offset + len(items)).check()
        part, total = read.list_issues(store, actor, q, now)
        if limit is None and total > filters.MAX_EXAMINED:
            raise filters.too_many(total)
        items += part
        if not part or len(items) >= (total - offset if limit is None else limit):
            break
    geoms = shapely.points([i["lon"] for i in items], [i["lat"] for i in items]) if items else []
    return Page([i["id"] for i in items], np.asarray(geoms, dtype=object),
                [{k: i.get(k) for k in ISSUE_PROPERTIES} for i in items], total)


def _teams(rows: list[dict], matched: int) -> Page:
    geoms = shapely.points([r["lon"] for r in rows], [r["lat"] for r in rows]) if rows else []
    return Page([r["id"] for r in rows], np.asarray(geoms, dtype=object),
                [{k: r.get(k) for k in TEAM_PROPERTIES} for r in rows], matched)


def _team_page(store: Store, actor: Actor, box, limit: int, offset: int) -> Page:
    rows = sorted(teams_in_box(store, actor, box), key=lambda r: r["id"])
    return _teams(rows[_window(offset, limit)], len(rows))


def items(store: Store, actor: Actor, cid: str, key: str, box, when: When | None, limit: int,
          offset: int, now: datetime, flt: filters.Filter | None = None) -> Page:
    """A page of collection `cid` (see the module) and how many features match in all: all
    the features the other parameters leave are matched against `flt` first when given."""
    if when is not None and cid not in TEMPORAL:  # a filter never silently left out
        raise InvalidInput(_("datetime: the collection {collection} has no time to filter by; "
                             "leave datetime out").format(collection=cid),
                           code="invalid_datetime")
    if flt is None:
        return _page(store, actor, cid, key, box, when, limit, offset, now)
    if cid == "grids":  # counted before they are read
        where, params = _grid_condition(when)
        with store.snapshot() as tx:
            n = tx.one(f"SELECT count(*) AS n FROM grid g WHERE {where}", params)["n"]
        if n > filters.MAX_EXAMINED and box is None:
            raise filters.too_many(n)
    every = _page(store, actor, cid, key, box, when, None, 0, now)
    if every.matched > filters.MAX_EXAMINED:
        raise filters.too_many(every.matched)
    keep = [i for i, (fid, props, geom) in enumerate(zip(every.ids, every.props, every.geoms,
                                                         strict=True))
            if flt.matches(fid, props, geom)]
    part = keep[_window(offset, limit)]
    return Page([every.ids[i] for i in part], np.asarray(every.geoms, dtype=object)[part],
                [every.props[i] for i in part], len(keep))


def _page(store: Store, actor: Actor, cid: str, key: str, box, when: When | None,
          limit: int | None, offset: int, now: datetime) -> Page:
    if cid == "grids":
        return _grid_page(store, box, when, limit, offset)
    if cid == "issues":
        return _issue_page(store, actor, box, when, limit, offset, now)
    if cid == "teams":
        return _team_page(store, actor, box, limit, offset)
    return _static_page(store, cid, key, box, limit, offset)


def queryable(store: Store, cid: str) -> dict[str, str]:
    """The properties a filter on `cid` may name, with their JSON types."""
    if cid in filters.DECLARED:
        return filters.DECLARED[cid]
    return filters.column_types(_static(store, cid))


def item(store: Store, actor: Actor, cid: str, key: str, fid: str, now: datetime) -> Page:
    """The one feature `fid` of collection `cid`, or NotFound."""
    page = None
    if cid == "grids":
        code, version, row = fid.partition("@")
        if not version:
            page = _grid_rows(store, f"g.code = :code AND {valid_grids(None)}", {"code": code},
                              1, 0)
        elif row.isdigit() and len(row) < 19:
            page = _grid_rows(store, "g.code = :code AND g.id = :row AND g.valid_to IS NOT NULL",
                              {"code": code, "row": int(row)}, 1, 0)
    elif cid == "issues" and fid.isdigit() and len(fid) < 19:
        try:
            i = read.get_issue(store, actor, int(fid), now)
        except NotFound:
            i = None
        if i is not None:
            page = Page([i["id"]], np.asarray([shapely.Point(i["lon"], i["lat"])], dtype=object),
                        [{k: i.get(k) for k in ISSUE_PROPERTIES}], 1)
    elif cid == "teams":
        page = _teams([r for r in list_teams(store, actor) if r["id"] == fid], 1)
    elif cid != "issues":
        frame = _static(store, cid)
        hit = frame[frame[key].astype(str) == fid]
        if len(hit):
            page = Page(list(hit[key]), hit.geometry.values,
                        _records(hit.drop(columns=hit.geometry.name)), 1)
    if page is None or not page.ids:
        raise NotFound(_("no feature {fid} in {collection} that you can see").format(
            fid=fid, collection=cid))
    return page
