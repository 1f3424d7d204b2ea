"""Mailbox settings (automatic replies...), supported languages and time zones.

Also the per-mailbox store the categories and contacts modules share: data that the seeded
``Mailbox`` does not hold lives here, keyed by the mailbox object, so a sandbox reset (which builds
new mailboxes) starts again from the seeded values.
"""

from __future__ import annotations

import copy
import re
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response

from sandbox import seed
from sandbox.auth import Principal, resolve_user
from sandbox.errors import GraphError, access_denied, bad_request, invalid_request_body
from sandbox.graph import (
    add_mailbox_routes,
    collection,
    context_url,
    entity,
    json_body,
    principal,
    user_segment,
)
from sandbox.mailbox import Mailbox
from sandbox.state import SandboxState, current_state

T = TypeVar("T")
_EXTRA: weakref.WeakKeyDictionary[Mailbox, dict[str, Any]] = weakref.WeakKeyDictionary()


def mailbox_data(box: Mailbox, name: str, build: Callable[[Mailbox], T]) -> T:
    """The mailbox's ``name`` data, built by ``build`` (deterministic seed) on first use."""
    extra = _EXTRA.setdefault(box, {})
    if name not in extra:
        extra[name] = build(box)
    value: T = extra[name]
    return value


def open_with(
    user_ref: str | None, delegated: set[str], application: set[str]
) -> tuple[SandboxState, dict[str, Any], Mailbox]:
    """(state, owner, mailbox) once the token holds one of the permissions (own mailbox or app-only)."""
    state = current_state()
    who: Principal = principal()
    owner = resolve_user(state, who, user_ref, mailbox=True)
    if who.app_only:
        allowed = who.has_any(application)
    else:
        allowed = owner["id"] == who.user_id and who.has_any(delegated)
    if not allowed:
        raise access_denied()
    return state, owner, state.mailbox(owner["id"])


def object_body() -> dict[str, Any]:
    payload = json_body()
    if not isinstance(payload, dict):
        raise bad_request("Empty Payload. JSON content expected.")
    return {k: v for k, v in payload.items() if not k.startswith("@odata.")}


# -- mailbox settings ----------------------------------------------------------------------------------
_READ = {"MailboxSettings.Read", "MailboxSettings.ReadWrite"}
_WRITE = {"MailboxSettings.ReadWrite"}
_STATUSES = {"disabled": "disabled", "alwaysenabled": "alwaysEnabled", "scheduled": "scheduled"}
_AUDIENCES = {"none": "none", "contactsonly": "contactsOnly", "all": "all"}
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?$")


def _time_stamp(text: str) -> str:
    """``2026-11-20T17:00`` -> ``2026-11-20T17:00:00.0000000`` (Graph's 7-digit fractions)."""
    main, _, fraction = text.partition(".")
    if main.count(":") == 1:
        main += ":00"
    return f"{main}.{(fraction + '0000000')[:7]}"


def _seed_settings(box: Mailbox) -> dict[str, Any]:
    first = str(box.user.get("givenName") or box.user["displayName"]).split()[0]
    return {
        "archiveFolder": box.well_known.get("archive"),
        "timeZone": "Pacific Standard Time",
        "automaticRepliesSetting": {
            "status": "disabled",
            "externalAudience": "all",
            "scheduledStartDateTime": {"dateTime": "2026-12-21T08:00:00.0000000", "timeZone": "UTC"},
            "scheduledEndDateTime": {"dateTime": "2027-01-04T08:00:00.0000000", "timeZone": "UTC"},
            "internalReplyMessage": f"<p>{first} is away and will answer after returning.</p>",
            "externalReplyMessage": f"<p>Thanks for writing. {first} will answer after returning.</p>",
        },
        "language": {"locale": "en-US", "displayName": "English (United States)"},
        "dateFormat": "M/d/yyyy",
        "timeFormat": "h:mm tt",
        "delegateMeetingMessageDeliveryOptions": "sendToDelegateOnly",
        "userPurpose": "shared" if box.user_id == seed.SHARED_MAILBOX_USER["id"] else "user",
        "workingHours": {
            "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "startTime": "08:30:00.0000000",
            "endTime": "17:00:00.0000000",
            "timeZone": {"name": "Pacific Standard Time"},
        },
    }


def settings_of(box: Mailbox) -> dict[str, Any]:
    return mailbox_data(box, "mailboxSettings", _seed_settings)


def get_settings(user_ref: str | None) -> Response:
    state, owner, box = open_with(user_ref, _READ, _READ)
    with state.lock:
        body = copy.deepcopy(settings_of(box))
    return entity(context_url(f"{user_segment(user_ref, owner)}/mailboxSettings"), body)


def get_setting(user_ref: str | None, name: str) -> Response:
    state, owner, box = open_with(user_ref, _READ, _READ)
    with state.lock:
        settings = settings_of(box)
        if name not in settings:
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{name}'.")
        value = copy.deepcopy(settings[name])
    fragment = f"{user_segment(user_ref, owner)}/mailboxSettings/{name}"
    if isinstance(value, dict):
        return entity(context_url(fragment), value)
    return entity(context_url(fragment), {"value": value})


def _date_time_tz(value: Any, name: str) -> dict[str, str]:
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("dateTime"), str)
        or not _DATE_TIME.match(value["dateTime"])
        or not isinstance(value.get("timeZone"), str)
    ):
        raise bad_request(f"Cannot convert the literal value of '{name}' to 'dateTimeTimeZone'.")
    return {"dateTime": _time_stamp(value["dateTime"]), "timeZone": value["timeZone"]}


def _auto_replies(current: dict[str, Any], patch: Any) -> dict[str, Any]:
    if not isinstance(patch, dict):
        raise bad_request("Cannot convert the value of 'automaticRepliesSetting'.")
    merged = dict(current)
    for name, value in patch.items():
        if name == "status":
            if not isinstance(value, str) or value.lower() not in _STATUSES:
                raise bad_request(f"Requested value '{value}' was not found.", "RequestBodyRead")
            merged[name] = _STATUSES[value.lower()]
        elif name == "externalAudience":
            if not isinstance(value, str) or value.lower() not in _AUDIENCES:
                raise bad_request(f"Requested value '{value}' was not found.", "RequestBodyRead")
            merged[name] = _AUDIENCES[value.lower()]
        elif name in ("scheduledStartDateTime", "scheduledEndDateTime"):
            merged[name] = _date_time_tz(value, name)
        elif name in ("internalReplyMessage", "externalReplyMessage"):
            if not isinstance(value, str):
                raise bad_request(f"Cannot convert the value of '{name}' to 'Edm.String'.")
            merged[name] = value
        else:
            raise invalid_request_body(name, "automaticRepliesSetting")
    if merged["status"] == "scheduled":
        start, end = merged["scheduledStartDateTime"], merged["scheduledEndDateTime"]
        if start["timeZone"] == end["timeZone"] and start["dateTime"] >= end["dateTime"]:
            raise GraphError(
                400, "ErrorInvalidParameter", "The scheduled end time must be after the start time."
            )
    return merged


def update_settings(user_ref: str | None) -> Response:
    state, owner, box = open_with(user_ref, _WRITE, _WRITE)
    patch = object_body()
    with state.lock:
        settings = settings_of(box)
        changed: dict[str, Any] = {}
        for name, value in patch.items():
            if name == "automaticRepliesSetting":
                changed[name] = _auto_replies(settings[name], value)
            elif name in ("timeZone", "dateFormat", "timeFormat", "delegateMeetingMessageDeliveryOptions"):
                if not isinstance(value, str):
                    raise bad_request(f"Cannot convert the value of '{name}' to 'Edm.String'.")
                changed[name] = value
            elif name in ("workingHours", "language"):
                if not isinstance(value, dict):
                    raise bad_request(f"Cannot convert the value of '{name}'.")
                changed[name] = {**settings[name], **value}
            elif name in settings:
                raise GraphError(400, "ErrorInvalidRequest", f"The property '{name}' is read-only.")
            else:
                raise invalid_request_body(name, "mailboxSettings")
        settings.update(changed)
        body = copy.deepcopy(changed)
    return entity(context_url(f"{user_segment(user_ref, owner)}/mailboxSettings"), body)


# -- supported languages and time zones (the sandbox's own short lists) ----------------------------------
LANGUAGES: tuple[tuple[str, str], ...] = (
    ("da-DK", "Dansk (Danmark)"),
    ("de-DE", "Deutsch (Deutschland)"),
    ("en-AU", "English (Australia)"),
    ("en-GB", "English (United Kingdom)"),
    ("en-US", "English (United States)"),
    ("es-ES", "Español (España)"),
    ("fr-CA", "Français (Canada)"),
    ("fr-FR", "Français (France)"),
    ("it-IT", "Italiano (Italia)"),
    ("ja-JP", "日本語 (日本)"),
    ("nl-NL", "Nederlands (Nederland)"),
    ("pl-PL", "Polski (Polska)"),
    ("pt-BR", "Português (Brasil)"),
    ("sv-SE", "Svenska (Sverige)"),
)
TIME_ZONES: tuple[tuple[str, str, str], ...] = (
    # (Windows id, display name, IANA id)
    ("Hawaiian Standard Time", "(UTC-10:00) Hawaii", "Pacific/Honolulu"),
    ("Alaskan Standard Time", "(UTC-09:00) Alaska", "America/Anchorage"),
    ("Pacific Standard Time", "(UTC-08:00) Pacific Time (US & Canada)", "America/Los_Angeles"),
    ("Mountain Standard Time", "(UTC-07:00) Mountain Time (US & Canada)", "America/Denver"),
    ("Central Standard Time", "(UTC-06:00) Central Time (US & Canada)", "America/Chicago"),
    ("Eastern Standard Time", "(UTC-05:00) Eastern Time (US & Canada)", "America/New_York"),
    ("E. South America Standard Time", "(UTC-03:00) Brasilia", "America/Sao_Paulo"),
    ("UTC", "(UTC) Coordinated Universal Time", "Etc/UTC"),
    ("GMT Standard Time", "(UTC+00:00) Dublin, Edinburgh, Lisbon, London", "Europe/London"),
    (
        "W. Europe Standard Time",
        "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna",
        "Europe/Berlin",
    ),
    ("Romance Standard Time", "(UTC+01:00) Brussels, Copenhagen, Madrid, Paris", "Europe/Paris"),
    ("India Standard Time", "(UTC+05:30) Chennai, Kolkata, Mumbai, New Delhi", "Asia/Kolkata"),
    ("Tokyo Standard Time", "(UTC+09:00) Osaka, Sapporo, Tokyo", "Asia/Tokyo"),
    ("AUS Eastern Standard Time", "(UTC+10:00) Canberra, Melbourne, Sydney", "Australia/Sydney"),
)
_STANDARD = re.compile(r"^TimeZoneStandard=(?:microsoft\.graph\.timeZoneStandard)?'(\w+)'$")


_USER_READ = {"User.Read", "User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All"}
_USER_READ_ALL = {"User.Read.All", "User.ReadWrite.All"}


def supported_languages(user_ref: str | None) -> Response:
    open_with(user_ref, _USER_READ, _USER_READ_ALL)
    values = [{"locale": locale, "displayName": name} for locale, name in LANGUAGES]
    return collection(context_url("Collection(microsoft.graph.localeInfo)"), values)


def _time_zones(standard: str) -> Response:
    if standard.lower() not in ("windows", "iana"):
        raise bad_request(f"The value '{standard}' is not a valid timeZoneStandard.")
    iana = standard.lower() == "iana"
    values = [
        {"alias": iana_id, "displayName": iana_id} if iana else {"alias": windows, "displayName": name}
        for windows, name, iana_id in TIME_ZONES
    ]
    return collection(context_url("Collection(microsoft.graph.timeZoneInformation)"), values)


def supported_time_zones(user_ref: str | None) -> Response:
    open_with(user_ref, _USER_READ, _USER_READ_ALL)
    return _time_zones("Windows")


def supported_time_zones_in(user_ref: str | None, arguments: str) -> Response:
    open_with(user_ref, _USER_READ, _USER_READ_ALL)
    match = _STANDARD.match(arguments)
    if match is None:
        raise bad_request(f"The parameters '{arguments}' of supportedTimeZones are not valid.")
    return _time_zones(match.group(1))


def _setting_view(name: str) -> Callable[[str | None], Response]:
    def view(user_ref: str | None) -> Response:
        return get_setting(user_ref, name)

    view.__name__ = f"get_setting_{name}"
    return view


_SETTINGS = (
    "archiveFolder",
    "automaticRepliesSetting",
    "dateFormat",
    "delegateMeetingMessageDeliveryOptions",
    "language",
    "timeFormat",
    "timeZone",
    "userPurpose",
    "workingHours",
)
_STANDARDS = ("Windows", "Iana")


def _time_zones_view(standard: str) -> Callable[[str | None], Response]:
    def view(user_ref: str | None) -> Response:
        open_with(user_ref, _USER_READ, _USER_READ_ALL)
        return _time_zones(standard)

    view.__name__ = f"supported_time_zones_{standard.lower()}"
    return view


_TIME_ZONE_VIEWS = {standard: _time_zones_view(standard) for standard in _STANDARDS}
"""One view per standard, shared by the plain and namespace-qualified spellings (same endpoint name)."""

_ROUTES: tuple[tuple[str, str, Callable[..., Response]], ...] = (
    *((f"/mailboxSettings/{name}", "GET", _setting_view(name)) for name in _SETTINGS),
    *(
        (
            f"{prefix}supportedTimeZones(TimeZoneStandard=microsoft.graph.timeZoneStandard'{standard}')",
            "GET",
            _TIME_ZONE_VIEWS[standard],
        )
        for prefix in ("/outlook/", "/outlook/microsoft.graph.")
        for standard in _STANDARDS
    ),
    ("/mailboxSettings", "GET", get_settings),
    ("/mailboxSettings", "PATCH", update_settings),
    ("/outlook/supportedLanguages", "GET", supported_languages),
    ("/outlook/supportedLanguages()", "GET", supported_languages),
    ("/outlook/supportedTimeZones", "GET", supported_time_zones),
    ("/outlook/supportedTimeZones()", "GET", supported_time_zones),
    ("/outlook/supportedTimeZones(<arguments>)", "GET", supported_time_zones_in),
    ("/outlook/microsoft.graph.supportedLanguages()", "GET", supported_languages),
    ("/outlook/microsoft.graph.supportedTimeZones()", "GET", supported_time_zones),
    ("/outlook/microsoft.graph.supportedTimeZones(<arguments>)", "GET", supported_time_zones_in),
)


def register(bp: Blueprint) -> None:
    add_mailbox_routes(bp, _ROUTES)
