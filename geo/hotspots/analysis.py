"""Hotspot results as map layers: WGS84 geometries with properties, one layer per question
(density, clusters, Gi* bins, emerging patterns, displacement, repeat spots). The API writes
them as GeoJSON; the hotspot map draws them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import shapely

from geo.crs import from_metric, geoms_from_metric
from geo.hotspots import budget
from geo.hotspots import clusters as dbscan
from geo.hotspots import repeats as rework
from geo.hotspots.bins import Bins, assign, counts, pearson
from geo.hotspots.density import part_lattices, surfaces
from geo.hotspots.displacement import displacements
from geo.hotspots.emerging import SLICE_SECONDS, Cube, classify, slice_edges, space_time_cube
from geo.hotspots.gistar import CONFIDENCE, confidence_bins, gi_star, p_values
from geo.hotspots.reports import HotspotQuery, Reports, epoch
from geo.i18n import N_, _, local
from geo.taxonomy import category_label


@dataclass(frozen=True)
class Params:
    """Analysis settings, all in metres and days where they are lengths and spans."""

    bandwidth_m: float = 60.0
    eps_m: float = 50.0
    min_reports: int | None = None  # None: from the background density
    bins: str = "grid"  # "grid" or "h3"
    h3_resolution: int = 9
    slice: str = "month"  # "week" or "month"
    confidence: float = 0.90  # what counts as a hot slice for patterns and displacement
    max_distance_m: float = 3000.0
    repeat_radius_m: float = 30.0
    repeat_days: float = 30.0
    heat_cells: int = 1500  # per time slice on the map

    def check(self) -> Params:
        if not 5 <= self.bandwidth_m <= 5000:
            raise ValueError(_("bandwidth_m must be between 5 and 5000 metres"))
        if not 5 <= self.eps_m <= 2000:
            raise ValueError(_("eps_m must be between 5 and 2000 metres"))
        if self.min_reports is not None and not 2 <= self.min_reports <= 100_000:
            raise ValueError(_("min_reports must be between 2 and 100000"))
        if self.bins not in ("grid", "h3"):
            raise ValueError(_("bins must be grid or h3"))
        if self.slice not in SLICE_SECONDS:
            raise ValueError(_("slice must be one of {slices}").format(
                slices=", ".join(SLICE_SECONDS)))
        if self.confidence not in CONFIDENCE:
            raise ValueError(_("confidence must be 0.9, 0.95 or 0.99"))
        if not 0 < self.max_distance_m <= 50_000:
            raise ValueError(_("max_distance_m must be between 0 and 50000 metres"))
        if not 1 <= self.repeat_radius_m <= 1000 or not 0 < self.repeat_days <= 365:
            raise ValueError(_("repeat_radius_m must be 1-1000 metres and repeat_days 1-365"))
        return self


@dataclass
class Layer:
    """Features for one map layer, and what the whole layer says (`meta`)."""

    ids: list
    geoms: np.ndarray
    props: list[dict]
    meta: dict = field(default_factory=dict)


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(float(seconds), UTC).isoformat().replace("+00:00", "Z")


def local_day(seconds: float) -> str:
    """The day (YYYY-MM-DD) in Asia/Shanghai of a moment: how slices are named, so that a
    slice starting at a Beijing midnight bears that day."""
    return local(datetime.fromtimestamp(float(seconds), UTC)).date().isoformat()


def _lonlat(x, y) -> tuple[float, float]:
    lon, lat = from_metric(np.atleast_1d(x), np.atleast_1d(y))
    return float(lon[0]), float(lat[0])


def density(reports: Reports, p: Params) -> Layer:
    """The densest cells of the kernel density surface, as points (reports per km²)."""
    surface = surfaces(reports.x, reports.y, p.bandwidth_m)
    lon, lat, value = surface.peaks(limit=5000)
    props = [{"density_km2": round(float(v), 2)} for v in value]
    return Layer(list(range(len(props))), shapely.points(lon, lat), props,
                 {"bandwidth_m": p.bandwidth_m, "cell_m": surface.cell,
                  "max_density_km2": round(float(value.max()), 2) if len(value) else 0.0})


def heat_slices(reports: Reports, q: HotspotQuery, p: Params) -> dict:
    """Per time slice, the densest cells [lat, lon, weight 0-1] for a heat map with a time
    slider; every slice on one lattice and one scale, so that colours compare across time."""
    edges = slice_edges(epoch(q.since), epoch(q.until), p.slice)
    labels = [local_day(t) for t in edges[:-1]]
    if len(reports) == 0:
        return {"index": labels, "data": [[] for _ in labels], "max_density_km2": 0.0}
    lattices = part_lattices(reports.x, reports.y, p.bandwidth_m, p.bandwidth_m / 3)
    slot = np.searchsorted(edges, reports.reported, side="right") - 1
    # One surface at a time, keeping its densest cells: every cell that reaches 5% of the
    # overall peak reaches 5% of its own slice's peak, so nothing is lost by filtering later.
    peaks, top = [], 0.0
    for k in range(len(labels)):
        budget.on_time(_("the heat maps"))
        mine = slot == k
        s = surfaces(reports.x[mine], reports.y[mine], p.bandwidth_m, lattices=lattices,
                     part=lattices.part[mine])
        peaks.append(s.peaks(share=0.05, limit=p.heat_cells))
        top = max(top, s.max())
    top = top or 1.0
    data = []
    for lon, lat, value in peaks:
        keep = value >= 0.05 * top
        data.append([[round(float(a), 6), round(float(b), 6), round(float(v) / top, 4)]
                     for a, b, v in zip(lat[keep], lon[keep], value[keep], strict=True)])
    return {"index": labels, "data": data, "max_density_km2": round(top, 2),
            "cell_m": lattices.cell}


def clusters(reports: Reports, p: Params, area_m2: float | None = None) -> Layer:
    """DBSCAN clusters with their outlines, count, first/last report and dominant category."""
    min_reports = p.min_reports or dbscan.auto_min_reports(reports.x, reports.y, p.eps_m, area_m2)
    labels = dbscan.dbscan(reports, p.eps_m, min_reports)
    found = dbscan.outlines(reports, labels, p.eps_m)
    props = []
    for c in found:
        d = dbscan.describe(reports, c)
        d["first_reported"], d["last_reported"] = iso(d["first_reported"]), iso(d["last_reported"])
        d["dominant_category_name"] = category_label(d["dominant_category"])  # as category_name
        d["centre"] = [round(v, 6) for v in _lonlat(c.x, c.y)]
        props.append(d)
    outlines = geoms_from_metric(np.array([c.outline for c in found], dtype=object))
    return Layer([c.label for c in found], outlines, props,
                 {"eps_m": p.eps_m, "min_reports": min_reports,
                  "min_reports_chosen": p.min_reports is None,
                  "clustered": int((labels >= 0).sum()), "noise": int((labels < 0).sum())})


def _bin_props(bins: Bins, k: int) -> dict:
    out = {"bin": bins.ids[k]}
    if bins.names is not None:
        out["name"] = bins.names[k]
    return out


def gistar(reports: Reports, bins: Bins, significant_only: bool = False,
           where: np.ndarray | None = None) -> Layer:
    """Gi* per bin over the whole window (on Pearson residuals of the counts, so that bins of
    unequal size compare fairly), with FDR-corrected confidence. `where`: each report's bin,
    when the caller has it already (`geo.hotspots.bins.assign`)."""
    n = counts(bins, assign(bins, reports) if where is None else where)[:, 0]
    dens = n / (bins.area_m2 / 1e6)
    z = gi_star(bins.neighbours, pearson(n[:, None], bins.area_m2)[:, 0])
    gbin = confidence_bins(z)
    p = p_values(z)
    keep = np.flatnonzero(gbin != 0) if significant_only else np.arange(len(bins))
    props = [{**_bin_props(bins, k), "reports": int(n[k]), "density_km2": round(float(dens[k]), 2),
              "z": round(float(z[k]), 3), "p": float(f"{p[k]:.3g}"), "gi_bin": int(gbin[k])}
             for k in keep]
    return Layer([bins.ids[k] for k in keep], bins.geoms[keep], props,
                 {"bins": bins.kind, "units": len(bins),
                  "reports_per_bin": round(float(n.sum()) / max(len(bins), 1), 2),
                  "hot": int((gbin > 0).sum()),
                  "cold": int((gbin < 0).sum()), "correction": "fdr"})


def cube(reports: Reports, bins: Bins, q: HotspotQuery, p: Params,
         where: np.ndarray | None = None) -> Cube:
    edges = slice_edges(epoch(q.since), epoch(q.until), p.slice)
    return space_time_cube(bins, assign(bins, reports) if where is None else where,
                           reports.reported, edges)


def emerging(c: Cube, p: Params) -> Layer:
    """Bins with an emerging hot or cold spot pattern."""
    names, trend = classify(c, p.confidence)
    level = CONFIDENCE.index(p.confidence) + 1
    keep = np.flatnonzero(names != "")
    props = [{**_bin_props(c.bins, k), "pattern": names[k],
              "trend_z": round(float(trend["trend_z"][k]), 3),
              "trend_p": float(f"{trend['trend_p'][k]:.3g}"),
              "hot_slices": int((c.gbin[k] >= level).sum()),
              "cold_slices": int((c.gbin[k] <= -level).sum()),
              "reports_per_slice": c.counts[k].astype(int).tolist()} for k in keep]
    found, tally = np.unique(names[keep], return_counts=True)
    return Layer([c.bins.ids[k] for k in keep], c.bins.geoms[keep], props,
                 {"slices": [local_day(t) for t in c.edges[:-1]], "slice": p.slice,
                  "patterns": dict(zip(found.tolist(), tally.tolist(), strict=True))})


def displacement(reports: Reports, q: HotspotQuery, p: Params,
                 area_m2: float | None = None) -> Layer:
    """Arrows from each hotspot that cooled to the hotspot that appeared near it."""
    edges = slice_edges(epoch(q.since), epoch(q.until), p.slice)
    moves, cooled, appeared = displacements(reports, edges, p.eps_m, p.max_distance_m,
                                            min_reports=p.min_reports, area_m2=area_m2)
    geoms, props = [], []
    for m in moves:
        geoms.append(shapely.LineString([_lonlat(m.source.x, m.source.y),
                                         _lonlat(m.target.x, m.target.y)]))
        props.append({"distance_m": round(m.distance_m, 1),
                      "cooled_after": local_day(edges[m.source.last + 1]),
                      "appeared_from": local_day(edges[m.target.first]),
                      "reports_before": m.source.reports, "reports_after": m.target.reports,
                      "last_before": iso(reports.reported[m.source.members].max()),
                      "first_after": iso(reports.reported[m.target.members].min())})
    return Layer(list(range(len(props))), np.array(geoms, dtype=object), props,
                 {"max_distance_m": p.max_distance_m, "eps_m": p.eps_m, "slice": p.slice,
                  "cooled_hotspots": len(cooled), "new_hotspots": len(appeared)})


def repeat_spots(reports: Reports, p: Params, limit: int = 2000) -> Layer:
    """Places reported again within repeat_days of a closure, most repeats first."""
    previous = rework.previous_report(reports, p.repeat_radius_m, p.repeat_days)
    found = rework.spots(previous)[:limit]
    geoms, props = [], []
    for s in found:
        m = s.members
        lon, lat = _lonlat(reports.x[m].mean(), reports.y[m].mean())
        geoms.append(shapely.Point(lon, lat))
        cats = reports.category[m]
        values, tally = np.unique(cats.astype(str), return_counts=True)
        props.append({"reports": int(m.size), "repeats": s.repeats,
                      "category": str(values[np.argmax(tally)]),
                      "first_reported": iso(reports.reported[m].min()),
                      "last_reported": iso(reports.reported[m].max()),
                      "issue_ids": [int(i) for i in reports.ids[m][:50]]})
    repeated = int((previous >= 0).sum())
    return Layer(list(range(len(props))), np.array(geoms, dtype=object), props,
                 {"radius_m": p.repeat_radius_m, "days": p.repeat_days,
                  "repeat_reports": repeated,
                  "repeat_rate": round(repeated / len(reports), 4) if len(reports) else None})


# The steps of `analyse`, as a refusal out of time names the one it stopped at.
STEP_LABELS = {"heat": N_("the heat maps"), "clusters": N_("the clusters"),
               "gistar": N_("the Gi* hot and cold spots"), "emerging": N_("the emerging patterns"),
               "displacement": N_("the hotspot displacement"), "repeats": N_("the repeat spots")}


def analyse(reports: Reports, bins: Bins, q: HotspotQuery, p: Params,
            area_m2: float | None = None) -> dict:
    """Every result at once (the hotspot map and the benchmark). Reports are put in their bins
    once, for Gi* and the cube both (for H3 that is a second a million reports). A step
    starts only while the analysis is within its time (`budget.time_limit`)."""
    where = assign(bins, reports)
    steps = {"heat": lambda: heat_slices(reports, q, p),
             "clusters": lambda: clusters(reports, p, area_m2),
             "gistar": lambda: gistar(reports, bins, significant_only=True, where=where),
             "emerging": lambda: emerging(cube(reports, bins, q, p, where), p),
             "displacement": lambda: displacement(reports, q, p, area_m2),
             "repeats": lambda: repeat_spots(reports, p)}
    out = {}
    for name, step in steps.items():
        budget.on_time(_(STEP_LABELS[name]))
        out[name] = step()
    return out
