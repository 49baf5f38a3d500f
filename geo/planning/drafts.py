"""Drafts of new grid boundaries for one area (a street or a community): opened as a copy of
the area's current grids, edited (redraw, split by a line, merge, move a shared boundary,
import a file), validated, and published in one transaction.

Every draft grid has a version, and so has the draft: a change names the versions it was
based on (`expected`, from HTTP If-Match), so that two planners cannot overwrite each other.
A change to one grid needs that grid's version; a change to several needs each of theirs; a
change to the whole draft (import, publish) needs the draft's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import shapely
from shapely.ops import split as split_by

from geo.casework.errors import (
    InvalidInput,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    StateConflict,
)
from geo.casework.scope import Actor
from geo.codes import LENGTHS, at_level, level_name, named_lengths
from geo.crs import area_m2
from geo.i18n import _
from geo.planning.validate import UNMEASURABLE, Problem, validate
from geo.store import Store
from geo.store.base import valid_grids
from geo.store.sql import Tx, as_dt


@dataclass
class DraftGrid:
    key: str
    code: str | None  # None until published (new grids get their code then)
    community_code: str
    name: str
    households: int | None
    geom: object  # shapely, WGS84
    version: int

    def etag(self, draft_id: int) -> str:
        return f'"g{draft_id}.{self.key}.{self.version}"'


@dataclass
class Draft:
    id: int
    area_code: str
    title: str
    state: str
    version: int
    created_by: str
    created_at: datetime
    published_at: datetime | None
    grids: list[DraftGrid]

    @property
    def etag(self) -> str:
        return f'"d{self.id}.{self.version}"'

    def grid(self, key: str) -> DraftGrid:
        for g in self.grids:
            if g.key == key:
                return g
        raise NotFound(_("draft {draft} has no grid {key}").format(draft=self.id, key=key))


def _wkb(geom) -> bytes:
    return shapely.to_wkb(geom, output_dimension=3, include_srid=False)


def _insert(tx: Tx, draft_id: int, key: str, code: str | None, community: str, name: str,
            households: int | None, wkb: bytes) -> None:
    tx.run("INSERT INTO plan_grid (draft_id, key, code, community_code, name, households, geom) "
           "VALUES (:d, :k, :code, :c, :name, :h, :g)",
           {"d": draft_id, "k": key, "code": code, "c": community, "name": name,
            "h": households, "g": wkb})


AREA_LEVELS = ("district", "street", "community")  # what a draft may redraw
LEVEL_TABLE = {LENGTHS[level]: level for level in AREA_LEVELS}


def _covers(actor: Actor, area_code: str) -> bool:
    """A district's draft needs the whole district in the jurisdiction."""
    if actor.role == "admin":
        return True
    if len(area_code) == LENGTHS["district"]:
        return area_code in actor.jurisdiction
    return actor.covers(at_level(area_code, "street"))


def _covering(actor: Actor, area_code: str) -> None:
    if not _covers(actor, area_code):
        raise NotFound(_("no area {area} in your jurisdiction").format(area=area_code))


def newest_grid_row(tx: Tx, area_code: str) -> int | None:
    """The id of the newest grid row, current or retired, in the area: it grows with every
    publish that changes a grid there, whatever the clocks of the processes say."""
    return tx.one("SELECT max(id) AS id FROM grid WHERE substr(code, 1, :n) = :a",
                  {"n": len(area_code), "a": area_code})["id"]


def open_draft(store: Store, actor: Actor, area_code: str, title: str, now: datetime) -> Draft:
    """A new draft holding a copy of the area's current grids."""
    if len(area_code) not in LEVEL_TABLE or not area_code.isdigit():
        raise InvalidInput(_("area must be a {levels} code").format(
            levels=named_lengths(AREA_LEVELS)))
    _covering(actor, area_code)
    with store.tx() as tx:
        table = LEVEL_TABLE[len(area_code)]
        if tx.one(f"SELECT code FROM {table} WHERE code = :c", {"c": area_code}) is None:
            raise NotFound(_("no {level} {area}").format(level=level_name(table), area=area_code))
        d = tx.dialect
        draft_id = tx.one("INSERT INTO plan_draft (area_code, title, created_by, created_at, "
                          "base_grid_id) VALUES (:a, :t, :u, :now, :base) RETURNING id",
                          {"a": area_code, "t": title, "u": actor.username, "now": now,
                           "base": newest_grid_row(tx, area_code)})["id"]
        rows = tx.rows(f"SELECT code, community_code, name, households, {d.wkb('geom')} AS wkb "
                       f"FROM grid g WHERE {valid_grids(None, 'g')} AND substr(code, 1, :n) = :a "
                       "ORDER BY code", {"n": len(area_code), "a": area_code})
        for r in rows:
            _insert(tx, draft_id, r["code"], r["code"], r["community_code"], r["name"],
                    r["households"], bytes(r["wkb"]))
    return get_draft(store, actor, draft_id)


def _load(tx: Tx, actor: Actor, draft_id: int, keys: list[str] | None = None,
          lock: bool = True) -> Draft:
    """The draft with all its grids, or only those named in `keys` (an edit reads what it
    changes, not the whole district). A write transaction locks the draft's row first, so
    that edits and publishing of one draft take turns and each sees the one before it;
    readers pass lock=False."""
    row = tx.one(f"SELECT * FROM plan_draft WHERE id = :id{tx.dialect.for_update() if lock else ''}",
                 {"id": draft_id})
    if row is None or not _covers(actor, row["area_code"]):
        raise NotFound(_("no draft {draft} that you can see").format(draft=draft_id))
    where, params = "draft_id = :id", {"id": draft_id}
    if keys is not None:
        where += f" AND {tx.dialect.in_list('key', 'keys')}"
        params["keys"] = list(keys)
    grids = [DraftGrid(r["key"], r["code"], r["community_code"], r["name"], r["households"],
                       shapely.from_wkb(bytes(r["geom"])), r["version"])
             for r in tx.rows(f"SELECT * FROM plan_grid WHERE {where} ORDER BY key", params)]
    return Draft(row["id"], row["area_code"], row["title"], row["state"], row["version"],
                 row["created_by"], as_dt(row["created_at"]), as_dt(row["published_at"]), grids)


def get_draft(store: Store, actor: Actor, draft_id: int) -> Draft:
    with store.snapshot() as tx:
        return _load(tx, actor, draft_id, lock=False)


def _check(draft: Draft, expected: list[str] | None, keys: list[str] | None) -> None:
    """The caller's If-Match etags must name the current version of every grid in `keys`
    (or of the draft when `keys` is None)."""
    if draft.state != "open":
        raise StateConflict(_("draft {draft} is {state}; open a new draft to change the "
                              "boundaries again").format(draft=draft.id, state=draft.state),
                            state=draft.state, code="draft_published")
    wanted = [draft.etag] if keys is None else [draft.grid(k).etag(draft.id) for k in keys]
    if not expected:
        raise PreconditionRequired(_("send If-Match with the ETag of what you changed "
                                     "({etags})").format(etags=", ".join(wanted)))
    stale = [w for w in wanted if w not in expected]
    if stale:
        raise PreconditionFailed(_("someone changed this draft since you loaded it; reload it "
                                   "(current: {etags})").format(etags=", ".join(wanted)))


def _polygonal(geom):
    if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise InvalidInput(_("the grid's geometry must be a polygon or multipolygon"))
    return geom


def _save(tx: Tx, draft: Draft, changed: list[DraftGrid], removed: list[str] = (),
          added: list[DraftGrid] = ()) -> None:
    """Write changed grids (their versions move on, and must not have moved meanwhile), delete
    `removed`, insert `added`, and move the draft's version on: in the caller's transaction."""
    for key in removed:
        tx.run("DELETE FROM plan_grid WHERE draft_id = :d AND key = :k", {"d": draft.id, "k": key})
    for g in added:
        _insert(tx, draft.id, g.key, g.code, g.community_code, g.name, g.households, _wkb(g.geom))
    for g in changed:
        updated = tx.run("UPDATE plan_grid SET geom = :g, name = :name, households = :h, "
                         "community_code = :c, version = version + 1 "
                         "WHERE draft_id = :d AND key = :k AND version = :v",
                         {"g": _wkb(g.geom), "name": g.name, "h": g.households,
                          "c": g.community_code, "d": draft.id, "k": g.key, "v": g.version})
        if updated == 0:
            raise PreconditionFailed(_("grid {key} changed meanwhile; reload the draft").format(
                key=g.key))
    moved = tx.run("UPDATE plan_draft SET version = version + 1 WHERE id = :d AND version = :v",
                   {"d": draft.id, "v": draft.version})
    if moved == 0:
        raise PreconditionFailed(_("draft {draft} changed meanwhile; reload it").format(
            draft=draft.id))


def _new_key(tx: Tx, draft: Draft) -> str:
    row = tx.one("UPDATE plan_draft SET next_key = next_key + 1 WHERE id = :d RETURNING next_key",
                 {"d": draft.id})
    return f"new{row['next_key'] - 1}"


def redraw(store: Store, actor: Actor, draft_id: int, key: str, geom, name: str | None,
           expected: list[str] | None) -> Draft:
    """Replace one grid's outline (and name)."""
    _polygonal(geom)
    with store.tx() as tx:
        draft = _load(tx, actor, draft_id, [key])
        _check(draft, expected, [key])
        g = draft.grid(key)
        g.geom, g.name = geom, (name if name is not None else g.name)
        _save(tx, draft, [g])
    return get_draft(store, actor, draft_id)


def _valid(g: DraftGrid) -> DraftGrid:
    """A grid that overlay can cut or join: an invalid one is refused, never repaired behind
    the planner's back (GEOS could not compute with it anyway)."""
    if not g.geom.is_valid:
        raise InvalidInput(_("grid {key} is not a valid polygon ({why}); redraw it first").format(
            key=g.key, why=shapely.is_valid_reason(g.geom)))
    return g


def split(store: Store, actor: Actor, draft_id: int, key: str, line, expected) -> Draft:
    """Cut a grid in two (or more) along a line drawn across it; the largest piece keeps the
    grid, the others become new grids of the same community. Households go by area."""
    if line is None or line.geom_type not in ("LineString", "MultiLineString"):
        raise InvalidInput(_("the cut must be a line"))
    with store.tx() as tx:
        draft = _load(tx, actor, draft_id, [key])
        _check(draft, expected, [key])
        g = _valid(draft.grid(key))
        pieces = sorted(split_by(g.geom, line).geoms, key=area_m2, reverse=True)
        if len(pieces) < 2:
            raise InvalidInput(_("the line does not cut grid {key} in two: draw it across the "
                                 "grid, from outside to outside").format(key=key))
        total = sum(area_m2(p) for p in pieces)
        households = g.households
        g.geom = pieces[0]
        added = [DraftGrid(_new_key(tx, draft), None, g.community_code, f"{g.name} (split)",
                           None if households is None
                           else int(round(households * area_m2(piece) / total)), piece, 1)
                 for piece in pieces[1:]]
        if households is not None:
            g.households = households - sum(a.households for a in added)
        _save(tx, draft, [g], added=added)
    return get_draft(store, actor, draft_id)


def merge(store: Store, actor: Actor, draft_id: int, keys: list[str], expected) -> Draft:
    """Merge grids into the first one named; they must touch."""
    if len(set(keys)) < 2:
        raise InvalidInput(_("name at least two different grids to merge"))
    with store.tx() as tx:
        draft = _load(tx, actor, draft_id, keys)
        _check(draft, expected, keys)
        grids = [_valid(draft.grid(k)) for k in keys]
        union = shapely.union_all([g.geom for g in grids])
        if len(getattr(union, "geoms", [union])) > 1:
            raise InvalidInput(_("these grids do not touch; merging them would make a grid of "
                                 "separate pieces"))
        first = grids[0]
        first.geom = union
        if all(g.households is not None for g in grids):
            first.households = sum(g.households for g in grids)
        _save(tx, draft, [first], removed=keys[1:])
    return get_draft(store, actor, draft_id)


def move_boundary(store: Store, actor: Actor, draft_id: int, a: str, b: str, line,
                  expected) -> Draft:
    """Redraw the boundary between two neighbouring grids along a new line: their union is
    cut by the line, and each keeps the piece that overlaps it most. Both change together,
    so no sliver or gap can appear between them."""
    if line is None or line.geom_type != "LineString":
        raise InvalidInput(_("the new boundary must be a line"))
    if a == b:
        raise InvalidInput(_("a and b must be two different grids, not {key} twice").format(
            key=a))
    with store.tx() as tx:
        draft = _load(tx, actor, draft_id, [a, b])
        _check(draft, expected, [a, b])
        ga, gb = _valid(draft.grid(a)), _valid(draft.grid(b))
        union = shapely.union_all([ga.geom, gb.geom])
        pieces = list(split_by(union, line).geoms)
        if len(pieces) != 2:
            raise InvalidInput(_("the new line cuts grids {a} and {b} into {n} pieces; draw it "
                                 "across their union, from outside to outside, once").format(
                                     a=a, b=b, n=len(pieces)))
        first, second = pieces
        if (area_m2(first.intersection(ga.geom)) + area_m2(second.intersection(gb.geom))
                < area_m2(first.intersection(gb.geom)) + area_m2(second.intersection(ga.geom))):
            first, second = second, first
        ga.geom, gb.geom = first, second
        _save(tx, draft, [ga, gb])
    return get_draft(store, actor, draft_id)


def replace_all(store: Store, actor: Actor, draft_id: int, codes: list[str | None],
                names: list[str], geoms, expected) -> Draft:
    """Replace every grid of the draft (an imported file). Grids whose code is a current code
    of the area keep it; the others are new."""
    with store.tx() as tx:
        draft = _load(tx, actor, draft_id, [])
        _check(draft, expected, None)
        area = draft.area_code
        outlines = [(r["code"], shapely.from_wkb(bytes(r["wkb"]))) for r in tx.rows(
            f"SELECT code, {tx.dialect.wkb('geom')} AS wkb FROM community "
            "WHERE substr(code, 1, :n) = :a OR code = :community ORDER BY code",
            {"n": len(area), "a": area, "community": at_level(area, "community")})]
        grids = []
        for k, (code, name, geom) in enumerate(zip(codes, names, geoms, strict=True)):
            keep = code if code and len(code) == LENGTHS["grid"] and code.startswith(area) else None
            home = at_level(keep, "community") if keep else _community_of(geom, outlines, area)
            geom = shapely.Polygon() if geom is None else geom  # reported as empty
            grids.append(DraftGrid(keep or f"file{k + 1}", keep, home, name or "", None, geom, 1))
        keys = [g.key for g in grids]
        if len(set(keys)) != len(keys):
            raise InvalidInput(_("the file names the same grid code twice"))
        tx.run("DELETE FROM plan_grid WHERE draft_id = :d", {"d": draft.id})
        _save(tx, draft, [], added=grids)
    return get_draft(store, actor, draft_id)


def _community_of(geom, outlines, area: str) -> str:
    """The community a new grid belongs to: the area itself, or the community of the street
    that holds its inner point (the first one when the geometry cannot say)."""
    if len(area) == LENGTHS["community"]:
        return area
    if geom is not None and not geom.is_empty and geom.is_valid:
        inner = geom.representative_point()
        for code, outline in outlines:
            if outline.covers(inner):
                return code
    return outlines[0][0] if outlines else area + "001"


def area_outline(store: Store, area_code: str):
    """The area's outline (WGS84): the district's, street's or community's polygon."""
    table = LEVEL_TABLE[len(area_code)]
    frame = store.read_layer({"district": "districts", "street": "streets",
                              "community": "communities"}[table])
    match = frame[frame.code == area_code]
    if match.empty:
        raise NotFound(_("no {level} {area}").format(level=level_name(table), area=area_code))
    return match.geometry.values[0]


def check_draft(store: Store, actor: Actor, draft_id: int) -> tuple[Draft, list[Problem]]:
    """The draft and its validation report inside its area; in a district's or street's
    draft, each grid must also lie inside its own community."""
    draft = get_draft(store, actor, draft_id)
    labels = [g.code or g.key for g in draft.grids]
    geoms = [g.geom for g in draft.grids]
    problems = validate(labels, geoms, area_outline(store, draft.area_code), draft.area_code,
                        unassigned={g.key for g in draft.grids if not g.code})
    if len(draft.area_code) < LENGTHS["community"]:
        broken = {p.codes[0] for p in problems if p.kind in UNMEASURABLE}
        communities = store.read_layer("communities").set_index("code").geometry
        groups: dict[str, list] = {}
        for label, g in zip(labels, draft.grids, strict=True):
            if label not in broken:
                groups.setdefault(g.community_code, []).append((label, g.geom))
        for community, mine in groups.items():
            if community not in communities.index:
                continue
            outline = communities[community]
            shapely.prepare(outline)
            for label, geom in mine:
                if shapely.covers(outline, geom):
                    continue
                problems.extend(p for p in validate([label], [geom], outline, community,
                                                    unassigned={label})
                                if p.kind == "outside_parent")
    return draft, problems
