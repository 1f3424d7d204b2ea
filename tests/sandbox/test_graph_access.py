"""Who may call what: 401/403/400/404 answers and their Graph error shape; users endpoints."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from sandbox import seed
from sandbox.app import create_app
from sandbox.config import SandboxConfig
from tests.sandbox.conftest import OTHER_USER, app_token, bearer, delegated_tokens


def graph_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str)
    inner = error["innerError"]
    assert inner["request-id"] == response.headers["request-id"]
    assert inner["client-request-id"] == response.headers["client-request-id"]
    assert len(inner["date"]) == 19
    return error


def test_missing_token_is_401_with_graph_error_and_request_ids(client: FlaskClient) -> None:
    response = client.get("/v1.0/me/messages", headers={"client-request-id": "my-correlation-id"})
    error = graph_error(response, 401, "InvalidAuthenticationToken")
    assert error["message"] == "Access token is empty."
    assert response.headers["client-request-id"] == "my-correlation-id"
    assert "Bearer" in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("header", ["Bearer not.a.jwt", "Bearer abc", "Basic dXNlcjpwYXNz"])
def test_invalid_tokens_are_401(client: FlaskClient, header: str) -> None:
    graph_error(client.get("/v1.0/me", headers={"Authorization": header}), 401, "InvalidAuthenticationToken")


def test_every_answer_carries_request_ids(client: FlaskClient, user_headers: dict[str, str]) -> None:
    for path in ("/v1.0/me", "/v1.0/me/mailFolders", "/v1.0/nothing-here"):
        response = client.get(path, headers=user_headers)
        assert response.headers["request-id"]
        assert response.headers["client-request-id"]


def test_me_with_an_app_only_token_is_a_bad_request(client: FlaskClient, app_headers: dict[str, str]) -> None:
    for path in ("/v1.0/me", "/v1.0/me/messages"):
        error = graph_error(client.get(path, headers=app_headers), 400, "BadRequest")
        assert error["message"] == "/me request is only valid with delegated authentication flow."


def test_app_only_reaches_any_mailbox_by_id_or_upn(client: FlaskClient, app_headers: dict[str, str]) -> None:
    upn = OTHER_USER["userPrincipalName"]
    for ref in (upn, upn.upper(), OTHER_USER["id"]):
        response = client.get(f"/v1.0/users/{ref}/messages?$top=1", headers=app_headers)
        assert response.status_code == 200
        assert response.get_json()["value"][0]["toRecipients"]


def test_unknown_users(client: FlaskClient, app_headers: dict[str, str]) -> None:
    error = graph_error(
        client.get("/v1.0/users/ghost@meridiantraders.onmicrosoft.com/messages", headers=app_headers),
        404,
        "ErrorInvalidUser",
    )
    assert "ghost@meridiantraders.onmicrosoft.com" in error["message"]
    graph_error(
        client.get("/v1.0/users/ghost@meridiantraders.onmicrosoft.com", headers=app_headers),
        404,
        "Request_ResourceNotFound",
    )


def test_delegated_token_cannot_open_another_users_mailbox(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    response = client.get(f"/v1.0/users/{OTHER_USER['userPrincipalName']}/messages", headers=user_headers)
    error = graph_error(response, 403, "ErrorAccessDenied")
    assert error["message"] == "Access is denied. Check credentials and try again."


def test_shared_mailbox_needs_shared_scopes(client: FlaskClient, user_headers: dict[str, str]) -> None:
    path = f"/v1.0/users/{seed.SHARED_MAILBOX}/mailFolders/inbox/messages"
    assert client.get(path, headers=user_headers).status_code == 200
    narrow = bearer(delegated_tokens(client, scope="Mail.ReadWrite User.Read")["access_token"])
    graph_error(client.get(path, headers=narrow), 403, "ErrorAccessDenied")


def test_missing_scope_is_access_denied(client: FlaskClient) -> None:
    headers = bearer(delegated_tokens(client, scope="User.Read")["access_token"])
    assert client.get("/v1.0/me", headers=headers).status_code == 200
    graph_error(client.get("/v1.0/me/messages", headers=headers), 403, "ErrorAccessDenied")
    send = client.post("/v1.0/me/sendMail", headers=headers, json={"message": {}})
    graph_error(send, 403, "ErrorAccessDenied")


def test_missing_app_role_is_access_denied() -> None:
    client = create_app(SandboxConfig(app_roles=("User.Read.All",))).test_client()
    headers = bearer(app_token(client))
    assert client.get(f"/v1.0/users/{seed.DEFAULT_USER}", headers=headers).status_code == 200
    graph_error(
        client.get(f"/v1.0/users/{seed.DEFAULT_USER}/messages", headers=headers), 403, "ErrorAccessDenied"
    )


def test_get_me_and_users(client: FlaskClient, user_headers: dict[str, str]) -> None:
    me = client.get("/v1.0/me", headers=user_headers).get_json()
    assert me["@odata.context"].endswith("/v1.0/$metadata#users/$entity")
    assert me["id"] == seed.USERS[0]["id"] and me["jobTitle"] == seed.USERS[0]["jobTitle"]
    assert set(me) - {"@odata.context"} == set(seed.USERS[0])
    other = client.get(f"/v1.0/users/{OTHER_USER['id']}?$select=displayName,department", headers=user_headers)
    assert other.get_json() == {
        "@odata.context": other.get_json()["@odata.context"],
        "displayName": OTHER_USER["displayName"],
        "department": "Finance",
    }


def test_list_users_pages_with_skip_tokens(client: FlaskClient, app_headers: dict[str, str]) -> None:
    seen: list[str] = []
    url: str | None = "/v1.0/users?$top=4&$select=id,userPrincipalName"
    while url:
        body = client.get(url, headers=app_headers).get_json()
        seen += [user["id"] for user in body["value"]]
        url = body.get("@odata.nextLink")
        assert url is None or "$skiptoken=" in url
    assert sorted(seen) == sorted(user["id"] for user in seed.DIRECTORY)
    graph_error(client.get("/v1.0/users?$top=1000", headers=app_headers), 400, "Request_BadRequest")


def test_list_users_needs_directory_permission(client: FlaskClient) -> None:
    headers = bearer(delegated_tokens(client, scope="User.Read")["access_token"])
    graph_error(client.get("/v1.0/users", headers=headers), 403, "Authorization_RequestDenied")


def test_unknown_segments_and_methods(client: FlaskClient, user_headers: dict[str, str]) -> None:
    error = graph_error(client.get("/v1.0/me/nonsense", headers=user_headers), 400, "BadRequest")
    assert "nonsense" in error["message"]
    graph_error(client.put("/v1.0/me/messages", headers=user_headers, json={}), 405, "Request_BadRequest")
