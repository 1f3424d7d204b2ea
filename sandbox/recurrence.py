"""Expand Graph's patternedRecurrence into occurrence dates, and the time zones the sandbox knows."""

from __future__ import annotations

import calendar
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_INDEX = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
MAX_OCCURRENCES = 999
"""Outlook's cap on a series expanded into one window (keeps a noEnd daily series finite)."""

# Windows time zone names Graph accepts, mapped to IANA (the common ones; IANA names work as they are).
_WINDOWS_ZONES = {
    "utc": "UTC",
    "coordinated universal time": "UTC",
    "pacific standard time": "America/Los_Angeles",
    "mountain standard time": "America/Denver",
    "central standard time": "America/Chicago",
    "eastern standard time": "America/New_York",
    "gmt standard time": "Europe/London",
    "w. europe standard time": "Europe/Berlin",
    "romance standard time": "Europe/Paris",
    "central europe standard time": "Europe/Budapest",
    "india standard time": "Asia/Kolkata",
    "singapore standard time": "Asia/Singapore",
    "tokyo standard time": "Asia/Tokyo",
    "aus eastern standard time": "Australia/Sydney",
}


def zone(name: str) -> tzinfo | None:
    """The tzinfo of a Windows or IANA zone name; None when unknown."""
    iana = _WINDOWS_ZONES.get(name.strip().lower(), name.strip())
    if iana == "UTC":
        return UTC
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _months_between(first: date, day: date) -> int:
    return (day.year - first.year) * 12 + day.month - first.month


def _nth_weekday_matches(day: date, index: str) -> bool:
    wanted = _INDEX.get(index, 1)
    if wanted == -1:
        return day.day + 7 > calendar.monthrange(day.year, day.month)[1]
    return (day.day - 1) // 7 + 1 == wanted


def _matches(pattern: Mapping[str, Any], first: date, day: date) -> bool:
    kind = pattern.get("type")
    interval = max(1, int(pattern.get("interval") or 1))
    days = {str(d).lower() for d in pattern.get("daysOfWeek") or ()}
    weekday = DAYS[day.weekday()]
    if kind == "daily":
        return (day - first).days % interval == 0
    if kind == "weekly":
        start_of_week = DAYS.index(str(pattern.get("firstDayOfWeek") or "sunday").lower())
        week_origin = first - timedelta(days=(first.weekday() - start_of_week) % 7)
        return weekday in days and ((day - week_origin).days // 7) % interval == 0
    if kind == "absoluteMonthly":
        return day.day == pattern.get("dayOfMonth") and _months_between(first, day) % interval == 0
    if kind == "relativeMonthly":
        return (
            weekday in days
            and _nth_weekday_matches(day, str(pattern.get("index") or "first"))
            and _months_between(first, day) % interval == 0
        )
    if kind == "absoluteYearly":
        return (
            day.month == pattern.get("month")
            and day.day == pattern.get("dayOfMonth")
            and (day.year - first.year) % interval == 0
        )
    if kind == "relativeYearly":
        return (
            day.month == pattern.get("month")
            and weekday in days
            and _nth_weekday_matches(day, str(pattern.get("index") or "first"))
            and (day.year - first.year) % interval == 0
        )
    return False


def occurrence_dates(recurrence: Mapping[str, Any], until: date) -> Iterator[date]:
    """Dates of the series, in order, from its range's start up to ``until`` (inclusive) or its end."""
    pattern, rng = recurrence.get("pattern") or {}, recurrence.get("range") or {}
    first = date.fromisoformat(str(rng["startDate"]))
    last = until
    if rng.get("type") == "endDate" and rng.get("endDate"):
        last = min(last, date.fromisoformat(str(rng["endDate"])))
    remaining = int(rng.get("numberOfOccurrences") or 0) if rng.get("type") == "numbered" else None
    day, produced = first, 0
    while day <= last and produced < MAX_OCCURRENCES * 10:
        if _matches(pattern, first, day):
            yield day
            produced += 1
            if remaining is not None and produced >= remaining:
                return
        day += timedelta(days=1)


def occurrences(
    recurrence: Mapping[str, Any],
    local_start: datetime,
    duration: timedelta,
    window_start: datetime,
    window_end: datetime,
) -> list[tuple[datetime, datetime]]:
    """(start, end) in UTC of the occurrences overlapping the window. ``local_start`` is the series'
    first start as an aware datetime in its own zone: each occurrence keeps that wall-clock time."""
    found: list[tuple[datetime, datetime]] = []
    until = (window_end.astimezone(local_start.tzinfo) + timedelta(days=1)).date()
    for day in occurrence_dates(recurrence, until):
        start = datetime.combine(day, local_start.timetz()).astimezone(UTC)
        end = start + duration
        if end > window_start and start < window_end:
            found.append((start, end))
            if len(found) >= MAX_OCCURRENCES:
                break
    return found
