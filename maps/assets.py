"""Leaflet, its plugins and our own scripts, served by the application itself.

Command centres often sit on networks without internet, so a page may load nothing from
outside the server. The third-party files come from the npm registry at install time
(`npm ci --prefix maps/vendor`, pinned by maps/vendor/package-lock.json); folium's own
copies of two heat-map scripts ship inside the folium wheel. Plugin classes point at these
through `localise`, which refuses any plugin it does not know rather than let a CDN URL in.
"""

from __future__ import annotations

from pathlib import Path

import folium

HERE = Path(__file__).parent
NODE_MODULES = HERE / "vendor" / "node_modules"
APP_DIR = HERE / "static"
FOLIUM_DIR = Path(folium.__file__).parent / "templates"

PREFIX = "/static"

# URL path under PREFIX → directory served there. Only the `dist` folders are exposed.
MOUNTS = {
    "leaflet": NODE_MODULES / "leaflet" / "dist",
    "markercluster": NODE_MODULES / "leaflet.markercluster" / "dist",
    "realtime": NODE_MODULES / "leaflet-realtime" / "dist",
    "heat": NODE_MODULES / "leaflet.heat" / "dist",
    "timedimension": NODE_MODULES / "leaflet-timedimension" / "dist",
    "iso8601": NODE_MODULES / "iso8601-js-period",
    "jquery": NODE_MODULES / "jquery" / "dist",
    "geoman": NODE_MODULES / "@geoman-io" / "leaflet-geoman-free" / "dist",
    "vectorgrid": NODE_MODULES / "leaflet.vectorgrid" / "dist",
    "folium": FOLIUM_DIR,
    "app": APP_DIR,
    "echarts": NODE_MODULES / "echarts" / "dist",  # the big screen's charts
    "swagger": NODE_MODULES / "swagger-ui-dist",
    "redoc": NODE_MODULES / "redoc" / "bundles",
}


def url(mount: str, file: str) -> str:
    if mount not in MOUNTS:
        raise KeyError(f"no asset mount {mount!r}")
    return f"{PREFIX}/{mount}/{file}"


# Each folium class we use → its scripts and styles, replacing folium's CDN defaults.
LOCAL = {
    "Map": (
        # the page's message table comes first (maps.base.declare_language), then its reader
        [("leaflet", url("leaflet", "leaflet.js")), ("gd_i18n", url("app", "i18n.js")),
         ("griddispatch", url("app", "griddispatch.js")),
         ("gd_places", url("app", "places.js")), ("gd_alarms", url("app", "alarms.js")),
         ("gd_compounds", url("app", "compounds.js")),
         ("griddispatch_basemap", url("app", "basemap.js"))],
        [("leaflet_css", url("leaflet", "leaflet.css")),
         ("griddispatch_css", url("app", "griddispatch.css"))],
    ),
    "MarkerCluster": (
        [("markerclusterjs", url("markercluster", "leaflet.markercluster.js"))],
        [("markerclustercss", url("markercluster", "MarkerCluster.css")),
         ("markerclusterdefaultcss", url("markercluster", "MarkerCluster.Default.css"))],
    ),
    "Realtime": ([("Leaflet_Realtime_js", url("realtime", "leaflet-realtime.min.js"))], []),
    "HeatMap": ([("leaflet-heat.js", url("heat", "leaflet-heat.js"))], []),
    "HeatMapWithTime": (  # folium's template for it calls jQuery
        [("jquery", url("jquery", "jquery.min.js")),
         ("iso8601", url("iso8601", "iso8601.js")),
         ("leaflet.timedimension.min.js", url("timedimension", "leaflet.timedimension.min.js")),
         ("heatmap.min.js", url("folium", "pa7_hm.min.js")),
         ("leaflet-heatmap.js", url("folium", "pa7_leaflet_hm.min.js"))],
        # The package's own control styles load a web font from a CDN: ours do without.
        [("leaflet.timedimension.control.min.css", url("app", "timecontrol.css"))],
    ),
    "GeoMan": ([("leaflet_geoman_js", url("geoman", "leaflet-geoman.min.js"))],
               [("leaflet_geoman_css", url("geoman", "leaflet-geoman.css"))]),
    "GridTiles": ([("vectorgrid", url("vectorgrid", "Leaflet.VectorGrid.bundled.min.js")),
                   ("gd_gridtiles", url("app", "gridtiles.js"))], []),
    "GridEditor": ([("leaflet_geoman_js", url("geoman", "leaflet-geoman.min.js")),
                    ("griddispatch_editor", url("app", "editor.js"))],
                   [("leaflet_geoman_css", url("geoman", "leaflet-geoman.css"))]),
}


def localise(element):
    """Point a folium element (and its class's plugins) at the files served here."""
    kind = type(element).__name__
    if kind not in LOCAL:
        raise ValueError(f"{kind} has no local assets; add them to maps.assets.LOCAL")
    element.default_js, element.default_css = (list(x) for x in LOCAL[kind])
    return element


def missing() -> list[str]:
    """Asset folders that are not installed (the pages cannot work without them)."""
    return [str(path) for path in MOUNTS.values() if not path.is_dir()]


INSTALL_HINT = "scripts/assets.sh"  # npm ci in maps/vendor
