"""The red/black list's rule (红黑榜), pure: a score per company from its period's figures, the
rank, the honour list (红榜) and the black list (黑榜), and who is proposed for a talk (约谈).

The score, out of 100, weighs four things a resident feels (the README repeats this):
- complaints per 1,000 households, 30 points: full marks for none, none for the highest rate
  among the ranked companies, in proportion between;
- on-time closure rate (按时结案率), 30 points: closed with no step past its deadline / closed;
- rework rate (返工率), 15 points: (1 - reworked / closed);
- citizens' mean rating (1-5), 25 points: (mean - 1) / 4.
A rate that cannot be had (nothing closed, nothing rated) earns half its points.

A company is ranked when it has households and at least `MIN_COMPLAINTS` complaints in the
period: with fewer, a single complaint would swing its score. Ranked companies are ordered by
score (highest first), then fewer complaints per 1,000 households, then id. The top
`LIST_SHARE` of them (rounded down) go on the red list, the bottom as many on the black list.
A ranked company is proposed for a talk when it is on the black list in this period and in the
one before, or when its score is below `TALK_SCORE`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_COMPLAINTS = 5
LIST_SHARE = 0.2
TALK_SCORE = 60.0
WEIGHTS = {"density": 30.0, "on_time": 30.0, "rework": 15.0, "rating": 25.0}
MISSING = 0.5  # the share of its points a rate earns when it cannot be had

RED, BLACK, MIDDLE, UNRANKED = "red", "black", "middle", "unranked"


@dataclass(frozen=True)
class Figures:
    """One company's counts for a period (complaints: issues in its compounds)."""

    company_id: str
    name: str
    compounds: int
    households: int
    complaints: int
    closed: int
    closed_on_time: int
    reworked: int
    rated: int
    rating_sum: int

    @property
    def per_1000(self) -> float | None:
        return self.complaints * 1000 / self.households if self.households else None

    @property
    def on_time_rate(self) -> float | None:
        return self.closed_on_time / self.closed if self.closed else None

    @property
    def rework_rate(self) -> float | None:
        return self.reworked / self.closed if self.closed else None

    @property
    def rating(self) -> float | None:
        return self.rating_sum / self.rated if self.rated else None


@dataclass(frozen=True)
class Standing:
    """A company's place on the list for a period (rank and score None when unranked)."""

    figures: Figures
    rank: int | None = None
    score: float | None = None
    standing: str = UNRANKED
    talk: bool = False
    talk_reasons: tuple[str, ...] = ()


def ranked(f: Figures) -> bool:
    return f.households > 0 and f.complaints >= MIN_COMPLAINTS


def _part(value: float | None) -> float:
    return MISSING if value is None else value


def score(f: Figures, worst_per_1000: float) -> float:
    """The company's score (0-100), `worst_per_1000` the highest rate among those ranked."""
    density = 1.0 if worst_per_1000 <= 0 else 1.0 - f.per_1000 / worst_per_1000
    rework = None if f.rework_rate is None else 1.0 - f.rework_rate
    rating = None if f.rating is None else (f.rating - 1.0) / 4.0
    return (WEIGHTS["density"] * density + WEIGHTS["on_time"] * _part(f.on_time_rate)
            + WEIGHTS["rework"] * _part(rework) + WEIGHTS["rating"] * _part(rating))


def list_size(n_ranked: int) -> int:
    """How many companies go on each of the red and the black list."""
    return math.floor(n_ranked * LIST_SHARE)


def rank(figures: list[Figures], black_before: frozenset[str] = frozenset()) -> list[Standing]:
    """Every company's standing, ranked ones first in rank order, then the others by id.
    `black_before`: the companies on the previous period's black list."""
    candidates = [f for f in figures if ranked(f)]
    worst = max((f.per_1000 for f in candidates), default=0.0)
    scored = sorted(((score(f, worst), f) for f in candidates),
                    key=lambda sf: (-sf[0], sf[1].per_1000, sf[1].company_id))
    n_list = list_size(len(scored))
    out = []
    for i, (s, f) in enumerate(scored):
        standing = RED if i < n_list else BLACK if i >= len(scored) - n_list else MIDDLE
        reasons = []
        if standing == BLACK and f.company_id in black_before:
            reasons.append("black_twice")
        if s < TALK_SCORE:
            reasons.append("low_score")
        out.append(Standing(f, i + 1, s, standing, bool(reasons), tuple(reasons)))
    rest = sorted((f for f in figures if not ranked(f)), key=lambda f: f.company_id)
    return out + [Standing(f) for f in rest]


def black_list(standings: list[Standing]) -> frozenset[str]:
    return frozenset(s.figures.company_id for s in standings if s.standing == BLACK)

