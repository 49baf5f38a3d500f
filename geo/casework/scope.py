"""Who is asking, and which issues they may see: the jurisdiction rule as a SQL condition.

Authorisation happens in the query itself, so that a list, a count or a lookup by id can
never return a row outside the caller's jurisdiction.
"""

from __future__ import annotations

from dataclasses import dataclass

from geo.codes import LENGTHS
from geo.store.sql import Dialect

# Roles that see issues by area (district, street or community codes in their jurisdiction).
AREA_ROLES = ("grid_worker", "operator", "dispatcher", "supervisor", "planner", "mediator")
_DISTRICT_LEN = LENGTHS["district"]  # a street code starts with its district's


@dataclass(frozen=True)
class Actor:
    """An authenticated user as the casework layer needs them."""

    username: str
    role: str
    jurisdiction: tuple[str, ...] = ()  # district (6), street (9) or community (12) codes
    team_id: str | None = None
    company_id: str | None = None  # a property company's account: its company (物业公司)
    department_id: str | None = None  # a department's account: its department (报到单位)

    def covers(self, street_code: str | None) -> bool:
        """Whether a street lies in this actor's jurisdiction (admins cover everything)."""
        if self.role == "admin":
            return True
        if street_code is None:
            return False
        return (street_code in self.jurisdiction
                or street_code[:_DISTRICT_LEN] in self.jurisdiction)

    def covers_code(self, code: str | None) -> bool:
        """Whether an area (district, street, community or grid code, or a code below the
        grid that starts with its community's) lies in this actor's jurisdiction: the area
        or one that holds it is listed. Admins cover everything."""
        if self.role == "admin":
            return True
        if not code:
            return False
        return any(code.startswith(area) for area in self.jurisdiction)


def visible_issues(actor: Actor, d: Dialect, alias: str = "i") -> tuple[str, dict]:
    """A WHERE condition (and its parameters) that keeps the issues `actor` may see."""
    if actor.role == "admin":
        return "1 = 1", {}
    if actor.role == "citizen":
        return f"{alias}.reported_by = :viewer", {"viewer": actor.username}
    if actor.role == "team":
        return (f"EXISTS (SELECT 1 FROM assignment va WHERE va.issue_id = {alias}.id "
                "AND va.active = :yes AND va.team_id = :viewer_team)",
                {"viewer_team": actor.team_id or "", "yes": True})
    if actor.role == "department":  # the issues of the whistles that called it (吹哨报到)
        return (f"EXISTS (SELECT 1 FROM whistle vw JOIN whistle_unit vu ON vu.whistle_id = vw.id "
                f"WHERE vw.issue_id = {alias}.id AND vu.department_id = :viewer_department)",
                {"viewer_department": actor.department_id or ""})
    if actor.role in AREA_ROLES:
        areas = list(actor.jurisdiction)
        # Communities only where the jurisdiction has any, to keep the plain case's plan.
        community = (f" OR {d.in_list(f'{alias}.community_code', 'viewer_areas')}"
                     if any(len(c) == LENGTHS["community"] for c in areas) else "")
        return (f"({d.in_list(f'{alias}.street_code', 'viewer_areas')} OR "
                f"{d.in_list(f'{alias}.district_code', 'viewer_areas')}{community})",
                {"viewer_areas": areas})
    return "1 = 0", {}


def visible_teams(actor: Actor, d: Dialect, alias: str = "t") -> tuple[str, dict]:
    """A WHERE condition keeping the teams `actor` may see: those serving a street of their
    jurisdiction; a team member sees their own team; admins see all."""
    if actor.role == "admin":
        return "1 = 1", {}
    if actor.role == "team":
        return f"{alias}.id = :own_team", {"own_team": actor.team_id or ""}
    if actor.role in AREA_ROLES:
        return (d.list_in_areas(f"{alias}.jurisdiction", "streets", "districts"),
                {"streets": [c for c in actor.jurisdiction if len(c) == LENGTHS["street"]],
                 "districts": [c for c in actor.jurisdiction if len(c) == LENGTHS["district"]]})
    return "1 = 0", {}
