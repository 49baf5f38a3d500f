"""Open issues that may be the same as one already filed: the candidates a triage merges."""

from __future__ import annotations

from geo.casework.intake import nearby_open
from geo.casework.read import fetch
from geo.casework.scope import Actor
from geo.store import Store


def merge_candidates(store: Store, actor: Actor, issue_id: int) -> list[dict]:
    """Open issues of the same category within its duplicate radius that `actor` may see,
    nearest first (NotFound when the issue itself is not one they may see)."""
    with store.snapshot() as tx:
        issue = fetch(tx, actor, issue_id)
        return nearby_open(tx, actor, issue["category_code"], issue["lon"], issue["lat"],
                           exclude=issue_id)
