"""The grid editor for planners (/maps/editor/{draft}): the draft's grids with GeoMan's
drawing and editing tools; every change is saved through the plans API with If-Match, and
the validation report is drawn on the map. Nothing is embedded but the draft's id: the
grids come from the API, as on the other pages."""

from __future__ import annotations

import folium
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template

from maps.assets import localise
from maps.base import base_map, js


class GridEditor(JSCSSMixin, MacroElement):
    """GeoMan and our editor script (local files, see maps.assets), started on the map."""

    _template = Template("""{% macro script(this, kwargs) %}
griddispatch.editor.start({{ this._parent.get_name() }}, {{ this.draft }}, {{ this.who }});
{% endmacro %}""")

    def __init__(self, draft_id: int, who: str):
        super().__init__()
        self._name = "GridEditor"
        self.draft, self.who = js(draft_id), js(who)


def editor_map(settings, draft_id: int, bounds, who: str) -> folium.Map:
    m = base_map(settings, [], bounds)
    localise(GridEditor(draft_id, who)).add_to(m)
    return m
