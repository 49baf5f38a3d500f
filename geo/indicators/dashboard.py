"""The big screen's answer (`GET /api/v1/dashboard`): every figure of one moment, for the
viewer's jurisdiction, read in one snapshot."""

from __future__ import annotations

from datetime import datetime

from geo.casework.dispatch import read_mode
from geo.casework.errors import Forbidden
from geo.casework.scope import Actor
from geo.i18n import _
from geo.indicators import breakdown, lights, national, teams, today, trends
from geo.indicators.days import WINDOWS, window_start
from geo.indicators.levels import solved_by_level_tx
from geo.layers.mapview import LiveView, live_view
from geo.store import Store
from geo.taxonomy import CATEGORIES, NETWORKS, network_label
from geo.workflow import role_label

# Who watches the big screen: the command centre's staff (others have their own pages).
ROLES = ("operator", "dispatcher", "supervisor", "admin")
BREAKDOWN_DAYS = WINDOWS["d30"]  # networks, categories and rankings cover the last 30 days


def check_viewer(actor: Actor) -> None:
    """Forbidden unless `actor` is one of the command centre's roles."""
    if actor.role not in ROLES:
        raise Forbidden(_("the big screen is for operators, dispatchers, supervisors and "
                          "administrators, not for role {role}").format(role=role_label(actor.role)),
                        code="role_not_allowed")


def screen_view(store: Store, actor: Actor) -> LiveView:
    """Where the big screen's map starts (the viewer's jurisdiction), once the viewer is
    known to be one of the command centre's roles (else Forbidden)."""
    check_viewer(actor)
    return live_view(store, actor)


def assemble(store: Store, actor: Actor, now: datetime) -> dict:
    """All figures of the big screen at `now` for `actor`."""
    check_viewer(actor)
    since = window_start(now, BREAKDOWN_DAYS)
    with store.snapshot() as tx:
        counts = breakdown.by_category(tx, actor, since)
        level = breakdown.ranking_level(tx, actor)
        return {
            "now": now,
            "viewer": {"username": actor.username, "role": actor.role,
                       "jurisdiction": list(actor.jurisdiction)},
            "mode": read_mode(tx),
            "today": today.today_counts(tx, actor, now),
            "lights": lights.light_counts(tx, actor, now),
            "overdue": lights.overdue_list(tx, actor, now),
            "indicators": national.national(tx, actor, now),
            "breakdown_since": since,
            "networks": breakdown.networks(counts),
            "top_categories": breakdown.top_categories(counts),
            "ranking": {"level": level,
                        "areas": breakdown.ranking(tx, actor, level, now, since)},
            "trend": trends.daily(tx, actor, now),
            # 小事不出楼栋、大事不出社区: where the last 30 days' cases were solved
            "solved_by_level": solved_by_level_tx(tx, actor, since, now),
            "teams": teams.team_status(tx, actor),
            "categories": [{"code": c.code, "network": c.network, "name_zh": c.name_zh,
                            "name_en": c.name_en} for c in CATEGORIES],
            "network_names": {n: network_label(n) for n in NETWORKS},
        }
