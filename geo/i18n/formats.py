"""Dates and times as the reader writes them, in the command centre's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from babel import dates

TIMEZONE = ZoneInfo("Asia/Shanghai")
# The CLDR locale each language's dates are written in: English readers get day-month-year
# and a 24-hour clock, as everyone else in the command centre (never US month-first).
_DATE_LOCALE = {"zh_CN": "zh_CN", "en": "en_GB"}


def _locale() -> str:
    from geo.i18n.locale import current  # locale.py imports the catalogues, not this module
    return _DATE_LOCALE[current()]


def local(moment: datetime) -> datetime:
    """`moment` (naive means UTC, as stored) in the command centre's zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(TIMEZONE)


def format_date(day: date | datetime, fmt: str = "medium") -> str:
    """2026年12月2日 (zh_CN) or 2 Dec 2026 (en); a datetime is first taken to Asia/Shanghai.
    `short`: 2026/12/2 or 02/12/2026."""
    if isinstance(day, datetime):
        day = local(day).date()
    return dates.format_date(day, format=fmt, locale=_locale())


def format_time(moment: datetime) -> str:
    """08:05 in Asia/Shanghai."""
    return local(moment).strftime("%H:%M")


def format_datetime(moment: datetime | str | None, fmt: str = "medium") -> str:
    """2026年12月2日 08:05 (zh_CN) or 2 Dec 2026 08:05 (en), in Asia/Shanghai."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return f"{format_date(moment, fmt)} {format_time(moment)}"
