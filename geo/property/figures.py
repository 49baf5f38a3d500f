"""The counts behind the red/black list, in SQL on both backends, and which companies and
compounds a viewer may see (the condition is part of every query).

Complaints are the issues of the property-service and parking categories (L07 物业服务问题,
L06 车位规划, L04 违章停车) that lie in a company's compounds (`issue.compound_code`) and were
reported in the period, less rejected and merged reports (not valid, or counted once already).
Of those: closed, closed with no step past its deadline (`overdue_steps = 0`), closed after a
failed check (`rework_count > 0`), and closed with a citizen's rating (its sum). Households
are summed over all the company's compounds.
"""

from __future__ import annotations

from geo.casework.errors import NotFound
from geo.casework.scope import AREA_ROLES, Actor
from geo.codes import LENGTHS
from geo.i18n import _
from geo.property.period import Period
from geo.property.rule import Figures
from geo.store.sql import Dialect, Tx

CATEGORIES = ("L07", "L06", "L04")
_COUNTS = (
    "count(*) AS complaints, "
    "sum(CASE WHEN i.state = 'closed' THEN 1 ELSE 0 END) AS closed, "
    "sum(CASE WHEN i.state = 'closed' AND i.overdue_steps = 0 THEN 1 ELSE 0 END) "
    "AS closed_on_time, "
    "sum(CASE WHEN i.state = 'closed' AND i.rework_count > 0 THEN 1 ELSE 0 END) AS reworked, "
    "sum(CASE WHEN i.state = 'closed' AND i.rating IS NOT NULL THEN 1 ELSE 0 END) AS rated, "
    "sum(CASE WHEN i.state = 'closed' THEN i.rating ELSE 0 END) AS rating_sum")
_COMPLAINT = ("i.category_code IN ('L07', 'L06', 'L04') AND i.state NOT IN ('rejected', 'merged') "
              "AND i.reported_at >= :start AND i.reported_at < :end")
COUNT_NAMES = ("complaints", "closed", "closed_on_time", "reworked", "rated", "rating_sum")


def visible_compounds(actor: Actor, d: Dialect, alias: str = "c") -> tuple[str, dict]:
    """A WHERE condition keeping the compounds `actor` may see: those of its own company (a
    property account), those in its jurisdiction (district, street or community codes), all
    (admin); none for anyone else."""
    if actor.role == "admin":
        return "1 = 1", {}
    if actor.role == "property":
        return f"{alias}.property_company_id = :own_company", {"own_company": actor.company_id or ""}
    if actor.role in AREA_ROLES:
        column = f"{alias}.community_code"
        parts = [d.in_list(column, "viewer_areas")] + [
            d.in_list(f"substr({column}, 1, {LENGTHS[level]})", "viewer_areas")
            for level in ("street", "district")]
        return "(" + " OR ".join(parts) + ")", {"viewer_areas": list(actor.jurisdiction)}
    return "1 = 0", {}


def visible_companies(actor: Actor, d: Dialect, alias: str = "pc") -> tuple[str, dict]:
    """A WHERE condition keeping the companies `actor` may see: its own (a property account),
    those with a compound in its jurisdiction, all (admin)."""
    if actor.role == "admin":
        return "1 = 1", {}
    if actor.role == "property":
        return f"{alias}.id = :own_company", {"own_company": actor.company_id or ""}
    where, params = visible_compounds(actor, d, "vc")
    return (f"EXISTS (SELECT 1 FROM compound vc WHERE vc.property_company_id = {alias}.id "
            f"AND {where})", params)


def company_ids(tx: Tx, actor: Actor) -> list[str]:
    where, params = visible_companies(actor, tx.dialect)
    return [r["id"] for r in tx.rows(f"SELECT pc.id FROM property_company pc WHERE {where} "
                                     "ORDER BY pc.id", params)]


def _figures(row: dict) -> Figures:
    return Figures(company_id=row["id"], name=row["name"], compounds=int(row["compounds"] or 0),
                   households=int(row["households"] or 0),
                   **{k: int(row[k] or 0) for k in COUNT_NAMES})


def company_figures(tx: Tx, period: Period) -> list[Figures]:
    """Every company's figures for `period` (the whole city's list: a standing is one for all
    its compounds, wherever a viewer sees it from)."""
    rows = tx.rows(
        "SELECT pc.id, pc.name, h.compounds, h.households, "
        + ", ".join(f"f.{k}" for k in COUNT_NAMES) + " FROM property_company pc "
        "LEFT JOIN (SELECT property_company_id AS company_id, count(*) AS compounds, "
        "sum(households) AS households FROM compound WHERE property_company_id IS NOT NULL "
        "GROUP BY property_company_id) h ON h.company_id = pc.id "
        f"LEFT JOIN (SELECT c.property_company_id AS company_id, {_COUNTS} "
        "FROM issue i JOIN compound c ON c.code = i.compound_code "
        f"WHERE c.property_company_id IS NOT NULL AND {_COMPLAINT} "
        "GROUP BY c.property_company_id) f ON f.company_id = pc.id ORDER BY pc.id",
        {"start": period.start, "end": period.end})
    return [_figures(r) for r in rows]


def known_company(tx: Tx, actor: Actor, company_id: str) -> dict:
    """The company's own row, if `actor` may see it (else NotFound: a company out of sight
    is no different from one that does not exist)."""
    where, params = visible_companies(actor, tx.dialect)
    row = tx.one(f"SELECT pc.id, pc.name, pc.phone, pc.address FROM property_company pc "
                 f"WHERE pc.id = :company AND {where}", {**params, "company": company_id})
    if row is None:
        raise NotFound(_("no property company {id} that you may see").format(id=company_id),
                       code="company_not_found")
    return row


def compounds(tx: Tx, actor: Actor, period: Period, company_id: str | None = None,
              with_geometry: bool = False) -> list[dict]:
    """The compounds `actor` may see (of one company, or of every company), with their
    complaints' counts for `period`; with their polygons as WKB when asked."""
    where, params = visible_compounds(actor, tx.dialect)
    own = " AND c.property_company_id = :company" if company_id is not None else ""
    geometry = f", {tx.dialect.wkb('c.geom')} AS geom" if with_geometry else ""
    rows = tx.rows(
        "SELECT c.code, c.name, c.community_code, cm.name AS community_name, c.households, "
        "c.property_company_id AS company_id, "
        + ", ".join(f"coalesce(f.{k}, 0) AS {k}" for k in COUNT_NAMES) + geometry
        + " FROM compound c LEFT JOIN community cm ON cm.code = c.community_code "
        f"LEFT JOIN (SELECT i.compound_code, {_COUNTS} FROM issue i "
        f"WHERE i.compound_code IS NOT NULL AND {_COMPLAINT} GROUP BY i.compound_code) f "
        f"ON f.compound_code = c.code WHERE c.property_company_id IS NOT NULL AND {where}{own} "
        "ORDER BY c.code",
        {**params, "company": company_id, "start": period.start, "end": period.end})
    for r in rows:
        for k in COUNT_NAMES:
            r[k] = int(r[k])
        if with_geometry:
            r["geom"] = bytes(r["geom"])
    return rows
