"""The sandbox's side of rich notifications, checked independently of the connector's decryption:
``encrypt_resource`` as Microsoft documents changeNotificationEncryptedContent, and
``sign_validation_token`` verifying against the JWKS the sandbox serves."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.padding import MGF1, OAEP, PKCS1v15
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from flask.testing import FlaskClient

from sandbox import seed, tokens
from sandbox.rich_content import (
    CHANGE_TRACKING_APP_ID,
    EncryptionFailed,
    encrypt_resource,
    sign_validation_token,
)

RESOURCE = {"id": "AAMkAD=", "subject": "Quarterly numbers \u2013 d\u00e9j\u00e0 vu", "isRead": False}


def certificate(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> tuple[str, bytes]:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rich content tests")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(Encoding.DER)
    return base64.b64encode(der).decode("ascii"), der


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def unwrap(content: dict[str, Any], key: rsa.RSAPrivateKey) -> bytes:
    return key.decrypt(
        base64.b64decode(content["dataKey"]),
        OAEP(mgf=MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None),
    )


def test_encrypted_content_follows_the_documented_scheme(rsa_key: rsa.RSAPrivateKey) -> None:
    cert_b64, der = certificate(rsa_key)
    content = encrypt_resource(RESOURCE, cert_b64, "cert-7")

    assert set(content) == {
        "data",
        "dataSignature",
        "dataKey",
        "encryptionCertificateId",
        "encryptionCertificateThumbprint",
    }
    assert content["encryptionCertificateId"] == "cert-7"
    assert content["encryptionCertificateThumbprint"] == hashlib.sha1(der).hexdigest().upper()
    data_key = unwrap(content, rsa_key)
    assert len(data_key) == 32  # AES-256
    data = base64.b64decode(content["data"])
    assert base64.b64decode(content["dataSignature"]) == hmac.new(data_key, data, hashlib.sha256).digest()
    decryptor = Cipher(algorithms.AES(data_key), modes.CBC(data_key[:16])).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    plain = unpadder.update(decryptor.update(data) + decryptor.finalize()) + unpadder.finalize()
    assert json.loads(plain) == RESOURCE


def test_every_item_gets_a_fresh_key(rsa_key: rsa.RSAPrivateKey) -> None:
    cert_b64, _ = certificate(rsa_key)
    first, second = (encrypt_resource(RESOURCE, cert_b64, "c") for _ in range(2))
    assert unwrap(first, rsa_key) != unwrap(second, rsa_key)
    assert first["data"] != second["data"]


@pytest.mark.parametrize(
    "cert_b64",
    [
        "not base64!",
        base64.b64encode(b"not a certificate").decode(),
        certificate(ec.generate_private_key(ec.SECP256R1()))[0],  # no RSA key to wrap the data key
    ],
    ids=["not-base64", "not-x509", "ec-key"],
)
def test_unusable_certificates_are_refused(cert_b64: str) -> None:
    with pytest.raises(EncryptionFailed, match="certificate"):
        encrypt_resource(RESOURCE, cert_b64, "c")


def test_validation_token_claims_are_like_microsofts() -> None:
    token = sign_validation_token(app_id=seed.CLIENT_ID, tenant_id=seed.TENANT_ID, lifetime_seconds=600)
    claims = tokens.verify(token)
    assert claims["aud"] == seed.CLIENT_ID
    assert claims["iss"] == f"https://sts.windows.net/{seed.TENANT_ID}/"
    assert claims["azp"] == CHANGE_TRACKING_APP_ID == "0bf30f3b-4a52-48df-9a82-234910c4a086"
    assert claims["tid"] == seed.TENANT_ID
    assert claims["nbf"] == claims["iat"] and claims["exp"] - claims["iat"] == 600
    header = json.loads(tokens.b64url_decode(token.split(".")[0]))
    assert header["alg"] == "RS256"


def test_validation_tokens_verify_with_the_served_jwks(client: FlaskClient) -> None:
    token = sign_validation_token(app_id=seed.CLIENT_ID, tenant_id=seed.TENANT_ID)
    jwks = client.get(f"/{seed.TENANT_ID}/discovery/v2.0/keys").get_json()
    header = json.loads(tokens.b64url_decode(token.split(".")[0]))
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    public = rsa.RSAPublicNumbers(
        int.from_bytes(tokens.b64url_decode(jwk["e"]), "big"),
        int.from_bytes(tokens.b64url_decode(jwk["n"]), "big"),
    ).public_key()
    signing_input, _, signature = token.rpartition(".")
    public.verify(tokens.b64url_decode(signature), signing_input.encode(), PKCS1v15(), hashes.SHA256())


def test_issuer_and_time_can_be_chosen_for_tests() -> None:
    token = sign_validation_token(
        app_id="a", tenant_id="t", issuer_base="https://login.example/", now=1_000, lifetime_seconds=60
    )
    claims = tokens.verify(token)
    assert (claims["iss"], claims["iat"], claims["exp"]) == ("https://login.example/t/", 1_000, 1_060)
