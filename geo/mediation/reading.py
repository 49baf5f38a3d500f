"""Disputes as readers see them: a page of a list, one dispute with its parties, sessions,
follow-up visits, audit trail and notices, and the risk notices a department receives. Every
read keeps to the reader's jurisdiction in its query (geo.mediation.access)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from geo.casework.errors import InvalidInput, NotFound
from geo.casework.scope import Actor
from geo.i18n import _
from geo.mediation.access import party_fields, visible_disputes
from geo.mediation.workflow import (
    STATES,
    TYPES,
    allowed_actions,
    referred_label,
    state_label,
    type_label,
)
from geo.store import Store
from geo.store.sql import Tx, as_dt, as_json

MAX_PAGE = 500
COLUMNS = ("d.id, d.community_code, d.street_code, d.district_code, d.compound_code, d.issue_id, "
           "d.squad_id, d.type, d.summary, d.found_at, d.found_by, d.registered_at, "
           "d.registered_by, d.state, d.level, d.agreement, d.referred_to, d.outcome_note, "
           "d.closed_at, d.risk, d.risk_reason, d.risk_at, d.risk_by, d.version, d.updated_at, "
           "c.name AS community_name")
FROM = "dispute d JOIN community c ON c.code = d.community_code"


def dispute_fields(row: dict) -> dict:
    """A dispute row (COLUMNS) as the API shows it, with its values in words."""
    return {
        "id": int(row["id"]), "community_code": row["community_code"],
        "community_name": row["community_name"], "street_code": row["street_code"],
        "district_code": row["district_code"], "compound_code": row["compound_code"],
        "issue_id": row["issue_id"], "squad_id": row["squad_id"],
        "type": row["type"], "type_label": type_label(row["type"]), "summary": row["summary"],
        "found_at": as_dt(row["found_at"]), "found_by": row["found_by"],
        "registered_at": as_dt(row["registered_at"]), "registered_by": row["registered_by"],
        "state": row["state"], "state_label": state_label(row["state"]),
        "allowed_actions": allowed_actions(row["state"]), "level": row["level"],
        "agreement": row["agreement"], "referred_to": row["referred_to"],
        "referred_to_label": referred_label(row["referred_to"]) if row["referred_to"] else None,
        "outcome_note": row["outcome_note"], "closed_at": as_dt(row["closed_at"]),
        "risk": bool(row["risk"]), "risk_reason": row["risk_reason"],
        "risk_at": as_dt(row["risk_at"]), "risk_by": row["risk_by"],
        "version": int(row["version"]), "updated_at": as_dt(row["updated_at"]),
    }


def fetch(tx: Tx, actor: Actor, dispute_id: int, lock: bool = False) -> dict:
    """The dispute row if `actor` may see it, else NotFound (no hint that it exists); `lock`
    holds it until the transaction ends (an action decides on it)."""
    where, params = visible_disputes(actor, tx.dialect)
    hold = tx.dialect.for_update() if lock else ""
    if lock:  # PostgreSQL locks no row of a join's nullable side: the dispute alone first
        tx.one(f"SELECT d.id FROM dispute d WHERE d.id = :id AND {where}{hold}",
               {**params, "id": dispute_id})
    row = tx.one(f"SELECT {COLUMNS} FROM {FROM} WHERE d.id = :id AND {where}",
                 {**params, "id": dispute_id})
    if row is None:
        raise NotFound(_("no dispute {dispute} that you can see").format(dispute=dispute_id),
                       code="dispute_not_found")
    return row


def detail(tx: Tx, actor: Actor, dispute_id: int, parties: bool) -> dict:
    """One dispute whole: its parties (whole when `parties` and the dispute lies in the
    reader's jurisdiction, else masked), sessions with their mediators, follow-up visits,
    notices and audit trail."""
    row = fetch(tx, actor, dispute_id)
    whole = parties and actor.covers_code(row["community_code"])
    p = {"id": dispute_id}
    party_rows = tx.rows("SELECT id, role, name, phone, id_number FROM dispute_party "
                         "WHERE dispute_id = :id ORDER BY id", p)
    sessions = tx.rows("SELECT id, at, recorded_by, notes, result FROM mediation_session "
                       "WHERE dispute_id = :id ORDER BY at, id", p)
    mediators = tx.rows("SELECT sm.session_id, m.id, m.name, m.role FROM session_mediator sm "
                        "JOIN squad_member m ON m.id = sm.member_id JOIN mediation_session s "
                        "ON s.id = sm.session_id WHERE s.dispute_id = :id ORDER BY m.id", p)
    by_session: dict[int, list[dict]] = {}
    for m in mediators:
        by_session.setdefault(int(m["session_id"]), []).append(
            {"id": int(m["id"]), "name": m["name"], "role": m["role"]})
    visits = tx.rows("SELECT id, at, visited_by, satisfied, notes FROM dispute_follow_up "
                     "WHERE dispute_id = :id ORDER BY at, id", p)
    events = tx.rows("SELECT id, at, actor, action, from_state, to_state, reason, details "
                     "FROM dispute_event WHERE dispute_id = :id ORDER BY id", p)
    notices = tx.rows("SELECT n.id, n.department_id, dp.name AS department_name, n.kind, n.at, "
                      "n.sent_by, n.reason FROM dispute_notice n JOIN department dp "
                      "ON dp.id = n.department_id WHERE n.dispute_id = :id ORDER BY n.id", p)
    return {
        **dispute_fields(row),
        "parties": [party_fields(r, whole) for r in party_rows],
        "sessions": [{"id": int(s["id"]), "at": as_dt(s["at"]), "recorded_by": s["recorded_by"],
                      "notes": s["notes"], "result": s["result"],
                      "mediators": by_session.get(int(s["id"]), [])} for s in sessions],
        "follow_ups": [{"id": int(v["id"]), "at": as_dt(v["at"]), "visited_by": v["visited_by"],
                        "satisfied": bool(v["satisfied"]), "notes": v["notes"]} for v in visits],
        "notices": [notice_fields(n) for n in notices],
        "events": [{"id": int(e["id"]), "at": as_dt(e["at"]), "actor": e["actor"],
                    "action": e["action"], "from_state": e["from_state"],
                    "to_state": e["to_state"], "reason": e["reason"],
                    "details": as_json(e["details"])} for e in events],
    }


def get_dispute(store: Store, actor: Actor, dispute_id: int, parties: bool) -> dict:
    with store.snapshot() as tx:
        return detail(tx, actor, dispute_id, parties)


@dataclass(frozen=True)
class DisputeQuery:
    """A list's filters: states, types, an area (community, street or district code), risk
    flagged only, found in [since, until), a page."""

    states: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    area: str | None = None
    risk: bool | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0

    def check(self) -> DisputeQuery:
        for value, known, name in ((self.states, STATES, "state"), (self.types, TYPES, "type")):
            wrong = [v for v in value if v not in known]
            if wrong:
                raise InvalidInput(_("unknown {field} {values}; expected one of {known}").format(
                    field=name, values=", ".join(wrong), known=", ".join(known)))
        if self.area is not None and (not self.area.isdigit() or len(self.area) not in (6, 9, 12)):
            raise InvalidInput(_("area must be a district (6 digits), street (9) or community "
                                 "(12) code"), code="bad_area")
        if self.since and self.until and self.since >= self.until:
            raise InvalidInput(_("since must come before until"), code="bad_period")
        if not 1 <= self.limit <= MAX_PAGE:
            raise InvalidInput(_("limit must be from 1 to {n}").format(n=MAX_PAGE))
        if self.offset < 0:
            raise InvalidInput(_("offset must not be negative"))
        return self


def list_disputes(store: Store, actor: Actor, q: DisputeQuery) -> dict:
    """A page of the disputes `actor` may see (no parties), the latest found first, with the
    number matching."""
    q = q.check()
    with store.snapshot() as tx:
        d = tx.dialect
        where, params = visible_disputes(actor, d)
        conds = [where]
        if q.states:
            conds.append(d.in_list("d.state", "states"))
            params["states"] = list(q.states)
        if q.types:
            conds.append(d.in_list("d.type", "types"))
            params["types"] = list(q.types)
        if q.area:
            column = {6: "district_code", 9: "street_code", 12: "community_code"}[len(q.area)]
            conds.append(f"d.{column} = :area")
            params["area"] = q.area
        if q.risk is not None:
            conds.append("d.risk = :risk")
            params["risk"] = q.risk
        if q.since:
            conds.append("d.found_at >= :since")
            params["since"] = q.since
        if q.until:
            conds.append("d.found_at < :until")
            params["until"] = q.until
        cond = " AND ".join(conds)
        total = tx.one(f"SELECT count(*) AS n FROM dispute d WHERE {cond}", params)["n"]
        rows = tx.rows(f"SELECT {COLUMNS} FROM {FROM} WHERE {cond} "
                       "ORDER BY d.found_at DESC, d.id DESC LIMIT :limit OFFSET :offset",
                       {**params, "limit": q.limit, "offset": q.offset})
    items = [dispute_fields(r) for r in rows]
    return {"items": items, "total": int(total), "returned": len(items), "offset": q.offset}


def notice_fields(row: dict) -> dict:
    return {"id": int(row["id"]), "department_id": row["department_id"],
            "department_name": row["department_name"], "kind": row["kind"],
            "at": as_dt(row["at"]), "sent_by": row["sent_by"], "reason": row["reason"],
            **({"dispute_id": int(row["dispute_id"]), "community_code": row["community_code"],
                "community_name": row["community_name"], "type": row["type"],
                "type_label": type_label(row["type"]), "summary": row["summary"],
                "state": row["state"], "state_label": state_label(row["state"])}
               if "dispute_id" in row else {})}


def list_notices(store: Store, actor: Actor, limit: int = 100,
                 reads_disputes: bool = False) -> list[dict]:
    """The risk notices (民转刑) a reader receives, the latest first: a department's account
    its department's; a reader of disputes (`reads_disputes`) those of the disputes they may
    see (an admin all); anyone else none. The parties are not in them."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(_("limit must be from 1 to {n}").format(n=MAX_PAGE))
    with store.snapshot() as tx:
        if actor.role == "department":
            where, params = "n.department_id = :own", {"own": actor.department_id or ""}
        elif reads_disputes:
            where, params = visible_disputes(actor, tx.dialect)
        else:
            where, params = "1 = 0", {}
        rows = tx.rows("SELECT n.id, n.department_id, dp.name AS department_name, n.kind, n.at, "
                       "n.sent_by, n.reason, n.dispute_id, d.community_code, "
                       "c.name AS community_name, d.type, d.summary, d.state "
                       "FROM dispute_notice n JOIN department dp ON dp.id = n.department_id "
                       "JOIN dispute d ON d.id = n.dispute_id "
                       "JOIN community c ON c.code = d.community_code "
                       f"WHERE {where} ORDER BY n.at DESC, n.id DESC LIMIT :limit",
                       {**params, "limit": limit})
    return [notice_fields(r) for r in rows]
