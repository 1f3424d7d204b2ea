"""Outlook items as Internet documents, as Graph's ``$value`` serves them: a message as MIME (RFC 5322),
an event as iCalendar (RFC 5545), a contact as vCard 3.0 (RFC 2426), and an attachment's raw bytes.

Works on the sandbox's stored shapes (Graph JSON); item attachments keep their item under ``item``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP, default
from email.utils import format_datetime, formataddr
from typing import Any

from sandbox import content
from sandbox.recurrence import zone

ITEM_TYPES: dict[str, str] = {
    "#microsoft.graph.message": "message",
    "#microsoft.graph.event": "event",
    "#microsoft.graph.contact": "contact",
}
"""An attached item's @odata.type -> its kind."""
_MEDIA_TYPES = {"message": "text/plain", "event": "text/calendar", "contact": "text/vcard"}


def _stamp(value: Any) -> datetime:
    text = str(value or "1970-01-01T00:00:00Z").replace("Z", "+00:00")
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- messages ------------------------------------------------------------------------------------------
def _address(recipient: Mapping[str, Any]) -> str:
    email = recipient.get("emailAddress") or {}
    return formataddr((str(email.get("name") or ""), str(email.get("address") or "")))


def to_mime(message: Mapping[str, Any], attachments: Iterable[Mapping[str, Any]]) -> bytes:
    """The message as an RFC 822 document (``GET /messages/{id}/$value``), attachments included
    (an attached message as a ``message/rfc822`` part, an event as ``text/calendar``, a contact as
    ``text/vcard``; a link has no bytes and is left out)."""
    mime = EmailMessage()
    sender = message.get("from")
    if sender:
        mime["From"] = _address(sender)
    for header, field in (("To", "toRecipients"), ("Cc", "ccRecipients")):
        if message.get(field):
            mime[header] = ", ".join(_address(r) for r in message[field])
    mime["Subject"] = str(message.get("subject") or "")
    mime["Date"] = format_datetime(_stamp(message.get("sentDateTime") or message.get("createdDateTime")))
    if message.get("internetMessageId"):
        mime["Message-ID"] = str(message["internetMessageId"])
    for header in message.get("internetMessageHeaders") or []:
        mime[header["name"]] = header["value"]
    body = message.get("body") or {"contentType": "text", "content": ""}
    mime.set_content(content.body_text(body))
    if body.get("contentType") == "html":
        mime.add_alternative(body.get("content") or "", subtype="html")
    for attachment in attachments:
        _add_part(mime, attachment)
    return mime.as_bytes(policy=SMTP)


def _add_part(mime: EmailMessage, attachment: Mapping[str, Any]) -> None:
    item = attachment.get("item")
    if isinstance(item, Mapping):
        kind = ITEM_TYPES.get(str(item.get("@odata.type")))
        if kind == "message":
            inner = BytesParser(policy=default).parsebytes(attachment_bytes(attachment))
            mime.add_attachment(inner, filename=f"{attachment.get('name') or 'message'}.eml")
            return
        suffix = "ics" if kind == "event" else "vcf"
        maintype, _, subtype = _MEDIA_TYPES[kind or "contact"].partition("/")
        mime.add_attachment(
            attachment_bytes(attachment),
            maintype=maintype,
            subtype=subtype,
            filename=f"{attachment.get('name') or kind}.{suffix}",
        )
        return
    if "contentBytes" not in attachment:
        return  # a link (referenceAttachment): nothing to carry
    maintype, _, subtype = str(attachment.get("contentType") or "application/octet-stream").partition("/")
    mime.add_attachment(
        base64.b64decode(attachment["contentBytes"]),
        maintype=maintype,
        subtype=subtype or "octet-stream",
        filename=str(attachment.get("name") or "attachment"),
    )


# -- iCalendar and vCard -------------------------------------------------------------------------------
def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """RFC 5545/2426 line folding: lines of at most 75 octets, continued with CRLF + space."""
    raw = line.encode("utf-8")
    if len(raw) <= 75:
        return line
    parts: list[str] = []
    current = ""
    for char in line:
        limit = 75 if not parts else 74
        if len((current + char).encode("utf-8")) > limit:
            parts.append(current)
            current = char
        else:
            current += char
    parts.append(current)
    return "\r\n ".join(parts)


def _document(lines: Iterable[str]) -> bytes:
    return "".join(_fold(line) + "\r\n" for line in lines).encode("utf-8")


def _ical_time(value: Mapping[str, Any] | None) -> str:
    """``dateTimeTimeZone`` -> an iCalendar UTC date-time (floating when the zone is unknown)."""
    value = value or {}
    local = datetime.fromisoformat(str(value.get("dateTime") or "1970-01-01T00:00:00")[:19])
    where = zone(str(value.get("timeZone") or "UTC"))
    if where is None:
        return local.strftime("%Y%m%dT%H%M%S")
    return local.replace(tzinfo=where).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _person(value: Mapping[str, Any] | None) -> tuple[str, str]:
    email = (value or {}).get("emailAddress") or {}
    return str(email.get("name") or ""), str(email.get("address") or "")


def to_icalendar(event: Mapping[str, Any]) -> bytes:
    """An event as an iCalendar document (METHOD:PUBLISH, one VEVENT), as an attached event's $value."""
    lines = [
        "BEGIN:VCALENDAR",
        "METHOD:PUBLISH",
        "PRODID:Outlook Connector Sandbox",
        "VERSION:2.0",
        "BEGIN:VEVENT",
    ]
    name, address = _person(event.get("organizer"))
    if address:
        lines.append(f"ORGANIZER;CN={_escape(name)}:MAILTO:{address}")
    for attendee in event.get("attendees") or []:
        who, where = _person(attendee)
        role = "OPT-PARTICIPANT" if attendee.get("type") == "optional" else "REQ-PARTICIPANT"
        lines.append(f"ATTENDEE;ROLE={role};PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN={_escape(who)}:MAILTO:{where}")
    body = event.get("body") or {}
    lines.append(f"DESCRIPTION:{_escape(content.body_text(body).strip()) if body else ''}")
    seed = f"{event.get('subject')}|{(event.get('start') or {}).get('dateTime')}".encode()
    uid = str(event.get("iCalUId") or event.get("id") or "") or hashlib.sha1(seed).hexdigest().upper()
    lines.append(f"UID:{uid}")
    lines.append(f"SUMMARY:{_escape(str(event.get('subject') or ''))}")
    if event.get("isAllDay"):
        start = str((event.get("start") or {}).get("dateTime") or "")[:10].replace("-", "")
        end = str((event.get("end") or {}).get("dateTime") or "")[:10].replace("-", "")
        lines += [f"DTSTART;VALUE=DATE:{start}", f"DTEND;VALUE=DATE:{end}"]
    else:
        lines += [f"DTSTART:{_ical_time(event.get('start'))}", f"DTEND:{_ical_time(event.get('end'))}"]
    lines.append(f"CLASS:{'PRIVATE' if event.get('sensitivity') == 'private' else 'PUBLIC'}")
    stamp = _stamp(event.get("lastModifiedDateTime") or event.get("createdDateTime"))
    lines.append(f"DTSTAMP:{stamp.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}")
    lines.append(f"TRANSP:{'TRANSPARENT' if event.get('showAs') == 'free' else 'OPAQUE'}")
    lines.append(f"STATUS:{'CANCELLED' if event.get('isCancelled') else 'CONFIRMED'}")
    location = (event.get("location") or {}).get("displayName") or ""
    lines.append(f"LOCATION:{_escape(str(location))}")
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return _document(lines)


def to_vcard(contact: Mapping[str, Any]) -> bytes:
    """A contact as a vCard 3.0 document, as an attached contact's $value."""
    given, surname = str(contact.get("givenName") or ""), str(contact.get("surname") or "")
    display = str(contact.get("displayName") or f"{given} {surname}".strip())
    lines = ["BEGIN:VCARD", "VERSION:3.0", "PRODID:Outlook Connector Sandbox", f"FN:{_escape(display)}"]
    lines.append(f"N:{_escape(surname)};{_escape(given)};;;")
    if contact.get("companyName") or contact.get("department"):
        company, department = (_escape(str(contact.get(k) or "")) for k in ("companyName", "department"))
        lines.append(f"ORG:{company};{department}")
    if contact.get("jobTitle"):
        lines.append(f"TITLE:{_escape(str(contact['jobTitle']))}")
    for email in contact.get("emailAddresses") or []:
        if email.get("address"):
            lines.append(f"EMAIL;TYPE=INTERNET:{email['address']}")
    for kind, key in (("WORK", "businessPhones"), ("HOME", "homePhones")):
        lines += [f"TEL;TYPE={kind}:{phone}" for phone in contact.get(key) or []]
    if contact.get("mobilePhone"):
        lines.append(f"TEL;TYPE=CELL:{contact['mobilePhone']}")
    address = contact.get("businessAddress") or {}
    if any(address.values()):
        parts = (address.get(k) or "" for k in ("street", "city", "state", "postalCode", "countryOrRegion"))
        lines.append("ADR;TYPE=WORK:;;" + ";".join(_escape(str(p)) for p in parts))
    if contact.get("personalNotes"):
        lines.append(f"NOTE:{_escape(str(contact['personalNotes']))}")
    stamp = _stamp(contact.get("lastModifiedDateTime") or contact.get("createdDateTime"))
    lines.append(f"REV:{stamp.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}")
    lines.append("END:VCARD")
    return _document(lines)


# -- an attachment's $value ----------------------------------------------------------------------------
def attachment_bytes(attachment: Mapping[str, Any]) -> bytes:
    """The raw content of an attachment (``GET .../attachments/{id}/$value``): a file's bytes, an
    attached message as MIME, an event as iCalendar, a contact as vCard; a link has none."""
    item = attachment.get("item")
    if isinstance(item, Mapping):
        kind = ITEM_TYPES.get(str(item.get("@odata.type")))
        if kind == "message":
            return to_mime(item, item.get("attachments") or ())
        if kind == "event":
            return to_icalendar(item)
        return to_vcard(item)
    return base64.b64decode(attachment.get("contentBytes") or "")


def attachment_media_type(attachment: Mapping[str, Any]) -> str:
    item = attachment.get("item")
    if isinstance(item, Mapping):
        return _MEDIA_TYPES[ITEM_TYPES.get(str(item.get("@odata.type")), "contact")]
    return str(attachment.get("contentType") or "application/octet-stream")
