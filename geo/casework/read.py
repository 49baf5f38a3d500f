"""Reading issues as the caller may see them: one issue, pages of them, the audit trail,
the overdue list and summary figures per area."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from geo.casework.errors import InvalidInput, NotFound
from geo.casework.scope import Actor, visible_issues
from geo.i18n import _
from geo.store import Store
from geo.store.sql import Dialect, Tx, as_dt, as_json
from geo.taxonomy import CATEGORIES, CATEGORY_BY_CODE, NETWORKS, category_label
from geo.workflow import OPEN_STATES, STATES, TERMINAL, allowed_actions, light, overdue, overdue_sql

MAX_PAGE = 5000


def is_open(alias: str = "i") -> str:
    """The open-issue condition, spelled exactly as the partial indexes' predicate so that the
    planners of both backends use those indexes (a parameter list would not match)."""
    return f"{alias}.state NOT IN (" + ", ".join(f"'{s}'" for s in TERMINAL) + ")"

# What a citizen may see of their own report: no internal routing, deadlines or people.
PUBLIC_FIELDS = ("id", "category_code", "category_name", "description", "lon", "lat", "state",
                 "reported_at", "updated_at", "closed_at", "street_code", "rating", "address")


def issue_columns(d: Dialect, alias: str = "i") -> str:
    a = alias
    return (f"{a}.id, {a}.category_code, {a}.description, {d.lon(a)} AS lon, {d.lat(a)} AS lat, "
            f"{a}.source_crs, {a}.reported_at, {a}.grid_code, {a}.community_code, "
            f"{a}.street_code, {a}.district_code, {a}.state, {a}.version, {a}.state_since, "
            f"{a}.due_at, {a}.updated_at, {a}.closed_at, {a}.channel, {a}.reported_by, "
            f"{a}.address, {a}.duplicate_of, {a}.rating, {a}.rework_count, {a}.overdue_steps")


def present(row: dict, now: datetime, actor: Actor, teams: list[dict] | None = None) -> dict:
    """An issue row as the API shows it to `actor`."""
    since, due = as_dt(row["state_since"]), as_dt(row["due_at"])
    out = {
        **row,
        "category_name": category_label(row["category_code"]),  # as alarms and places say it
        "reported_at": as_dt(row["reported_at"]),
        "state_since": since,
        "due_at": due,
        "updated_at": as_dt(row["updated_at"]),
        "closed_at": as_dt(row["closed_at"]),
        "light": light(row["state"], since, due, now) if due else None,
        "overdue": overdue(due, now) and row["state"] not in TERMINAL,
        "allowed_actions": allowed_actions(row["state"]),
        "teams": teams or [],
    }
    if actor.role == "citizen":
        return {k: out[k] for k in PUBLIC_FIELDS}
    return out


def assignments(tx: Tx, issue_ids: list[int]) -> dict[int, list[dict]]:
    """Active team assignments per issue."""
    if not issue_ids:
        return {}
    d = tx.dialect
    rows = tx.rows(
        "SELECT a.issue_id, a.team_id, t.name, a.lead, a.assigned_at, a.assigned_by "
        f"FROM assignment a JOIN team t ON t.id = a.team_id WHERE a.active = :yes AND "
        f"{d.in_list('a.issue_id', 'ids')} ORDER BY a.issue_id, a.lead DESC, a.team_id",
        {"ids": issue_ids, "yes": True})
    out: dict[int, list[dict]] = {}
    for r in rows:
        out.setdefault(r["issue_id"], []).append(
            {"team_id": r["team_id"], "name": r["name"], "lead": bool(r["lead"]),
             "assigned_at": as_dt(r["assigned_at"]), "assigned_by": r["assigned_by"]})
    return out


def fetch(tx: Tx, actor: Actor, issue_id: int, hold: bool = False) -> dict:
    """The issue row if `actor` may see it, else NotFound (no hint that it exists). `hold`
    keeps its state from changing until the transaction ends (a write that depends on it)."""
    where, params = visible_issues(actor, tx.dialect)
    lock = tx.dialect.for_share() if hold else ""
    row = tx.one(f"SELECT {issue_columns(tx.dialect)} FROM issue i WHERE i.id = :id AND {where}"
                 f"{lock}", {**params, "id": issue_id})
    if row is None:
        raise NotFound(_("no issue {issue} that you can see").format(issue=issue_id))
    return row


def get_issue(store: Store, actor: Actor, issue_id: int, now: datetime) -> dict:
    with store.snapshot() as tx:
        row = fetch(tx, actor, issue_id)
        teams = assignments(tx, [issue_id]).get(issue_id, [])
    return present(row, now, actor, teams)


# A box in WGS84 degrees: west, south, east, north (minlon, minlat, maxlon, maxlat).
Box = tuple[float, float, float, float]


def parse_bbox(text: str | None) -> Box | None:
    """'minlon,minlat,maxlon,maxlat' in WGS84 degrees, or InvalidInput saying what is wrong."""
    if not text:
        return None
    try:
        box = tuple(float(v) for v in text.split(","))
    except ValueError:
        box = ()
    if len(box) != 4:
        raise InvalidInput(_("bbox must be four numbers: minlon,minlat,maxlon,maxlat"),
                           code="invalid_bbox")
    minx, miny, maxx, maxy = box
    if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
        raise InvalidInput(_("bbox must be minlon,minlat,maxlon,maxlat with min < max, in "
                             "degrees (WGS84)"), code="invalid_bbox")
    return box


def check_categories(categories: tuple[str, ...], networks: tuple[str, ...]) -> None:
    """InvalidInput naming an unknown category code or network."""
    for c in categories:
        if c not in CATEGORY_BY_CODE:
            raise InvalidInput(_("unknown category {category}; known: {known}").format(
                category=c, known=", ".join(CATEGORY_BY_CODE)), code="unknown_category")
    for n in networks:
        if n not in NETWORKS:
            raise InvalidInput(_("unknown network {network}; known: {known}").format(
                network=n, known=", ".join(NETWORKS)), code="unknown_network")


def category_clauses(d: Dialect, categories: tuple[str, ...],
                     networks: tuple[str, ...]) -> tuple[list[str], dict]:
    """Conditions keeping issues of the listed categories and of the listed networks' (四张网)
    categories; both must hold when both are given."""
    clauses, params = [], {}
    if categories:
        clauses.append(d.in_list("i.category_code", "categories"))
        params["categories"] = list(categories)
    if networks:
        clauses.append(d.in_list("i.category_code", "network_categories"))
        params["network_categories"] = [c.code for c in CATEGORIES if c.network in networks]
    return clauses, params


@dataclass(frozen=True)
class IssueQuery:
    """Filters for lists and map layers; every field optional."""

    states: tuple[str, ...] = ()
    open_only: bool = False
    categories: tuple[str, ...] = ()
    grid_code: str | None = None
    street_code: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    bbox: Box | None = None
    overdue_at: datetime | None = None  # only issues past their step deadline at this time
    limit: int = 100
    offset: int = 0
    networks: tuple[str, ...] = ()  # the four networks (四张网): each a set of categories

    def check(self) -> IssueQuery:
        for s in self.states:
            if s not in STATES:
                raise InvalidInput(_("unknown state {state}; expected one of {states}").format(
                    state=s, states=", ".join(STATES)), code="unknown_state")
        check_categories(self.categories, self.networks)
        if not 1 <= self.limit <= MAX_PAGE:
            raise InvalidInput(_("limit must be between 1 and {n}").format(n=MAX_PAGE))
        if self.offset < 0:
            raise InvalidInput(_("offset must not be negative"))
        if self.since and self.until and self.since >= self.until:
            raise InvalidInput(_("since must be earlier than until"))
        return self


def _filters(q: IssueQuery, d: Dialect) -> tuple[list[str], dict]:
    clauses, params = [], {}
    if q.states:
        clauses.append(d.in_list("i.state", "states"))
        params["states"] = list(q.states)
    if q.open_only:
        clauses.append(is_open("i"))
    kinds, kind_params = category_clauses(d, q.categories, q.networks)
    clauses += kinds
    params.update(kind_params)
    if q.grid_code:
        clauses.append("i.grid_code = :grid")
        params["grid"] = q.grid_code
    if q.street_code:
        clauses.append("i.street_code = :street")
        params["street"] = q.street_code
    if q.since:
        clauses.append("i.reported_at >= :since")
        params["since"] = q.since
    if q.until:
        clauses.append("i.reported_at < :until")
        params["until"] = q.until
    if q.bbox:
        clauses.append(d.in_bbox("i"))
        params.update(zip(("bbox_minx", "bbox_miny", "bbox_maxx", "bbox_maxy"), q.bbox,
                          strict=True))
    if q.overdue_at:
        clauses.append(f"{overdue_sql('i.due_at', ':overdue_at')} AND "
                       f"{d.in_list('i.state', 'overdue_states')}")
        params["overdue_at"] = q.overdue_at
        params["overdue_states"] = list(OPEN_STATES)
    return clauses, params


def list_issues(store: Store, actor: Actor, q: IssueQuery, now: datetime) -> tuple[list[dict], int]:
    """A page of visible issues matching `q` (newest first; overdue lists by deadline), and
    the total count."""
    q.check()
    with store.snapshot() as tx:
        d = tx.dialect
        where, params = visible_issues(actor, d)
        clauses, fparams = _filters(q, d)
        cond = " AND ".join([where, *clauses])
        params = {**params, **fparams}
        total = tx.one(f"SELECT count(*) AS n FROM issue i WHERE {cond}", params)["n"]
        order = "i.due_at, i.id" if q.overdue_at else "i.reported_at DESC, i.id DESC"
        rows = tx.rows(f"SELECT {issue_columns(d)} FROM issue i WHERE {cond} ORDER BY {order} "
                       "LIMIT :limit OFFSET :offset",
                       {**params, "limit": q.limit, "offset": q.offset})
        teams = assignments(tx, [r["id"] for r in rows]) if actor.role != "citizen" else {}
    return [present(r, now, actor, teams.get(r["id"])) for r in rows], int(total)


def events(store: Store, actor: Actor, issue_id: int) -> list[dict]:
    """The audit trail of one issue, oldest first; escalations name their levels in words."""
    from geo.escalation.trail import in_words  # the owning levels' room (geo/escalation)

    with store.snapshot() as tx:
        fetch(tx, actor, issue_id)
        rows = tx.rows("SELECT id, at, actor, action, from_state, to_state, reason, details "
                       "FROM issue_event WHERE issue_id = :id ORDER BY id", {"id": issue_id})
    return [in_words({**r, "at": as_dt(r["at"]), "details": as_json(r["details"])})
            for r in rows]


LEVELS = {"grid": "grid_code", "community": "community_code", "street": "street_code",
          "district": "district_code"}


def summary(store: Store, actor: Actor, level: str, now: datetime,
            since: datetime | None = None, categories: tuple[str, ...] = (),
            networks: tuple[str, ...] = ()) -> list[dict]:
    """Per area: open, overdue, closed, closed on time (no step late), rework rate, mean rating;
    of the issues of the given categories and networks (all when none are given)."""
    if level not in LEVELS:
        raise InvalidInput(_("level must be one of {levels}").format(levels=", ".join(LEVELS)))
    check_categories(categories, networks)
    column = LEVELS[level]
    with store.snapshot() as tx:
        d = tx.dialect
        where, params = visible_issues(actor, d)
        kinds, kind_params = category_clauses(d, categories, networks)
        cond = " AND ".join([where, f"i.{column} IS NOT NULL", *kinds])
        params.update(kind_params)
        if since:
            cond += " AND i.reported_at >= :since"
            params["since"] = since
        rows = tx.rows(
            f"SELECT i.{column} AS code, "
            f"sum(CASE WHEN {d.in_list('i.state', 'open_states')} THEN 1 ELSE 0 END) AS open, "
            f"sum(CASE WHEN {d.in_list('i.state', 'open_states')} AND "
            f"{overdue_sql('i.due_at', ':now')} "
            "THEN 1 ELSE 0 END) AS overdue, "
            "sum(CASE WHEN i.state = 'closed' THEN 1 ELSE 0 END) AS closed, "
            "sum(CASE WHEN i.state = 'closed' AND i.overdue_steps = 0 THEN 1 ELSE 0 END) "
            "AS closed_on_time, "
            "sum(CASE WHEN i.state = 'closed' AND i.rework_count > 0 THEN 1 ELSE 0 END) "
            "AS reworked, avg(i.rating) AS average_rating "
            f"FROM issue i WHERE {cond} GROUP BY i.{column} ORDER BY i.{column}",
            {**params, "open_states": list(OPEN_STATES), "now": now})
    out = []
    for r in rows:
        closed = int(r["closed"] or 0)
        out.append({
            "level": level, "code": r["code"], "open": int(r["open"] or 0),
            "overdue": int(r["overdue"] or 0), "closed": closed,
            "closed_on_time": int(r["closed_on_time"] or 0),
            "on_time_rate": round(int(r["closed_on_time"] or 0) / closed, 4) if closed else None,
            "rework_rate": round(int(r["reworked"] or 0) / closed, 4) if closed else None,
            "average_rating": (round(float(r["average_rating"]), 2)
                               if r["average_rating"] is not None else None),
        })
    return out


_LIGHT_RANK = {"green": 0, "yellow": 1, "red": 2}


def open_load(tx: Tx, actor: Actor, level: str, codes: list[str] | None,
              now: datetime) -> dict[str, dict]:
    """Open issues per area that `actor` may see: {code: {open, yellow, overdue, worst_light}}.

    Lights need each issue's step start and deadline, so they are worked out here rather than
    in SQL, where the two backends' time arithmetic differs. `codes` None means every area."""
    if level not in LEVELS:
        raise InvalidInput(_("level must be one of {levels}").format(levels=", ".join(LEVELS)))
    column = LEVELS[level]
    d = tx.dialect
    where, params = visible_issues(actor, d)
    cond = f"{where} AND {is_open('i')}"
    if codes is not None:
        if not codes:
            return {}
        cond += f" AND {d.in_list(f'i.{column}', 'codes')}"
        params["codes"] = list(codes)
    out: dict[str, dict] = {}
    for r in tx.rows(f"SELECT i.{column} AS code, i.state, i.state_since, i.due_at FROM issue i "
                     f"WHERE {cond} AND i.{column} IS NOT NULL", params):
        due = as_dt(r["due_at"])
        lit = light(r["state"], as_dt(r["state_since"]), due, now) if due else None
        load = out.setdefault(r["code"], {"open": 0, "yellow": 0, "overdue": 0,
                                          "worst_light": "green"})
        load["open"] += 1
        if lit == "red":
            load["overdue"] += 1
        elif lit == "yellow":
            load["yellow"] += 1
        if lit and _LIGHT_RANK[lit] > _LIGHT_RANK[load["worst_light"]]:
            load["worst_light"] = lit
    return out
