"""The period a red/black list covers: an Asia/Shanghai calendar month (the bulletin's), or the
days from `since` to `until` (both included), and the period before it for the trend."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from geo.casework.errors import InvalidInput
from geo.i18n import TIMEZONE, _

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
MAX_DAYS = 366  # a longer period would be a year's report, not a bulletin


@dataclass(frozen=True)
class Period:
    """Shanghai days [first, last], and its label: '2026-10' for a month, else
    '2026-10-01..2026-10-15'."""

    first: date
    last: date
    monthly: bool

    @property
    def label(self) -> str:
        if self.monthly:
            return f"{self.first:%Y-%m}"
        return f"{self.first.isoformat()}..{self.last.isoformat()}"

    @property
    def start(self) -> datetime:
        """The UTC moment the period begins (its first Shanghai midnight)."""
        return _midnight(self.first)

    @property
    def end(self) -> datetime:
        """The UTC moment after the period (the Shanghai midnight after its last day)."""
        return _midnight(self.last + timedelta(days=1))

    def previous(self) -> Period:
        """The period just before: the previous month, or as many days ending the day before."""
        if self.monthly:
            return month_of(self.first - timedelta(days=1))
        days = (self.last - self.first).days + 1
        return Period(self.first - timedelta(days=days), self.first - timedelta(days=1), False)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=TIMEZONE).astimezone(UTC)


def month_of(day: date) -> Period:
    """The calendar month holding `day`."""
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period(first, following - timedelta(days=1), True)


def _month(text: str) -> Period:
    found = _MONTH.match(text)
    if not found or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < 1900:
        raise InvalidInput(_("period must be a month written as YYYY-MM, such as 2026-10, "
                             "not {value}").format(value=text), code="invalid_period")
    return month_of(date(int(found.group(1)), int(found.group(2)), 1))


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(_("{name} must be a date written as YYYY-MM-DD, such as 2026-10-01, "
                             "not {value}").format(name=name, value=text),
                           code="invalid_period") from None


def choose(period: str | None, since: str | None, until: str | None, now: datetime) -> Period:
    """The period a request names: `period` (a month), or `since` and `until` (days, both
    included), never both; by default the last whole month before `now` (Shanghai), which
    the monthly bulletin reports on."""
    if period is not None and (since is not None or until is not None):
        raise InvalidInput(_("give either a month (period) or dates (since and until), not both"),
                           code="invalid_period")
    if period is not None:
        return _month(period.strip())
    if since is None and until is None:
        return month_of(now.astimezone(TIMEZONE).date()).previous()
    if since is None or until is None:
        raise InvalidInput(_("dates need both since and until"), code="invalid_period")
    first, last = _day(since.strip(), "since"), _day(until.strip(), "until")
    if last < first:
        raise InvalidInput(_("until ({until}) is before since ({since})").format(
            until=last.isoformat(), since=first.isoformat()), code="invalid_period")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidInput(_("a period may cover at most {n} days").format(n=MAX_DAYS),
                           code="invalid_period")
    return Period(first, last, False)


def from_label(label: str | None, now: datetime) -> Period:
    """A period from its label (as `Period.label` writes it), or the default one."""
    if label is not None and ".." in label:
        since, until = label.split("..", 1)
        return choose(None, since, until, now)
    return choose(label, None, None, now)
