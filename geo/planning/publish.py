"""Publishing a draft: in one transaction, the area's replaced grids get valid_to, the new
ones valid_from (the same instant), new grids get the next free codes of their community (a
code is never reused: history keeps it), and open issues of the area are located again in
the new grids with an audit entry. Closed issues keep the grid they had; `locate(at=D)`
answers with the grids valid at D.

Validation runs before the transaction, on the draft as it was; the transaction then locks
the draft (edits wait, or have already moved its version on, and publishing is refused with
412) and the district (publishes of overlapping areas take turns), so that exactly the
validated version of the draft is published over the grids that are current. A draft opened
before another publish changed its area is refused (409): it would undo that publish."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import shapely

from geo.casework.errors import InvalidInput, PreconditionFailed, StateConflict
from geo.casework.read import is_open
from geo.casework.scope import Actor
from geo.codes import LENGTHS, at_level, child
from geo.gridindex import GridIndex
from geo.i18n import _, ngettext
from geo.planning.drafts import Draft, DraftGrid, _check, _load, check_draft, newest_grid_row
from geo.store import Store
from geo.store.sql import Tx, as_dt


def _multi(geom):
    geom = shapely.force_2d(geom)
    return geom if geom.geom_type == "MultiPolygon" else shapely.MultiPolygon([geom])


def unchanged(geom, name: str, households, g: DraftGrid) -> bool:
    """Whether publishing keeps a current grid as it is: same name, households and outline,
    vertex for vertex (anything else is a new version of the grid)."""
    return name == g.name and households == g.households and geom.equals_exact(_multi(g.geom), 0)


def _insert_grid(tx: Tx, code: str, community: str, name: str, geom, households, workers,
                 now: datetime, plan_id: int) -> None:
    d = tx.dialect
    tx.run(f"INSERT INTO grid (code, community_code, name, {d.polygon_columns()}, workers, "
           f"households, valid_from, plan_id) VALUES (:code, :c, :name, {d.polygon_values('g')}, "
           ":w, :h, :now, :plan)", {"code": code, "c": community, "name": name,
                                   **d.polygon_params(_multi(geom), "g"), "w": list(workers),
                                   "h": households, "now": now, "plan": plan_id})


def _next_sequences(tx: Tx, communities: set[str]) -> dict[str, int]:
    """The next unused grid sequence of each community (current and retired codes count)."""
    out = {}
    for c in communities:
        row = tx.one("SELECT max(code) AS top FROM grid WHERE community_code = :c", {"c": c})
        out[c] = int(row["top"][LENGTHS["community"]:]) + 1 if row and row["top"] else 1
    return out


def _lock_district(tx: Tx, area_code: str) -> None:
    """Publishes within one district take turns: each retires the grids the one before it
    made current, never the same ones twice, and new codes are numbered after its codes."""
    tx.rows(f"SELECT code FROM district WHERE code = :d{tx.dialect.for_update()}",
            {"d": at_level(area_code, "district")})


def _check_not_stale(tx: Tx, draft_id: int, area_code: str) -> None:
    """Refuse a draft opened before another publish changed its area: publishing it would
    silently undo that publish (and bring retired codes back)."""
    base = tx.one("SELECT base_grid_id FROM plan_draft WHERE id = :id", {"id": draft_id})
    newest = newest_grid_row(tx, area_code)
    if base["base_grid_id"] is not None and newest is not None and newest > base["base_grid_id"]:
        raise StateConflict(_("the grids of {area} were published again after draft {draft} "
                              "was opened: open a new draft of the area and redo its changes "
                              "there").format(area=area_code, draft=draft_id), [], "open",
                            code="draft_stale")


def _after_the_last_publish(tx: Tx, area_code: str, now: datetime) -> datetime:
    """`now`, or just after the newest boundary of the area if another process's clock put that
    later: a grid's validity never ends before it began."""
    latest = as_dt(tx.one("SELECT max(valid_from) AS t FROM grid WHERE substr(code, 1, :n) = :a",
                          {"n": len(area_code), "a": area_code})["t"])
    return max(now, latest + timedelta(milliseconds=1)) if latest else now


def _relocate(tx: Tx, draft: Draft, published: list[tuple[str, object]], actor: Actor,
              now: datetime) -> int:
    """Open issues of the area located again in the published grids by the batch locate
    (GridIndex: the tie rule of every locate); each move gets an audit entry. Issues are
    updated in ascending id order, the order in which transitions lock them."""
    d = tx.dialect
    area = draft.area_code
    rows = tx.rows(f"SELECT i.id, {d.lon('i')} AS lon, {d.lat('i')} AS lat, i.grid_code "
                   f"FROM issue i WHERE {is_open('i')} AND substr(i.grid_code, 1, :n) = :a "
                   "ORDER BY i.id", {"n": len(area), "a": area})
    if not rows:
        return 0
    index = GridIndex([code for code, _ in published], [geom for _, geom in published])
    located = index.locate_codes([r["lon"] for r in rows], [r["lat"] for r in rows])
    moved = 0
    for r, new in zip(rows, located, strict=True):
        if new is None or new == r["grid_code"]:
            continue
        still_open = tx.one("UPDATE issue SET grid_code = :g, community_code = :c, "
                            "version = version + 1, updated_at = :now "
                            f"WHERE id = :id AND {is_open('issue')} RETURNING state",
                            {"g": new, "c": at_level(new, "community"), "now": now,
                             "id": r["id"]})
        if still_open is None:  # closed meanwhile: it keeps the grid it had
            continue
        state = still_open["state"]
        tx.run("INSERT INTO issue_event (issue_id, at, actor, action, from_state, to_state, "
               "reason, details) VALUES (:id, :now, :actor, 'relocate', :s, :s, :reason, :d)",
               {"id": r["id"], "now": now, "actor": actor.username, "s": state,
                "reason": f"grid boundaries of {area} republished (plan {draft.id})",
                "d": {"from_grid": r["grid_code"], "to_grid": new}})
        moved += 1
    return moved


def publish(store: Store, actor: Actor, draft_id: int, expected: list[str] | None,
            now: datetime) -> dict:
    """Publish the draft; what was added, retired, kept, and how many open issues moved."""
    draft, problems = check_draft(store, actor, draft_id)
    if problems:
        kinds = sorted({p.kind for p in problems})
        raise InvalidInput(ngettext(
            "the draft has {n} problem ({kinds}); fix it before publishing (see its validation "
            "report)",
            "the draft has {n} problems ({kinds}); fix them before publishing (see its "
            "validation report)", len(problems)).format(n=len(problems), kinds=", ".join(kinds)),
            code="draft_has_problems")
    with store.tx() as tx:
        current = _load(tx, actor, draft_id, [])
        _check(current, expected, None)
        if current.version != draft.version:
            raise PreconditionFailed(_("draft {draft} changed while it was being checked").format(
                draft=draft_id))
        _lock_district(tx, draft.area_code)
        _check_not_stale(tx, draft_id, draft.area_code)
        d = tx.dialect
        area = draft.area_code
        now = _after_the_last_publish(tx, area, now)
        before = {r["code"]: r for r in tx.rows(
            f"SELECT code, name, households, workers, {d.wkb('geom')} AS wkb FROM grid "
            "WHERE valid_to IS NULL AND substr(code, 1, :n) = :a", {"n": len(area), "a": area})}
        kept, changed, added = [], [], []
        for g in draft.grids:
            old = before.get(g.code) if g.code else None
            if old is not None and unchanged(shapely.from_wkb(bytes(old["wkb"])), old["name"],
                                             old["households"], g):
                kept.append(g)
            elif old is not None:
                changed.append(g)
            else:
                added.append(g)
        retired = sorted(set(before) - {g.code for g in kept})
        if retired:
            tx.run(f"UPDATE grid SET valid_to = :now WHERE valid_to IS NULL AND "
                   f"{d.in_list('code', 'codes')}", {"now": now, "codes": retired})
        sequences = _next_sequences(tx, {g.community_code for g in added})
        published = [(g.code, g.geom) for g in kept]
        for g in changed + added:
            if g.code is None:
                g.code = child(g.community_code, sequences[g.community_code])
                sequences[g.community_code] += 1
            old = before.get(g.code)
            workers = (json.loads(old["workers"]) if isinstance(old["workers"], str)
                       else old["workers"]) if old else []
            _insert_grid(tx, g.code, g.community_code, g.name or g.code, g.geom, g.households,
                         workers or [], now, draft_id)
            published.append((g.code, g.geom))
        moved = _relocate(tx, draft, published, actor, now)
        tx.run("UPDATE plan_draft SET state = 'published', published_at = :now, "
               "published_by = :actor, version = version + 1 WHERE id = :id",
               {"now": now, "actor": actor.username, "id": draft_id})
    return {"draft": draft_id, "published_at": now, "kept": sorted(g.code for g in kept),
            "changed": sorted(g.code for g in changed), "added": sorted(g.code for g in added),
            "retired": [c for c in retired if c not in {g.code for g in changed}],
            "relocated_issues": moved}
