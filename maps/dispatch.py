"""The dispatch map for one issue (/maps/issues/{id}): the issue, its grid, the ranked
candidate teams with a line and distance to each, the cameras that can see the spot and
open issues of the same category nearby, all from /api/v1/layers/dispatch/{id}."""

from __future__ import annotations

import folium
from folium import JsCode

from maps.base import Script, api_layer, base_map, grids_layer, js, streets_layer


def dispatch_map(settings, issue_id: int, lon: float, lat: float, who: str,
                 area_levels: list[dict]) -> folium.Map:
    m = base_map(settings, area_levels, location=[lat, lon], zoom=16)
    refresh_ms = int(settings.map_refresh_seconds * 1000)
    context = {"grids": grids_layer(m, refresh_ms), "streets": streets_layer(m)}
    url = f"/api/v1/layers/dispatch/{int(issue_id)}?k=5"
    layer = api_layer(m, "dispatch", "Issue and candidates", f"griddispatch.urls.fixed({js(url)})",
                      refresh_ms, update_feature=JsCode("griddispatch.updateFeature"),
                      style=JsCode("griddispatch.dispatchStyle"),
                      point_to_layer=JsCode("griddispatch.dispatchPoint"))
    names = ", ".join(f"{js(n)}: {c.get_name()}" for n, c in {**context, "dispatch": layer}.items())
    Script(f"griddispatch.follow({m.get_name()}, {{{names}}});\n"
           f"griddispatch.dispatchPanel({m.get_name()}, {layer.get_name()});\n"
           f"griddispatch.account({m.get_name()}, {js(who)});").add_to(m)
    return m
