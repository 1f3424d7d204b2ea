"""The authorization code flow: PKCE S256 and state, the loopback listener, the headless variant."""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from connections.authorization import authorize_headless, begin_authorization, complete_authorization
from connections.loopback import run_loopback_flow
from connections.registry import connect_interactively, load_connection
from connector.errors import AuthError, ConfigurationError
from connector.store import Store
from tests.connections.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    TENANT,
    FakeClock,
    FakeGraph,
    FakeIdentity,
    code_config,
)


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def test_begin_builds_a_pkce_authorize_url() -> None:
    request = begin_authorization(code_config(), login_hint="a@contoso.com")
    url, state, verifier = request  # unpacks as (authorize_url, state, code_verifier)
    assert url.startswith(f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/authorize?")
    query = _query(url)
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == "http://localhost"
    assert query["scope"].split()[-1] == "offline_access"
    assert query["state"] == state
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] == _s256(verifier)
    assert query["login_hint"] == "a@contoso.com"
    assert re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", verifier)
    assert "code_verifier" not in url and verifier not in url and CLIENT_SECRET not in url
    assert verifier not in repr(request) and state not in repr(request)
    again = begin_authorization(code_config())
    assert (again.state, again.code_verifier) != (state, verifier)


def test_national_cloud_authorize_url() -> None:
    url = begin_authorization(code_config(cloud="us_gov")).authorize_url
    assert url.startswith(f"https://login.microsoftonline.us/{TENANT}/oauth2/v2.0/authorize?")
    assert "https://graph.microsoft.us/Mail.ReadWrite" in _query(url)["scope"].split()


def test_complete_checks_state_before_exchanging(identity: FakeIdentity, clock: FakeClock) -> None:
    _, state, verifier = begin_authorization(code_config())
    for callback in (
        "http://localhost/?code=abc&state=forged",
        "http://localhost/?code=abc",
        {"code": "abc"},
    ):
        with pytest.raises(AuthError, match="state mismatch") as info:
            complete_authorization(code_config(), callback, state, verifier, transport=identity.transport)
        assert info.value.code == "state_mismatch"
    assert identity.requests == []


def test_complete_redeems_the_code_with_the_verifier(identity: FakeIdentity, clock: FakeClock) -> None:
    config = code_config()
    url, state, verifier = begin_authorization(config)
    identity.codes["the-code"] = (_query(url)["code_challenge"], "http://localhost")
    tokens = complete_authorization(
        config, f"http://localhost/?code=the-code&state={state}&session_state=x", state, verifier,
        transport=identity.transport, clock=clock,
    )  # fmt: skip
    assert (tokens.access_token, tokens.refresh_token, tokens.expires_at) == (
        "access-1",
        "refresh-1",
        clock.now + 3600,
    )
    form = identity.requests[0]
    assert form == {
        "grant_type": "authorization_code",
        "redirect_uri": "http://localhost",
        "code": "the-code",
        "code_verifier": verifier,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }


def test_complete_accepts_a_query_string_or_mapping(identity: FakeIdentity) -> None:
    config = code_config()
    for make in (lambda c, s: f"code={c}&state={s}", lambda c, s: {"code": c, "state": s}):
        url, state, verifier = begin_authorization(config)
        identity.codes["c"] = (_query(url)["code_challenge"], "http://localhost")
        assert complete_authorization(config, make("c", state), state, verifier, transport=identity.transport)


def test_wrong_verifier_is_refused_by_the_identity_platform(identity: FakeIdentity) -> None:
    config = code_config()
    url, state, _ = begin_authorization(config)
    identity.codes["c"] = (_query(url)["code_challenge"], "http://localhost")
    with pytest.raises(AuthError) as info:
        complete_authorization(
            config, {"code": "c", "state": state}, state, "x" * 50, transport=identity.transport
        )
    assert info.value.aadsts == "50148" and "x" * 50 not in str(info.value)


def test_error_redirect_becomes_a_clear_auth_error(identity: FakeIdentity) -> None:
    _, state, verifier = begin_authorization(code_config())
    callback = "http://localhost/?" + urlencode(
        {
            "error": "consent_required",
            "error_description": "AADSTS65001: The user or administrator has not consented to use the app.",
            "state": state,
        }
    )
    with pytest.raises(AuthError) as info:
        complete_authorization(code_config(), callback, state, verifier, transport=identity.transport)
    assert info.value.aadsts == "65001"
    assert "refused the sign-in" in info.value.message
    assert "administrator must grant consent" in info.value.hint
    assert identity.requests == []


# -- loopback ---------------------------------------------------------------------------------------------
class FakeBrowser:
    """Plays the user's browser and the authorize page: redirects back with a code for the challenge."""

    def __init__(self, identity: FakeIdentity) -> None:
        self.identity = identity
        self.pages: list[tuple[int, str]] = []

    def __call__(self, authorize_url: str) -> None:
        query = _query(authorize_url)
        redirect = query["redirect_uri"]
        self.identity.codes["loop-code"] = (query["code_challenge"], redirect)
        with httpx.Client() as client:  # a real request to the listener
            stray = client.get(redirect, params={"code": "evil", "state": "forged"})
            self.pages.append((stray.status_code, stray.text))
            answer = client.get(redirect, params={"code": "loop-code", "state": query["state"]})
            self.pages.append((answer.status_code, answer.text))


def test_loopback_flow_receives_the_redirect_and_redeems_the_code(
    identity: FakeIdentity, clock: FakeClock
) -> None:
    browser = FakeBrowser(identity)
    tokens = run_loopback_flow(code_config(), browser, transport=identity.transport, clock=clock, timeout=30)
    assert tokens.access_token == "access-1"
    assert [status for status, _ in browser.pages] == [400, 200]
    assert "Signed in" in browser.pages[1][1] and "loop-code" not in browser.pages[1][1]
    redirect_uri = identity.requests[0]["redirect_uri"]
    assert re.fullmatch(r"http://localhost:\d+", redirect_uri)
    assert len(identity.requests) == 1  # the forged callback was never exchanged


def test_loopback_flow_keeps_the_registered_path(identity: FakeIdentity) -> None:
    browser = FakeBrowser(identity)
    run_loopback_flow(
        code_config(redirect_uri="http://localhost/auth/cb"), browser, transport=identity.transport
    )
    assert re.fullmatch(r"http://localhost:\d+/auth/cb", identity.requests[0]["redirect_uri"])


def test_loopback_flow_reports_a_refusal(identity: FakeIdentity) -> None:
    def decline(authorize_url: str) -> None:
        query = _query(authorize_url)
        params = {
            "error": "access_denied",
            "error_description": "AADSTS65004: User declined to consent.",
            "state": query["state"],
        }
        httpx.get(query["redirect_uri"], params=params)

    with pytest.raises(AuthError) as info:
        run_loopback_flow(code_config(), decline, transport=identity.transport)
    assert info.value.aadsts == "65004" and "consent" in info.value.hint
    assert identity.requests == []


def test_loopback_flow_times_out(identity: FakeIdentity) -> None:
    opened: list[str] = []
    with pytest.raises(AuthError, match="No sign-in arrived") as info:
        run_loopback_flow(code_config(), opened.append, timeout=0, transport=identity.transport)
    assert info.value.code == "timeout" and len(opened) == 1


def test_loopback_needs_a_loopback_redirect_uri() -> None:
    with pytest.raises(ConfigurationError, match="loopback redirect URI"):
        run_loopback_flow(code_config(redirect_uri="https://app.example.com/cb"), lambda url: None)


def test_connect_interactively_signs_in_and_saves(
    store: Store, identity: FakeIdentity, graph: FakeGraph, clock: FakeClock
) -> None:
    config = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "tenant": TENANT}
    conn = connect_interactively(
        store, "work", "oauth2_code", config, FakeBrowser(identity), transport=identity.transport, clock=clock
    )
    assert (store.load_tokens("work") or {})["refresh_token"] == "refresh-1"
    with graph.client(load_connection(store, "work", clock=clock).auth()) as client:
        assert client.get("/me").json()["token"] == "access-1"
    assert conn.name == "work"


def test_connect_interactively_checks_client_credentials_before_saving(
    store: Store, identity: FakeIdentity, clock: FakeClock
) -> None:
    config = {
        "tenant": TENANT,
        "client_id": CLIENT_ID,
        "client_secret": "wrong",
        "default_mailbox": "m@x.com",
    }
    with pytest.raises(AuthError, match="AADSTS7000215"):
        connect_interactively(
            store, "app", "client_credentials", config, lambda url: None, transport=identity.transport
        )
    assert store.get_connection("app") is None
    config["client_secret"] = CLIENT_SECRET
    connect_interactively(
        store, "app", "client_credentials", config, lambda url: None, transport=identity.transport
    )
    assert (store.load_tokens("app") or {})["access_token"] == "access-1"


# -- headless (sandbox) ----------------------------------------------------------------------------------
class FakeAuthorizePage:
    """The authorize endpoint of an emulator that consents by itself (302 back with code and state)."""

    def __init__(self, identity: FakeIdentity, fail: str | None = None) -> None:
        self.identity = identity
        self.fail = fail
        self.lock = threading.Lock()

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return self.identity.handle(request)
        if self.fail:
            page = f'<html><body><p id="error">{self.fail}</p></body></html>'
            return httpx.Response(400, html=page)
        query = dict(request.url.params)
        self.identity.codes["hl-code"] = (query["code_challenge"], query["redirect_uri"])
        location = f"{query['redirect_uri']}?code=hl-code&state={query['state']}&session_state=s"
        return httpx.Response(302, headers={"Location": location})


def test_authorize_headless_runs_the_real_pkce_path(identity: FakeIdentity) -> None:
    page = FakeAuthorizePage(identity)
    tokens = authorize_headless(code_config(), "user@contoso.com", transport=httpx.MockTransport(page.handle))
    assert tokens.refresh_token == "refresh-1"
    assert identity.requests[0]["code"] == "hl-code"


def test_authorize_headless_reports_the_error_page(identity: FakeIdentity) -> None:
    page = FakeAuthorizePage(
        identity, fail="AADSTS50034: The user account nobody@x does not exist in the directory."
    )
    with pytest.raises(AuthError) as info:
        authorize_headless(code_config(), "nobody@x", transport=httpx.MockTransport(page.handle))
    assert info.value.aadsts == "50034" and "nobody@x does not exist" in info.value.message
    assert identity.requests == []
