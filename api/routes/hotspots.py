"""Hotspot analysis as GeoJSON: kernel density, DBSCAN clusters, Gi* bins, emerging hot spot
patterns, displacement arrows and repeat spots, for any categories, area and window.

Each answer is a FeatureCollection whose foreign members say what was analysed (`query`,
`reports`) and with which settings (`parameters`, plus what the analysis chose itself, such
as the clusters' minimum size). The caller's jurisdiction bounds both the reports and the
area. A study (area, report count, and the reports once an analysis has read them) is kept
for a minute, so that a map asking for every layer reads the reports once; the studies kept
hold at most 3,000,000 reports in all. Every analysis is priced before it runs
(`geo.hotspots.budget`), and before its reports are read, and refused with a 422 that says
which setting to change when it would cost too much; its time is bounded while it runs."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from api import deps
from api.deps import Category, analysis_params, study_query
from api.geojson import MEDIA_TYPE, collection
from geo.casework.errors import InvalidInput
from geo.casework.scope import Actor
from geo.codes import LENGTHS
from geo.hotspots import analysis, budget
from geo.hotspots.analysis import Layer, Params
from geo.hotspots.reports import HotspotQuery
from geo.hotspots.study import Study, cached_study
from geo.store import Store

router = APIRouter(prefix="/api/v1/hotspots", tags=["hotspots"])
GEOJSON = {200: {"content": {MEDIA_TYPE: {}}, "description": "a GeoJSON FeatureCollection"},
           404: {"description": "the area is not in your jurisdiction"},
           422: {"description": "bad window, category or setting"}}
SCOPE = "hotspots:read"

Area = Annotated[str | None, Query(max_length=LENGTHS["grid"], pattern=r"^[0-9]+$",
                                   description="district, street, community or grid code")]
Since = Annotated[deps.Timestamp | None, Query(description="start (default: a year before until)")]
Until = Annotated[deps.Timestamp | None, Query(description="end, exclusive (default: now)")]
BinKind = Annotated[Literal["grid", "h3"], Query(description="the city's grids or H3 hexagons")]
H3Res = Annotated[int | None, Query(ge=6, le=11, description="H3 resolution (default: chosen "
                                                             "so that cells hold ~20 reports)")]
SliceKind = Annotated[Literal["week", "month"], Query(description="time slice of the cube")]
Confidence = Annotated[Literal["0.9", "0.95", "0.99"], Query(description="a hot slice's level")]


def afforded(store: Store, actor: Actor, q: HotspotQuery, name: str, p: Params,
             h3_resolution: int | None = None, significant_only: bool = False) -> Study:
    """The study of `q`, once analysis `name` with `p` is known to fit the budget."""
    study = cached_study(store, actor, q)
    budget.afford(study, name, p, h3_resolution, significant_only)
    return study


def bounded(route):
    """Run a route within the analysis time limit (`budget.time_limit`)."""
    @functools.wraps(route)
    def run(*args, **kwargs):
        with budget.time_limit():
            return route(*args, **kwargs)
    return run


def answer(study: Study, layer: Layer, params: dict):
    q = study.query
    members = {"query": {"since": q.since, "until": q.until, "categories": list(q.categories),
                         "area": q.area},
               "reports": len(study.reports), "parameters": params, **layer.meta}
    return collection(layer.ids, layer.geoms, layer.props, **members)


def _cube(study: Study, p: Params, bins: str, h3_resolution: int | None):
    try:
        return analysis.cube(study.reports, study.bins(bins, h3_resolution), study.query, p)
    except ValueError as exc:  # too few or too many slices
        raise InvalidInput(str(exc)) from exc


@router.get("/density", responses=GEOJSON)
@bounded
def density(category: Category = None, area: Area = None, since: Since = None,
            until: Until = None,
            bandwidth_m: Annotated[float, Query(ge=5, le=5000)] = 60.0,
            actor: Actor = deps.actor(SCOPE), store: Store = Depends(deps.store),
            now: datetime = Depends(deps.now)):
    """Kernel density (Gaussian, bandwidth in metres): the densest cells as points with
    reports per km²."""
    p = analysis_params(bandwidth_m=bandwidth_m)
    study = afforded(store, actor, study_query(category, area, since, until, now), "density", p)
    return answer(study, analysis.density(study.reports, p), {"bandwidth_m": bandwidth_m})


@router.get("/clusters", responses=GEOJSON)
@bounded
def clusters(category: Category = None, area: Area = None, since: Since = None,
             until: Until = None, eps_m: Annotated[float, Query(ge=5, le=2000)] = 50.0,
             min_reports: Annotated[int | None, Query(ge=2, le=100_000)] = None,
             actor: Actor = deps.actor(SCOPE), store: Store = Depends(deps.store),
             now: datetime = Depends(deps.now)):
    """DBSCAN clusters (eps in metres; min_reports chosen from the background density unless
    given): outline, count, first and last report, dominant category."""
    p = analysis_params(eps_m=eps_m, min_reports=min_reports)
    study = afforded(store, actor, study_query(category, area, since, until, now), "clusters", p)
    return answer(study, analysis.clusters(study.reports, p, study.area_m2),
                  {"eps_m": eps_m, "min_reports": min_reports})


@router.get("/gistar", responses=GEOJSON)
@bounded
def gistar(category: Category = None, area: Area = None, since: Since = None,
           until: Until = None, bins: BinKind = "grid", h3_resolution: H3Res = None,
           significant_only: bool = False, actor: Actor = deps.actor(SCOPE),
           store: Store = Depends(deps.store), now: datetime = Depends(deps.now)):
    """Getis-Ord Gi* per bin with the FDR correction: gi_bin 3/2/1 hot at 99/95/90%
    confidence, -3/-2/-1 cold, 0 not significant."""
    study = afforded(store, actor, study_query(category, area, since, until, now), "gistar",
                     analysis_params(bins=bins), h3_resolution, significant_only)
    layer = analysis.gistar(study.reports, study.bins(bins, h3_resolution), significant_only)
    return answer(study, layer, {"bins": bins, "h3_resolution": h3_resolution})


@router.get("/emerging", responses=GEOJSON)
@bounded
def emerging(category: Category = None, area: Area = None, since: Since = None,
             until: Until = None, bins: BinKind = "grid", h3_resolution: H3Res = None,
             slice: SliceKind = "month", confidence: Confidence = "0.9",
             actor: Actor = deps.actor(SCOPE), store: Store = Depends(deps.store),
             now: datetime = Depends(deps.now)):
    """Emerging hot and cold spots (ArcGIS Pro's eight patterns) over weekly or monthly
    slices; bins without a pattern are left out."""
    p = analysis_params(bins=bins, slice=slice, confidence=float(confidence))
    study = afforded(store, actor, study_query(category, area, since, until, now), "emerging", p,
                     h3_resolution)
    layer = analysis.emerging(_cube(study, p, bins, h3_resolution), p)
    return answer(study, layer, {"bins": bins, "h3_resolution": h3_resolution,
                                 "slice": slice, "confidence": float(confidence)})


@router.get("/displacement", responses=GEOJSON)
@bounded
def displacement(category: Category = None, area: Area = None, since: Since = None,
                 until: Until = None, slice: SliceKind = "month",
                 eps_m: Annotated[float, Query(ge=5, le=2000)] = 50.0,
                 max_distance_m: Annotated[float, Query(gt=0, le=50_000)] = 3000.0,
                 actor: Actor = deps.actor(SCOPE), store: Store = Depends(deps.store),
                 now: datetime = Depends(deps.now)):
    """Lines from each hotspot (a cluster followed through the slices) that cooled to the
    hotspot that appeared within max_distance_m of it about the same time."""
    p = analysis_params(slice=slice, eps_m=eps_m, max_distance_m=max_distance_m)
    study = afforded(store, actor, study_query(category, area, since, until, now),
                     "displacement", p)
    try:
        layer = analysis.displacement(study.reports, study.query, p, study.area_m2)
    except ValueError as exc:  # too few or too many slices
        raise InvalidInput(str(exc)) from exc
    return answer(study, layer, {"slice": slice, "eps_m": eps_m,
                                 "max_distance_m": max_distance_m})


@router.get("/repeats", responses=GEOJSON)
@bounded
def repeats(category: Category = None, area: Area = None, since: Since = None,
            until: Until = None, radius_m: Annotated[float, Query(ge=1, le=1000)] = 30.0,
            days: Annotated[float, Query(gt=0, le=365)] = 30.0,
            actor: Actor = deps.actor(SCOPE), store: Store = Depends(deps.store),
            now: datetime = Depends(deps.now)):
    """Repeat spots: reports of the same category within radius_m of an earlier report and
    within `days` after it was closed (rework in the field)."""
    p = analysis_params(repeat_radius_m=radius_m, repeat_days=days)
    study = afforded(store, actor, study_query(category, area, since, until, now), "repeats", p)
    return answer(study, analysis.repeat_spots(study.reports, p),
                  {"radius_m": radius_m, "days": days})
