"""Talking to a running sandbox over real HTTP (httpx), as a client of Graph would.

``delegated_token`` runs the authorization-code + PKCE flow; ``SandboxIds`` finds (or makes) real
objects of each kind, to stand in for the docs' sample ids.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from functools import cached_property
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

DELEGATED_SCOPES = (
    "openid profile offline_access User.Read User.Read.All Mail.ReadWrite Mail.Send Mail.ReadWrite.Shared"
    " MailboxSettings.ReadWrite Contacts.ReadWrite Calendars.ReadWrite"
)
REDIRECT_URI = "http://localhost:53682/callback"
WELL_KNOWN_FOLDERS = frozenset(
    {
        "archive", "clutter", "conflicts", "conversationhistory", "deleteditems", "drafts", "inbox",
        "junkemail", "localfailures", "msgfolderroot", "outbox", "recoverableitemsdeletions",
        "scheduled", "searchfolders", "sentitems", "serverfailures", "syncissues",
    }
)  # fmt: skip


def delegated_token(base_url: str, user: str | None = None, scopes: str = DELEGATED_SCOPES) -> str:
    """An access token for ``user`` (default: the sandbox's default user) from the sandbox's identity
    endpoints, through the authorization-code flow with PKCE."""
    from sandbox import seed

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    authority = f"{base_url}/{seed.TENANT_ID}/oauth2/v2.0"
    with httpx.Client(timeout=10) as client:
        params = {
            "client_id": seed.CLIENT_ID,
            "response_type": "code",
            "redirect_uri": REDIRECT_URI,
            "scope": scopes,
            "state": "docs",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "login_hint": user or seed.DEFAULT_USER,
        }
        answer = client.get(f"{authority}/authorize", params=params)
        assert answer.status_code == 302, answer.text
        code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
        token = client.post(
            f"{authority}/token",
            data={
                "grant_type": "authorization_code",
                "client_id": seed.CLIENT_ID,
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
        )
        assert token.status_code == 200, token.text
        return str(token.json()["access_token"])


def graph_client(graph_url: str, token: str) -> httpx.Client:
    """An httpx client on the sandbox's Graph root (``.../v1.0``) with the bearer token."""
    return httpx.Client(base_url=graph_url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


class SandboxIds:
    """Real ids of the signed-in user's mailbox in a sandbox, found or created on first use."""

    def __init__(self, client: httpx.Client, notification_url: str | None = None) -> None:
        self.client = client
        self.notification_url = notification_url
        """A listening webhook endpoint (tests/support/listener.py), for ``subscription``."""

    def _get(self, path: str, **params: str) -> Any:
        answer = self.client.get(path, params=params)
        assert answer.status_code == 200, f"GET {path}: {answer.status_code} {answer.text[:300]}"
        return answer.json()

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        answer = self.client.post(path, json=body)
        assert answer.status_code == 201, f"POST {path}: {answer.status_code} {answer.text[:300]}"
        return answer.json()

    @cached_property
    def user(self) -> str:
        from sandbox import seed

        return seed.DEFAULT_USER

    @cached_property
    def other_user(self) -> str:
        from sandbox import seed

        other = next(u for u in seed.USERS if u["userPrincipalName"].lower() != seed.DEFAULT_USER.lower())
        return str(other["userPrincipalName"])

    @cached_property
    def message(self) -> str:
        """The newest message in the inbox."""
        page = self._get("/me/mailFolders/inbox/messages", **{"$top": "1", "$select": "id"})
        return str(page["value"][0]["id"])

    @cached_property
    def message_with_attachments(self) -> str:
        page = self._get(
            "/me/messages", **{"$filter": "hasAttachments eq true", "$top": "1", "$select": "id"}
        )
        assert page["value"], "the sandbox has no message with attachments"
        return str(page["value"][0]["id"])

    def attachment(self, message_id: str, odata_type: str | None = None) -> str:
        """An attachment of the message, of ``odata_type`` (``#microsoft.graph.fileAttachment``) if given."""
        items = self._get(f"/me/messages/{_quote(message_id)}/attachments")["value"]
        wanted = (odata_type or "").lstrip("#").lower()
        for item in items:
            if not wanted or str(item.get("@odata.type", "")).lstrip("#").lower() == wanted:
                return str(item["id"])
        raise LookupError(f"the message has no {odata_type} attachment")

    @cached_property
    def draft(self) -> str:
        """A new draft with one recipient."""
        body = {
            "subject": "Draft for the docs test",
            "body": {"contentType": "Text", "content": "Made by the docs test."},
            "toRecipients": [{"emailAddress": {"address": self.other_user}}],
        }
        return str(self._post("/me/messages", body)["id"])

    @cached_property
    def event_message(self) -> str:
        """A meeting request (an eventMessage) in the inbox: ``other_user`` invites the signed-in user."""
        base_url = str(self.client.base_url).rstrip("/").removesuffix("/v1.0")
        meeting = {
            "subject": "Meeting for the docs test",
            "start": {"dateTime": "2030-01-07T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2030-01-07T11:00:00", "timeZone": "UTC"},
            "attendees": [{"emailAddress": {"address": self.user}, "type": "required"}],
        }
        with graph_client(str(self.client.base_url), delegated_token(base_url, self.other_user)) as other:
            answer = other.post("/me/events", json=meeting)
            assert answer.status_code == 201, f"POST /me/events: {answer.status_code} {answer.text[:300]}"
        page = self._get(
            "/me/mailFolders/inbox/messages",
            **{"$filter": "subject eq 'Meeting for the docs test'", "$select": "id"},
        )
        assert page["value"], "the invitation did not reach the inbox"
        return str(page["value"][0]["id"])

    @cached_property
    def inbox(self) -> str:
        return str(self._get("/me/mailFolders/inbox")["id"])

    @cached_property
    def folder(self) -> str:
        """A new top-level folder (one the test may change or delete)."""
        return str(self._post("/me/mailFolders", {"displayName": "Docs test folder"})["id"])

    @cached_property
    def subscription(self) -> str:
        """A new subscription to the user's messages, notifying ``notification_url``."""
        from datetime import UTC, datetime, timedelta

        assert self.notification_url, "SandboxIds needs a notification_url to subscribe"
        expires = datetime.now(UTC) + timedelta(hours=1)
        body = {
            "changeType": "created,updated",
            "notificationUrl": self.notification_url,
            "resource": "me/messages",
            "expirationDateTime": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "clientState": "docs-test-client-state",
        }
        return str(self._post("/subscriptions", body)["id"])


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")
