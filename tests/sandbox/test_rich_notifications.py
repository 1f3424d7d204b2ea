"""Rich change notifications (includeResourceData) from the sandbox: the item carries the resource
encrypted for the subscriber's certificate, the POST carries validation tokens signed by the
sandbox's identity key. The test decrypts as Microsoft documents it (RSA-OAEP/SHA-1 data key,
HMAC-SHA256 signature, AES-CBC with PKCS7 and the key's first 16 bytes as IV)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import MGF1, OAEP
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from sandbox import seed, tokens
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.sandbox.test_subscriptions import FAST, USER, Sandbox, created, subscribe
from tests.support.listener import Listener

pytest.importorskip("sandbox.rich_content")


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    running = Sandbox(SandboxServer(SandboxConfig(**FAST)).start())
    yield running
    running.close()
    running.server.stop()


def certificate() -> tuple[str, rsa.RSAPrivateKey]:
    """A self-signed certificate (base64 DER, as Graph takes it) and its private key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "outlook-connector tests")])
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
    return base64.b64encode(cert.public_bytes(Encoding.DER)).decode("ascii"), key


def decrypt(content: dict[str, Any], key: rsa.RSAPrivateKey) -> Any:
    data_key = key.decrypt(
        base64.b64decode(content["dataKey"]),
        OAEP(mgf=MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None),
    )
    data = base64.b64decode(content["data"])
    signature = hmac.new(data_key, data, hashlib.sha256).digest()
    assert hmac.compare_digest(signature, base64.b64decode(content["dataSignature"]))
    decryptor = Cipher(algorithms.AES(data_key), modes.CBC(data_key[:16])).decryptor()
    padded = decryptor.update(data) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return json.loads(unpadder.update(padded) + unpadder.finalize())


def test_a_rich_notification_carries_the_encrypted_resource_and_validation_tokens(sandbox: Sandbox) -> None:
    me = sandbox.user()
    cert, key = certificate()
    with Listener() as listener:
        sub = created(
            subscribe(
                me,
                listener.url,
                "me/mailFolders('inbox')/messages",
                "created,updated,deleted",
                minutes=1440,
                includeResourceData=True,
                encryptionCertificate=cert,
                encryptionCertificateId="cert-1",
            )
        )
        assert sub["includeResourceData"] is True and sub["encryptionCertificateId"] == "cert-1"
        new = me.post("/me/mailFolders/inbox/messages", json={"subject": "Rich and secret"}).json()
        assert me.delete(f"/me/messages/{new['id']}").status_code == 204
        assert sandbox.hub.deliver_pending() == 2
        (body,) = listener.posts()

    (token,) = body["validationTokens"]
    claims = tokens.verify(token)  # signed with the sandbox's identity key (its JWKS)
    assert claims["aud"] == seed.CLIENT_ID
    assert claims["iss"] == f"https://sts.windows.net/{seed.TENANT_ID}/"
    created_item, deleted_item = body["value"]
    content = created_item["encryptedContent"]
    assert content["encryptionCertificateId"] == "cert-1"
    assert content["encryptionCertificateThumbprint"]
    message = decrypt(content, key)
    assert (message["id"], message["subject"]) == (new["id"], "Rich and secret")
    assert created_item["resource"] == f"Users/{USER['id']}/Messages/{new['id']}"
    assert deleted_item["changeType"] == "deleted" and "encryptedContent" not in deleted_item
