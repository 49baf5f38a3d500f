"""What every map page shares: a folium Map with local assets, an optional basemap from a
configured tile server (none by default), and a way to add our own script in page order."""

from __future__ import annotations

import json

import folium
from branca.element import Element, MacroElement
from folium import JsCode
from folium.plugins import Realtime
from folium.template import Template

from geo.i18n import _, html_lang
from geo.taxonomy import CATEGORIES, category_label
from geo.tiles.layers import TILE_LAYERS
from maps import messages
from maps.assets import localise, url
from maps.palette import PALETTE  # one colour per category, in taxonomy order

MIN_ZOOM, MAX_ZOOM = 6, 19
STATIC_REFRESH_MS = 5 * 60 * 1000  # outlines, cameras and sites change rarely
# The first map zoom that draws grids from tiles (maps/static/gridtiles.js): its 512-pixel
# tiles are the server's of the zoom below, which start at the grid layer's minzoom.
GRID_TILES_FROM_ZOOM = TILE_LAYERS["grids"].minzoom + 1


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
    """Each category's name in the page's language and its colour."""
    return {c.code: {"name": category_label(c),
                     "colour": PALETTE[i % len(PALETTE)]} for i, c in enumerate(CATEGORIES)}


# branca's Figure template with the page's language declared (branca's own says none).
_FIGURE = Template(
    "<!DOCTYPE html>\n"
    '<html lang="{{ this.lang }}">\n'
    "<head>\n"
    "{% if this.title %}<title>{{this.title|e}}</title>{% endif %}"
    "    {{this.header.render(**kwargs)}}\n"
    "</head>\n"
    "<body>\n"
    "    {{this.html.render(**kwargs)}}\n"
    "</body>\n"
    "<script>\n"
    "    {{this.script.render(**kwargs)}}\n"
    "</script>\n"
    "</html>\n")


def declare_language(m: folium.Map) -> None:
    """`<html lang>` of the request's language, and its message table loaded before our
    scripts (maps/static/i18n.js reads it; maps.assets.LOCAL loads that before griddispatch.js)."""
    root = m.get_root()
    root._template, root.lang = _FIGURE, html_lang()
    m.default_js = [("gd_messages", messages.url()), *m.default_js]


def base_map(settings, area_levels: list[dict], bounds=None, location=None,
             zoom: int = 15) -> folium.Map:
    """A map with no remote resources unless a tile server is configured. `area_levels`:
    the mean area of grids, communities and streets (see griddispatch.areaLevel)."""
    # Leaflet takes its zoom range from the tile layer; with none, the map must say it (the
    # marker cluster plugin needs a maxZoom).
    m = folium.Map(location=location, zoom_start=zoom, tiles=None, prefer_canvas=True,
                   control_scale=True, **{"maxZoom": MAX_ZOOM, "minZoom": MIN_ZOOM})
    localise(m)
    declare_language(m)
    m.get_root().header.add_child(
        Element(f'<link rel="icon" href="{url("app", "favicon.svg")}">'), name="favicon")
    if settings.tile_url:
        folium.TileLayer(tiles=settings.tile_url, attr=settings.tile_attribution or "basemap",
                         name="basemap", max_zoom=MAX_ZOOM, overlay=False, control=False).add_to(m)
    else:  # our own roads, water and area names (maps/static/basemap.js)
        Script(f"griddispatch.basemap({m.get_name()});").add_to(m)
    if bounds is not None:
        m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    config = {"categories": category_colours(), "areaLevels": area_levels,
              "gridTilesFrom": GRID_TILES_FROM_ZOOM if settings.map_grid_tiles else None}
    Script(f"griddispatch.configure({js(config)});\n"
           f"griddispatch.languageSwitch({m.get_name()});").add_to(m)
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
    return api_layer(m, "grids", _("Grids (communities when zoomed out)"), "griddispatch.urls.grids",
                     interval_ms, style=JsCode("griddispatch.gridStyle"),
                     on_each_feature=JsCode("griddispatch.areaTooltips"))


def streets_layer(m: folium.Map) -> Realtime:
    return api_layer(m, "streets", _("Street outlines"), "griddispatch.urls.area('streets')",
                     STATIC_REFRESH_MS, style=JsCode("griddispatch.outline('#37474f', 2)"),
                     interactive=False)
