"""Escalations in the audit trail: each is an issue_event with action 'escalate' that leaves
the state as it is; its details name the levels, which readers see in words."""

from __future__ import annotations

from geo.escalation.levels import level_label

ACTION = "escalate"


def in_words(event: dict) -> dict:
    """An audit entry as the trail shows it: an escalation's levels also in the reader's
    language (`from_level_name`, `to_level_name`); other entries as they are."""
    if event.get("action") != ACTION:
        return event
    details = dict(event.get("details") or {})
    details["from_level_name"] = level_label(details.get("from_level"))
    details["to_level_name"] = level_label(details.get("to_level"))
    return {**event, "details": details}


def moves(events: list[dict]) -> list[dict]:
    """The escalations among an issue's audit entries (oldest first), levels in words."""
    out = []
    for e in events:
        if e["action"] != ACTION:
            continue
        d = e["details"] or {}
        out.append({"at": e["at"], "actor": e["actor"], "reason": e["reason"],
                    "from_level": d.get("from_level"), "from_level_name":
                    level_label(d.get("from_level")), "to_level": d.get("to_level"),
                    "to_level_name": level_label(d.get("to_level")),
                    "suggested": bool(d.get("suggested"))})
    return out
