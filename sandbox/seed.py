"""The seeded tenant: well-known fake app registration, users, a shared mailbox, and generated mail.

Generation is deterministic for a (seed, anchor, size) and cached per process; each sandbox state
copies the cached mailboxes cheaply (see ``Mailbox.copy``).
"""

from __future__ import annotations

import base64
import functools
import html
import random
import struct
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sandbox import corpus
from sandbox.attachment_model import ITEM, REFERENCE, attachment_from_payload, file_attachment
from sandbox.content import PREVIEW_LENGTH, wrap_html
from sandbox.ids import IdFactory
from sandbox.mailbox import ROOT, WELL_KNOWN_FOLDERS, Attachment, Mailbox, Message

TENANT_ID: Final = "7d3c5a1e-4b2f-4e8a-9c61-2f0b8d4e6a13"
TENANT_DOMAIN: Final = "meridiantraders.onmicrosoft.com"
TENANT_NAME: Final = "Meridian Traders"

CLIENT_ID: Final = "5f1c8e2a-9b7d-4c3e-a6f0-1d2e3b4c5a69"
"""The sandbox app registration (a public, well-known fake value)."""
CLIENT_SECRET: Final = "Sbx8Q~sandbox.client-secret.not-a-real-one"
APP_DISPLAY_NAME: Final = "Outlook Connector Sandbox"
SERVICE_PRINCIPAL_ID: Final = "c2a4e6f8-1b3d-4f5a-8c7e-9d0b2a4c6e81"

DELEGATED_SCOPES: Final = (
    "User.Read",
    "User.ReadBasic.All",
    "User.Read.All",
    "Mail.ReadBasic",
    "Mail.Read",
    "Mail.ReadWrite",
    "Mail.Send",
    "Mail.Read.Shared",
    "Mail.ReadWrite.Shared",
    "Mail.Send.Shared",
    "MailboxSettings.Read",
    "MailboxSettings.ReadWrite",
    "Calendars.Read",
    "Calendars.ReadWrite",
    "Calendars.Read.Shared",
    "Calendars.ReadWrite.Shared",
    "Contacts.Read",
    "Contacts.ReadWrite",
)
"""Graph delegated permissions the sandbox app may be granted (consent is automatic)."""
OIDC_SCOPES: Final = ("openid", "profile", "email", "offline_access")
APP_ROLES: Final = (
    "User.Read.All",
    "Mail.Read",
    "Mail.ReadWrite",
    "Mail.Send",
    "MailboxSettings.ReadWrite",
    "Calendars.ReadWrite",
    "Contacts.ReadWrite",
)
"""Graph application permissions granted to the sandbox app (client credentials)."""


def _user(
    id_: str,
    given: str,
    surname: str,
    alias: str,
    job: str,
    office: str,
    phone: str,
    mobile: str | None,
    language: str,
) -> dict[str, Any]:
    upn = f"{alias}@{TENANT_DOMAIN}"
    return {
        "businessPhones": [phone],
        "displayName": f"{given} {surname}",
        "givenName": given,
        "jobTitle": job,
        "mail": upn,
        "mobilePhone": mobile,
        "officeLocation": office,
        "preferredLanguage": language,
        "surname": surname,
        "userPrincipalName": upn,
        "id": id_,
    }


USERS: Final[tuple[dict[str, Any], ...]] = (
    _user(
        "3f9a2c41-6d0e-4b7a-9e15-8c2d4f6a1b30",
        "Avery",
        "Lindqvist",
        "avery.lindqvist",
        "Operations Manager",
        "Building 2 / 3.14",
        "+1 206 555 0142",
        "+1 206 555 0187",
        "en-US",
    ),
    _user(
        "a1c7e9f2-3b5d-4e8f-a0c2-4d6e8f0a2b45",
        "Jordan",
        "Okafor",
        "jordan.okafor",
        "Finance Analyst",
        "Building 1 / 2.07",
        "+44 20 7946 0321",
        None,
        "en-GB",
    ),
    _user(
        "5b2d4f6a-8c0e-4a1b-b3d5-e7f9a1c3e5f7",
        "Priya",
        "Raman",
        "priya.raman",
        "Sales Director",
        "Building 2 / 4.01",
        "+1 206 555 0199",
        "+1 206 555 0123",
        "en-US",
    ),
    _user(
        "9e1f3a5c-7b9d-4f0e-8a2c-4e6a8c0e2a4c",
        "Mateo",
        "Ruiz",
        "mateo.ruiz",
        "Software Engineer",
        "Building 3 / 1.22",
        "+34 91 555 0148",
        "+34 600 555 014",
        "es-ES",
    ),
    _user(
        "d4e6f8a0-2c4e-4b6d-9f1a-3c5e7a9c1e3a",
        "Hannah",
        "Becker",
        "hannah.becker",
        "HR Business Partner",
        "Building 1 / 1.03",
        "+49 30 5550 1177",
        None,
        "de-DE",
    ),
)
SHARED_MAILBOX: Final = f"support@{TENANT_DOMAIN}"
SHARED_MAILBOX_USER: Final[dict[str, Any]] = {
    "businessPhones": [],
    "displayName": "Customer Support",
    "givenName": None,
    "jobTitle": None,
    "mail": SHARED_MAILBOX,
    "mobilePhone": None,
    "officeLocation": None,
    "preferredLanguage": None,
    "surname": None,
    "userPrincipalName": SHARED_MAILBOX,
    "id": "6c8e0a2c-4e6a-4c8e-a0b2-c4d6e8f0a2b4",
}
DIRECTORY: Final = (*USERS, SHARED_MAILBOX_USER)
"""Every directory user, the shared mailbox last."""
DEFAULT_USER: Final = str(USERS[0]["userPrincipalName"])
"""The user the authorize endpoint signs in when the request has no login_hint."""

# Where seeded messages go: (folder key, share of the mailbox, template kinds).
_FOLDER_PLAN: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("inbox", 0.47, ("colleague", "colleague", "external", "external", "newsletter", "receipt")),
    ("Projects", 0.05, ("colleague", "external")),
    ("Harbor Expansion", 0.03, ("colleague", "external")),
    ("Website Refresh", 0.03, ("colleague", "external")),
    ("Receipts", 0.04, ("receipt",)),
    ("Newsletters", 0.06, ("newsletter",)),
    ("Team", 0.03, ("colleague",)),
    ("Clients", 0.02, ("external",)),
    ("archive", 0.06, ("colleague", "external", "receipt")),
    ("sentitems", 0.17, ("sent",)),
    ("deleteditems", 0.03, ("newsletter", "colleague", "junk")),
    ("junkemail", 0.02, ("junk",)),
    ("drafts", 0.01, ("sent",)),
)
_USER_FOLDERS: tuple[tuple[str, str], ...] = (
    # (name, parent folder key)
    ("Projects", "inbox"),
    ("Harbor Expansion", "Projects"),
    ("Website Refresh", "Projects"),
    ("Receipts", "inbox"),
    ("Newsletters", ROOT),
    ("Team", ROOT),
    ("Clients", ROOT),
)
_HIDDEN_FOLDERS = ("Quick Step Settings",)
_TEMPLATES_BY_KIND: dict[str, tuple[corpus.Template, ...]] = {}
for _template in corpus.TEMPLATES:
    _TEMPLATES_BY_KIND[_template.kind] = (*_TEMPLATES_BY_KIND.get(_template.kind, ()), _template)


def _stamp(moment: datetime) -> str:
    """ISO 8601 UTC with a Z, like Graph (``moment`` is naive UTC, whole seconds)."""
    return moment.isoformat() + "Z"


def _address(person: dict[str, Any] | corpus.Correspondent) -> dict[str, Any]:
    if isinstance(person, corpus.Correspondent):
        return {"emailAddress": {"name": person.name, "address": person.address}}
    return {"emailAddress": {"name": person["displayName"], "address": person["mail"]}}


def _first_name(person: dict[str, Any] | corpus.Correspondent) -> str:
    if isinstance(person, corpus.Correspondent):
        return person.name.split()[0]
    return str(person["givenName"] or person["displayName"]).split()[0]


# -- attachments -----------------------------------------------------------------------------------
def _png(rgb: tuple[int, int, int], size: int = 16) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * size
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * size))
        + chunk(b"IEND", b"")
    )


def _pdf(title: str) -> bytes:
    text = title.replace("\\", "").replace("(", "").replace(")", "")
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


_PNG_COLOURS = ((0x2E, 0x86, 0xC1), (0xE6, 0x7E, 0x22), (0x27, 0xAE, 0x60), (0x8E, 0x44, 0xAD))
_PNGS = tuple(_png(colour) for colour in _PNG_COLOURS)


def _attachment_payload(recipe: str, rng: random.Random, subject: str) -> tuple[str, str, bytes]:
    """(file name, content type, bytes) for an attachment recipe."""
    number = rng.randint(1000, 9999)
    if recipe == "invoice_csv":
        lines = ["Item,Quantity,Unit price"]
        lines += [
            f"{rng.choice(corpus.PRODUCTS)},{rng.randint(1, 20)},{rng.randint(5, 900)}.00" for _ in range(4)
        ]
        return f"invoice-{number}.csv", "text/csv", ("\r\n".join(lines) + "\r\n").encode()
    if recipe == "spreadsheet_csv":
        lines = ["Line,Plan,Actual"] + [
            f"{name},{rng.randint(10, 90)}000,{rng.randint(10, 90)}000"
            for name in ("Travel", "Contractors", "Software", "Hardware")
        ]
        return f"forecast-{number}.csv", "text/csv", ("\r\n".join(lines) + "\r\n").encode()
    if recipe == "notes_txt":
        return "notes.txt", "text/plain", f"Notes: {subject}\r\n- scope\r\n- owners\r\n- dates\r\n".encode()
    if recipe == "image_png":
        return f"draft-{number}.png", "image/png", rng.choice(_PNGS)
    return f"{subject[:40].strip().replace('/', '-')}.pdf", "application/pdf", _pdf(subject)


# -- messages --------------------------------------------------------------------------------------
class _SeedRandom(random.Random):
    """random.Random with cheaper choice/randint (one float draw each): generation runs ~100k of them."""

    def choice(self, seq: Any) -> Any:
        return seq[int(self.random() * len(seq))]

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))


class _MailboxGenerator:
    def __init__(self, owner: dict[str, Any], seed: int, anchor: datetime, count: int) -> None:
        # ``anchor`` is naive UTC: datetime arithmetic and formatting are faster without a tzinfo.
        self.owner = owner
        self.rng = _SeedRandom(f"sandbox-seed:{seed}:{owner['id']}")
        self.anchor = anchor
        self.count = count
        self.mailbox = Mailbox(owner, IdFactory(owner["id"], self.rng))
        self.colleagues = [u for u in USERS if u["id"] != owner["id"]]
        self.threads: list[tuple[str, str]] = []  # (conversationId, subject)

    def build(self) -> Mailbox:
        keys = self._folders()
        plan = [(keys[name], share, kinds) for name, share, kinds in _FOLDER_PLAN]
        cumulative: list[float] = []
        total = 0.0
        for _folder, share, _kinds in plan:
            total += share
            cumulative.append(total)
        for _ in range(self.count):
            draw = self.rng.random() * total
            index = next(i for i, edge in enumerate(cumulative) if draw < edge)
            folder_key, _share, kinds = plan[index]
            self._message(folder_key, self.rng.choice(kinds))
        return self.mailbox

    def _folders(self) -> dict[str, str]:
        box = self.mailbox
        root = box.add_folder("Top of Information Store", box.ids.folder_id(), ROOT)
        keys = {ROOT: root.id}
        for well_known, name in WELL_KNOWN_FOLDERS:
            keys[well_known] = box.add_folder(name, root.id, well_known).id
        for name, parent in _USER_FOLDERS:
            keys[name] = box.add_folder(name, keys[parent]).id
        for name in _HIDDEN_FOLDERS:
            box.add_folder(name, root.id, is_hidden=True)
        return keys

    def _fields(self, recipient_first: str, sender_first: str) -> dict[str, Any]:
        rng = self.rng
        return {
            "first": recipient_first,
            "me": sender_first,
            "project": rng.choice(corpus.PROJECTS),
            "product": rng.choice(corpus.PRODUCTS),
            "company": rng.choice(corpus.COMPANIES),
            "city": rng.choice(corpus.CITIES),
            "month": rng.choice(corpus.MONTHS),
            "day": rng.choice(corpus.DAYS),
            "time": rng.choice(corpus.TIMES),
            "quarter": f"Q{rng.randint(1, 4)} {self.anchor.year - rng.randint(0, 1)}",
            "n": rng.randint(10000, 99999),
            "amount": f"${rng.randint(2, 480) * 250:,}",
        }

    def _parties(self, kind: str) -> tuple[Any, list[Any]]:
        """(sender, to-recipients) for a template kind."""
        rng, owner = self.rng, self.owner
        if kind == "sent":
            pool: list[Any] = [*self.colleagues, *corpus.EXTERNAL_PEOPLE]
            return owner, rng.sample(pool, rng.choice((1, 1, 1, 2, 3)))
        sender: Any = {
            "colleague": lambda: rng.choice(self.colleagues),
            "external": lambda: rng.choice(corpus.EXTERNAL_PEOPLE),
            "newsletter": lambda: rng.choice(corpus.NEWSLETTERS),
            "receipt": lambda: rng.choice(corpus.SERVICES),
            "junk": lambda: rng.choice(corpus.JUNK_SENDERS),
        }[kind]()
        to = [owner]
        if kind == "colleague" and rng.random() < 0.3:
            to += rng.sample([u for u in self.colleagues if u is not sender], 1)
        return sender, to

    def _message(self, folder_id: str, kind: str) -> None:
        rng, box = self.rng, self.mailbox
        template = rng.choice(_TEMPLATES_BY_KIND[kind])
        sender, to = self._parties(kind)
        fields = self._fields(_first_name(to[0]), _first_name(sender))
        paragraphs = [p.format(**fields) for p in template.paragraphs]
        subject = rng.choice(template.subjects).format(**fields)
        conversation_id = box.ids.conversation_id()
        if kind in ("colleague", "external", "sent") and self.threads and rng.random() < 0.25:
            conversation_id, topic = rng.choice(self.threads[-40:])
            subject = ("RE: " if kind != "sent" else "Re: ") + topic
        elif kind in ("colleague", "external", "sent"):
            self.threads.append((conversation_id, subject))

        age = timedelta(seconds=int(365 * 86400 * rng.random() ** 1.7) + 60)
        received = self.anchor - age
        sent = received - timedelta(seconds=rng.randint(1, 90))
        is_draft = folder_id == box.well_known["drafts"]
        text = "\r\n\r\n".join(p.replace("\n", "\r\n") for p in paragraphs) + "\r\n"
        if rng.random() < 0.15 or (kind == "newsletter" and rng.random() < 0.3):
            body = {"contentType": "text", "content": text}
        else:
            inner = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
            body = {"contentType": "html", "content": wrap_html(inner)}

        recent = age < timedelta(days=21)
        is_read = kind == "sent" or (rng.random() < (0.55 if recent else 0.93) and kind != "junk")
        importance = template.importance if rng.random() < 0.6 else "normal"
        if importance == "normal" and rng.random() < 0.04:
            importance = rng.choice(("high", "low"))
        categories = [rng.choice(corpus.CATEGORIES)] if rng.random() < 0.12 else []
        if categories and rng.random() < 0.2:
            categories.append(rng.choice([c for c in corpus.CATEGORIES if c != categories[0]]))
        message_id = box.ids.message_id()

        attachments: tuple[Attachment, ...] = ()
        if template.attachment and rng.random() < template.attachment_rate:
            name, content_type, data = _attachment_payload(template.attachment, rng, subject)
            attachments = (
                file_attachment(box.ids.attachment_id(message_id), name, content_type, data, _stamp(sent)),
            )
        change_key = box.ids.change_key()
        cc: list[dict[str, Any]] = []
        if kind in ("colleague", "sent") and rng.random() < 0.2:
            cc = [_address(rng.choice(self.colleagues))]
        message: Message = {
            "id": message_id,
            "createdDateTime": _stamp(received),
            "lastModifiedDateTime": _stamp(received + timedelta(seconds=rng.randint(0, 5))),
            "changeKey": change_key,
            "categories": categories,
            "receivedDateTime": _stamp(received),
            "sentDateTime": _stamp(sent),
            "hasAttachments": bool(attachments),
            "internetMessageId": box.ids.internet_message_id("prod.outlook.com"),
            "subject": subject,
            "bodyPreview": text.strip()[:PREVIEW_LENGTH],
            "importance": importance,
            "parentFolderId": folder_id,
            "conversationId": conversation_id,
            "conversationIndex": box.ids.conversation_index(),
            "isDeliveryReceiptRequested": False,
            "isReadReceiptRequested": False,
            "isRead": is_read,
            "isDraft": is_draft,
            "webLink": "",
            "inferenceClassification": "other" if kind in ("newsletter", "receipt") else "focused",
            "body": body,
            "sender": _address(sender),
            "from": _address(sender),
            "toRecipients": [_address(person) for person in to],
            "ccRecipients": cc,
            "bccRecipients": [],
            "replyTo": [],
            "flag": _flag(rng, sent) if kind != "sent" else {"flagStatus": "notFlagged"},
        }
        box.put_message(message, attachments or None)


def _flag(rng: random.Random, sent: datetime) -> dict[str, Any]:
    draw = rng.random()
    if draw < 0.05:
        start = sent.replace(hour=0, minute=0, second=0)
        return {
            "flagStatus": "flagged",
            "startDateTime": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"},
            "dueDateTime": {
                "dateTime": (start + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
                "timeZone": "UTC",
            },
        }
    if draw < 0.08:
        return {"flagStatus": "complete"}
    return {"flagStatus": "notFlagged"}


def _attach_items(box: Mailbox, seed: int) -> None:
    """Give the mailbox's newest message with files an attached message (holding a file), event and
    contact, and a link, so Graph's documented item- and reference-attachment requests have something
    to read. Ids come from their own generator: the generated mail keeps its ids, counts and flags."""
    with_files = [m for m in box.messages.values() if m["hasAttachments"]]
    if not with_files:
        return
    host = max(with_files, key=lambda m: m["receivedDateTime"])  # the first of equals, as $orderby keeps
    ids = IdFactory(box.user_id, _SeedRandom(f"sandbox-attached-items:{seed}:{box.user_id}"))
    received = datetime.fromisoformat(host["receivedDateTime"].rstrip("Z"))
    stamp = _stamp(received)
    note, plan = corpus.ATTACHED_MESSAGE, corpus.ATTACHED_EVENT
    sent = _stamp(received - timedelta(hours=3))
    paragraphs = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in note.paragraphs)
    message = {
        "@odata.type": "#microsoft.graph.message",
        "subject": note.subject,
        "body": {"contentType": "html", "content": wrap_html(paragraphs)},
        "sender": _address(note.sender),
        "from": _address(note.sender),
        "toRecipients": [_address(box.user)],
        "receivedDateTime": sent,
        "sentDateTime": sent,
        "internetMessageId": ids.internet_message_id("northbeam-logistics.com"),
        "conversationId": ids.conversation_id(),
        "conversationIndex": ids.conversation_index(),
        "attachments": [
            {
                "@odata.type": "#microsoft.graph.fileAttachment",
                "name": note.file_name,
                "contentType": "text/plain",
                "contentBytes": base64.b64encode(note.file_text.encode()).decode("ascii"),
            }
        ],
    }
    start = (received + timedelta(days=plan.days_after)).replace(hour=plan.hour, minute=0, second=0)
    end = start + timedelta(minutes=plan.minutes)
    event = {
        "@odata.type": "#microsoft.graph.event",
        "subject": plan.subject,
        "body": {"contentType": "text", "content": plan.body},
        "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"},
        "end": {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"},
        "location": {"displayName": plan.location},
        "organizer": _address(note.sender),
        "attendees": [{"type": "required", **_address(box.user)}],
    }
    link_name, link_type, link_size = corpus.LINKED_FILE
    payloads: list[dict[str, Any]] = [
        {"@odata.type": ITEM, "name": note.subject, "item": message},
        {"@odata.type": ITEM, "name": plan.subject, "item": event},
        {"@odata.type": ITEM, "item": {"@odata.type": "#microsoft.graph.contact", **corpus.ATTACHED_CONTACT}},
        {"@odata.type": REFERENCE, "name": link_name, "contentType": link_type, "size": link_size},
    ]
    added = tuple(attachment_from_payload(p, ids, host["id"], stamp) for p in payloads)
    box.attachments[host["id"]] = (*box.attachments_of(host["id"]), *added)


@functools.lru_cache(maxsize=4)
def build_mailboxes(seed: int, anchor: datetime, messages_per_user: int) -> tuple[Mailbox, ...]:
    """The seeded mailboxes of every directory user (cached: treat them as read-only)."""
    naive_utc = anchor.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    boxes = tuple(_MailboxGenerator(user, seed, naive_utc, messages_per_user).build() for user in DIRECTORY)
    for box in boxes:
        _attach_items(box, seed)
    return boxes
