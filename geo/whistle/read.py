"""Reading whistles as the caller may see them: a department sees the whistles that called
it, everyone else the whistles of the issues they may see (geo.casework.scope), in SQL."""

from __future__ import annotations

from datetime import datetime

from geo.casework.errors import InvalidInput, NotFound
from geo.casework.scope import Actor, visible_issues
from geo.i18n import _
from geo.store import Store
from geo.store.sql import Tx, as_dt, as_json
from geo.taxonomy import category_label
from geo.whistle import rules

MAX_LIST = 500
LISTS = ("open", "closed", "all")

WHISTLE_COLUMNS = ("w.id, w.issue_id, w.district_code, w.street_code, w.community_code, "
                   "w.state, w.open, w.version, w.called_by, w.called_at, w.reason, w.plan, "
                   "w.consulted_by, w.consulted_at, w.rating, w.evaluation, w.evaluated_by, "
                   "w.evaluated_at, i.category_code, i.description, i.state AS issue_state, "
                   "s.name AS street_name")
_FROM = ("FROM whistle w JOIN issue i ON i.id = w.issue_id "
         "LEFT JOIN street s ON s.code = w.street_code")


def visible_whistles(actor: Actor, tx: Tx, alias: str = "w") -> tuple[str, dict]:
    """A WHERE condition keeping the whistles `actor` may see (`alias` the whistle, `i` its
    issue): a department's account those that called its department."""
    if actor.role == "department":
        return (f"EXISTS (SELECT 1 FROM whistle_unit vu WHERE vu.whistle_id = {alias}.id "
                "AND vu.department_id = :viewer_department)",
                {"viewer_department": actor.department_id or ""})
    return visible_issues(actor, tx.dialect, "i")


def _units(tx: Tx, ids: list[int]) -> dict[int, list[dict]]:
    if not ids:
        return {}
    rows = tx.rows(
        "SELECT u.whistle_id, u.department_id, d.name, d.kind, d.phone, u.report_in_due, "
        "u.part_due, u.reported_in_at, u.reported_in_by, u.reported_in_late, u.task, u.done_at, "
        "u.done_by, u.done_late, u.feedback, u.rating FROM whistle_unit u "
        "JOIN department d ON d.id = u.department_id "
        f"WHERE {tx.dialect.in_list('u.whistle_id', 'ids')} ORDER BY u.whistle_id, d.kind, d.id",
        {"ids": ids})
    out: dict[int, list[dict]] = {}
    for r in rows:
        out.setdefault(int(r["whistle_id"]), []).append(r)
    return out


def _flag(value) -> bool | None:
    return None if value is None else bool(value)


def present_unit(u: dict, called_at: datetime, now: datetime) -> dict:
    due_in, due_part = as_dt(u["report_in_due"]), as_dt(u["part_due"])
    reported, done = as_dt(u["reported_in_at"]), as_dt(u["done_at"])
    owed = rules.step(reported, done)
    return {"department_id": u["department_id"], "name": u["name"], "kind": u["kind"],
            "phone": u["phone"], "report_in_due": due_in, "part_due": due_part,
            "reported_in_at": reported, "reported_in_by": u["reported_in_by"],
            "reported_in_late": _flag(u["reported_in_late"]), "task": u["task"],
            "done_at": done, "done_by": u["done_by"], "done_late": _flag(u["done_late"]),
            "feedback": u["feedback"], "rating": u["rating"], "step": owed,
            "step_label": rules.step_label(owed),
            "light": rules.unit_light(called_at, due_in, due_part, reported, done, now),
            "missed_report_in": rules.missed_report_in(due_in, reported, now)}


def allowed(state: str) -> list[str]:
    """What may be done next on a whistle in `state` (by someone)."""
    return {"called": ["report_in", "consult"], "consulted": ["report_in", "done", "evaluate"],
            "evaluated": []}[state]


def present(row: dict, units: list[dict], now: datetime) -> dict:
    called_at = as_dt(row["called_at"])
    shown = [present_unit(u, called_at, now) for u in units]
    return {
        "id": int(row["id"]), "issue_id": int(row["issue_id"]),
        "issue": {"id": int(row["issue_id"]), "category_code": row["category_code"],
                  "category_name": category_label(row["category_code"]),
                  "description": row["description"], "state": row["issue_state"]},
        "district_code": row["district_code"], "street_code": row["street_code"],
        "street_name": row["street_name"], "community_code": row["community_code"],
        "state": row["state"], "state_label": rules.state_label(row["state"]),
        "open": bool(row["open"]), "version": int(row["version"]),
        "called_by": row["called_by"], "called_at": called_at, "reason": row["reason"],
        "plan": row["plan"], "consulted_by": row["consulted_by"],
        "consulted_at": as_dt(row["consulted_at"]), "rating": row["rating"],
        "evaluation": row["evaluation"], "evaluated_by": row["evaluated_by"],
        "evaluated_at": as_dt(row["evaluated_at"]),
        "light": rules.worst(u["light"] for u in shown) if row["open"] else None,
        "units": shown,
        "units_missed_report_in": sum(u["missed_report_in"] for u in shown),
        "units_late_report_in": sum(bool(u["reported_in_late"]) for u in shown),
        "units_done": sum(u["done_at"] is not None for u in shown),
        "allowed_actions": allowed(row["state"]),
    }


def fetch(tx: Tx, actor: Actor, whistle_id: int, lock: bool = False) -> dict:
    """The whistle row if `actor` may see it, else NotFound; `lock` holds it (and so its
    units, which change only under it) until the transaction ends."""
    if lock:
        tx.rows(f"SELECT id FROM whistle WHERE id = :wid{tx.dialect.for_update()}",
                {"wid": whistle_id})
    where, params = visible_whistles(actor, tx)
    row = tx.one(f"SELECT {WHISTLE_COLUMNS} {_FROM} WHERE w.id = :wid AND {where}",
                 {**params, "wid": whistle_id})
    if row is None:
        raise NotFound(_("no whistle {whistle} that you can see").format(whistle=whistle_id),
                       code="whistle_not_found")
    return row


def whistle_view(tx: Tx, actor: Actor, whistle_id: int, now: datetime) -> dict:
    row = fetch(tx, actor, whistle_id)
    return present(row, _units(tx, [int(row["id"])]).get(int(row["id"]), []), now)


def get_whistle(store: Store, actor: Actor, whistle_id: int, now: datetime) -> dict:
    """One whistle with its units and its audit trail."""
    with store.snapshot() as tx:
        out = whistle_view(tx, actor, whistle_id, now)
        out["events"] = [
            {"at": as_dt(e["at"]), "actor": e["actor"], "action": e["action"],
             "action_label": rules.action_label(e["action"]),
             "department_id": e["department_id"], "details": as_json(e["details"])}
            for e in tx.rows("SELECT at, actor, action, department_id, details FROM "
                             "whistle_event WHERE whistle_id = :w ORDER BY id", {"w": whistle_id})]
    return out


def list_whistles(store: Store, actor: Actor, which: str, now: datetime,
                  limit: int = MAX_LIST) -> dict:
    """The whistles `actor` may see, newest first: open ones, closed ones or all."""
    if which not in LISTS:
        raise InvalidInput(_("state must be one of {states}").format(states=", ".join(LISTS)))
    with store.snapshot() as tx:
        where, params = visible_whistles(actor, tx)
        state = {"open": " AND w.open = :yes", "closed": " AND w.open = :no", "all": ""}[which]
        rows = tx.rows(f"SELECT {WHISTLE_COLUMNS} {_FROM} WHERE {where}{state} "
                       "ORDER BY w.called_at DESC, w.id DESC LIMIT :limit",
                       {**params, "yes": True, "no": False, "limit": min(limit, MAX_LIST)})
        units = _units(tx, [int(r["id"]) for r in rows])
    items = [present(r, units.get(int(r["id"]), []), now) for r in rows]
    return {"items": items, "returned": len(items), "state": which,
            "units_missed_report_in": sum(w["units_missed_report_in"] for w in items)}
