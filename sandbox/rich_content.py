"""Graph's side of rich change notifications (includeResourceData): the resource encrypted for the
subscriber's certificate, and the validation tokens that prove a POST came from Graph.

The encryption follows Microsoft's description of changeNotificationEncryptedContent: a fresh
random AES-256 key per item encrypts the resource's JSON (CBC, PKCS7 padding, IV = the key's first
16 bytes); ``dataSignature`` is HMAC-SHA256 of the encrypted bytes under that key; ``dataKey`` is the
key encrypted with the certificate's RSA public key (OAEP with SHA-1 and MGF1/SHA-1).

Validation tokens are signed with the sandbox identity key (sandbox/tokens.py), so they verify
against the sandbox JWKS at ``/{tenant}/discovery/v2.0/keys`` just as Graph's verify against
Microsoft's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import MGF1, OAEP
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import Encoding

from sandbox import tokens

CHANGE_TRACKING_APP_ID: Final = "0bf30f3b-4a52-48df-9a82-234910c4a086"
"""The Microsoft Graph Change Tracking application: the ``azp`` of every validation token."""
ISSUER_BASE: Final = "https://sts.windows.net"
"""Validation tokens are v1 tokens: ``iss`` is ``https://sts.windows.net/{tenantId}/``."""


class EncryptionFailed(ValueError):
    """The certificate cannot be used to encrypt resource data (not base64 DER X.509, not RSA)."""


def _public_key(certificate_b64: str) -> tuple[rsa.RSAPublicKey, str]:
    """The certificate's RSA public key and its thumbprint (SHA-1 of the DER, upper-case hex)."""
    try:
        der = base64.b64decode(certificate_b64, validate=True)
        certificate = x509.load_der_x509_certificate(der)
    except ValueError as exc:  # binascii.Error is a ValueError
        raise EncryptionFailed("the encryption certificate is not base64-encoded X.509 DER") from exc
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise EncryptionFailed("the encryption certificate does not hold an RSA public key")
    thumbprint = hashlib.sha1(certificate.public_bytes(Encoding.DER)).hexdigest().upper()
    return key, thumbprint


def encrypt_resource(resource: dict[str, Any], certificate_b64: str, certificate_id: str) -> dict[str, Any]:
    """``encryptedContent`` for one notification item: ``resource`` encrypted for the certificate."""
    public_key, thumbprint = _public_key(certificate_b64)
    data_key = os.urandom(32)
    padder = padding.PKCS7(128).padder()
    plain = padder.update(json.dumps(resource).encode("utf-8")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(data_key), modes.CBC(data_key[:16])).encryptor()
    data = encryptor.update(plain) + encryptor.finalize()
    signature = hmac.new(data_key, data, hashlib.sha256).digest()
    wrapped_key = public_key.encrypt(
        data_key, OAEP(mgf=MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    )
    return {
        "data": base64.b64encode(data).decode("ascii"),
        "dataSignature": base64.b64encode(signature).decode("ascii"),
        "dataKey": base64.b64encode(wrapped_key).decode("ascii"),
        "encryptionCertificateId": certificate_id,
        "encryptionCertificateThumbprint": thumbprint,
    }


def sign_validation_token(
    *,
    app_id: str,
    tenant_id: str,
    lifetime_seconds: int = 3600,
    issuer_base: str = ISSUER_BASE,
    now: float | None = None,
) -> str:
    """A validation token as Graph puts in ``validationTokens``: an RS256 JWT from the tenant's
    identity platform, for the subscribing app (``aud``), obtained by Graph's change tracking app
    (``azp``). ``issuer_base`` and ``now`` exist for tests that need a foreign issuer or an old token."""
    issued = int(time.time() if now is None else now)
    principal = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant_id}/{CHANGE_TRACKING_APP_ID}"))
    claims = {
        "aud": app_id,
        "iss": f"{issuer_base.rstrip('/')}/{tenant_id}/",
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime_seconds,
        "aio": base64.b64encode(os.urandom(24)).decode("ascii"),
        "appid": CHANGE_TRACKING_APP_ID,
        "appidacr": "2",
        "azp": CHANGE_TRACKING_APP_ID,
        "azpacr": "2",
        "idp": f"{ISSUER_BASE}/{tenant_id}/",
        "oid": principal,  # the change tracking app's service principal in the tenant
        "sub": principal,
        "tid": tenant_id,
        "uti": tokens.b64url(uuid.uuid4().bytes),
        "ver": "1.0",
    }
    return tokens.sign(claims)
