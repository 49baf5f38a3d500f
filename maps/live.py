"""The live operations map for the command centre (/maps/live).

Nothing is embedded but the page's frame: grids (communities when zoomed out), outlines,
open issues, teams, cameras and key sites are fetched from the API's GeoJSON layers for the
current view, simplified for the zoom, and refreshed by folium's Realtime plugin; compounds,
buildings and the B roster's heads where their street is in emergency by
maps/static/compounds.js."""

from __future__ import annotations

import folium
from folium import JsCode
from folium.plugins import MarkerCluster

from geo.i18n import _
from maps.assets import localise
from maps.base import STATIC_REFRESH_MS, Script, api_layer, base_map, grids_layer, js, streets_layer
from maps.gridtiles import add_grid_tiles


def live_map(settings, bounds, who: str, area_levels: list[dict],
             districts: tuple[dict, ...] = (), people: bool = True) -> folium.Map:
    """The page for one user: `bounds` is where it opens (lon/lat: their jurisdiction, or its
    main part when it lies in detached parts), `districts` those to go to (code, name,
    bounds), when there are two or more; `people`: whether they may see people (the B
    roster's heads in an emergency)."""
    m = base_map(settings, area_levels, bounds)
    live_ms = int(settings.map_refresh_seconds * 1000)
    mapvar = m.get_name()
    grids = grids_layer(m, live_ms)
    add_grid_tiles(settings, m, grids, live_ms)
    layers = {
        "grids": grids,
        "communities": api_layer(m, "communities", _("Community outlines"),
                                 "griddispatch.urls.communities", STATIC_REFRESH_MS,
                                 style=JsCode("griddispatch.outline('#546e7a', 1.5, '4 3')"),
                                 interactive=False),
        "streets": streets_layer(m),
        "districts": api_layer(m, "districts", _("District outlines"),
                            "griddispatch.urls.area('districts')", STATIC_REFRESH_MS,
                            style=JsCode("griddispatch.outline('#212121', 3.5, '8 4')"),
                            interactive=False),
        "views": api_layer(m, "views", _("Camera views"), "griddispatch.urls.cameraViews",
                        STATIC_REFRESH_MS, style=JsCode("griddispatch.viewStyle"),
                        interactive=False),
        "cameras": api_layer(m, "cameras", _("Cameras"), "griddispatch.urls.cameras", STATIC_REFRESH_MS,
                          point_to_layer=JsCode("griddispatch.cameraMarker")),
        "sites": api_layer(m, "sites", _("Key sites"), "griddispatch.urls.sites", STATIC_REFRESH_MS,
                        point_to_layer=JsCode("griddispatch.siteMarker")),
    }
    cluster = localise(MarkerCluster(control=False, icon_create_function="griddispatch.clusterIcon",
                                     options={"disableClusteringAtZoom": 17,
                                              "chunkedLoading": True}))
    cluster.add_to(m)
    layers["issues"] = api_layer(m, "issues", _("Open issues"), "griddispatch.urls.issues", live_ms,
                              container=cluster, point_to_layer=JsCode("griddispatch.issueMarker"),
                              update_feature=JsCode("griddispatch.updateFeature"))
    layers["teams"] = api_layer(m, "teams", _("Teams"), "griddispatch.urls.teams", live_ms,
                             point_to_layer=JsCode("griddispatch.teamMarker"),
                             update_feature=JsCode("griddispatch.updateFeature"))
    control = folium.LayerControl(collapsed=False, position="topright")
    control.add_to(m)
    names = ", ".join(f"{js(n)}: {layer.get_name()}" for n, layer in layers.items())
    Script(f"griddispatch.follow({mapvar}, {{{names}}});\n"
           f"griddispatch.liveControls({mapvar}, {layers['grids'].get_name()});\n"
           f"griddispatch.account({mapvar}, {js(who)});").add_to(m)
    if districts:
        Script(f"griddispatch.districtJump({mapvar}, {js(list(districts))});").add_to(m)
    Script(f"gdPlaces.attach({mapvar}); "
           f"gdAlarms.attach({mapvar}, {live_ms}, {control.get_name()}); "
           f"gdCompounds.attach({mapvar}, {live_ms}, {control.get_name()}, {js(people)});"
           ).add_to(m)
    return m
