"""Value types that the spatial operations return, shared by every backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from geo.i18n import _, current, format_datetime
from geo.taxonomy import team_kind_label, team_status_label


@dataclass(frozen=True)
class Location:
    """Where a point falls: its grid and the grid's community, street and district (四级)."""

    grid_code: str
    grid_name: str
    community_code: str
    community_name: str
    street_code: str
    street_name: str
    district_code: str
    district_name: str


@dataclass(frozen=True)
class TeamFilter:
    """Which teams may be ranked: each field, when set, must hold for a team to qualify."""

    kind: str | None = None
    statuses: tuple[str, ...] | None = None
    category: str | None = None  # the team handles this issue category
    street_code: str | None = None  # the team's jurisdiction covers this street
    rosters: tuple[str, ...] | None = None  # ("A",) normal times, ("A", "B") emergency

    def describe(self) -> str:
        """The filter in words, for a ranking's reason."""
        parts = []
        if self.kind:
            parts.append(_("kind {kind}").format(kind=team_kind_label(self.kind)))
        if self.statuses:
            parts.append(_("status {statuses}").format(
                statuses="/".join(team_status_label(s) for s in self.statuses)))
        if self.category:
            parts.append(_("handles {category}").format(category=self.category))
        if self.street_code:
            parts.append(_("jurisdiction covers street {street}").format(street=self.street_code))
        if self.rosters:
            parts.append(_("roster {rosters}").format(rosters="/".join(self.rosters)))
        # TRANSLATORS: separates the conditions a team must meet, as ", " does in English.
        return _(", ").join(parts) if parts else _("any team")


@dataclass(frozen=True)
class TeamMatch:
    """One ranked team for a point, with the distance in metres and why it ranked there."""

    rank: int
    team_id: str
    name: str
    kind: str
    status: str
    distance_m: float
    position_source: str  # "live" (last reported position) or "home" (home base, no report yet)
    position_at: datetime | None
    reason: str = field(compare=False)


@dataclass(frozen=True)
class CameraView:
    """A camera that can see a point: how far and in which direction (degrees from north)."""

    camera_id: str
    kind: str
    distance_m: float
    bearing_deg: float
    range_m: float
    heading_deg: float | None
    fov_deg: float


def ordinal(n: int) -> str:
    """A rank as the reader's language writes it inside a sentence: 1 → '1st', 2 → '2nd',
    11 → '11th' in English; the number alone in Chinese, whose sentences say 第{rank}."""
    if current() != "en":
        return str(n)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def team_origin(position_source: str, position_at: datetime | None) -> str:
    """Where a team's distance is measured from, in words (its report's time in the command
    centre's zone)."""
    if position_source == "live" and position_at:
        return _("its last reported position ({time})").format(
            time=format_datetime(position_at))
    return _("its home base (no position reported)")


def explain_rank(rank: int, distance_m: float, position_source: str,
                 position_at: datetime | None, team_filter: TeamFilter) -> str:
    """Why a team ranked where it did, in one sentence a dispatcher can read."""
    return _("{rank} nearest of the teams matching {filter}: {distance} m from {origin}").format(
        rank=ordinal(rank), filter=team_filter.describe(), distance=f"{distance_m:,.0f}",
        origin=team_origin(position_source, position_at))


@dataclass(frozen=True)
class Policy:
    """How the ranking weighs workload (settings GRIDDISPATCH_MAX_OPEN_ASSIGNMENTS and
    GRIDDISPATCH_SECONDS_PER_OPEN_ASSIGNMENT): a team with `max_open` open assignments is
    full and not recommended; each open one costs `per_open_s` of ETA, the time to hand over
    or park the job it leaves (two minutes by default)."""

    max_open: int = 3
    per_open_s: float = 120.0


DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class Workload:
    """The teams' open assignments (geo.casework.workload says which count) under a policy."""

    open_assignments: dict[str, int] = field(default_factory=dict)
    policy: Policy = DEFAULT_POLICY

    def describe(self) -> str:
        return _("ranked by ETA plus {seconds} s per open assignment; a team with {max_open} or "
                 "more open assignments is not recommended").format(
                     seconds=f"{self.policy.per_open_s:g}", max_open=self.policy.max_open)


@dataclass(frozen=True)
class EtaMatch:
    """One team ranked by travel time to a point: the TeamMatch facts plus the road's."""

    rank: int
    team_id: str
    name: str
    kind: str
    status: str
    distance_m: float  # straight line, EPSG:4551
    position_source: str
    position_at: datetime | None
    eta_s: float
    road_m: float | None  # None when timed by straight line
    basis: str  # "road" or "straight_line"
    via: tuple[str, ...]  # bridges on the route
    route: tuple[tuple[float, float], ...]  # lon, lat from the team to the issue
    open_assignments: int
    recommended: bool
    reason: str = field(compare=False)
