"""RS256 JSON Web Tokens signed with a key made once per process, and its JWKS."""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class SigningKey:
    private_key: rsa.RSAPrivateKey
    kid: str
    certificate_der: bytes

    def jwk(self, issuer: str) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "x5t": self.kid,
            "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
            "x5c": [base64.b64encode(self.certificate_der).decode("ascii")],
            "issuer": issuer,
        }


_key_lock = threading.Lock()


@functools.cache
def _make_key() -> SigningKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sandbox.login.local")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    der = certificate.public_bytes(serialization.Encoding.DER)
    return SigningKey(key, b64url(hashlib.sha1(der).digest()), der)


def signing_key() -> SigningKey:
    """The process's signing key, made on first use (about 100 ms), so creating apps stays fast."""
    with _key_lock:
        return _make_key()


def sign(claims: dict[str, Any]) -> str:
    key = signing_key()
    header = {"typ": "JWT", "alg": "RS256", "kid": key.kid, "x5t": key.kid}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = key.private_key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


class TokenInvalid(Exception):
    """The token is not a well-formed JWT signed by this sandbox."""


def verify(token: str) -> dict[str, Any]:
    """The claims of a token signed by ``sign``; checks the signature only (callers check the claims)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenInvalid("not a JWT")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except ValueError as exc:
        raise TokenInvalid("undecodable JWT") from exc
    key = signing_key()
    if not isinstance(header, dict) or header.get("alg") != "RS256" or header.get("kid") != key.kid:
        raise TokenInvalid("unknown signing key")
    try:
        key.private_key.public_key().verify(
            signature, f"{parts[0]}.{parts[1]}".encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature as exc:
        raise TokenInvalid("bad signature") from exc
    if not isinstance(claims, dict):
        raise TokenInvalid("claims are not an object")
    return claims
