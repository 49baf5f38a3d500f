"""The hotspot map (/maps/hotspots and `griddispatch hotspots`): a heat map per time slice with
a slider, DBSCAN cluster outlines with counts, Gi* bins by confidence, emerging hot spot
patterns, displacement arrows from the old hotspot to the new, and repeat spots; a legend and
the filters (a form on the served page, a summary in a saved file).

Unlike the live map, the results are embedded: one analysis answers one set of filters, and
a saved file must work with no server at all."""

from __future__ import annotations

import dataclasses
import html
import math
from datetime import UTC, date, datetime

import folium
import numpy as np
from folium.plugins import HeatMapWithTime

from geo.codes import LENGTHS
from geo.crs import from_metric, to_metric
from geo.hotspots import budget
from geo.hotspots.analysis import Layer, analyse
from geo.hotspots.emerging import MAX_SLICES, MIN_SLICES, PATTERNS, SLICE_SECONDS
from geo.hotspots.reports import HotspotQuery
from geo.i18n import N_, _, current, format_date, local, ngettext
from geo.layers.mapview import main_part_bounds
from geo.taxonomy import CATEGORIES, category_label
from maps.assets import localise
from maps.base import Script, base_map, js, page

# ArcGIS's hot spot ramp: confidence 99/95/90 hot (reds) and cold (blues).
GI_COLOURS = {3: "#d62f27", 2: "#ed7551", 1: "#fab984", -1: "#c0ccbe", -2: "#849eba",
              -3: "#4575b5"}
GI_LABELS = {3: N_("hot spot, 99%"), 2: N_("hot spot, 95%"), 1: N_("hot spot, 90%"),
             -1: N_("cold spot, 90%"), -2: N_("cold spot, 95%"), -3: N_("cold spot, 99%")}
PATTERN_COLOURS = dict(zip(
    [f"{p} hot spot" for p in PATTERNS] + [f"{p} cold spot" for p in PATTERNS],
    ["#ff0000", "#ff6e4a", "#b30000", "#8b0000", "#ffa07a", "#ff8c00", "#c71585", "#a0522d",
     "#1e90ff", "#6ea0ff", "#00008b", "#191970", "#87cefa", "#4682b4", "#6a5acd", "#708090"],
    strict=True))
# Each pattern's name as the legend and tooltips show it (PATTERN_COLOURS' keys, in order).
PATTERN_LABELS = dict(zip(PATTERN_COLOURS, (
    N_("new hot spot"), N_("consecutive hot spot"), N_("intensifying hot spot"),
    N_("persistent hot spot"), N_("diminishing hot spot"), N_("sporadic hot spot"),
    N_("oscillating hot spot"), N_("historical hot spot"), N_("new cold spot"),
    N_("consecutive cold spot"), N_("intensifying cold spot"), N_("persistent cold spot"),
    N_("diminishing cold spot"), N_("sporadic cold spot"), N_("oscillating cold spot"),
    N_("historical cold spot")), strict=True))
SLICE_LABELS = {"month": N_("months"), "week": N_("weeks")}
BIN_LABELS = {"grid": N_("grids"), "h3": N_("H3 hexagons")}
CLUSTER_COLOUR = "#6a1b9a"
ARROW_COLOUR = "#111111"
REPEAT_COLOUR = "#00897b"


def _day(text) -> str:
    """A day in the page's words: a date as it is (the filters' and the slices' days), an ISO
    time as its day in the command centre's zone."""
    if not text:
        return ""
    text = str(text)
    if len(text) > 10:
        return format_date(datetime.fromisoformat(text))
    return format_date(date.fromisoformat(text))


def _collection(layer: Layer, shown=None) -> dict:
    """The layer as GeoJSON; `shown` adds the properties its tooltip shows in words."""
    feats = [{"type": "Feature", "id": str(i), "geometry": g.__geo_interface__,
              "properties": {**p, **(shown(p) if shown else {})}}
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
    labels = [_day(label) for label in heat["index"]]  # the slices' first days
    layer = HeatMapWithTime(heat["data"], index=labels, name=_("Heat per slice"),
                            auto_play=False, radius=14, min_opacity=0.25, max_opacity=0.8,
                            use_local_extrema=False, position="bottomleft",
                            overlay=True, control=True)
    localise(layer).add_to(m)


def _cluster_words(p: dict) -> dict:
    return {"mostly": category_label(p["dominant_category"]),
            "share_pct": f"{round(100 * p['dominant_share'])}%",
            "first": _day(p["first_reported"]), "last": _day(p["last_reported"])}


def _clusters(m, layer: Layer) -> None:
    group = folium.FeatureGroup(name=_("Clusters ({n})").format(n=len(layer.ids)), show=True)
    if layer.ids:
        folium.GeoJson(
            _collection(layer, _cluster_words),
            style_function=lambda f: {"color": CLUSTER_COLOUR, "weight": 2.5, "fillOpacity": 0.12,
                                      "fillColor": CLUSTER_COLOUR, "className": "gd-cluster"},
            tooltip=_tooltip(["reports", "mostly", "share_pct", "first", "last"],
                             [_("reports"), _("mostly"), _("share"), _("first"), _("last")])
        ).add_to(group)
        for f, centre in zip(layer.props, (p["centre"] for p in layer.props), strict=True):
            folium.Marker([centre[1], centre[0]], icon=folium.DivIcon(
                html=f"<div class='gd-cluster-count'>{f['reports']}</div>",
                icon_size=(34, 18), icon_anchor=(17, 9))).add_to(group)
    group.add_to(m)


def _bins(m, layer: Layer, name: str, colour, show: bool, fields, aliases, shown=None) -> None:
    group = folium.FeatureGroup(name=name, show=show)
    if layer.ids:
        folium.GeoJson(_collection(layer, shown),
                       style_function=lambda f: {"color": "#555", "weight": 0.6,
                                                 "fillColor": colour(f["properties"]),
                                                 "fillOpacity": 0.55},
                       tooltip=_tooltip(fields, aliases)).add_to(group)
    group.add_to(m)


def _displacement(m, layer: Layer) -> None:
    group = folium.FeatureGroup(name=_("Displacement ({n})").format(n=len(layer.ids)), show=True)
    for line, p in zip(layer.geoms, layer.props, strict=True):
        text = _("hotspot moved {km} km: cooled after {cooled} ({before} reports), new from "
                 "{appeared} ({after} reports)").format(
            km=f"{p['distance_m'] / 1000:.2f}", cooled=_day(p["cooled_after"]),
            before=p["reports_before"], appeared=_day(p["appeared_from"]),
            after=p["reports_after"])
        shaft, head = _arrow(line)
        folium.PolyLine(shaft, color=ARROW_COLOUR, weight=4, opacity=0.9, dash_array="10 6",
                        tooltip=text, class_name="gd-displacement").add_to(group)
        folium.Polygon(head, color=ARROW_COLOUR, fill=True, fill_opacity=0.95, weight=1,
                       tooltip=text).add_to(group)
    group.add_to(m)


def _repeats(m, layer: Layer) -> None:
    group = folium.FeatureGroup(name=_("Repeat spots ({n})").format(n=len(layer.ids)), show=False)
    for point, p in zip(layer.geoms[:500], layer.props[:500], strict=True):
        text = ngettext("{repeats} repeat of {reports} reports, {category}, {first} to {last}",
                        "{repeats} repeats of {reports} reports, {category}, {first} to {last}",
                        p["repeats"]).format(
            repeats=p["repeats"], reports=p["reports"], category=category_label(p["category"]),
            first=_day(p["first_reported"]), last=_day(p["last_reported"]))
        folium.CircleMarker([point.y, point.x], radius=3 + 1.5 * math.sqrt(p["repeats"]),
                            color=REPEAT_COLOUR, fill=True, fill_opacity=0.6, weight=1,
                            tooltip=text).add_to(group)
    group.add_to(m)


def _outlines(m, streets) -> None:
    if streets is None or streets.empty:
        return
    folium.GeoJson(streets[["code", "name", "geometry"]].__geo_interface__, name=_("Streets"),
                   style_function=lambda f: {"color": "#37474f", "weight": 1.5, "fill": False},
                   tooltip=folium.GeoJsonTooltip(["name", "code"], aliases=[_("street"), _("code")]),
                   control=False).add_to(m)


def _legend(results: dict) -> str:
    def row(colour, label, shape="box"):
        return (f"<div><span class='gd-swatch gd-{shape}' style='background:{colour}'></span>"
                f"{html.escape(label)}</div>")

    def section(title, rows, open_=True):
        return (f"<details{' open' if open_ else ''}><summary>{html.escape(title)}</summary>"
                f"{rows}</details>")
    gi_rows = "".join(row(GI_COLOURS[k], _(GI_LABELS[k])) for k in (3, 2, 1, -1, -2, -3))
    seen = results["emerging"].meta.get("patterns", {})
    pattern_rows = "".join(
        row(PATTERN_COLOURS[p], _("{pattern} ({n})").format(pattern=_(PATTERN_LABELS[p]), n=n))
        for p, n in seen.items()) or "<div>" + html.escape(_("no pattern found")) + "</div>"
    also = (row(CLUSTER_COLOUR, _("DBSCAN cluster (count)"))
            + row(ARROW_COLOUR, _("hotspot moved (old → new)"), "line")
            + row(REPEAT_COLOUR, _("repeat spot"), "dot"))
    return ("<div class='gd-legend gd-hotspot-legend'>"
            + section(_("Gi* (FDR-corrected)"), gi_rows)
            + section(_("Emerging patterns"), pattern_rows) + section(_("Also"), also) + "</div>")


def _date_field(name: str, label: str, value: str) -> str:
    """A date typed as 2026-10-01 (never the browser's own, maybe month-first, rendering),
    shown beside in the page's words (griddispatch.hotspotPage keeps that up to date)."""
    hint = html.escape(_("yyyy-mm-dd"))  # outside the f-string, where Babel finds it
    return (f"<label>{html.escape(label)} <input type='text' name='{name}' value='{value}' "
            f"lang='{'en-GB' if current() == 'en' else 'zh-CN'}' inputmode='numeric' "
            "pattern='\\d{4}-\\d{2}-\\d{2}' size='10' "
            f"placeholder='{hint}' "
            f"class='gd-date' required> <output class='gd-date-text' for='{name}'>"
            f"{html.escape(_day(value))}</output></label>")


def _filters_form(filters: dict, streets) -> str:
    """A GET form back to this page with the current filters filled in."""
    chosen = set(filters.get("category") or ())
    cats = "".join(f"<option value='{c.code}'{' selected' if c.code in chosen else ''}>"
                   f"{c.code} {html.escape(category_label(c.code))}</option>" for c in CATEGORIES)
    area = filters.get("area") or ""
    whole = html.escape(_("whole jurisdiction"))
    areas = f"<option value=''>{whole}</option>" + "".join(
        f"<option value='{c}'{' selected' if c == area else ''}>{html.escape(n)}</option>"
        for c, n in zip(streets.code, streets.name, strict=True))

    def choice(name, labels):
        return "".join(f"<option value='{v}'{' selected' if v == filters.get(name) else ''}>"
                       + html.escape(_(label)) + "</option>" for v, label in labels.items())
    say = {k: html.escape(v) for k, v in {"categories": _("Categories"), "area": _("Area"),
                                          "slices": _("Slices"), "bins": _("Bins"),
                                          "analyse": _("Analyse")}.items()}
    return (f"<form method='get' action='/maps/hotspots' class='gd-filters'>"
            f"<label>{say['categories']} "
            f"<select name='category' multiple size='4'>{cats}</select></label>"
            f"<label>{say['area']} <select name='area'>{areas}</select></label>"
            + _date_field("since", _("From"), filters["since"])
            + _date_field("until", _("To"), filters["until"])
            + f"<label>{say['slices']} "
            f"<select name='slice'>{choice('slice', SLICE_LABELS)}</select></label>"
            f"<label>{say['bins']} "
            f"<select name='bins'>{choice('bins', BIN_LABELS)}</select></label>"
            f"<button type='submit'>{say['analyse']}</button></form>")


def _summary(filters: dict, reports: int) -> str:
    cats = ", ".join(filters.get("category") or ()) or _("all categories")
    text = _("{categories}, {area}, {since} to {until} (until exclusive), {slices}, {bins}").format(
        categories=cats, area=filters.get("area") or _("whole area"),
        since=_day(filters["since"]), until=_day(filters["until"]),
        slices=_(SLICE_LABELS[filters["slice"]]), bins=_(BIN_LABELS[filters["bins"]]))
    count = ngettext("{n} report", "{n} reports", reports).format(n=f"{reports:,}")
    return (f"<div class='gd-filters'><b>{html.escape(count)}</b> {html.escape(text)}</div>")


def whole_slices(q: HotspotQuery, step: str) -> HotspotQuery:
    """`q` with its window reaching back to a whole number of slices ending at `until`, so
    that the first slice (where the slider starts) begins at "from" rather than up to a slice
    after it; a window the analysis would refuse is left as it is, to be refused in its words."""
    length = SLICE_SECONDS.get(step)
    if length is None:
        return q
    span = (q.until - q.since).total_seconds()
    whole = int(span // length)
    # Less than a day over: the first slice starts on the "from" day (so a form sent again
    # with the date it shows is not pushed back by another slice).
    if whole < MIN_SLICES or whole >= MAX_SLICES or span - whole * length < 86400:
        return q
    since = datetime.fromtimestamp(q.until.timestamp() - (whole + 1) * length, UTC)
    return dataclasses.replace(q, since=since)


def hotspot_map(settings, results: dict, filters: dict, reports: int, bounds, streets,
                form: bool = True, who: str | None = None) -> folium.Map:
    """The map of one analysis (`geo.hotspots.analysis.analyse`). `filters` are the query as
    shown to the user (dates as YYYY-MM-DD); `form` puts the filter form on the page."""
    m = base_map(settings, [], bounds)
    _outlines(m, streets)
    _heat(m, results["heat"])
    _bins(m, results["gistar"],
          _("Gi* hot and cold spots ({n})").format(n=len(results["gistar"].ids)),
          lambda p: GI_COLOURS.get(p["gi_bin"], "#ffffff"), False,
          ["bin", "reports", "z", "p", "confidence"],
          [_("bin"), _("reports"), "z", "p", _("confidence bin")],
          lambda p: {"confidence": _(GI_LABELS[p["gi_bin"]]) if p["gi_bin"] in GI_LABELS
                     else _("not significant")})
    _bins(m, results["emerging"],
          _("Emerging patterns ({n})").format(n=len(results["emerging"].ids)),
          lambda p: PATTERN_COLOURS[p["pattern"]], True,
          ["bin", "pattern_name", "hot_slices", "cold_slices", "trend_z", "trend_p"],
          [_("bin"), _("pattern"), _("hot slices"), _("cold slices"), _("trend z"), _("trend p")],
          lambda p: {"pattern_name": _(PATTERN_LABELS[p["pattern"]])})
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
               "since": local(q.since).date().isoformat(),
               "until": local(q.until).date().isoformat(),
               "slice": params.slice, "bins": params.bins}
    budget.afford(study, "map", params)
    with budget.time_limit():
        results = analyse(study.reports, study.bins(params.bins, None), study.query, params,
                          study.area_m2)
    covered = set(study.grids.code.str[:LENGTHS["street"]])
    streets = streets[streets.code.isin(covered)] if streets is not None else None
    # A city in detached parts opens on the part holding most of the study's streets.
    bounds = (main_part_bounds(streets) if streets is not None and len(streets)
              else tuple(float(v) for v in study.grids.total_bounds))
    m = hotspot_map(settings, results, filters, len(study.reports), bounds, streets, form, who)
    return page(m, _("griddispatch: hotspots"))
