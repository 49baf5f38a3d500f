"""Grids from vector tiles on the live and dispatch maps (maps/static/gridtiles.js): at grid
level the page draws the tiles in view instead of fetching every grid as GeoJSON."""

from __future__ import annotations

from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template

from geo.tiles.pyramid import MAX_ZOOM
from maps.assets import localise
from maps.base import GRID_TILES_FROM_ZOOM, js

TILE_URL = "/tiles/grids/{z}/{x}/{y}.mvt"


class GridTiles(JSCSSMixin, MacroElement):
    """Leaflet.VectorGrid and our script, started beside the page's GeoJSON grids layer."""

    _template = Template("""{% macro script(this, kwargs) %}
griddispatch.gridTiles.attach({{ this._parent.get_name() }}, {{ this.grids.get_name() }},
  {{ this.options }});
{% endmacro %}""")

    def __init__(self, grids, refresh_ms: int):
        super().__init__()
        self._name = "GridTiles"
        self.grids = grids
        self.options = js({"url": TILE_URL, "fromZoom": GRID_TILES_FROM_ZOOM,
                           "maxZoom": MAX_ZOOM, "refreshMs": refresh_ms})


def add_grid_tiles(settings, m, grids, refresh_ms: int) -> None:
    """Draw `grids` (the page's GeoJSON grids layer) from tiles at grid level, unless the
    settings say GeoJSON (GRIDDISPATCH_MAP_GRID_TILES=false; base_map tells the page)."""
    if settings.map_grid_tiles:
        localise(GridTiles(grids, refresh_ms)).add_to(m)
