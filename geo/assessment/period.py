"""The assessment's month: a calendar month in Asia/Shanghai, as UTC bounds."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from geo.casework.errors import InvalidInput
from geo.i18n import TIMEZONE, _

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def month_of(moment: datetime) -> str:
    """'2026-11': the Shanghai month `moment` falls in."""
    local = moment.astimezone(TIMEZONE)
    return f"{local.year:04d}-{local.month:02d}"


def bounds(month: str) -> tuple[datetime, datetime]:
    """[start, end) of a month ('2026-11') in UTC, midnight to midnight in Shanghai."""
    m = _MONTH.match(month or "")
    if not m or not 1 <= int(m[2]) <= 12 or not 1900 <= int(m[1]) <= 2199:
        raise InvalidInput(_("month must be a year and month such as 2026-11, not {month}").format(
            month=(month or "")[:20]), code="invalid_month")
    year, number = int(m[1]), int(m[2])
    start = datetime(year, number, 1, tzinfo=TIMEZONE)
    after = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=TIMEZONE)
    return start.astimezone(UTC), after.astimezone(UTC)


def recent_months(now: datetime, n: int = 12) -> list[str]:
    """The Shanghai month of `now` and the `n - 1` before it, newest first."""
    local = now.astimezone(TIMEZONE)
    index = local.year * 12 + local.month - 1
    return [f"{k // 12:04d}-{k % 12 + 1:02d}" for k in range(index, index - n, -1)]
