"""What mediators do with a dispute, one audited transaction per action: register it, record
a session, an outcome (agreement, referral, withdrawal), a follow-up visit, or flag a risk of
turning criminal (民转刑), which lifts it to the street and sends a notice to the police
station (派出所) serving the street.

Each action locks the dispute's row, checks it as it is then (the state machine of
geo.mediation.workflow, the reader's jurisdiction in the query), writes, and adds its entry to
the audit trail; of two mediators acting at once the second sees the first's outcome.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from geo.casework import read as issues
from geo.casework.errors import Forbidden, InvalidInput, NotFound, StateConflict
from geo.casework.scope import Actor
from geo.i18n import _
from geo.mediation import reading
from geo.mediation.people import check_id_number, check_name, check_phone
from geo.mediation.workflow import (
    PARTY_ROLES,
    REFERRED_TO,
    SESSION_RESULTS,
    TYPES,
    TransitionError,
    target_state,
)
from geo.store import Store
from geo.store.sql import Conflict, Tx, as_dt

MAX_TEXT = 2000
MAX_PARTIES = 20
MAX_MEDIATORS = 20
MAX_SKEW = timedelta(minutes=2)  # a client's clock may run this far ahead of the server's
MAX_AGE = timedelta(days=5 * 365)  # how far back a dispute may be registered as found
DISPUTE_CATEGORY = "S02"  # 矛盾纠纷: the issues a dispute may come from
_COMPOUND = re.compile(r"^[0-9]{12}XQ[0-9]{3}$")


@dataclass(frozen=True)
class Party:
    name: str
    role: str = "applicant"
    phone: str = ""
    id_number: str | None = None


@dataclass(frozen=True)
class Registration:
    type: str
    summary: str
    found_at: datetime
    found_by: str
    parties: tuple[Party, ...]
    community_code: str | None = None  # may come from the issue
    compound_code: str | None = None
    issue_id: int | None = None


@dataclass(frozen=True)
class Session:
    at: datetime
    mediators: tuple[int, ...]  # squad members' ids
    result: str
    notes: str = ""


@dataclass(frozen=True)
class Outcome:
    action: str  # resolve, refer or withdraw
    agreement: str = ""  # resolve: the agreement's terms
    referred_to: str | None = None  # refer: to whom
    note: str = ""  # withdraw: why (required); otherwise optional


@dataclass(frozen=True)
class FollowUp:
    at: datetime
    satisfied: bool
    notes: str = ""


def _text(value: str, field: str, required: bool = False) -> str:
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise InvalidInput(_("{field} is longer than {n} characters").format(field=field,
                                                                            n=MAX_TEXT))
    if required and not value:
        raise InvalidInput(_("{field} is required").format(field=field), code="missing_text")
    return value


def _moment(at: datetime, field: str, now: datetime, after: datetime | None = None) -> datetime:
    if at.tzinfo is None:
        raise InvalidInput(_("{field} must carry a time zone (for example "
                             "2026-12-02T08:05:00+08:00)").format(field=field), code="time_zone")
    if at > now + MAX_SKEW:
        raise InvalidInput(_("{field} {at} lies in the future").format(field=field,
                                                                       at=at.isoformat()),
                           code="time_in_future")
    if after is not None and at < after:
        raise InvalidInput(_("{field} {at} comes before {before}, when the dispute was found or "
                             "last changed").format(field=field, at=at.isoformat(),
                                                     before=after.isoformat()),
                           code="time_too_early")
    return at


def _check_registration(r: Registration, now: datetime) -> tuple[Party, ...]:
    if r.type not in TYPES:
        raise InvalidInput(_("unknown dispute type {type}; expected one of {known}").format(
            type=r.type, known=", ".join(TYPES)), code="unknown_type")
    _text(r.summary, "summary", required=True)
    _moment(r.found_at, "found_at", now)
    if r.found_at < now - MAX_AGE:
        raise InvalidInput(_("found_at {at} lies more than five years back").format(
            at=r.found_at.isoformat()), code="time_too_early")
    if not r.found_by.strip() or len(r.found_by.strip()) > 64:
        raise InvalidInput(_("found_by must name who found the dispute (1 to 64 characters)"),
                           code="bad_found_by")
    if not 1 <= len(r.parties) <= MAX_PARTIES:
        raise InvalidInput(_("a dispute needs from 1 to {n} parties").format(n=MAX_PARTIES),
                           code="bad_parties")
    parties = []
    for p in r.parties:
        if p.role not in PARTY_ROLES:
            raise InvalidInput(_("unknown party role {role}; expected one of {known}").format(
                role=p.role, known=", ".join(PARTY_ROLES)), code="bad_party_role")
        parties.append(Party(check_name(p.name), p.role, check_phone(p.phone),
                             check_id_number(p.id_number)))
    if r.compound_code is not None and not _COMPOUND.match(r.compound_code):
        raise InvalidInput(_("compound_code {code} is not a compound code (the community's 12 "
                             "digits, XQ and 3 digits)").format(code=r.compound_code),
                           code="bad_compound")
    return tuple(parties)


def _community(tx: Tx, actor: Actor, r: Registration) -> str:
    """The dispute's community: the one given, or its issue's; they must agree."""
    code = r.community_code
    if r.issue_id is not None:
        try:
            issue = issues.fetch(tx, actor, r.issue_id, hold=True)
        except NotFound:
            raise InvalidInput(_("no issue {issue} that you can see").format(issue=r.issue_id),
                               code="unknown_issue") from None
        if issue["category_code"] != DISPUTE_CATEGORY:
            raise InvalidInput(_("issue {issue} is not a dispute to mediate (category "
                                 "{category})").format(issue=r.issue_id,
                                                       category=DISPUTE_CATEGORY),
                               code="issue_not_a_dispute")
        if code is None:
            code = issue["community_code"]
        elif issue["community_code"] != code:
            raise InvalidInput(_("issue {issue} lies in community {issue_community}, not in "
                                 "{community}").format(issue=r.issue_id,
                                                       issue_community=issue["community_code"],
                                                       community=code),
                               code="issue_elsewhere")
    if code is None:
        raise InvalidInput(_("give community_code, or the issue_id of the issue the dispute "
                             "comes from"), code="no_community")
    if not actor.covers_code(code):
        raise Forbidden(_("community {community} lies outside your jurisdiction").format(
            community=code), code="outside_jurisdiction")
    if tx.one("SELECT code FROM community WHERE code = :c", {"c": code}) is None:
        raise InvalidInput(_("no community {community}").format(community=code),
                           code="unknown_community")
    if r.compound_code is not None and not r.compound_code.startswith(code):
        raise InvalidInput(_("compound {compound} does not lie in community {community}").format(
            compound=r.compound_code, community=code), code="compound_elsewhere")
    return code


def _event(tx: Tx, dispute_id: int, actor: Actor, action: str, from_state: str | None,
           to_state: str, now: datetime, reason: str = "", details: dict | None = None) -> None:
    tx.run("INSERT INTO dispute_event (dispute_id, at, actor, action, from_state, to_state, "
           "reason, details) VALUES (:d, :at, :actor, :action, :from, :to, :reason, :details)",
           {"d": dispute_id, "at": now, "actor": actor.username, "action": action,
            "from": from_state, "to": to_state, "reason": reason, "details": details or {}})


def _check_issue_free(tx: Tx, issue_id: int) -> None:
    other = tx.one("SELECT id FROM dispute WHERE issue_id = :i", {"i": issue_id})
    if other is not None:
        raise StateConflict(_("issue {issue} is already dispute {dispute}").format(
            issue=issue_id, dispute=other["id"]), code="issue_has_dispute")


def register(store: Store, actor: Actor, r: Registration, now: datetime,
             parties: bool = False) -> dict:
    """Register a dispute found in a community of `actor`'s jurisdiction (taken by that
    community's squad); returns it whole (see reading.detail)."""
    checked = _check_registration(r, now)
    with store.tx() as tx:
        code = _community(tx, actor, r)
        squad = tx.one("SELECT id FROM mediation_squad WHERE community_code = :c", {"c": code})
        if r.issue_id is not None:
            _check_issue_free(tx, r.issue_id)
        try:
            row = tx.one(
                "INSERT INTO dispute (community_code, street_code, district_code, compound_code, "
                "issue_id, squad_id, type, summary, found_at, found_by, registered_at, "
                "registered_by, state, updated_at) VALUES (:c, :street, :district, :compound, "
                ":issue, :squad, :type, :summary, :found, :found_by, :now, :by, 'registered', "
                ":now) RETURNING id",
                {"c": code, "street": code[:9], "district": code[:6], "compound": r.compound_code,
                 "issue": r.issue_id, "squad": squad["id"] if squad else None, "type": r.type,
                 "summary": r.summary.strip(), "found": r.found_at,
                 "found_by": r.found_by.strip(), "now": max(now, r.found_at),
                 "by": actor.username})
        except Conflict:  # registered by another at the same moment
            raise StateConflict(_("issue {issue} already has its dispute").format(
                issue=r.issue_id), code="issue_has_dispute") from None
        dispute_id = int(row["id"])
        tx.run_many("INSERT INTO dispute_party (dispute_id, role, name, phone, id_number) "
                    "VALUES (:d, :role, :name, :phone, :id_number)",
                    [{"d": dispute_id, "role": p.role, "name": p.name, "phone": p.phone,
                      "id_number": p.id_number} for p in checked])
        _event(tx, dispute_id, actor, "register", None, "registered", max(now, r.found_at),
               details={"issue_id": r.issue_id, "parties": len(checked)})
        return reading.detail(tx, actor, dispute_id, parties)


def _begin(tx: Tx, actor: Actor, dispute_id: int, action: str) -> tuple[dict, str]:
    """The locked dispute and the state `action` leads it to, or StateConflict in words."""
    row = reading.fetch(tx, actor, dispute_id, lock=True)
    try:
        return row, target_state(action, row["state"])
    except TransitionError as exc:
        raise StateConflict(str(exc), exc.allowed, row["state"], code="dispute_state") from None


def _move(tx: Tx, row: dict, target: str, now: datetime, **changes) -> None:
    sets = "".join(f", {c} = :{c}" for c in changes)
    tx.run(f"UPDATE dispute SET state = :to, version = version + 1, updated_at = :now{sets} "
           "WHERE id = :id", {"to": target, "now": now, "id": row["id"], **changes})


def _last_change(row: dict) -> datetime:
    return as_dt(row["updated_at"])


def record_session(store: Store, actor: Actor, dispute_id: int, s: Session, now: datetime,
                   parties: bool = False) -> dict:
    """A mediation session with the squad members who sat in it; the first moves the
    dispute from registered to being mediated."""
    if s.result not in SESSION_RESULTS:
        raise InvalidInput(_("unknown session result {result}; expected one of {known}").format(
            result=s.result, known=", ".join(SESSION_RESULTS)), code="bad_result")
    notes = _text(s.notes, "notes")
    members = sorted(set(s.mediators))
    if not 1 <= len(members) <= MAX_MEDIATORS:
        raise InvalidInput(_("a session needs from 1 to {n} mediators (squad members' "
                             "ids)").format(n=MAX_MEDIATORS), code="bad_mediators")
    with store.tx() as tx:
        row, target = _begin(tx, actor, dispute_id, "session")
        _moment(s.at, "at", now, as_dt(row["found_at"]))
        known = {int(m["id"]) for m in tx.rows(
            f"SELECT id FROM squad_member WHERE {tx.dialect.in_list('id', 'ids')}",
            {"ids": members})}
        unknown = [m for m in members if m not in known]
        if unknown:
            raise InvalidInput(_("no squad member {ids}").format(
                ids=", ".join(map(str, unknown))), code="unknown_mediator")
        session = tx.one("INSERT INTO mediation_session (dispute_id, at, recorded_by, notes, "
                         "result) VALUES (:d, :at, :by, :notes, :result) RETURNING id",
                         {"d": dispute_id, "at": s.at, "by": actor.username, "notes": notes,
                          "result": s.result})
        session_id = int(session["id"])
        tx.run_many("INSERT INTO session_mediator (session_id, member_id) VALUES (:s, :m)",
                    [{"s": session_id, "m": m} for m in members])
        at = max(now, _last_change(row))
        _move(tx, row, target, at)
        _event(tx, dispute_id, actor, "session", row["state"], target, at,
               details={"session_id": session_id, "result": s.result, "mediators": members})
        return reading.detail(tx, actor, dispute_id, parties)


def record_outcome(store: Store, actor: Actor, dispute_id: int, o: Outcome, now: datetime,
                   parties: bool = False) -> dict:
    """Finish a dispute: resolved by an agreement reached at a session, referred to a court
    or another body, or withdrawn (with the reason)."""
    if o.action not in ("resolve", "refer", "withdraw"):
        raise InvalidInput(_("unknown outcome {outcome}; expected one of {known}").format(
            outcome=o.action, known="resolve, refer, withdraw"), code="bad_outcome")
    note = _text(o.note, "note", required=o.action == "withdraw")
    agreement = _text(o.agreement, "agreement", required=o.action == "resolve")
    if o.action == "refer" and o.referred_to not in REFERRED_TO:
        raise InvalidInput(_("a referral needs referred_to, one of {known}").format(
            known=", ".join(REFERRED_TO)), code="bad_referred_to")
    with store.tx() as tx:
        row, target = _begin(tx, actor, dispute_id, o.action)
        if o.action == "resolve" and tx.one(
                "SELECT id FROM mediation_session WHERE dispute_id = :d AND result = 'agreement'",
                {"d": dispute_id}) is None:
            raise StateConflict(_("no session of dispute {dispute} reached an agreement: record "
                                  "the session at which the parties agreed first").format(
                dispute=dispute_id), ["session"], row["state"], code="no_agreement_session")
        at = max(now, _last_change(row))
        _move(tx, row, target, at, closed_at=at, outcome_note=note,
              agreement=agreement if o.action == "resolve" else None,
              referred_to=o.referred_to if o.action == "refer" else None)
        _event(tx, dispute_id, actor, o.action, row["state"], target, at, reason=note,
               details={"referred_to": o.referred_to} if o.action == "refer" else {})
        return reading.detail(tx, actor, dispute_id, parties)


def record_follow_up(store: Store, actor: Actor, dispute_id: int, f: FollowUp, now: datetime,
                     parties: bool = False) -> dict:
    """A follow-up visit (回访) after the agreement: whether the parties are satisfied."""
    notes = _text(f.notes, "notes")
    with store.tx() as tx:
        row, target = _begin(tx, actor, dispute_id, "follow_up")
        _moment(f.at, "at", now, as_dt(row["closed_at"]))
        tx.run("INSERT INTO dispute_follow_up (dispute_id, at, visited_by, satisfied, notes) "
               "VALUES (:d, :at, :by, :ok, :notes)",
               {"d": dispute_id, "at": f.at, "by": actor.username, "ok": f.satisfied,
                "notes": notes})
        at = max(now, _last_change(row))
        _move(tx, row, target, at)
        _event(tx, dispute_id, actor, "follow_up", row["state"], target, at, reason=notes,
               details={"satisfied": f.satisfied})
        return reading.detail(tx, actor, dispute_id, parties)


def police_station(tx: Tx, street_code: str) -> dict | None:
    """The police station serving a street: one of the street's own, else one of its
    district's (the smallest id of the nearest level)."""
    return tx.one("SELECT id, name FROM department WHERE kind = 'police_station' "
                  "AND area_code IN (:street, :district) ORDER BY length(area_code) DESC, id "
                  "LIMIT 1", {"street": street_code, "district": street_code[:6]})


def flag_risk(store: Store, actor: Actor, dispute_id: int, reason: str, now: datetime,
              parties: bool = False) -> dict:
    """Flag a risk that the dispute turns criminal (民转刑): it goes up to the street and the
    police station serving the street receives a notice (`notice` None when no police
    station is recorded for the street or its district)."""
    reason = _text(reason, "reason", required=True)
    with store.tx() as tx:
        row, target = _begin(tx, actor, dispute_id, "flag_risk")
        if row["risk"]:
            raise StateConflict(_("dispute {dispute} is already flagged (at {at}): {reason}").format(
                dispute=dispute_id, at=as_dt(row["risk_at"]).isoformat(timespec="minutes"),
                reason=row["risk_reason"]), [], row["state"], code="already_flagged")
        at = max(now, _last_change(row))
        station = police_station(tx, row["street_code"])
        _move(tx, row, target, at, risk=True, risk_reason=reason, risk_at=at,
              risk_by=actor.username, level="street")
        if station is not None:
            tx.run("INSERT INTO dispute_notice (dispute_id, department_id, kind, at, sent_by, "
                   "reason) VALUES (:d, :dep, 'risk', :at, :by, :reason)",
                   {"d": dispute_id, "dep": station["id"], "at": at, "by": actor.username,
                    "reason": reason})
        _event(tx, dispute_id, actor, "flag_risk", row["state"], target, at, reason=reason,
               details={"from_level": row["level"], "to_level": "street",
                        "notified": station["id"] if station else None})
        out = reading.detail(tx, actor, dispute_id, parties)
    out["notice"] = out["notices"][-1] if station is not None else None
    if station is None:
        out["notice_message"] = _("no police station is recorded for street {street} or its "
                                  "district: tell the station yourself").format(
            street=row["street_code"])
    return out

