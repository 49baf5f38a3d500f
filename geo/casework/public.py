"""The reports a city publishes (Open311 GeoReport's service requests): located reports only,
found by id, by the window of their report, category and open or closed status, or by the
token their client was given when filing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from geo.casework.read import issue_columns
from geo.store import Store
from geo.workflow import TERMINAL


@dataclass(frozen=True)
class Published:
    """Issue rows (newest first) and the names of their streets, by code."""

    rows: list[dict]
    street_names: dict[str, str]


def published_requests(store: Store, limit: int, ids: tuple[int, ...] | None = None,
             window: tuple[datetime, datetime] | None = None,
             categories: tuple[str, ...] | None = None,
             status: Literal["open", "closed"] | None = None) -> Published:
    """Located issues, newest first, at most `limit`: those of `ids` when given, else those
    reported within `window` ([start, end)); of `categories` (all when None) and `status`
    (either when None)."""
    d = store.dialect
    cond, params = ["i.grid_code IS NOT NULL"], {}
    if ids is not None:
        cond.append(d.in_list("i.id", "ids"))
        params["ids"] = list(ids)
    elif window:
        cond += ["i.reported_at >= :start", "i.reported_at < :end"]
        params.update(start=window[0], end=window[1])
    if categories is not None:
        cond.append(d.in_list("i.category_code", "codes"))
        params["codes"] = list(categories)
    if status:
        cond.append(("NOT " if status == "open" else "") + d.in_list("i.state", "terminal"))
        params["terminal"] = list(TERMINAL)
    return _published(store, " AND ".join(cond), params, limit)


def published_request(store: Store, issue_id: int) -> Published:
    """The located issue `issue_id`, if there is one."""
    return _published(store, "i.id = :id AND i.grid_code IS NOT NULL", {"id": issue_id}, 1)


def issue_for_token(store: Store, token: str) -> int | None:
    """The id of the issue filed with the Open311 `token`, if any."""
    with store.snapshot() as tx:
        row = tx.one("SELECT id FROM issue WHERE open311_token = :t", {"t": token})
    return None if row is None else int(row["id"])


def _published(store: Store, where: str, params: dict, limit: int) -> Published:
    with store.snapshot() as tx:
        rows = tx.rows(f"SELECT {issue_columns(tx.dialect)} FROM issue i WHERE {where} "
                       "ORDER BY i.reported_at DESC, i.id DESC LIMIT :limit",
                       {**params, "limit": limit})
        codes = sorted({r["street_code"] for r in rows if r["street_code"]})
        names = {r["code"]: r["name"] for r in tx.rows(
            f"SELECT code, name FROM street s WHERE {tx.dialect.in_list('s.code', 'codes')}",
            {"codes": codes})} if codes else {}
    return Published(rows, names)
