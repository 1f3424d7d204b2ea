"""Hand-written material the seeded mailboxes are built from: correspondents and message templates.

Templates use ``str.format`` fields filled by the generator: ``{first}`` (recipient's first name),
``{me}`` (sender's first name), ``{project}``, ``{n}``, ``{amount}``, ``{day}``, ``{month}``,
``{quarter}``, ``{city}``, ``{company}``, ``{product}``, ``{time}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Correspondent:
    name: str
    address: str


@dataclass(frozen=True)
class Template:
    kind: str
    """``colleague`` (an in-tenant sender), ``external``, ``newsletter``, ``receipt``, ``junk``, ``sent``."""
    subjects: tuple[str, ...]
    paragraphs: tuple[str, ...]
    attachment: str | None = None
    """Attachment recipe (see seed._ATTACHMENT_MAKERS) or None."""
    attachment_rate: float = 0.0
    importance: str = "normal"


EXTERNAL_PEOPLE: tuple[Correspondent, ...] = (
    Correspondent("Lena Fischer", "lena.fischer@northbeam-logistics.com"),
    Correspondent("Marcus Hale", "m.hale@harborpine-legal.com"),
    Correspondent("Sofia Marchetti", "sofia@tessellate-studio.design"),
    Correspondent("Daniel Osei", "daniel.osei@cobaltcloud.io"),
    Correspondent("Yuki Tanaka", "yuki.tanaka@brightfield-analytics.com"),
    Correspondent("Oliver Grant", "ogrant@ferncliff-supplies.co.uk"),
    Correspondent("Amara Nwosu", "amara.nwosu@greywaterbank.com"),
    Correspondent("Tomás Herrera", "tomas.herrera@quillon-travel.com"),
    Correspondent("Ingrid Solberg", "ingrid@fjordline-consulting.no"),
    Correspondent("Rahul Mehta", "rahul.mehta@kestrel-insurance.com"),
    Correspondent("Chloé Martin", "chloe.martin@atelier-lumen.fr"),
    Correspondent("Ben Carter", "ben.carter@gmail.com"),
)

NEWSLETTERS: tuple[Correspondent, ...] = (
    Correspondent("The Weekly Ledger", "newsletter@weeklyledger-news.com"),
    Correspondent("Cobalt Cloud Updates", "no-reply@updates.cobaltcloud.io"),
    Correspondent("Supply Chain Brief", "digest@supplychainbrief.net"),
    Correspondent("Product Hunt Daily", "hello@daily-launches.com"),
)

SERVICES: tuple[Correspondent, ...] = (
    Correspondent("Quillon Travel Bookings", "bookings@quillon-travel.com"),
    Correspondent("Ferncliff Supplies Billing", "billing@ferncliff-supplies.co.uk"),
    Correspondent("Cobalt Cloud Billing", "invoices@cobaltcloud.io"),
    Correspondent("Parcelwise Tracking", "tracking@parcelwise-delivery.com"),
)

JUNK_SENDERS: tuple[Correspondent, ...] = (
    Correspondent("Prize Center", "winner@claim-your-prize.biz"),
    Correspondent("Account Security", "security-alert@verify-accounts-now.info"),
    Correspondent("Crypto Growth Club", "invest@crypto-growth-club.xyz"),
)

PROJECTS = (
    "Harbor Expansion",
    "Website Refresh",
    "Atlas CRM",
    "Northwind Migration",
    "Q-Commerce Pilot",
    "Beacon",
)
PRODUCTS = ("Meridian Pro", "Meridian Lite", "FieldSync", "the ledger module", "the mobile app")
CITIES = ("Lisbon", "Toronto", "Rotterdam", "Singapore", "Denver", "Dublin", "Oslo")
COMPANIES = (
    "Northbeam Logistics",
    "Kestrel Insurance",
    "Atelier Lumen",
    "Brightfield Analytics",
    "Greywater Bank",
)
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
TIMES = ("9:00", "10:30", "11:00", "13:30", "14:00", "15:30", "16:00")
CATEGORIES = (
    "Red category",
    "Blue category",
    "Green category",
    "Yellow category",
    "Orange category",
    "Purple category",
    "Customers",
    "Finance",
)

TEMPLATES: tuple[Template, ...] = (
    Template(
        "colleague",
        (
            "{project} status update",
            "{project}: notes from {day}'s sync",
            "Update on {project} timeline",
        ),
        (
            "Hi {first},",
            "Quick update on {project}: the team closed {n} open items this week and we are on track for the "
            "{month} milestone.",
            "Two risks remain. Vendor onboarding is slower than planned, and we still need sign-off on the "
            "revised "
            "budget of {amount}.",
            "Could you take a look before {day}? Happy to walk through it on a call.",
            "Thanks,\n{me}",
        ),
        attachment="report_pdf",
        attachment_rate=0.25,
    ),
    Template(
        "colleague",
        (
            "Lunch on {day}?",
            "Coffee catch-up",
            "Team lunch to celebrate {project}",
        ),
        (
            "Hey {first},",
            "A few of us are going to the new place near the office on {day} around 12:30. Want to join?",
            "{me}",
        ),
    ),
    Template(
        "colleague",
        (
            "Budget review for {quarter}",
            "{quarter} forecast - please review",
            "Expense report approval needed",
        ),
        (
            "Hi {first},",
            "I have attached the latest numbers for {quarter}. Spend is at {amount}, slightly under plan.",
            "Please review the highlighted lines, especially travel and contractor costs, and let me know if "
            "anything needs a closer look.",
            "Best regards,\n{me}",
        ),
        attachment="spreadsheet_csv",
        attachment_rate=0.6,
        importance="high",
    ),
    Template(
        "colleague",
        (
            "Meeting notes: {project} planning",
            "Action items from today's meeting",
            "Recap: {day} stand-up",
        ),
        (
            "Hi all,",
            "Thanks for joining. Action items: (1) finalize the scope document, (2) confirm the {city} "
            "workshop "
            "dates, (3) share the updated risk log by {day}.",
            "Next check-in is {day} at {time}.",
            "Cheers,\n{me}",
        ),
        attachment="notes_txt",
        attachment_rate=0.3,
    ),
    Template(
        "colleague",
        (
            "Quick question about {product}",
            "Can you help with a customer request?",
            "Need your input on {product}",
        ),
        (
            "Hi {first},",
            "A customer from {company} asked whether {product} supports single sign-on for contractors. Do "
            "you "
            "know who owns that area now?",
            "Thanks a lot,\n{me}",
        ),
    ),
    Template(
        "colleague",
        (
            "Reminder: timesheets due {day}",
            "Office closed on {day}",
            "New parking arrangements from {month}",
        ),
        (
            "Hello everyone,",
            "Just a reminder that timesheets for this period are due by end of day {day}. Late submissions "
            "delay "
            "payroll for the whole team.",
            "Thank you,\n{me}",
        ),
    ),
    Template(
        "external",
        (
            "Proposal for {project}",
            "Follow-up on our call",
            "Next steps with {company}",
        ),
        (
            "Dear {first},",
            "Thank you for your time on {day}. As discussed, we prepared a proposal covering the discovery "
            "phase "
            "and a pilot in {city}.",
            "The estimated investment is {amount}, with the first deliverables in {month}.",
            "Kind regards,\n{me}",
        ),
        attachment="report_pdf",
        attachment_rate=0.5,
    ),
    Template(
        "external",
        (
            "Contract renewal {n}",
            "Updated terms for the {month} renewal",
            "Signature needed: agreement {n}",
        ),
        (
            "Hello {first},",
            "Please find the renewal terms for agreement {n}. The main change is the service level for "
            "support "
            "requests, now answered within four business hours.",
            "Let us know if your legal team has comments by {day}.",
            "Best,\n{me}",
        ),
        attachment="report_pdf",
        attachment_rate=0.7,
        importance="high",
    ),
    Template(
        "external",
        (
            "Shipment {n} delayed",
            "Delivery schedule for order {n}",
            "Customs documents for order {n}",
        ),
        (
            "Hi {first},",
            "Order {n} left our {city} warehouse this morning. Because of port congestion the arrival "
            "moves to "
            "{day}.",
            "We apologise for the inconvenience and will keep you posted.",
            "Regards,\n{me}",
        ),
    ),
    Template(
        "external",
        (
            "Photos from the {city} workshop",
            "Design drafts for review",
            "Mock-ups for {project}",
        ),
        (
            "Hi {first},",
            "Sharing a few images from last week. The second draft uses the lighter palette we talked about.",
            "Looking forward to your feedback,\n{me}",
        ),
        attachment="image_png",
        attachment_rate=0.8,
    ),
    Template(
        "newsletter",
        (
            "This week in finance: rates, retail and {city}",
            "Your weekly digest",
            "{month} product updates",
            "5 trends to watch in {quarter}",
        ),
        (
            "Hello {first},",
            "Here is your roundup. Markets were mixed this week as investors weighed new data from {city}.",
            "In product news, {company} announced a partnership focused on logistics analytics.",
            "You are receiving this because you subscribed. Manage your preferences or unsubscribe at any "
            "time.",
        ),
    ),
    Template(
        "receipt",
        (
            "Your invoice {n}",
            "Receipt for your payment",
            "Booking confirmation {n} - {city}",
            "Your order {n} has shipped",
        ),
        (
            "Hello {first},",
            "Thank you for your payment of {amount}. Reference: {n}.",
            "This message was sent automatically. Please do not reply.",
        ),
        attachment="invoice_csv",
        attachment_rate=0.5,
    ),
    Template(
        "junk",
        (
            "You have been selected!!!",
            "Urgent: verify your account",
            "Double your savings in 7 days",
        ),
        (
            "Dear customer,",
            "Act now to claim your reward of {amount}. Click the link below and enter your details.",
            "This offer expires in 24 hours.",
        ),
        importance="high",
    ),
    Template(
        "sent",
        (
            "Re: {project} status update",
            "{project} - decision needed",
            "Agenda for {day}",
            "Draft plan for {quarter}",
        ),
        (
            "Hi {first},",
            "Thanks for the update. I agree with the proposed scope, but let's revisit the {month} date once "
            "vendor onboarding is done.",
            "I have added a few notes to the plan; can we go through them on {day} at {time}?",
            "Best,\n{me}",
        ),
        attachment="notes_txt",
        attachment_rate=0.1,
    ),
    Template(
        "sent",
        (
            "Introduction: {company}",
            "Re: Proposal for {project}",
            "Follow-up from {city}",
        ),
        (
            "Hello {first},",
            "Great to meet you in {city}. As promised, here is a short summary of what we discussed and the "
            "contacts on our side.",
            "Kind regards,\n{me}",
        ),
    ),
)


# -- attached items: what the newest message with files also carries (seed._attach_items) ----------------
@dataclass(frozen=True)
class AttachedMessage:
    """A message attached to another (itemAttachment), itself holding a text file."""

    sender: Correspondent
    subject: str
    paragraphs: tuple[str, ...]
    file_name: str
    file_text: str


@dataclass(frozen=True)
class AttachedEvent:
    """An event attached to a message, some days after the message arrived."""

    subject: str
    location: str
    body: str
    days_after: int
    hour: int
    minutes: int


ATTACHED_MESSAGE = AttachedMessage(
    sender=EXTERNAL_PEOPLE[0],
    subject="Signed delivery note - order 4471",
    paragraphs=(
        "Hello,",
        "Attached is the delivery note for order 4471, signed at the Rotterdam depot this morning."
        " Two pallets arrived with damaged wrapping; the goods themselves are fine.",
        "Kind regards,\nLena",
    ),
    file_name="delivery-note-4471.txt",
    file_text="Order 4471\r\nPallets: 6\r\nSigned: R. de Vries\r\n",
)
ATTACHED_EVENT = AttachedEvent(
    subject="Warehouse walkthrough",
    location="Rotterdam depot, gate 3",
    body="Walk through the new racking layout with the depot team before sign-off.",
    days_after=9,
    hour=10,
    minutes=90,
)
ATTACHED_CONTACT: dict[str, Any] = {
    "givenName": "Ruud",
    "surname": "de Vries",
    "companyName": "Northbeam Logistics",
    "jobTitle": "Depot Manager",
    "emailAddresses": [{"name": "Ruud de Vries", "address": "ruud.devries@northbeam-logistics.com"}],
    "businessPhones": ["+31 10 555 0134"],
    "businessAddress": {
        "street": "Waalhaven Zuidzijde 12",
        "city": "Rotterdam",
        "postalCode": "3089 JH",
        "countryOrRegion": "Netherlands",
    },
    "personalNotes": "Signs delivery notes at the depot; call before 16:00.",
}
"""A contact attached to a message (Graph JSON; its vCard form is what $value serves)."""
LINKED_FILE = (
    "Depot capacity plan.xlsx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    1184,
)
"""(name, content type, size) of a file shared as a link (referenceAttachment)."""
