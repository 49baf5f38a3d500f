"""The parts of a city below and beside the grid, as `Store.load_city` writes them: those the
issues refer to before the issues, those that refer to issues after them. Each part reads
its own attributes of the city and writes nothing when the city has none."""

from __future__ import annotations

from geo.compounds import loading as compounds
from geo.escalation import loading as escalation
from geo.mediation import loading as mediation
from geo.responsibility import loading as responsibility
from geo.whistle import loading as whistle

BEFORE_ISSUES = (compounds.load, whistle.load_departments, responsibility.load)
AFTER_ISSUES = (mediation.load, whistle.load_whistles, escalation.load)
