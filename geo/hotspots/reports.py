"""The reports a hotspot analysis looks at, read in bulk into arrays, and the area it covers.

Both follow the caller's jurisdiction in the query, as every other read does. Rejected
reports and merged duplicates are left out: a duplicate is one problem reported twice, and a
rejected report was not a problem of ours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import numpy as np
import shapely

from geo.casework.errors import InvalidInput
from geo.casework.scope import AREA_ROLES, Actor, visible_issues
from geo.codes import LENGTHS, LEVELS, named_lengths
from geo.crs import to_metric
from geo.i18n import TIMEZONE, _
from geo.store import Store
from geo.taxonomy import CATEGORY_BY_CODE

MAX_WINDOW = timedelta(days=3 * 366)
DEFAULT_WINDOW = timedelta(days=365)
_AREA_COLUMN = {length: f"{level}_code" for level, length in LENGTHS.items()}


@dataclass(frozen=True)
class HotspotQuery:
    """Which reports: categories (all when empty), an area code (district, street, community
    or grid; the caller's whole jurisdiction when None), and the window [since, until)."""

    since: datetime
    until: datetime
    categories: tuple[str, ...] = ()
    area: str | None = None

    @classmethod
    def build(cls, now: datetime, since=None, until=None, categories=(), area=None):
        """A checked query; the window defaults to the year before `until` (default now)."""
        try:
            until = (until or now).astimezone(UTC)
            since = (since or until - DEFAULT_WINDOW).astimezone(UTC)
        except OverflowError:
            raise InvalidInput(_("the window must lie between the years 1 and 9999")) from None
        q = cls(since, until, tuple(dict.fromkeys(categories or ())), area or None)
        return q.check()

    def check(self) -> HotspotQuery:
        if self.since >= self.until:
            raise InvalidInput(_("since must be earlier than until"))
        if self.until - self.since > MAX_WINDOW:
            raise InvalidInput(_("the window may span at most {n} days").format(n=MAX_WINDOW.days))
        for c in self.categories:
            if c not in CATEGORY_BY_CODE:
                raise InvalidInput(_("unknown category {category}; known: {known}").format(
                    category=c, known=", ".join(CATEGORY_BY_CODE)), code="unknown_category")
        if self.area is not None and (len(self.area) not in _AREA_COLUMN
                                      or not self.area.isdigit()):
            raise InvalidInput(_("area must be a {levels} code").format(levels=named_lengths(LEVELS)))
        return self


@dataclass(frozen=True)
class Reports:
    """One entry per report: metric position (EPSG:4551), lon/lat, times in seconds since
    1970 (closed: NaN while open), category and grid code."""

    ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    reported: np.ndarray
    closed: np.ndarray
    category: np.ndarray
    grid: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, mask) -> Reports:
        return Reports(**{k: getattr(self, k)[mask] for k in self.__dataclass_fields__})

    @classmethod
    def from_arrays(cls, lon, lat, reported, category, closed=None, grid=None, ids=None):
        """Reports from plain arrays (tests, benchmarks, imports): times as seconds since 1970."""
        lon, lat = np.asarray(lon, float), np.asarray(lat, float)
        x, y = to_metric(lon, lat)
        n = len(lon)
        return cls(ids=np.arange(n) if ids is None else np.asarray(ids), x=x, y=y, lon=lon,
                   lat=lat, reported=np.asarray(reported, float),
                   closed=np.full(n, np.nan) if closed is None else np.asarray(closed, float),
                   category=np.asarray(category, dtype=object),
                   grid=np.full(n, None, dtype=object) if grid is None else np.asarray(grid, object))


def day(text: str | None, name: str) -> datetime | None:
    """A date typed by a person (YYYY-MM-DD) as midnight in Asia/Shanghai, the command
    centre's day (a time with an offset is taken as it says); in UTC; None when empty."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(_("{name} must be a date (YYYY-MM-DD), not {text}").format(
            name=name, text=text)) from None
    zoned = moment if moment.tzinfo is not None else moment.replace(tzinfo=TIMEZONE)
    return zoned.astimezone(UTC)


def _area_condition(q: HotspotQuery, alias: str) -> tuple[str, dict]:
    if q.area is None:
        return "1 = 1", {}
    return f"{alias}.{_AREA_COLUMN[len(q.area)]} = :area", {"area": q.area}


def _selection(d, actor: Actor, q: HotspotQuery) -> tuple[str, dict]:
    """The WHERE condition (on `issue i`) and parameters of the reports of `q` that `actor`
    may see."""
    where, params = visible_issues(actor, d)
    area, aparams = _area_condition(q, "i")
    cond = [where, area, "i.state NOT IN ('rejected', 'merged')",
            "i.reported_at >= :since", "i.reported_at < :until"]
    params = {**params, **aparams, "since": q.since, "until": q.until}
    if q.categories:
        cond.append(d.in_list("i.category_code", "categories"))
        params["categories"] = list(q.categories)
    return " AND ".join(cond), params


def count_reports(store: Store, actor: Actor, q: HotspotQuery) -> int:
    """How many reports `load_reports` would read, counted in the database."""
    with store.snapshot() as tx:
        where, params = _selection(tx.dialect, actor, q)
        return int(tx.one(f"SELECT count(*) AS n FROM issue i WHERE {where}", params)["n"])


def load_reports(store: Store, actor: Actor, q: HotspotQuery) -> Reports:
    """The reports `actor` may see that match `q` (in no particular order)."""
    with store.snapshot() as tx:
        d = tx.dialect
        where, params = _selection(d, actor, q)
        cols = tx.columns(
            f"SELECT i.id, {d.lon('i')} AS lon, {d.lat('i')} AS lat, "
            f"{d.epoch('i.reported_at')} AS reported, {d.epoch('i.closed_at')} AS closed, "
            f"i.category_code, i.grid_code FROM issue i WHERE {where}", params)
    closed = np.array(cols["closed"], float)  # NULL (still open) becomes NaN
    return Reports.from_arrays(cols["lon"], cols["lat"], np.array(cols["reported"], float),
                               np.array(cols["category_code"], dtype=object), closed,
                               np.array(cols["grid_code"], dtype=object),
                               np.array(cols["id"], dtype=np.int64))


def study_grids(store: Store, actor: Actor, area: str | None) -> gpd.GeoDataFrame:
    """The current grids of the area the analysis covers: `area` within the caller's
    jurisdiction (all of it when `area` is None). Empty when they share nothing."""
    grids = store.read_layer("grids")
    if actor.role != "admin":
        # Only roles that see by area have an area to analyse.
        street_len = LENGTHS["street"]
        covered = [actor.role in AREA_ROLES and actor.covers(str(c)[:street_len])
                   for c in grids.code]
        grids = grids[np.array(covered, bool)]
    if area is not None:
        grids = grids[grids.code.str.startswith(area)]
    return grids.reset_index(drop=True)


def study_outline(grids: gpd.GeoDataFrame):
    """The union of the study grids (WGS84), for hexagon bins and the map's frame."""
    if grids.empty:
        return shapely.Polygon()
    return shapely.union_all(grids.geometry.values)


def epoch(t: datetime) -> float:
    return t.astimezone(UTC).timestamp()
