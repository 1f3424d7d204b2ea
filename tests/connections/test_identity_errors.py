"""Each identity platform failure becomes an AuthError whose hint says what to do, without secrets."""

from __future__ import annotations

import httpx
import pytest

from connections.identity import TokenClient
from connector.errors import AuthError
from tests.connections.conftest import CLIENT_SECRET, TENANT, FakeClock, FakeIdentity, code_config, ms_error

REFRESH_TOKEN = "1.AXkA-refresh-token-value"


@pytest.mark.parametrize(
    ("status", "error", "aadsts", "hint_says"),
    [
        (
            400,
            "invalid_grant",
            65001,
            ["administrator must grant consent", "adminconsent?client_id=", "Mail.Send"],
        ),
        (400, "invalid_grant", 50076, ["Multi-factor authentication", "Reconnect"]),
        (400, "invalid_grant", 50079, ["Multi-factor authentication", "Reconnect"]),
        (400, "invalid_grant", 70008, ["expired", "Reconnect", "outlook-connector connect work"]),
        (400, "invalid_grant", 700082, ["long period without use", "Reconnect"]),
        (401, "invalid_client", 7000215, ["create a new client secret", "Value (not its Secret ID)"]),
        (401, "invalid_client", 7000222, ["create a new client secret"]),
        (400, "unauthorized_client", 700016, ["Check the client_id", f"tenant ({TENANT})"]),
        (400, "invalid_request", 90002, ["Check the tenant", "cloud"]),
        (400, "invalid_request", 50011, ["Add the redirect URI http://localhost"]),
        (400, "invalid_scope", 70011, ["Check the connection's scopes"]),
        (401, "invalid_client", 7000218, ["confidential client", "Allow public client flows"]),
    ],
)
def test_known_failures_say_what_to_do(
    clock: FakeClock, status: int, error: str, aadsts: int, hint_says: list[str]
) -> None:
    answer = ms_error(status, error, aadsts, f"Description of {aadsts}.")
    client = TokenClient(
        code_config().registration("work"), transport=httpx.MockTransport(lambda r: answer), clock=clock
    )
    with pytest.raises(AuthError) as info:
        client.refresh(REFRESH_TOKEN)
    exc = info.value
    assert (exc.code, exc.aadsts) == (error, str(aadsts))
    assert f"AADSTS{aadsts}: Description of {aadsts}." in exc.message
    assert "[trace ID t-1, correlation ID c-1]" in exc.message
    assert "Trace ID:" not in exc.message  # only the first line of the description
    for words in hint_says:
        assert words in exc.hint, (words, exc.hint)
    assert exc.to_dict()["aadsts"] == str(aadsts)


@pytest.mark.parametrize(
    ("error", "hint_says"),
    [
        ("invalid_client", "client_id and client_secret"),
        ("invalid_scope", "scopes"),
        ("invalid_grant", "Reconnect"),
    ],
)
def test_failures_without_an_aadsts_number(clock: FakeClock, error: str, hint_says: str) -> None:
    answer = httpx.Response(400, json={"error": error, "error_description": "no number here"})
    client = TokenClient(code_config().registration(), transport=httpx.MockTransport(lambda r: answer))
    with pytest.raises(AuthError) as info:
        client.refresh(REFRESH_TOKEN)
    assert info.value.aadsts == "" and hint_says in info.value.hint


def test_unknown_code_falls_back_to_a_generic_message(clock: FakeClock) -> None:
    answer = ms_error(400, "invalid_request", 123456, "Something unusual.")
    client = TokenClient(code_config().registration(), transport=httpx.MockTransport(lambda r: answer))
    with pytest.raises(AuthError) as info:
        client.refresh(REFRESH_TOKEN)
    text = str(info.value)
    assert "refused the token request (invalid_request): AADSTS123456: Something unusual." in text
    assert "https://login.microsoftonline.com/error?code=123456" in text


def test_secrets_echoed_by_the_server_are_redacted(identity: FakeIdentity) -> None:
    answer = ms_error(400, "invalid_grant", 9002313, f"Bad token {REFRESH_TOKEN} for secret {CLIENT_SECRET}.")
    client = TokenClient(code_config().registration(), transport=httpx.MockTransport(lambda r: answer))
    with pytest.raises(AuthError) as info:
        client.refresh(REFRESH_TOKEN)
    assert REFRESH_TOKEN not in str(info.value) and CLIENT_SECRET not in str(info.value)
    assert "[redacted]" in str(info.value)


def test_app_only_consent_hint_is_about_application_permissions() -> None:
    from connections.client_credentials import ClientCredentialsConfig

    config = ClientCredentialsConfig.model_validate(
        {"tenant": TENANT, "client_id": "c", "client_secret": "s3cr3t!", "default_mailbox": "m"}
    )
    answer = ms_error(400, "invalid_grant", 65001, "No consent.")
    client = TokenClient(config.registration(), transport=httpx.MockTransport(lambda r: answer))
    with pytest.raises(AuthError) as info:
        client.client_credentials()
    assert "admin consent to the application permissions" in info.value.hint
    assert f"/{TENANT}/v2.0/adminconsent?client_id=c" in info.value.hint


def test_non_json_success_is_an_auth_error() -> None:
    client = TokenClient(
        code_config().registration(),
        transport=httpx.MockTransport(lambda r: httpx.Response(200, text="<html>")),
    )
    with pytest.raises(AuthError, match="invalid_response"):
        client.refresh(REFRESH_TOKEN)
