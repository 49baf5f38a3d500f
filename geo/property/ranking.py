"""The red/black list (红黑榜) as a viewer reads it: the city's standings for a period and the
one before (the trend), cut down to the companies the viewer may see, with the rule in words.

A standing is the city's: a company is ranked among all companies on all its compounds'
complaints, whoever looks. What a viewer may see is which companies (and, on a company's page,
which compounds): a property account its own company, a supervisor or operator the companies
with a compound in their jurisdiction, an administrator all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from geo.casework.errors import Forbidden
from geo.casework.scope import Actor
from geo.i18n import _, ngettext
from geo.property import rule
from geo.property.figures import company_figures, company_ids
from geo.property.period import Period, choose
from geo.property.talks import TALK_ROLES
from geo.store.sql import Tx
from geo.workflow import role_label

ROLES = ("operator", "supervisor", "admin", "property")  # property:read


def check_reader(actor: Actor) -> None:
    if actor.role not in ROLES:
        raise Forbidden(_("the red/black list of property companies is for supervisors, "
                          "operators, administrators and the companies themselves, not for "
                          "role {role}").format(role=role_label(actor.role)),
                        code="role_not_allowed")


@dataclass(frozen=True)
class PageView:
    """What the list page needs to know before its script asks the API."""

    period: Period
    can_talk: bool  # may record talks (property:talk)
    sees_layers: bool  # may read the basemap's layers (every reader but a company's account)


def page_view(actor: Actor, period: str | None, since: str | None, until: str | None,
              now: datetime) -> PageView:
    """The list page's period and permissions, once `actor` is known to be one of its readers
    (else Forbidden; a period that cannot be read is InvalidInput)."""
    check_reader(actor)
    return PageView(choose(period, since, until, now), actor.role in TALK_ROLES,
                    actor.role != "property")


def standings(tx: Tx, period: Period) -> tuple[list[rule.Standing], dict[str, rule.Standing]]:
    """The city's standings for `period` (rank order), and the previous period's by company."""
    before = rule.rank(company_figures(tx, period.previous()))
    now = rule.rank(company_figures(tx, period), rule.black_list(before))
    return now, {s.figures.company_id: s for s in before}


def rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def talk_reason(code: str) -> str:
    return {"black_twice": _("on the black list in this period and the one before"),
            "low_score": _("score below {n}").format(n=f"{rule.TALK_SCORE:g}")}[code]


def entry(s: rule.Standing, previous: rule.Standing | None) -> dict:
    """One company's line on the list, with the trend from the previous period."""
    f = s.figures
    prev = previous or rule.Standing(f)
    return {
        "company_id": f.company_id, "name": f.name, "compounds": f.compounds,
        "households": f.households, "complaints": f.complaints,
        "per_1000": rounded(f.per_1000, 2), "closed": f.closed,
        "closed_on_time": f.closed_on_time, "on_time_rate": rounded(f.on_time_rate, 4),
        "reworked": f.reworked, "rework_rate": rounded(f.rework_rate, 4), "rated": f.rated,
        "rating": rounded(f.rating, 2), "score": rounded(s.score, 2), "rank": s.rank,
        "standing": s.standing, "talk_proposed": s.talk,
        "talk_reasons": [talk_reason(r) for r in s.talk_reasons],
        "previous": {"rank": prev.rank, "score": rounded(prev.score, 2),
                     "standing": prev.standing},
        "rank_change": prev.rank - s.rank if s.rank and prev.rank else None,
        "score_change": (round(s.score - prev.score, 2)
                         if s.score is not None and prev.score is not None else None),
    }


def rule_words() -> list[str]:
    """The rule as the page and the bulletin state it."""
    w = rule.WEIGHTS
    share = f"{rule.LIST_SHARE:.0%}"
    return [
        _("Complaints are reports of property-service problems, parking-space planning and "
          "illegal parking in a company's compounds during the period, rejected and merged "
          "reports left out."),
        _("Score out of 100: complaints per 1,000 households {a} points (none: full marks; "
          "the highest rate among ranked companies: none), on-time closure rate {b}, one minus "
          "the rework rate {c}, citizens' mean rating {d} (1 star: none, 5 stars: full marks); "
          "a rate that cannot be had earns half its points.").format(
              a=f"{w['density']:g}", b=f"{w['on_time']:g}", c=f"{w['rework']:g}",
              d=f"{w['rating']:g}"),
        ngettext("A company is ranked with at least {n} complaint in the period.",
                 "A company is ranked with at least {n} complaints in the period.",
                 rule.MIN_COMPLAINTS).format(n=rule.MIN_COMPLAINTS),
        _("The best {share} of the ranked companies (rounded down) go on the red list, the "
          "worst {share} on the black list.").format(share=share),
        _("A talk is proposed with a company on the black list two periods running, or with a "
          "score below {n}.").format(n=f"{rule.TALK_SCORE:g}"),
    ]


def rule_figures() -> dict:
    return {"min_complaints": rule.MIN_COMPLAINTS, "list_share": rule.LIST_SHARE,
            "talk_score": rule.TALK_SCORE, "weights": dict(rule.WEIGHTS),
            "missing_share": rule.MISSING}


def read(tx: Tx, actor: Actor, period: Period) -> dict:
    """The list for `actor` in `period`, read in `tx`."""
    check_reader(actor)
    now, before = standings(tx, period)
    seen = set(company_ids(tx, actor))
    n_ranked = sum(1 for s in now if s.rank is not None)
    lines = [entry(s, before.get(s.figures.company_id)) for s in now
             if s.figures.company_id in seen]
    return {"period": period.label, "start": period.start, "end": period.end,
            "previous_period": period.previous().label, "ranked": n_ranked,
            "list_size": rule.list_size(n_ranked), "rule": rule_words(),
            "rule_figures": rule_figures(), "companies": lines,
            "talk_proposals": [line["company_id"] for line in lines if line["talk_proposed"]]}


def ranking(store, actor: Actor, period: Period) -> dict:
    """The red/black list for `actor` (see `read`), in one snapshot."""
    with store.snapshot() as tx:
        return read(tx, actor, period)
