"""The feature collections of the OGC API: which layers, their titles in the reader's
language, the property that names a feature, and whether a store holds any (roads, compounds
and buildings are offered only where they were imported)."""

from __future__ import annotations

from dataclasses import dataclass

from geo.i18n import N_, _
from geo.store import Store

# (id, title, description, the property that is the feature's id)
_DEFINED = (
    ("grids", N_("Grids"), N_("The current grids (网格) with their community, street and "
                              "district codes; `datetime` gives those valid at a past moment "
                              "or during an interval (their validity history)."), "code"),
    ("communities", N_("Communities"), N_("Community (社区) outlines."), "code"),
    ("streets", N_("Streets"), N_("Street (街道) outlines."), "code"),
    ("districts", N_("Districts"), N_("District (区县) outlines."), "code"),
    ("cameras", N_("Cameras"), N_("Cameras with their heading, field of view and range."), "id"),
    ("sites", N_("Key sites"), N_("Key monitored sites (重点部位)."), "id"),
    ("teams", N_("Teams"), N_("The teams you may see, at their last reported position."), "id"),
    ("issues", N_("Issues"), N_("The reported issues you may see; `datetime` filters by the "
                                "time they were reported."), "id"),
    ("roads", N_("Roads"), N_("The road network that travel times are computed on."), "id"),
    # not "Compounds": that id is a count's column heading elsewhere (小区数)
    ("compounds", N_("Residential compounds"),
     N_("Residential compounds (小区) with their property company."), "code"),
    ("buildings", N_("Buildings"), N_("Building footprints (楼栋)."), "code"),
)
OPTIONAL = {"roads": "road", "compounds": "compound", "buildings": "building"}  # once held
SCOPES = {"issues": "issues:read"}  # beyond layers:read, which every collection needs
TEMPORAL = {"grids": "valid_from/valid_to", "issues": "reported_at"}


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    key: str


def _held(store: Store) -> dict[str, bool]:
    with store.snapshot() as tx:
        row = tx.one("SELECT " + ", ".join(f"EXISTS (SELECT 1 FROM {table}) AS {cid}"
                                           for cid, table in OPTIONAL.items()))
    return {cid: bool(v) for cid, v in row.items()}


def collections(store: Store, scopes: frozenset[str]) -> list[Collection]:
    """The collections a caller with `scopes` may read, titled in the current language."""
    held = _held(store)
    out = []
    for cid, title, description, key in _DEFINED:
        if cid in OPTIONAL and not held[cid]:
            continue
        if SCOPES.get(cid, "layers:read") not in scopes:
            continue
        out.append(Collection(cid, _(title), _(description), key))
    return out


def find(store: Store, scopes: frozenset[str], cid: str) -> Collection | None:
    return next((c for c in collections(store, scopes) if c.id == cid), None)
