"""Who may see which disputes, and how much of their parties.

A dispute is seen by an actor whose jurisdiction holds its community, its street or its
district (as an SQL condition, so that no list, count or lookup leaks another area's). The
parties' personal data (当事人: names, phones, id numbers) is shown whole only to a reader
allowed it (the `disputes:parties` scope: mediators and admins) and only for disputes in their
jurisdiction; everyone else reads names and phones masked and no id number.
"""

from __future__ import annotations

from geo.casework.scope import Actor
from geo.store.sql import Dialect

AREA_READERS = ("operator", "supervisor", "mediator", "dispatcher", "grid_worker", "planner")


def visible_disputes(actor: Actor, d: Dialect, alias: str = "d") -> tuple[str, dict]:
    """A WHERE condition (and its parameters) keeping the disputes `actor` may see."""
    if actor.role == "admin":
        return "1 = 1", {}
    if actor.role not in AREA_READERS or not actor.jurisdiction:
        return "1 = 0", {}
    areas = list(actor.jurisdiction)
    return (f"({d.in_list(f'{alias}.community_code', 'dispute_areas')} OR "
            f"{d.in_list(f'{alias}.street_code', 'dispute_areas')} OR "
            f"{d.in_list(f'{alias}.district_code', 'dispute_areas')})",
            {"dispute_areas": areas})


def mask_name(name: str) -> str:
    """王小明 → 王**: the surname, the rest starred."""
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


def mask_phone(phone: str) -> str:
    """13912341234 → 139****1234; a short number keeps only its last two digits."""
    if not phone:
        return ""
    if len(phone) >= 11:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    return "*" * max(len(phone) - 2, 1) + phone[-2:]


def party_fields(row: dict, whole: bool) -> dict:
    """A party as a reader sees it: whole, or masked (`masked` says which)."""
    if whole:
        return {"id": int(row["id"]), "role": row["role"], "name": row["name"],
                "phone": row["phone"], "id_number": row["id_number"], "masked": False}
    return {"id": int(row["id"]), "role": row["role"], "name": mask_name(row["name"]),
            "phone": mask_phone(row["phone"]), "id_number": None, "masked": True}
