"""Writing a generated city's mediation (fixtures.disputes) into a store, after its issues:
squads and members, disputes (linked to the issues they came from), parties, sessions with
their mediators, follow-up visits, the notices of risk flags to the police stations, and each
dispute's audit trail, replayed through the state machine so that it ends in the dispute's
state. One transaction; ids follow the city's, after those the store holds."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from geo.mediation.actions import police_station
from geo.mediation.workflow import OUTCOMES, target_state
from geo.store.sql import Tx, as_dt

_OUTCOME_OF = {"resolved": "resolve", "referred": "refer", "withdrawn": "withdraw"}
assert set(_OUTCOME_OF.values()) == set(OUTCOMES)
LOADER = "import"  # the actor of the trail's entries that no person took


def _t(value) -> datetime | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return None
    return pd.Timestamp(value).tz_convert(UTC).to_pydatetime()


def _text(value) -> str | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _offset(tx: Tx, table: str) -> int:
    return int(tx.one(f"SELECT coalesce(max(id), 0) AS n FROM {table}")["n"])


def _issue_ids(tx: Tx, city, rows: list[int]) -> dict[int, int]:
    """The stored id of each issue row of the city a dispute came from, matched by who
    reported it and when (to the second)."""
    if not rows:
        return {}
    stored = tx.rows("SELECT id, reported_by, reported_at FROM issue WHERE category_code = 'S02'")
    key = {(r["reported_by"], as_dt(r["reported_at"]).replace(microsecond=0)): int(r["id"])
           for r in stored}
    issues = city.issues
    out = {}
    for row in rows:
        at = _t(issues.reported_at.iloc[row]).replace(microsecond=0)
        found = key.get((issues.reported_by.iloc[row], at))
        if found is not None:
            out[row] = found
    return out


def _trail(d: dict, sessions: list[dict]) -> list[dict]:
    """A dispute's audit entries, oldest first, from its rows."""
    steps = [(d["registered_at"], 0, "register", {}, "")]
    steps += [(s["at"], 1, "session", {"session_id": s["id"], "result": s["result"],
                                      "mediators": s["mediators"]}, "") for s in sessions]
    if d["risk_at"] is not None:
        steps.append((d["risk_at"], 2, "flag_risk", {"from_level": "community",
                                                     "to_level": "street",
                                                     "notified": d["notified"]},
                      d["risk_reason"]))
    if d["closed_at"] is not None:
        action = _OUTCOME_OF[d["state"]]
        steps.append((d["closed_at"], 3, action,
                      {"referred_to": d["referred_to"]} if action == "refer" else {},
                      d["outcome_note"]))
    if d["follow_up_at"] is not None:
        steps.append((d["follow_up_at"], 4, "follow_up", {"satisfied": d["satisfied"]}, ""))
    steps.sort(key=lambda s: (s[0], s[1]))
    state, out = None, []
    for at, _order, action, details, reason in steps:
        target = "registered" if action == "register" else target_state(action, state)
        actor = d["registered_by"] if action == "register" else LOADER
        out.append({"dispute_id": d["id"], "at": at, "actor": actor, "action": action,
                    "from": state, "to": target, "reason": reason or "", "details": details})
        state = target
    if state != d["state"]:
        raise ValueError(f"dispute {d['id']}: its trail ends {state}, not {d['state']}")
    return out


def load(store, city) -> None:
    """Write the city's rows of this room; nothing when it has none."""
    squads = getattr(city, "mediation_squads", None)
    disputes = getattr(city, "disputes", None)
    if squads is None or disputes is None:
        return
    members, parties = city.squad_members, city.dispute_parties
    sessions = city.mediation_sessions
    with store.tx() as tx:
        sq, mo, do, po, so = (_offset(tx, t) for t in ("mediation_squad", "squad_member",
                                                        "dispute", "dispute_party",
                                                        "mediation_session"))
        tx.run_many("INSERT INTO mediation_squad (id, community_code, name) VALUES (:i, :c, :n)",
                    [{"i": int(i) + sq, "c": c, "n": n}
                     for i, c, n in zip(squads.id, squads.community_code, squads.name,
                                        strict=True)])
        tx.run_many("INSERT INTO squad_member (id, squad_id, role, name, phone) "
                    "VALUES (:i, :s, :r, :n, :p)",
                    [{"i": int(i) + mo, "s": int(s) + sq, "r": r, "n": n, "p": p}
                     for i, s, r, n, p in zip(members.id, members.squad_id, members.role,
                                              members.name, members.phone, strict=True)])
        issue_ids = _issue_ids(tx, city, [int(r) for r in disputes.issue_row if r >= 0])
        by_dispute: dict[int, list[dict]] = {}
        session_rows = []
        for s in sessions.to_dict("records"):
            row = {"id": int(s["id"]) + so, "dispute_id": int(s["dispute_id"]) + do,
                   "at": _t(s["at"]), "result": s["result"], "notes": s["notes"],
                   "mediators": [int(m) + mo for m in s["mediators"]]}
            session_rows.append(row)
            by_dispute.setdefault(row["dispute_id"], []).append(row)
        rows, trail, notices, visits = [], [], [], []
        for raw in disputes.to_dict("records"):
            d = {"id": int(raw["id"]) + do, "community_code": raw["community_code"],
                 "compound_code": _text(raw["compound_code"]),
                 "issue_id": issue_ids.get(int(raw["issue_row"])),
                 "squad_id": int(raw["squad_id"]) + sq, "type": raw["type"],
                 "summary": raw["summary"], "found_at": _t(raw["found_at"]),
                 "found_by": raw["found_by"], "registered_at": _t(raw["registered_at"]),
                 "registered_by": raw["registered_by"], "state": raw["state"],
                 "agreement": _text(raw["agreement"]), "referred_to": _text(raw["referred_to"]),
                 "outcome_note": raw["outcome_note"] or "", "closed_at": _t(raw["closed_at"]),
                 "risk_at": _t(raw["risk_at"]), "risk_reason": _text(raw["risk_reason"]),
                 "follow_up_at": _t(raw["follow_up_at"]), "notified": None,
                 "satisfied": None if pd.isna(raw["satisfied"]) else bool(raw["satisfied"])}
            if d["risk_at"] is not None:
                station = police_station(tx, d["community_code"][:9])
                if station is not None:
                    d["notified"] = station["id"]
                    notices.append({"d": d["id"], "dep": station["id"], "at": d["risk_at"],
                                    "by": LOADER, "reason": d["risk_reason"]})
            if d["follow_up_at"] is not None:
                visits.append({"d": d["id"], "at": d["follow_up_at"], "by": raw["follow_up_by"],
                               "ok": d["satisfied"]})
            events = _trail(d, by_dispute.get(d["id"], []))
            d["updated_at"], d["version"] = events[-1]["at"], len(events)
            d["risk"], d["level"] = d["risk_at"] is not None, (
                "street" if d["risk_at"] is not None else "community")
            rows.append(d)
            trail += events
        tx.run_many(
            "INSERT INTO dispute (id, community_code, street_code, district_code, compound_code, "
            "issue_id, squad_id, type, summary, found_at, found_by, registered_at, "
            "registered_by, state, level, agreement, referred_to, outcome_note, closed_at, "
            "risk, risk_reason, risk_at, risk_by, version, updated_at) VALUES (:id, "
            ":community_code, :street, :district, :compound_code, :issue_id, :squad_id, :type, "
            ":summary, :found_at, :found_by, :registered_at, :registered_by, :state, :level, "
            ":agreement, :referred_to, :outcome_note, :closed_at, :risk, :risk_reason, :risk_at, "
            ":risk_by, :version, :updated_at)",
            [{**{k: d[k] for k in ("id", "community_code", "compound_code", "issue_id",
                                   "squad_id", "type", "summary", "found_at", "found_by",
                                   "registered_at", "registered_by", "state", "level",
                                   "agreement", "referred_to", "outcome_note", "closed_at",
                                   "risk", "risk_reason", "risk_at", "version",
                                   "updated_at")},
              "street": d["community_code"][:9], "district": d["community_code"][:6],
              "risk_by": LOADER if d["risk"] else None} for d in rows])
        tx.run_many("INSERT INTO dispute_party (id, dispute_id, role, name, phone, id_number) "
                    "VALUES (:i, :d, :r, :n, :p, :x)",
                    [{"i": int(i) + po, "d": int(d) + do, "r": r, "n": n, "p": p,
                      "x": _text(x)}
                     for i, d, r, n, p, x in zip(parties.id, parties.dispute_id, parties.role,
                                                 parties.name, parties.phone,
                                                 parties.id_number, strict=True)])
        tx.run_many("INSERT INTO mediation_session (id, dispute_id, at, recorded_by, notes, "
                    "result) VALUES (:id, :dispute_id, :at, :by, :notes, :result)",
                    [{k: s[k] for k in ("id", "dispute_id", "at", "notes", "result")}
                     | {"by": LOADER} for s in session_rows])
        tx.run_many("INSERT INTO session_mediator (session_id, member_id) VALUES (:s, :m)",
                    [{"s": s["id"], "m": m} for s in session_rows for m in s["mediators"]])
        if visits:
            tx.run_many("INSERT INTO dispute_follow_up (dispute_id, at, visited_by, satisfied) "
                        "VALUES (:d, :at, :by, :ok)", visits)
        if notices:
            tx.run_many("INSERT INTO dispute_notice (dispute_id, department_id, kind, at, "
                        "sent_by, reason) VALUES (:d, :dep, 'risk', :at, :by, :reason)", notices)
        tx.run_many("INSERT INTO dispute_event (dispute_id, at, actor, action, from_state, "
                    "to_state, reason, details) VALUES (:dispute_id, :at, :actor, :action, "
                    ":from, :to, :reason, :details)", trail)
        if tx.dialect.name == "postgis":  # explicit ids: the identities go on after them
            for table in ("mediation_squad", "squad_member", "dispute", "dispute_party",
                          "mediation_session"):
                tx.run(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                       f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)")
