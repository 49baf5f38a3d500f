"""A dispute's life as a small state machine (pure), beside the issues' six steps.

registered → mediating (the first session) → resolved (an agreement, 调解协议), referred (to a
court or another body) or withdrawn. Sessions go on while it is open; a follow-up visit (回访)
comes after the agreement; a risk flag (民转刑) may be raised once while it is open and lifts it
from the community to the street.
"""

from __future__ import annotations

from dataclasses import dataclass

from geo.i18n import N_, _, label
from geo.workflow import labels

STATES = ("registered", "mediating", "resolved", "referred", "withdrawn")
OPEN = ("registered", "mediating")
FINISHED = ("resolved", "referred", "withdrawn")
TYPES = ("neighbours", "family", "property", "labour", "land", "debt", "other")
REFERRED_TO = ("court", "police", "judicial_office", "arbitration", "other_body")
SESSION_RESULTS = ("progress", "agreement", "no_agreement")
PARTY_ROLES = ("applicant", "respondent", "other")
LEVELS = ("community", "street")  # who owns it: the community's squad, or the street

STATE_LABELS = {"registered": N_("registered"), "mediating": N_("being mediated"),
                "resolved": N_("resolved by agreement"), "referred": N_("referred"),
                "withdrawn": N_("withdrawn")}
ACTION_LABELS = {"register": N_("register"), "session": N_("record a mediation session"),
                 "resolve": N_("record an agreement"), "refer": N_("refer"),
                 "withdraw": N_("record a withdrawal"), "follow_up": N_("record a follow-up visit"),
                 "flag_risk": N_("flag a risk of turning criminal")}
TYPE_LABELS = {"neighbours": N_("between neighbours"), "family": N_("family"),
               "property": N_("property management"), "labour": N_("labour"),
               "land": N_("land"), "debt": N_("debt"), "other": N_("other")}
REFERRED_LABELS = {"court": N_("a court"), "police": N_("the police"),
                   "judicial_office": N_("the judicial office"),
                   "arbitration": N_("arbitration"), "other_body": N_("another body")}


@dataclass(frozen=True)
class Action:
    """A transition: the states it may start from and the state it leaves the dispute in
    (None: the state it started from)."""

    name: str
    sources: tuple[str, ...]
    target: str | None


ACTIONS: dict[str, Action] = {a.name: a for a in (
    Action("session", OPEN, "mediating"),
    Action("resolve", ("mediating",), "resolved"),
    Action("refer", OPEN, "referred"),
    Action("withdraw", OPEN, "withdrawn"),
    Action("follow_up", ("resolved",), None),
    Action("flag_risk", OPEN, None),
)}
OUTCOMES = ("resolve", "refer", "withdraw")  # the actions that finish a dispute


def state_label(state: str) -> str:
    return label(STATE_LABELS, state)


def action_label(action: str) -> str:
    return label(ACTION_LABELS, action)


def type_label(kind: str) -> str:
    return label(TYPE_LABELS, kind)


def referred_label(body: str) -> str:
    return label(REFERRED_LABELS, body)


def allowed_actions(state: str) -> list[str]:
    """The actions a dispute in `state` allows."""
    return [a.name for a in ACTIONS.values() if state in a.sources]


class TransitionError(Exception):
    """An action the dispute's state does not allow, in words, with what it allows now."""

    def __init__(self, action: str, state: str):
        self.action, self.state = action, state
        self.allowed = allowed_actions(state)
        message = (_("cannot {action} on a dispute that is {state}; allowed now: {actions}")
                   if self.allowed else
                   _("cannot {action} on a dispute that is {state}; nothing more can be done "
                     "with it"))
        super().__init__(message.format(action=action_label(action), state=state_label(state),
                                        actions=labels(self.allowed, action_label)))


def target_state(action: str, state: str) -> str:
    """The state `action` leaves a dispute in from `state`, or TransitionError."""
    a = ACTIONS[action]
    if state not in a.sources:
        raise TransitionError(action, state)
    return a.target or state
