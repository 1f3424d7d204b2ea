"""Event values in Graph's form: enums spelled as Graph answers them whatever casing was sent
(``Required`` -> ``required``, ``Monday`` -> ``monday``), and the defaults Graph fills in (a
recurrence's ``firstDayOfWeek``, ``index``, ``month``, ``dayOfMonth``, ``recurrenceTimeZone``,
``numberOfOccurrences``; a location's ``uniqueId`` and ``uniqueIdType``)."""

from __future__ import annotations

from typing import Any

from sandbox.errors import bad_request

_ENUMS: dict[str, tuple[str, ...]] = {
    "showAs": ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown"),
    "importance": ("low", "normal", "high"),
    "sensitivity": ("normal", "personal", "private", "confidential"),
    "onlineMeetingProvider": ("unknown", "teamsForBusiness", "skypeForBusiness", "skypeForConsumer"),
}
_TYPE_NAMES = {
    "showAs": "freeBusyStatus",
    "importance": "importance",
    "sensitivity": "sensitivity",
    "onlineMeetingProvider": "onlineMeetingProviderType",
}
_ATTENDEE_TYPES = ("required", "optional", "resource")
_DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_PATTERNS = ("daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly", "relativeYearly")
_RANGES = ("endDate", "noEnd", "numbered")
_INDEXES = ("first", "second", "third", "fourth", "last")
_LOCATION_TYPES = (
    "default", "conferenceRoom", "homeAddress", "businessAddress", "geoCoordinates", "streetAddress",
    "hotel", "restaurant", "localBusiness", "postalAddress",
)  # fmt: skip
_UNIQUE_ID_TYPES = ("unknown", "locationStore", "directory", "private", "bing")


def enum(value: Any, allowed: tuple[str, ...], type_name: str) -> str:
    """``value`` in Graph's spelling of one of ``allowed`` (case-insensitive), else 400 as Graph."""
    if isinstance(value, str):
        for option in allowed:
            if value.lower() == option.lower():
                return option
    raise bad_request(
        f"Cannot convert the literal '{value}' to the expected type 'microsoft.graph.{type_name}'.",
        "RequestBodyRead",
    )


def location(value: Any) -> dict[str, Any]:
    """A location as Graph stores it: a plain display name is a private location named by itself."""
    if not isinstance(value, dict):
        raise bad_request("Invalid value for property 'location'.", "RequestBodyRead")
    out = {k: v for k, v in value.items() if not k.startswith("@odata.")}
    name = str(out.get("displayName") or "")
    out["displayName"] = name
    out["locationType"] = enum(out.get("locationType") or "default", _LOCATION_TYPES, "locationType")
    given_type = out.get("uniqueIdType")
    if given_type:
        out["uniqueIdType"] = enum(given_type, _UNIQUE_ID_TYPES, "locationUniqueIdType")
    else:
        out["uniqueIdType"] = "private" if name else "unknown"
    if name and not out.get("uniqueId"):
        out["uniqueId"] = name
    out.setdefault("address", {})
    out.setdefault("coordinates", {})
    return out


def recurrence(value: Any, start_zone: str) -> dict[str, Any] | None:
    """A patternedRecurrence with Graph's enum spellings and defaults."""
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("pattern"), dict):
        raise bad_request("Invalid value for property 'recurrence'.", "RequestBodyRead")
    raw_pattern, raw_range = value["pattern"], value.get("range") or {}
    if not isinstance(raw_range, dict):
        raise bad_request("Invalid value for property 'recurrence'.", "RequestBodyRead")
    pattern = {
        "type": enum(raw_pattern.get("type"), _PATTERNS, "recurrencePatternType"),
        "interval": int(raw_pattern.get("interval") or 1),
        "month": int(raw_pattern.get("month") or 0),
        "dayOfMonth": int(raw_pattern.get("dayOfMonth") or 0),
        "firstDayOfWeek": enum(raw_pattern.get("firstDayOfWeek") or "sunday", _DAYS, "dayOfWeek"),
        "index": enum(raw_pattern.get("index") or "first", _INDEXES, "weekIndex"),
    }
    days = raw_pattern.get("daysOfWeek")
    if days is not None:
        if not isinstance(days, list):
            raise bad_request("Invalid value for property 'daysOfWeek'.", "RequestBodyRead")
        pattern["daysOfWeek"] = [enum(d, _DAYS, "dayOfWeek") for d in days]
    range_ = {
        "type": enum(raw_range.get("type") or "noEnd", _RANGES, "recurrenceRangeType"),
        "startDate": raw_range.get("startDate"),
        "endDate": raw_range.get("endDate") or "0001-01-01",
        "recurrenceTimeZone": raw_range.get("recurrenceTimeZone") or start_zone,
        "numberOfOccurrences": int(raw_range.get("numberOfOccurrences") or 0),
    }
    return {"pattern": pattern, "range": range_}


def attendees(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(a, dict) for a in value):
        raise bad_request("Invalid value for property 'attendees'.", "RequestBodyRead")
    return [
        {
            **{k: v for k, v in a.items() if not k.startswith("@odata.") and k != "status"},
            "type": enum(a.get("type") or "required", _ATTENDEE_TYPES, "attendeeType"),
        }
        for a in value
    ]


def normalise(body: dict[str, Any], start_zone: str | None) -> dict[str, Any]:
    """An event create/update body with its enums and structures in Graph's form (a copy)."""
    out = dict(body)
    for name, allowed in _ENUMS.items():
        if out.get(name) is not None:
            out[name] = enum(out[name], allowed, _TYPE_NAMES[name])
    if out.get("location") is not None:
        out["location"] = location(out["location"])
    if out.get("locations") is not None:
        if not isinstance(out["locations"], list):
            raise bad_request("Invalid value for property 'locations'.", "RequestBodyRead")
        out["locations"] = [location(v) for v in out["locations"]]
    if out.get("attendees") is not None:
        out["attendees"] = attendees(out["attendees"])
    if "recurrence" in out:
        zone = start_zone or str((out.get("start") or {}).get("timeZone") or "UTC")
        out["recurrence"] = recurrence(out["recurrence"], zone)
    return out
