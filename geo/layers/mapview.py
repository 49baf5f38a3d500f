"""What each map page starts from: its view (the extent of the user's streets, of an issue or
of a draft's street) and how large the areas of each level are, so that the page draws the
finest level of which not too many fit in its view. One function per page.

A jurisdiction in detached parts (a prefecture's county-level cities lie tens of kilometres
from its districts: 舒兰市, 70 km off) opens on the part holding most of its streets, not on
the empty land of their common box; the live map lists its districts to go to the others."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import geopandas as gpd
import numpy as np
import shapely

from geo.casework.read import Box, get_issue
from geo.casework.scope import Actor
from geo.codes import LENGTHS, at_level
from geo.crs import METRIC_EPSG, geoms_to_metric
from geo.hotspots.parts import boxes
from geo.hotspots.reports import HotspotQuery
from geo.hotspots.study import Study, cached_study
from geo.planning.drafts import get_draft
from geo.store import Store

# The levels a map may draw, finest first (layers of Store.counts).
MAP_LEVELS = ("grids", "communities", "streets")
DETACHED_M = 5_000.0  # parts of a jurisdiction this far apart open one at a time


@dataclass(frozen=True)
class LiveView:
    """The live map's start: the user's streets' extent and the areas' sizes."""

    bounds: Box
    levels: list[dict]  # level, mean_m2; finest first
    # The districts of a jurisdiction of more than one, to go to: code, name, bounds.
    districts: tuple[dict, ...] = ()


@dataclass(frozen=True)
class IssueView:
    """The dispatch map's start: the issue as the dispatcher may see it, and the areas' sizes."""

    issue: dict
    levels: list[dict]


@dataclass(frozen=True)
class HotspotView:
    """The hotspot map's data: the study and the street outlines it is drawn over."""

    study: Study
    streets: gpd.GeoDataFrame


def live_view(store: Store, actor: Actor) -> LiveView:
    """Where `actor`'s live map starts, and what it may draw."""
    streets = store.read_layer("streets")
    mine = jurisdiction_streets(streets, actor)
    return LiveView(main_part_bounds(mine), area_levels(store, streets),
                    district_places(store, mine))


def issue_view(store: Store, actor: Actor, issue_id: int, now: datetime) -> IssueView:
    """The issue a dispatch map centres on (NotFound unless `actor` may see it)."""
    issue = get_issue(store, actor, issue_id, now)
    return IssueView(issue, area_levels(store, store.read_layer("streets")))


def hotspot_view(store: Store, actor: Actor, q: HotspotQuery) -> HotspotView:
    """The study of `q` for `actor` (the one the analyses share) and the streets."""
    study = cached_study(store, actor, q)
    return HotspotView(study, store.read_layer("streets"))


def draft_bounds(store: Store, actor: Actor, draft_id: int) -> Box:
    """Where the editor of a draft opens: its street (NotFound unless `actor` may see it)."""
    draft = get_draft(store, actor, draft_id)
    return street_bounds(store.read_layer("streets"), draft.area_code)


def area_levels(store: Store, streets: gpd.GeoDataFrame) -> list[dict]:
    """Grids, communities and streets with their mean area in m² (EPSG:4551), finest first."""
    city_m2 = float(streets.to_crs(METRIC_EPSG).area.sum())
    counts = store.counts(MAP_LEVELS)
    return [{"level": level, "mean_m2": round(city_m2 / max(int(counts[level]), 1))}
            for level in MAP_LEVELS]


def jurisdiction_streets(streets: gpd.GeoDataFrame, actor: Actor) -> gpd.GeoDataFrame:
    """The streets in `actor`'s jurisdiction, or holding its communities (the whole city for
    admins, or when the jurisdiction names no street we hold)."""
    if actor.role != "admin" and actor.jurisdiction:
        holding = {at_level(c, "street") for c in actor.jurisdiction
                   if len(c) > LENGTHS["street"]}  # the streets of communities named
        mine = streets[streets.code.isin(actor.jurisdiction) | streets.code.isin(holding) |
                       streets.code.str[:LENGTHS["district"]].isin(actor.jurisdiction)]
        if len(mine):
            return mine
    return streets


def main_part_bounds(streets: gpd.GeoDataFrame) -> Box:
    """The extent of the detached part holding most of `streets` (all of them when they lie
    together)."""
    if len(streets) < 2:
        return tuple(float(v) for v in streets.total_bounds)
    metric = geoms_to_metric(streets.geometry.to_numpy())
    parts = boxes(shapely.multipolygons(shapely.get_parts(metric)), DETACHED_M)
    if len(parts) < 2:
        return tuple(float(v) for v in streets.total_bounds)
    inside = shapely.point_on_surface(metric)
    held = [shapely.contains_xy(shapely.box(*b), shapely.get_x(inside), shapely.get_y(inside))
            for b in parts]
    main = held[int(np.argmax([h.sum() for h in held]))]
    return tuple(float(v) for v in streets[main].total_bounds)


def district_places(store: Store, streets: gpd.GeoDataFrame) -> tuple[dict, ...]:
    """The districts holding `streets`, with the extent of their streets among them, when
    there are two or more."""
    district = streets.code.str[:LENGTHS["district"]]
    if district.nunique() < 2:
        return ()
    names = store.read_layer("districts").set_index("code").name
    return tuple({"code": code, "name": str(names.get(code, code)),
                  "bounds": [float(v) for v in streets[district == code].total_bounds]}
                 for code in sorted(district.unique()))


def street_bounds(streets: gpd.GeoDataFrame, area_code: str) -> Box:
    """The extent of the street holding `area_code` (the whole city when it holds none)."""
    mine = streets[streets.code == at_level(area_code, "street")]
    return tuple(float(v) for v in (mine if len(mine) else streets).total_bounds)
