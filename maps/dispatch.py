"""The dispatch map for one issue (/maps/issues/{id}): the issue, its grid, the ranked
candidate teams with the route each would take and its ETA, the cameras that can see the spot
and open issues of the same category nearby, all from /api/v1/layers/dispatch/{id}; and a
panel to dispatch one team or a joint operation, reassign or return, each with the issue's
version as If-Match."""

from __future__ import annotations

import folium
from folium import JsCode

from geo.i18n import _
from geo.workflow import ACTIONS
from maps.base import Script, api_layer, base_map, grids_layer, js, streets_layer
from maps.gridtiles import add_grid_tiles

ROUTE_PANE = "gdRoutes"  # griddispatch.js draws the routes' leader lines there too


def dispatch_map(settings, issue_id: int, lon: float, lat: float, who: str, role: str,
                 area_levels: list[dict]) -> folium.Map:
    """The page for one user; `role` decides which actions its panel offers (the server
    checks them again)."""
    m = base_map(settings, area_levels, location=[lat, lon], zoom=16)
    refresh_ms = int(settings.map_refresh_seconds * 1000)
    context = {"grids": grids_layer(m, refresh_ms), "streets": streets_layer(m)}
    add_grid_tiles(settings, m, context["grids"], refresh_ms)
    url = f"/api/v1/layers/dispatch/{int(issue_id)}?k=5"
    # Routes above the grids' fills, which would otherwise wash them out where issues are open.
    folium.map.CustomPane(ROUTE_PANE, z_index=450).add_to(m)
    layer = api_layer(m, "dispatch", _("Issue and candidates"), f"griddispatch.urls.fixed({js(url)})",
                      refresh_ms, pane=ROUTE_PANE, update_feature=JsCode("griddispatch.updateFeature"),
                      style=JsCode("griddispatch.dispatchStyle"),
                      point_to_layer=JsCode("griddispatch.dispatchPoint"))
    actions = [name for name, action in ACTIONS.items() if role in action.roles]
    names = ", ".join(f"{js(n)}: {c.get_name()}" for n, c in {**context, "dispatch": layer}.items())
    Script(f"griddispatch.follow({m.get_name()}, {{{names}}});\n"
           f"griddispatch.account({m.get_name()}, {js(who)});\n"
           f"griddispatch.dispatchPanel({m.get_name()}, {layer.get_name()}, {int(issue_id)}, "
           f"{js(actions)});").add_to(m)
    return m
