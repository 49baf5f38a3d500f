"""What every map page shares: a folium Map with local assets, an optional basemap from a
configured tile server (none by default), and a way to add our own script in page order."""

from __future__ import annotations

import json

import folium
from branca.element import Element, MacroElement
from folium import JsCode
from folium.plugins import Realtime
from folium.template import Template

from geo.taxonomy import CATEGORIES
from maps.assets import localise, url

# One colour per category, in taxonomy order (colour-blind-safe hues first).
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442",
           "#000000", "#8c564b", "#17becf", "#7f7f7f", "#bcbd22", "#9467bd", "#1f77b4",
           "#ff7f0e", "#2ca02c")


MIN_ZOOM, MAX_ZOOM = 6, 19
STATIC_REFRESH_MS = 5 * 60 * 1000  # outlines, cameras and sites change rarely


class Script(MacroElement):
    """Raw JavaScript placed after the elements added before it."""

    _template = Template("{% macro script(this, kwargs) %}{{ this.code }}{% endmacro %}")

    def __init__(self, code: str):
        super().__init__()
        self._name = "Script"
        self.code = code


def js(value) -> str:
    """A Python value as a JavaScript literal, safe inside a <script> element."""
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/")


def category_colours() -> dict:
    return {c.code: {"name": c.name_zh, "colour": PALETTE[i % len(PALETTE)]}
            for i, c in enumerate(CATEGORIES)}


def base_map(settings, area_levels: list[dict], bounds=None, location=None,
             zoom: int = 15) -> folium.Map:
    """A map with no remote resources unless a tile server is configured. `area_levels`:
    the mean area of grids, communities and streets (see griddispatch.areaLevel)."""
    # Leaflet takes its zoom range from the tile layer; with none, the map must say it (the
    # marker cluster plugin needs a maxZoom).
    m = folium.Map(location=location, zoom_start=zoom, tiles=None, prefer_canvas=True,
                   control_scale=True, **{"maxZoom": MAX_ZOOM, "minZoom": MIN_ZOOM})
    localise(m)
    m.get_root().header.add_child(
        Element(f'<link rel="icon" href="{url("app", "favicon.svg")}">'), name="favicon")
    if settings.tile_url:
        folium.TileLayer(tiles=settings.tile_url, attr=settings.tile_attribution or "basemap",
                         name="basemap", max_zoom=MAX_ZOOM, overlay=False, control=False).add_to(m)
    if bounds is not None:
        m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    config = {"categories": category_colours(), "areaLevels": area_levels}
    Script(f"griddispatch.configure({js(config)});").add_to(m)
    return m


def page(m: folium.Map, title: str) -> str:
    """The page's HTML, titled."""
    m.get_root().title = title
    return m.get_root().render()


def api_layer(m: folium.Map, name: str, label: str, url: str, interval_ms: int,
              **options) -> Realtime:
    """A layer fetched from the API by `griddispatch.source` (the JS expression `url` picks
    the address for the view), refreshed every `interval_ms` and after every pan or zoom.
    Other options go to the GeoJSON layer (style, point_to_layer, ...)."""
    layer = Realtime(JsCode(f"griddispatch.source({js(name)}, {m.get_name()}, {url})"),
                     interval=interval_ms, get_feature_id=JsCode("griddispatch.featureId"),
                     remove_missing=True, **options)
    layer.layer_name = label  # the layer control's label (Realtime takes no name of its own)
    localise(layer).add_to(m)
    return layer


def grids_layer(m: folium.Map, interval_ms: int) -> Realtime:
    """Grids coloured by their open issues (communities when zoomed out)."""
    return api_layer(m, "grids", "Grids (communities when zoomed out)", "griddispatch.urls.grids",
                     interval_ms, style=JsCode("griddispatch.gridStyle"),
                     on_each_feature=JsCode("griddispatch.areaTooltips"))


def streets_layer(m: folium.Map) -> Realtime:
    return api_layer(m, "streets", "Street outlines", "griddispatch.urls.area('streets')",
                     STATIC_REFRESH_MS, style=JsCode("griddispatch.outline('#37474f', 2)"),
                     interactive=False)
