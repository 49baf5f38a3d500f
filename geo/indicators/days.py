"""Days as the command centre counts them: midnight to midnight in Asia/Shanghai."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from geo.i18n import TIMEZONE

WINDOWS = {"today": 1, "d7": 7, "d30": 30}  # indicator windows: days, today included
TREND_DAYS = 30


def day_start(now: datetime, days_back: int = 0) -> datetime:
    """The (UTC) moment the Shanghai day `days_back` days before `now`'s began."""
    local = now.astimezone(TIMEZONE)
    midnight = datetime(local.year, local.month, local.day, tzinfo=TIMEZONE)
    # Built from a date, not by subtracting 24 h, so that a zone with a shifted day stays right.
    day = (midnight - timedelta(days=days_back)).date()
    return datetime(day.year, day.month, day.day, tzinfo=TIMEZONE).astimezone(UTC)


def window_start(now: datetime, days: int) -> datetime:
    """Where a window of `days` days ending today (today included) starts."""
    return day_start(now, days - 1)


def day_bounds(now: datetime, days: int) -> list[tuple[datetime, datetime]]:
    """The last `days` Shanghai days up to today, oldest first: (start, end) in UTC; today's
    end is tomorrow's midnight."""
    starts = [day_start(now, back) for back in range(days - 1, -1, -1)]
    ends = [*starts[1:], day_start(now + timedelta(days=1))]
    return list(zip(starts, ends, strict=True))
