"""The layers served as vector tiles: what each feature carries and from which zoom.

Each feature has the area's code (also as the feature id: codes are digits), its name, its
parent codes and the open issues in it that the reader may see (open, yellow, overdue and
worst_light, as on the GeoJSON layers). Coarse zooms of fine layers are not served: a tile of
grids at zoom 8 would hold a whole city."""

from __future__ import annotations

from dataclasses import dataclass

from geo.casework.errors import InvalidInput, NotFound
from geo.codes import LENGTHS
from geo.i18n import N_, _
from geo.store.base import AREA_TABLES
from geo.tiles.pyramid import MAX_ZOOM, Tile

LOAD = ("open", "yellow", "overdue", "worst_light")
MAX_FEATURES = 10_000  # per tile: a bound on one request's work


@dataclass(frozen=True)
class TileLayer:
    name: str  # the URL's and the tile's layer name
    title: str  # what a person calls its areas (translated where shown)
    table: str
    level: str  # open_load's level
    columns: tuple[str, ...]  # properties besides the load, as named in the table
    minzoom: int
    prefixes: tuple[tuple[str, int], ...] = ()  # parent codes read off the code: (name, length)

    def check(self, tile: Tile) -> None:
        if tile.z < self.minzoom:
            raise NotFound(_("{layer} tiles exist from zoom {min} to {max}").format(
                layer=_(self.title), min=self.minzoom, max=MAX_ZOOM), code="no_such_tile")

    def too_many(self, limit: int = MAX_FEATURES) -> InvalidInput:
        message = _("this tile would hold more than {max} {layer}: ask for tiles of a finer "
                    "zoom")
        return InvalidInput(message.format(layer=_(self.title), max=limit),
                            code="tile_too_large")


TILE_LAYERS = {
    "grids": TileLayer("grids", N_("grids"), "grid", "grid",
                       ("code", "name", "community_code", "households"), minzoom=12,
                       prefixes=(("street_code", LENGTHS["street"]),
                                 ("district_code", LENGTHS["district"]))),
    "communities": TileLayer("communities", N_("communities"), AREA_TABLES["communities"],
                             "community", ("code", "name", "street_code"), minzoom=10),
    "streets": TileLayer("streets", N_("streets"), AREA_TABLES["streets"], "street",
                         ("code", "name", "district_code"), minzoom=8),
    "districts": TileLayer("districts", N_("districts"), AREA_TABLES["districts"], "district",
                           ("code", "name"), minzoom=6),
}
