"""Rich notifications on the connector's side: the certificate it generates, decrypting what the
sandbox encrypts (and refusing what was altered or meant for another certificate), and checking
validation tokens against the JWKS a real sandbox serves."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import MGF1, OAEP
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from joserfc import jwt as jose_jwt
from joserfc.jwk import RSAKey

from sandbox import seed, tokens
from sandbox.config import SandboxConfig
from sandbox.rich_content import encrypt_resource, sign_validation_token
from sandbox.server import SandboxServer
from tests.sandbox.test_subscriptions import FAST, USER, Sandbox, created, subscribe
from tests.support.listener import Listener
from triggers.rich import (
    CHANGE_TRACKING_APP_ID,
    NotificationCertificate,
    RichNotificationError,
    TokenValidator,
    decrypt_content,
    generate_certificate,
    jwks_url_for,
)

RESOURCE: dict[str, Any] = {
    "@odata.type": "#Microsoft.Graph.Message",
    "id": "AAMkAGI2TG93AAA=",
    "subject": "Budget \u2013 r\u00e9sum\u00e9 \U0001f4ce",
    "body": {"contentType": "html", "content": "<p>" + "x" * 5000 + "</p>"},
}
JWKS_PATH = "/discovery/v2.0/keys"


# -- certificates ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cert() -> NotificationCertificate:
    return generate_certificate("outlook-connector trigger")


@pytest.fixture(scope="module")
def other_cert() -> NotificationCertificate:
    return generate_certificate("another trigger")


def test_generated_certificate_is_what_graph_takes(cert: NotificationCertificate) -> None:
    der = base64.b64decode(cert.certificate_b64, validate=True)
    certificate = x509.load_der_x509_certificate(der)
    public = certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048
    assert certificate.subject.rfc4514_string() == "CN=outlook-connector trigger"
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert 365 <= lifetime.days <= 366
    assert cert.thumbprint == hashlib.sha1(der).hexdigest().upper()
    assert 8 <= len(cert.certificate_id) <= 40
    key = serialization.load_pem_private_key(cert.private_key_pem, password=None)
    assert cert.private_key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS8, unencrypted
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.public_key().public_numbers() == public.public_numbers()
    assert "PRIVATE KEY" not in repr(cert)


def test_each_certificate_is_new(cert: NotificationCertificate, other_cert: NotificationCertificate) -> None:
    assert cert.certificate_id != other_cert.certificate_id
    assert cert.thumbprint != other_cert.thumbprint


@pytest.mark.parametrize(
    ("name", "days", "field"),
    [
        ("", 365, "common_name"),
        ("x" * 65, 365, "common_name"),
        ("ok", 0, "valid_days"),
        ("ok", True, "valid_days"),
    ],
)
def test_bad_certificate_requests_name_the_field(name: str, days: int, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        generate_certificate(name, valid_days=days)


# -- decryption --------------------------------------------------------------------------------------
def test_round_trip_from_the_sandbox(cert: NotificationCertificate) -> None:
    encrypted = encrypt_resource(RESOURCE, cert.certificate_b64, cert.certificate_id)
    assert (
        decrypt_content(
            encrypted,
            cert.private_key_pem,
            expected_certificate_id=cert.certificate_id,
            expected_thumbprint=cert.thumbprint,
        )
        == RESOURCE
    )


def flip(b64: str, index: int = 0) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode("ascii")


def rejected(encrypted: dict[str, Any], pem: bytes, match: str, **kwargs: Any) -> str:
    with pytest.raises(RichNotificationError, match=match) as caught:
        decrypt_content(encrypted, pem, **kwargs)
    message = str(caught.value)
    assert "PRIVATE KEY" not in message and encrypted.get("dataKey", "-") not in message
    return message


def test_tampered_data_is_rejected(cert: NotificationCertificate) -> None:
    encrypted = encrypt_resource(RESOURCE, cert.certificate_b64, cert.certificate_id)
    for index in (0, 37, -1):
        rejected({**encrypted, "data": flip(encrypted["data"], index)}, cert.private_key_pem, "altered")


def test_tampered_signature_is_rejected(cert: NotificationCertificate) -> None:
    encrypted = encrypt_resource(RESOURCE, cert.certificate_b64, cert.certificate_id)
    rejected(
        {**encrypted, "dataSignature": flip(encrypted["dataSignature"])}, cert.private_key_pem, "altered"
    )


def test_content_swapped_between_items_is_rejected(cert: NotificationCertificate) -> None:
    one = encrypt_resource(RESOURCE, cert.certificate_b64, cert.certificate_id)
    two = encrypt_resource({"id": "other"}, cert.certificate_b64, cert.certificate_id)
    rejected(
        {**one, "data": two["data"], "dataSignature": two["dataSignature"]}, cert.private_key_pem, "altered"
    )


def test_wrong_private_key_is_rejected(
    cert: NotificationCertificate, other_cert: NotificationCertificate
) -> None:
    encrypted = encrypt_resource(RESOURCE, cert.certificate_b64, cert.certificate_id)
    rejected(encrypted, other_cert.private_key_pem, "could not be decrypted")


def test_wrong_certificate_id_or_thumbprint_is_rejected(
    cert: NotificationCertificate, other_cert: NotificationCertificate
) -> None:
    encrypted = encrypt_resource(RESOURCE, other_cert.certificate_b64, other_cert.certificate_id)
    message = rejected(
        encrypted, cert.private_key_pem, "certificate id", expected_certificate_id=cert.certificate_id
    )
    assert other_cert.certificate_id in message
    relabelled = {**encrypted, "encryptionCertificateId": cert.certificate_id}
    rejected(relabelled, cert.private_key_pem, "thumbprint", expected_thumbprint=cert.thumbprint)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"data": None}, r"encryptedContent\.data is missing"),
        ({"dataKey": "%%%"}, r"encryptedContent\.dataKey is not base64"),
        ({"dataSignature": 5}, r"encryptedContent\.dataSignature is missing or not a string"),
    ],
)
def test_malformed_content_names_the_field(
    cert: NotificationCertificate, change: dict[str, Any], match: str
) -> None:
    encrypted = encrypt_resource(RESOURCE, cert.certificate_b64, cert.certificate_id)
    rejected({**encrypted, **change}, cert.private_key_pem, match)


def sealed(cert: NotificationCertificate, plain: bytes, *, pad: bool) -> dict[str, Any]:
    """Content signed and wrapped correctly around chosen plaintext (to reach the padding and JSON checks)."""
    key = os.urandom(32)
    if pad:
        padder = sym_padding.PKCS7(128).padder()
        plain = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    data = encryptor.update(plain) + encryptor.finalize()
    public = x509.load_der_x509_certificate(base64.b64decode(cert.certificate_b64)).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    wrapped = public.encrypt(
        key, OAEP(mgf=MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    )
    return {
        "data": base64.b64encode(data).decode(),
        "dataSignature": base64.b64encode(hmac.new(key, data, hashlib.sha256).digest()).decode(),
        "dataKey": base64.b64encode(wrapped).decode(),
        "encryptionCertificateId": cert.certificate_id,
    }


def test_bad_padding_and_non_json_are_rejected(cert: NotificationCertificate) -> None:
    rejected(sealed(cert, b"sixteen bytes!!\x00", pad=False), cert.private_key_pem, "bad padding")
    rejected(sealed(cert, b"\xff not json", pad=True), cert.private_key_pem, "does not decrypt to JSON")
    rejected(sealed(cert, b"[1, 2]", pad=True), cert.private_key_pem, "not .*JSON object|JSON object")


def test_an_unloadable_private_key_is_reported_without_its_text(cert: NotificationCertificate) -> None:
    encrypted = encrypt_resource(RESOURCE, cert.certificate_b64, cert.certificate_id)
    garbled = cert.private_key_pem.replace(b"M", b"Q", 3)
    message = rejected(encrypted, garbled, "private key could not be loaded")
    assert garbled.decode() not in message


# -- validation tokens -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(**FAST)) as running:
        yield running


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def jwks_fetches(server: SandboxServer) -> int:
    return sum(1 for record in server.state.request_log if record.path.endswith(JWKS_PATH))


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def validator(server: SandboxServer, http: httpx.Client, clock: Clock | None = None) -> TokenValidator:
    return TokenValidator(
        jwks_url_for(server.url, seed.TENANT_ID),
        seed.CLIENT_ID,
        [seed.TENANT_ID],
        http=http,
        clock=clock or time.time,
    )


def good_token(**kwargs: Any) -> str:
    return sign_validation_token(app_id=seed.CLIENT_ID, tenant_id=seed.TENANT_ID, **kwargs)


def forged(kid: str, **overrides: Any) -> str:
    """A token like Graph's with every right claim, signed by a key that is not the sandbox's."""
    now = int(time.time())
    claims = {
        "aud": seed.CLIENT_ID,
        "iss": f"https://sts.windows.net/{seed.TENANT_ID}/",
        "azp": CHANGE_TRACKING_APP_ID,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        **overrides,
    }
    return jose_jwt.encode({"alg": "RS256", "kid": kid, "typ": "JWT"}, claims, RSAKey.generate_key(2048))


def refused(check: TokenValidator, token_list: list[str], match: str) -> RichNotificationError:
    with pytest.raises(RichNotificationError, match=match) as caught:
        check.check(token_list)
    assert all(token not in str(caught.value) for token in token_list if isinstance(token, str))
    return caught.value


def test_jwks_url_is_microsofts_location() -> None:
    assert (
        jwks_url_for("https://login.microsoftonline.com/", "contoso.onmicrosoft.com")
        == "https://login.microsoftonline.com/contoso.onmicrosoft.com/discovery/v2.0/keys"
    )
    with pytest.raises(ValueError, match="tenant"):
        jwks_url_for("https://login.microsoftonline.com", "a/b")
    with pytest.raises(ValueError, match="login_base_url"):
        jwks_url_for("login.microsoftonline.com", "common")


def test_a_good_token_passes(server: SandboxServer, http: httpx.Client) -> None:
    validator(server, http).check([good_token(), good_token()])


def test_a_token_signed_by_another_key_is_refused(server: SandboxServer, http: httpx.Client) -> None:
    check = validator(server, http)
    refused(check, [forged(tokens.signing_key().kid)], "signature does not verify")
    refused(check, [good_token(), forged("some-other-key")], r"validationTokens\[1\].*key")


def test_wrong_claims_are_refused(server: SandboxServer, http: httpx.Client) -> None:
    check = validator(server, http)
    now = int(time.time())
    refused(check, [sign_validation_token(app_id="another-app", tenant_id=seed.TENANT_ID)], "another app")
    refused(check, [sign_validation_token(app_id=seed.CLIENT_ID, tenant_id="other-tenant")], "issued by")
    refused(check, [good_token(issuer_base="https://login.example")], "issued by")
    base = {
        "aud": seed.CLIENT_ID,
        "iss": f"https://sts.windows.net/{seed.TENANT_ID}/",
        "iat": now,
        "nbf": now,
    }
    refused(check, [tokens.sign({**base, "exp": now + 60, "azp": "someone-else"})], "change tracking")
    refused(check, [tokens.sign({**base, "azp": CHANGE_TRACKING_APP_ID})], "lacks the claim")


def test_expiry_uses_the_clock_and_leeway(server: SandboxServer, http: httpx.Client) -> None:
    clock = Clock()
    check = validator(server, http, clock)
    token = good_token(lifetime_seconds=3600)
    clock.now += 3600 + 299  # within the 5-minute leeway
    check.check([token])
    clock.now += 2
    refused(check, [token], "expired")
    clock.now = time.time() - 600  # a token from the future
    refused(check, [good_token()], "not valid yet")


@pytest.mark.parametrize(
    ("header", "match"),
    [({"alg": "none"}, "only RS256"), ({"alg": "HS256"}, "only RS256")],
)
def test_only_rs256_is_accepted(
    server: SandboxServer, http: httpx.Client, header: dict[str, str], match: str
) -> None:
    _, payload, _ = good_token().split(".")
    head = tokens.b64url(str(header).replace("'", '"').encode())
    refused(validator(server, http), [f"{head}.{payload}.c2ln"], match)


@pytest.mark.parametrize("bad", [[], "a.b.c", ["not a jwt"], [None]])
def test_malformed_token_lists_are_refused(server: SandboxServer, http: httpx.Client, bad: Any) -> None:
    with pytest.raises(RichNotificationError):
        validator(server, http).check(bad)


def test_the_jwks_is_fetched_once_for_many_checks(server: SandboxServer, http: httpx.Client) -> None:
    before = jwks_fetches(server)
    check = validator(server, http)
    assert jwks_fetches(server) == before  # lazily
    for _ in range(20):
        check.check([good_token()])
    refused(check, [sign_validation_token(app_id="x", tenant_id=seed.TENANT_ID)], "another app")
    assert jwks_fetches(server) == before + 1


def test_concurrent_first_checks_fetch_the_jwks_once(server: SandboxServer, http: httpx.Client) -> None:
    before = jwks_fetches(server)
    check = validator(server, http)
    start = threading.Barrier(8)
    failures: list[BaseException] = []

    def run() -> None:
        start.wait(timeout=10)
        try:
            check.check([good_token()])
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert not failures
    assert jwks_fetches(server) == before + 1


def test_an_unknown_key_id_refetches_once_then_not_again_for_a_while(
    server: SandboxServer, http: httpx.Client
) -> None:
    clock = Clock()
    check = validator(server, http, clock)
    before = jwks_fetches(server)
    check.check([good_token()])
    stranger = forged("rotated-in-key")
    refused(check, [stranger], "does not publish")
    assert jwks_fetches(server) == before + 1  # just fetched: no refetch for a forged kid
    clock.now += 61
    refused(check, [stranger], "does not publish")
    assert jwks_fetches(server) == before + 2  # a key may have rotated in: fetched again, once
    refused(check, [stranger], "does not publish")
    assert jwks_fetches(server) == before + 2


def test_unreachable_keys_are_a_retryable_failure() -> None:
    calls: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503) if len(calls) == 1 else httpx.Response(200, json={"keys": "nope"})

    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        check = TokenValidator("https://login.example/t/discovery/v2.0/keys", "app", ["t"], http=http)
        error = refused(check, [good_token()], "HTTP 503")
        assert error.retryable
        error = refused(check, [good_token()], "JSON Web Key Set")
        assert error.retryable
    assert len(calls) == 2


def test_a_refused_token_is_not_retryable() -> None:
    jwks = {"keys": [tokens.signing_key().jwk("issuer")]}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=jwks))
    with httpx.Client(transport=transport) as http:
        check = TokenValidator("https://login.example/k", seed.CLIENT_ID, [seed.TENANT_ID], http=http)
        check.check([good_token()])
        token = sign_validation_token(app_id="x", tenant_id=seed.TENANT_ID)
        assert not refused(check, [token], "another app").retryable


def test_validator_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="tenant_ids"):
        TokenValidator("https://login.example/k", "app", [])
    with pytest.raises(ValueError, match="tenant_ids"):
        TokenValidator("https://login.example/k", "app", "tenant")
    with pytest.raises(ValueError, match="jwks_url"):
        TokenValidator("login.example/k", "app", ["t"])


# -- end to end: a rich notification from the sandbox --------------------------------------------------
def test_a_sandbox_rich_notification_decrypts_and_its_tokens_verify(
    server: SandboxServer, http: httpx.Client
) -> None:
    cert = generate_certificate("e2e")
    sandbox = Sandbox(server)
    me = sandbox.user()
    try:
        with Listener() as listener:
            sub = created(
                subscribe(
                    me,
                    listener.url,
                    "me/mailFolders('inbox')/messages",
                    "created",
                    minutes=1440,
                    includeResourceData=True,
                    encryptionCertificate=cert.certificate_b64,
                    encryptionCertificateId=cert.certificate_id,
                )
            )
            new = me.post("/me/mailFolders/inbox/messages", json={"subject": "Rich, end to end"}).json()
            assert sandbox.hub.deliver_pending() == 1
            (body,) = listener.posts()
        me.delete(f"/subscriptions/{sub['id']}")
    finally:
        sandbox.close()

    validator(server, http).check(body["validationTokens"])
    (item,) = body["value"]
    message = decrypt_content(
        item["encryptedContent"], cert.private_key_pem, expected_certificate_id=cert.certificate_id
    )
    assert (message["id"], message["subject"]) == (new["id"], "Rich, end to end")
    assert item["resource"] == f"Users/{USER['id']}/Messages/{new['id']}"
