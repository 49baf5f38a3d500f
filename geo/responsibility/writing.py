"""Storing responsible people (四级包保), checked first so that a bad row writes nothing."""

from __future__ import annotations

from datetime import date

import pandas as pd

from geo.casework.errors import InvalidInput
from geo.codes import LENGTHS
from geo.i18n import _
from geo.store import Store

COLUMNS = ("area_code", "name", "title", "phone", "since")


def add_people(store: Store, people: pd.DataFrame) -> int:
    """Insert rows of (area_code, name, title, phone, since) in one transaction; the count."""
    missing = [c for c in COLUMNS if c not in people.columns]
    if missing:
        raise InvalidInput(_("responsible people need the columns {columns}").format(
            columns=", ".join(missing)))
    rows = []
    for n, r in enumerate(people[list(COLUMNS)].itertuples(index=False), start=1):
        code = str(r.area_code)
        if not code.isdigit() or len(code) not in LENGTHS.values():
            raise InvalidInput(_("row {n}: {code} is not a district, street, community or grid "
                                 "code").format(n=n, code=code[:20]), code="invalid_code")
        since = date.fromisoformat(str(r.since)[:10])
        rows.append({"a": code, "n": str(r.name), "t": str(r.title), "p": str(r.phone or ""),
                     "s": since.isoformat()})
    with store.tx() as tx:
        tx.run_many("INSERT INTO responsibility (area_code, name, title, phone, since) "
                    "VALUES (:a, :n, :t, :p, :s)", rows)
    return len(rows)
