"""The hotspot map (/maps/hotspots and `griddispatch hotspots`): a heat map per time slice with
a slider, DBSCAN cluster outlines with counts, Gi* bins by confidence, emerging hot spot
patterns, displacement arrows from the old hotspot to the new, and repeat spots; a legend and
the filters (a form on the served page, a summary in a saved file).

Unlike the live map, the results are embedded: one analysis answers one set of filters, and
a saved file must work with no server at all."""

from __future__ import annotations

import html
import math

import folium
import numpy as np
from folium.plugins import HeatMapWithTime

from geo.codes import LENGTHS
from geo.crs import from_metric, to_metric
from geo.hotspots import budget
from geo.hotspots.analysis import Layer, analyse
from geo.hotspots.emerging import PATTERNS
from geo.taxonomy import CATEGORIES, CATEGORY_BY_CODE
from maps.assets import localise
from maps.base import Script, base_map, js, page

# ArcGIS's hot spot ramp: confidence 99/95/90 hot (reds) and cold (blues).
GI_COLOURS = {3: "#d62f27", 2: "#ed7551", 1: "#fab984", -1: "#c0ccbe", -2: "#849eba",
              -3: "#4575b5"}
GI_LABELS = {3: "hot spot, 99%", 2: "hot spot, 95%", 1: "hot spot, 90%", -1: "cold spot, 90%",
             -2: "cold spot, 95%", -3: "cold spot, 99%"}
PATTERN_COLOURS = dict(zip(
    [f"{p} hot spot" for p in PATTERNS] + [f"{p} cold spot" for p in PATTERNS],
    ["#ff0000", "#ff6e4a", "#b30000", "#8b0000", "#ffa07a", "#ff8c00", "#c71585", "#a0522d",
     "#1e90ff", "#6ea0ff", "#00008b", "#191970", "#87cefa", "#4682b4", "#6a5acd", "#708090"],
    strict=True))
CLUSTER_COLOUR = "#6a1b9a"
ARROW_COLOUR = "#111111"
REPEAT_COLOUR = "#00897b"


def _collection(layer: Layer) -> dict:
    feats = [{"type": "Feature", "id": str(i), "geometry": g.__geo_interface__, "properties": p}
             for i, g, p in zip(layer.ids, layer.geoms, layer.props, strict=True)]
    return {"type": "FeatureCollection", "features": feats}


def _arrow(line, reach: float = 0.82, head_m: float = 120.0):
    """An arrow along a two-point line, as [lat, lon] lists: the shaft and a triangular head,
    stopping short of the end so that the new hotspot's marker does not hide the head."""
    (lon0, lat0), (lon1, lat1) = line.coords[0], line.coords[-1]
    x, y = to_metric(np.array([lon0, lon1]), np.array([lat0, lat1]))
    tip = (x[0] + reach * (x[1] - x[0]), y[0] + reach * (y[1] - y[0]))
    angle = math.atan2(y[1] - y[0], x[1] - x[0])
    size = min(head_m, 0.3 * math.hypot(x[1] - x[0], y[1] - y[0]))
    pts = [(x[0], y[0]), tip]
    for side in (+1, -1):
        a = angle + math.pi - side * 0.45
        pts.append((tip[0] + size * math.cos(a), tip[1] + size * math.sin(a)))
    lon, lat = from_metric(np.array([p[0] for p in pts]), np.array([p[1] for p in pts]))
    coords = [[float(b), float(a)] for a, b in zip(lon, lat, strict=True)]
    return coords[:2], [coords[1], coords[2], coords[3]]


def _tooltip(fields: list[str], aliases: list[str]) -> folium.GeoJsonTooltip:
    return folium.GeoJsonTooltip(fields=fields, aliases=aliases, sticky=True)


def _heat(m, heat: dict) -> None:
    layer = HeatMapWithTime(heat["data"], index=heat["index"], name="Heat per slice",
                            auto_play=False, radius=14, min_opacity=0.25, max_opacity=0.8,
                            use_local_extrema=False, position="bottomleft",
                            overlay=True, control=True)
    localise(layer).add_to(m)


def _clusters(m, layer: Layer) -> None:
    group = folium.FeatureGroup(name=f"Clusters ({len(layer.ids)})", show=True)
    if layer.ids:
        folium.GeoJson(
            _collection(layer),
            style_function=lambda f: {"color": CLUSTER_COLOUR, "weight": 2.5, "fillOpacity": 0.12,
                                      "fillColor": CLUSTER_COLOUR, "className": "gd-cluster"},
            tooltip=_tooltip(["reports", "dominant_category_name", "dominant_share",
                              "first_reported", "last_reported"],
                             ["reports", "mostly", "share", "first", "last"])).add_to(group)
        for f, centre in zip(layer.props, (p["centre"] for p in layer.props), strict=True):
            folium.Marker([centre[1], centre[0]], icon=folium.DivIcon(
                html=f"<div class='gd-cluster-count'>{f['reports']}</div>",
                icon_size=(34, 18), icon_anchor=(17, 9))).add_to(group)
    group.add_to(m)


def _bins(m, layer: Layer, name: str, colour, show: bool, fields, aliases) -> None:
    group = folium.FeatureGroup(name=name, show=show)
    if layer.ids:
        folium.GeoJson(_collection(layer),
                       style_function=lambda f: {"color": "#555", "weight": 0.6,
                                                 "fillColor": colour(f["properties"]),
                                                 "fillOpacity": 0.55},
                       tooltip=_tooltip(fields, aliases)).add_to(group)
    group.add_to(m)


def _displacement(m, layer: Layer) -> None:
    group = folium.FeatureGroup(name=f"Displacement ({len(layer.ids)})", show=True)
    for line, p in zip(layer.geoms, layer.props, strict=True):
        text = (f"hotspot moved {p['distance_m'] / 1000:.2f} km: cooled after {p['cooled_after']} "
                f"({p['reports_before']} reports), new from {p['appeared_from']} "
                f"({p['reports_after']} reports)")
        shaft, head = _arrow(line)
        folium.PolyLine(shaft, color=ARROW_COLOUR, weight=4, opacity=0.9, dash_array="10 6",
                        tooltip=text, class_name="gd-displacement").add_to(group)
        folium.Polygon(head, color=ARROW_COLOUR, fill=True, fill_opacity=0.95, weight=1,
                       tooltip=text).add_to(group)
    group.add_to(m)


def _repeats(m, layer: Layer) -> None:
    group = folium.FeatureGroup(name=f"Repeat spots ({len(layer.ids)})", show=False)
    for point, p in zip(layer.geoms[:500], layer.props[:500], strict=True):
        folium.CircleMarker([point.y, point.x], radius=3 + 1.5 * math.sqrt(p["repeats"]),
                            color=REPEAT_COLOUR, fill=True, fill_opacity=0.6, weight=1,
                            tooltip=(f"{p['repeats']} repeat(s) of {p['reports']} reports, "
                                     f"{CATEGORY_BY_CODE[p['category']].name_zh}, "
                                     f"{p['first_reported'][:10]} to {p['last_reported'][:10]}")
                            ).add_to(group)
    group.add_to(m)


def _outlines(m, streets) -> None:
    if streets is None or streets.empty:
        return
    folium.GeoJson(streets[["code", "name", "geometry"]].__geo_interface__, name="Streets",
                   style_function=lambda f: {"color": "#37474f", "weight": 1.5, "fill": False},
                   tooltip=folium.GeoJsonTooltip(["name", "code"]), control=False).add_to(m)


def _legend(results: dict) -> str:
    def row(colour, label, shape="box"):
        return (f"<div><span class='gd-swatch gd-{shape}' style='background:{colour}'></span>"
                f"{html.escape(label)}</div>")
    gi_rows = "".join(row(GI_COLOURS[k], GI_LABELS[k]) for k in (3, 2, 1, -1, -2, -3))
    seen = results["emerging"].meta.get("patterns", {})
    pattern_rows = "".join(row(PATTERN_COLOURS[p], f"{p} ({n})") for p, n in seen.items()) \
        or "<div>no pattern found</div>"
    return ("<div class='gd-legend gd-hotspot-legend'><b>Gi* (FDR-corrected)</b>" + gi_rows
            + "<b>Emerging patterns</b>" + pattern_rows + "<b>Also</b>"
            + row(CLUSTER_COLOUR, "DBSCAN cluster (count)")
            + row(ARROW_COLOUR, "hotspot moved (old → new)", "line")
            + row(REPEAT_COLOUR, "repeat spot", "dot") + "</div>")


def _filters_form(filters: dict, streets) -> str:
    """A GET form back to this page with the current filters filled in."""
    chosen = set(filters.get("category") or ())
    cats = "".join(f"<option value='{c.code}'{' selected' if c.code in chosen else ''}>"
                   f"{c.code} {html.escape(c.name_zh)}</option>" for c in CATEGORIES)
    area = filters.get("area") or ""
    areas = "<option value=''>whole jurisdiction</option>" + "".join(
        f"<option value='{c}'{' selected' if c == area else ''}>{html.escape(n)}</option>"
        for c, n in zip(streets.code, streets.name, strict=True))

    def choice(name, values):
        return "".join(f"<option{' selected' if v == filters.get(name) else ''}>{v}</option>"
                       for v in values)
    return (f"<form method='get' action='/maps/hotspots' class='gd-filters'>"
            f"<label>Categories <select name='category' multiple size='4'>{cats}</select></label>"
            f"<label>Area <select name='area'>{areas}</select></label>"
            f"<label>From <input type='date' name='since' value='{filters['since']}'></label>"
            f"<label>To <input type='date' name='until' value='{filters['until']}'></label>"
            f"<label>Slices <select name='slice'>{choice('slice', ('month', 'week'))}</select></label>"
            f"<label>Bins <select name='bins'>{choice('bins', ('grid', 'h3'))}</select></label>"
            "<button type='submit'>Analyse</button></form>")


def _summary(filters: dict, reports: int) -> str:
    cats = ", ".join(filters.get("category") or ()) or "all categories"
    return (f"<div class='gd-filters'><b>{reports:,} reports</b>, {html.escape(cats)}, "
            f"{html.escape(filters.get('area') or 'whole area')}, {filters['since']} to "
            f"{filters['until']} (until exclusive), {filters['slice']} slices, "
            f"{filters['bins']} bins</div>")


def hotspot_map(settings, results: dict, filters: dict, reports: int, bounds, streets,
                form: bool = True, who: str | None = None) -> folium.Map:
    """The map of one analysis (`geo.hotspots.analysis.analyse`). `filters` are the query as
    shown to the user (dates as YYYY-MM-DD); `form` puts the filter form on the page."""
    m = base_map(settings, [], bounds)
    _outlines(m, streets)
    _heat(m, results["heat"])
    _bins(m, results["gistar"], f"Gi* hot and cold spots ({len(results['gistar'].ids)})",
          lambda p: GI_COLOURS.get(p["gi_bin"], "#ffffff"), False,
          ["bin", "reports", "z", "p", "gi_bin"], ["bin", "reports", "z", "p", "confidence bin"])
    _bins(m, results["emerging"], f"Emerging patterns ({len(results['emerging'].ids)})",
          lambda p: PATTERN_COLOURS[p["pattern"]], True,
          ["bin", "pattern", "hot_slices", "cold_slices", "trend_z", "trend_p"],
          ["bin", "pattern", "hot slices", "cold slices", "trend z", "trend p"])
    _clusters(m, results["clusters"])
    _displacement(m, results["displacement"])
    _repeats(m, results["repeats"])
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    panel = _filters_form(filters, streets) if form else _summary(filters, reports)
    summary = {"reports": reports, "clusters": len(results["clusters"].ids),
               "gistar": len(results["gistar"].ids), "emerging": len(results["emerging"].ids),
               "displacement": len(results["displacement"].ids),
               "repeats": len(results["repeats"].ids), "slices": results["heat"]["index"]}
    Script(f"griddispatch.hotspotPage({m.get_name()}, {js(panel)}, {js(_legend(results))}, "
           f"{js(summary)}, {js(who)});").add_to(m)
    return m


def hotspot_page(settings, study, params, streets, form: bool = True,
                 who: str | None = None) -> str:
    """The whole page for a study (`geo.hotspots.study`) analysed with `params`; TooCostly
    (`geo.hotspots.budget`) before anything runs when the analysis would cost too much, or
    once it has run out of time."""
    q = study.query
    filters = {"category": list(q.categories), "area": q.area,
               "since": q.since.date().isoformat(), "until": q.until.date().isoformat(),
               "slice": params.slice, "bins": params.bins}
    budget.afford(study, "map", params)
    with budget.time_limit():
        results = analyse(study.reports, study.bins(params.bins, None), study.query, params,
                          study.area_m2)
    covered = set(study.grids.code.str[:LENGTHS["street"]])
    streets = streets[streets.code.isin(covered)] if streets is not None else None
    m = hotspot_map(settings, results, filters, len(study.reports),
                    tuple(float(v) for v in study.grids.total_bounds), streets, form, who)
    return page(m, "griddispatch: hotspots")
