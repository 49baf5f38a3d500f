"""Issue categories grouped by the four networks (四张网), and the five kinds of teams (五支队伍)."""

from __future__ import annotations

from dataclasses import dataclass

from geo.i18n import N_, _, current, label

# The names are English message ids (党建网, 平安网 ... in the catalogues): show them with
# `network_label` / `team_kind_label`, which translate them for the reader.
NETWORKS = {
    "party": N_("Party-building network"),
    "safety": N_("Safety network"),
    "livelihood": N_("Livelihood network"),
    "enterprise": N_("Enterprise network"),
}

TEAM_KINDS = {
    "safety_livelihood": N_("safety and livelihood officer"),
    "grid_worker": N_("grid worker"),
    "enforcement": N_("enforcement team"),
    "enterprise_service": N_("enterprise service team"),
    "party_volunteer": N_("party volunteer team"),
}

TEAM_STATUSES = ("available", "busy", "off_duty")
TEAM_STATUS_LABELS = {"available": N_("available"), "busy": N_("busy"), "off_duty": N_("off duty")}
ROSTERS = ("A", "B")  # A: normal times; B: emergency (平急结合)
CAMERA_KINDS = ("fixed", "dome", "high_dome")
CAMERA_STATUSES = ("online", "offline", "maintenance")
SITE_KINDS = ("manhole_cover", "sewer", "school_gate", "market", "night_market", "hazard_point")


@dataclass(frozen=True)
class Category:
    """An issue category: code, network, names, the team kinds that handle it."""

    code: str
    network: str
    name_zh: str
    name_en: str
    handled_by: tuple[str, ...]
    duplicate_radius_m: float = 50.0  # reports this close to an open one may be duplicates
    handle_hours: float = 24.0  # time a claimed team has to resolve it


CATEGORIES: tuple[Category, ...] = (
    Category("L01", "livelihood", "流动摊贩占道经营", "street-vendor occupation",
             ("enforcement",), 100.0, 2.0),
    Category("L02", "livelihood", "下水道堵塞", "sewer blockage",
             ("safety_livelihood", "grid_worker"), 30.0, 12.0),
    Category("L03", "livelihood", "噪音扰民", "noise", ("enforcement", "safety_livelihood"), 150.0, 4.0),
    Category("L04", "livelihood", "违章停车", "illegal parking", ("enforcement",), 50.0, 1.0),
    Category("L05", "livelihood", "管道维修", "pipe repair", ("safety_livelihood",), 30.0, 48.0),
    Category("L06", "livelihood", "车位规划", "parking-space planning",
             ("safety_livelihood",), 200.0, 720.0),
    Category("L07", "livelihood", "物业服务问题", "property-management problem",
             ("safety_livelihood", "grid_worker"), 100.0, 72.0),
    Category("L08", "livelihood", "垃圾乱堆", "rubbish dumping", ("enforcement", "grid_worker"), 50.0, 24.0),
    Category("S01", "safety", "井盖破损缺失", "manhole cover damaged",
             ("safety_livelihood", "enforcement"), 20.0, 4.0),
    Category("S02", "safety", "矛盾纠纷", "dispute to mediate",
             ("safety_livelihood", "grid_worker"), 50.0, 72.0),
    Category("S03", "safety", "安全隐患", "safety hazard", ("safety_livelihood", "enforcement"), 50.0, 8.0),
    Category("S04", "safety", "楼道堆物消防隐患", "fire hazard in stairwell",
             ("safety_livelihood", "grid_worker"), 30.0, 24.0),
    Category("E01", "enterprise", "企业经营诉求", "enterprise request",
             ("enterprise_service",), 200.0, 120.0),
    Category("E02", "enterprise", "营商环境问题", "business-environment problem",
             ("enterprise_service",), 200.0, 120.0),
    Category("P01", "party", "党员报到服务", "party-member service request",
             ("party_volunteer",), 100.0, 72.0),
)

CATEGORY_BY_CODE = {c.code: c for c in CATEGORIES}
STREET_VENDOR = "L01"


def category(code: str) -> Category:
    """The category with this code, or KeyError naming the known codes."""
    try:
        return CATEGORY_BY_CODE[code]
    except KeyError:
        raise KeyError(_("unknown category {category}; known categories: {known}").format(
            category=code, known=", ".join(CATEGORY_BY_CODE))) from None


def team_status_label(status: str) -> str:
    """A team status in the reader's language (the machine value if unknown)."""
    return label(TEAM_STATUS_LABELS, status)


def team_kind_label(kind: str) -> str:
    """A kind of team in the reader's language (the machine value if unknown)."""
    return label(TEAM_KINDS, kind)


def network_label(network: str) -> str:
    """One of the four networks in the reader's language (the machine value if unknown)."""
    return label(NETWORKS, network)


def category_label(code_or_category: str | Category) -> str:
    """A category's name in the reader's language: the English name for English, the Chinese
    one otherwise."""
    c = code_or_category if isinstance(code_or_category, Category) else category(code_or_category)
    return c.name_en if current() == "en" else c.name_zh
