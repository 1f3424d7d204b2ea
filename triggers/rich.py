"""Rich change notifications (includeResourceData): the certificate a subscription names, decrypting
the ``encryptedContent`` of each item, and checking the ``validationTokens`` of each POST.

Graph encrypts each item's resource with a fresh symmetric key: ``data`` is AES-CBC with PKCS7
padding and the key's first 16 bytes as IV, ``dataSignature`` is HMAC-SHA256 of the encrypted bytes
under that key, and ``dataKey`` is the key encrypted with the subscription certificate's public key
(RSA-OAEP, SHA-1). Every POST carrying resource data also carries ``validationTokens``: RS256 JWTs
from the tenant's Microsoft identity platform, issued to Graph's change tracking app (``azp``) for
the subscribing app (``aud``); a POST whose tokens do not all verify did not come from Graph.

Nothing here ever puts key material, decrypted content or token text in a message.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import MGF1, OAEP
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID
from joserfc import errors as jose_errors
from joserfc import jws, jwt
from joserfc.jwk import KeySet

CHANGE_TRACKING_APP_ID: Final = "0bf30f3b-4a52-48df-9a82-234910c4a086"
"""Microsoft Graph Change Tracking: the ``azp`` of every genuine validation token."""
TOKEN_ISSUER: Final = "https://sts.windows.net/{tenant}/"
ALGORITHMS: Final = ("RS256",)
MAX_TOKENS: Final = 100
"""More tokens than this in one POST is not Graph (it sends one per app and tenant in the batch)."""


class RichNotificationError(Exception):
    """Resource data or validation tokens that must not be trusted.

    ``retryable`` is True only when the check could not be made (the signing keys could not be
    fetched); the notification itself may be genuine and should be tried again later."""

    def __init__(self, reason: str, *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


# -- certificate -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class NotificationCertificate:
    """A subscription's encryption certificate. ``certificate_b64`` (base64 DER) goes into the
    subscription's ``encryptionCertificate`` and ``certificate_id`` into ``encryptionCertificateId``;
    ``private_key_pem`` (unencrypted PKCS8 PEM) must be stored encrypted (the trigger's secrets)."""

    certificate_b64: str
    certificate_id: str
    private_key_pem: bytes = field(repr=False)
    thumbprint: str  # SHA-1 of the DER, upper-case hex, as Graph's encryptionCertificateThumbprint


def generate_certificate(common_name: str, *, valid_days: int = 365) -> NotificationCertificate:
    """A new self-signed RSA 2048 certificate for one subscription (or one trigger)."""
    if not isinstance(common_name, str) or not common_name.strip() or len(common_name) > 64:
        raise ValueError("common_name must be a non-empty string of at most 64 characters")
    if isinstance(valid_days, bool) or not isinstance(valid_days, int) or not 1 <= valid_days <= 3650:
        raise ValueError("valid_days must be a whole number of days from 1 to 3650")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name.strip())])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=valid_days))
        .sign(key, hashes.SHA256())
    )
    der = certificate.public_bytes(serialization.Encoding.DER)
    return NotificationCertificate(
        certificate_b64=base64.b64encode(der).decode("ascii"),
        certificate_id=secrets.token_hex(8),
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        thumbprint=hashlib.sha1(der).hexdigest().upper(),
    )


# -- decryption ------------------------------------------------------------------------------------
def _b64_field(encrypted: Mapping[str, Any], name: str) -> bytes:
    value = encrypted.get(name)
    if not isinstance(value, str) or not value:
        raise RichNotificationError(f"encryptedContent.{name} is missing or not a string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise RichNotificationError(f"encryptedContent.{name} is not base64") from None


def _private_key(private_key_pem: bytes) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(private_key_pem, password=None)
    except (TypeError, ValueError):
        raise RichNotificationError("the stored private key could not be loaded") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise RichNotificationError("the stored private key is not an RSA key")
    return key


def _check_certificate(
    encrypted: Mapping[str, Any], expected_id: str | None, expected_thumbprint: str | None
) -> None:
    if expected_id is not None:
        got = encrypted.get("encryptionCertificateId")
        if got != expected_id:
            raise RichNotificationError(
                f"encrypted for certificate id {got!r}, but this subscription's certificate id is "
                f"{expected_id!r}"
            )
    if expected_thumbprint is not None:
        got = encrypted.get("encryptionCertificateThumbprint")
        if not isinstance(got, str) or got.replace(":", "").upper() != expected_thumbprint.upper():
            raise RichNotificationError(
                f"encrypted for certificate thumbprint {got!r}, expected {expected_thumbprint!r}"
            )


def decrypt_content(
    encrypted: Mapping[str, Any],
    private_key_pem: bytes,
    *,
    expected_certificate_id: str | None = None,
    expected_thumbprint: str | None = None,
) -> dict[str, Any]:
    """The resource an item's ``encryptedContent`` carries, after checking its signature."""
    if not isinstance(encrypted, Mapping):
        raise RichNotificationError("encryptedContent is not an object")
    _check_certificate(encrypted, expected_certificate_id, expected_thumbprint)
    data = _b64_field(encrypted, "data")
    signature = _b64_field(encrypted, "dataSignature")
    wrapped_key = _b64_field(encrypted, "dataKey")
    key = _private_key(private_key_pem)
    try:
        data_key = key.decrypt(
            wrapped_key, OAEP(mgf=MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
        )
    except ValueError:
        raise RichNotificationError(
            "encryptedContent.dataKey could not be decrypted with this subscription's private key "
            "(encrypted for another certificate, or altered)"
        ) from None
    if len(data_key) not in (16, 24, 32):
        raise RichNotificationError("encryptedContent.dataKey is not an AES key")
    expected = hmac.new(data_key, data, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise RichNotificationError(
            "encryptedContent.dataSignature does not match the data: the content was altered"
        )
    return _decrypt_data(data, data_key)


def _decrypt_data(data: bytes, data_key: bytes) -> dict[str, Any]:
    if not data or len(data) % 16:
        raise RichNotificationError("encryptedContent.data is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(data_key), modes.CBC(data_key[:16])).decryptor()
    padded = decryptor.update(data) + decryptor.finalize()
    unpadder = sym_padding.PKCS7(128).unpadder()
    try:
        plain = unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise RichNotificationError("encryptedContent.data has bad padding after decryption") from None
    try:
        resource = json.loads(plain)
    except (UnicodeDecodeError, ValueError):
        raise RichNotificationError("encryptedContent.data does not decrypt to JSON") from None
    if not isinstance(resource, dict):
        raise RichNotificationError("encryptedContent.data does not decrypt to a JSON object")
    return resource


# -- validation tokens -----------------------------------------------------------------------------
def jwks_url_for(login_base_url: str, tenant: str) -> str:
    """Where the tenant's identity platform publishes its signing keys (the JWKS).

    ``login_base_url`` is ``https://login.microsoftonline.com`` (or a national cloud's login host, or
    the sandbox URL, which serves the same path)."""
    base = login_base_url.strip().rstrip("/")
    if not base.startswith(("https://", "http://")):
        raise ValueError("login_base_url must be an http(s) URL")
    if not tenant or "/" in tenant or tenant.strip() != tenant:
        raise ValueError("tenant must be a tenant id, domain, 'common' or 'organizations'")
    return f"{base}/{tenant}/discovery/v2.0/keys"


class TokenValidator:
    """Checks the ``validationTokens`` of rich notification POSTs for one app.

    The JWKS is fetched on first use and cached; a token signed with a key the cache does not hold
    makes one refetch (Microsoft rotates keys), at most once per ``refetch_interval`` seconds so that
    forged tokens with made-up key ids cannot make every request fetch the keys."""

    def __init__(
        self,
        jwks_url: str,
        app_id: str,
        tenant_ids: Collection[str],
        *,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        leeway: int = 300,
        refetch_interval: float = 60.0,
    ) -> None:
        if not jwks_url.startswith(("https://", "http://")):
            raise ValueError("jwks_url must be an http(s) URL")
        if not app_id:
            raise ValueError("app_id must be the subscribing app's client id")
        if isinstance(tenant_ids, str) or not tenant_ids or not all(tenant_ids):
            raise ValueError("tenant_ids must be a non-empty collection of tenant ids")
        if leeway < 0:
            raise ValueError("leeway must not be negative")
        self.jwks_url = jwks_url
        self.app_id = app_id
        self.issuers = frozenset(TOKEN_ISSUER.format(tenant=tenant) for tenant in tenant_ids)
        self._http = http
        self._clock = clock
        self._leeway = leeway
        self._refetch_interval = refetch_interval
        self._lock = threading.Lock()
        self._keys: KeySet | None = None
        self._fetched_at: float | None = None

    # keys
    def _fetch(self) -> KeySet:
        """GET the JWKS (the caller holds the lock)."""
        try:
            if self._http is None:
                self._http = httpx.Client(timeout=10.0)
            response = self._http.get(self.jwks_url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise RichNotificationError(
                f"could not fetch the signing keys from {self.jwks_url}: {type(exc).__name__}", retryable=True
            ) from None
        if response.status_code != 200:
            raise RichNotificationError(
                f"could not fetch the signing keys from {self.jwks_url}: HTTP {response.status_code}",
                retryable=True,
            )
        try:
            keys = KeySet.import_key_set(response.json())
        except (ValueError, TypeError, KeyError, jose_errors.JoseError):
            raise RichNotificationError(
                f"{self.jwks_url} did not answer with a JSON Web Key Set", retryable=True
            ) from None
        self._keys = keys
        self._fetched_at = self._clock()
        return keys

    def _key_set(self, kid: str | None) -> KeySet:
        """The cached keys, fetched when missing; refetched when ``kid`` is unknown (rate-limited)."""
        with self._lock:
            keys = self._keys if self._keys is not None else self._fetch()
            if kid is not None and not _has_kid(keys, kid):
                fetched_at = self._fetched_at or 0.0
                if self._clock() - fetched_at >= self._refetch_interval:
                    keys = self._fetch()
            return keys

    # tokens
    def check(self, tokens: Sequence[str]) -> None:
        """Raise ``RichNotificationError`` unless every token is genuine and current for this app."""
        if isinstance(tokens, str | bytes) or not isinstance(tokens, Sequence):
            raise RichNotificationError("validationTokens must be a list of tokens")
        if not tokens:
            raise RichNotificationError("validationTokens is empty: the resource data cannot be trusted")
        if len(tokens) > MAX_TOKENS:
            raise RichNotificationError(f"validationTokens holds more than {MAX_TOKENS} tokens")
        for index, token in enumerate(tokens):
            try:
                self._check_one(token)
            except RichNotificationError as exc:
                raise RichNotificationError(
                    f"validationTokens[{index}]: {exc.reason}", retryable=exc.retryable
                ) from None

    def _check_one(self, token: str) -> None:
        if not isinstance(token, str) or not token:
            raise RichNotificationError("not a token string")
        try:
            header = jws.extract_compact(token.encode("ascii")).protected
        except (UnicodeEncodeError, ValueError, jose_errors.JoseError):
            raise RichNotificationError("not a well-formed JWT") from None
        if header.get("alg") not in ALGORITHMS:
            raise RichNotificationError(f"signed with {header.get('alg')!r}; only RS256 is accepted")
        kid = header.get("kid")
        keys = self._key_set(kid if isinstance(kid, str) else None)
        try:
            claims = jwt.decode(token, keys, algorithms=list(ALGORITHMS)).claims
        except jose_errors.InvalidKeyIdError:
            raise RichNotificationError("signed with a key the identity platform does not publish") from None
        except jose_errors.BadSignatureError:
            raise RichNotificationError("the signature does not verify") from None
        except (ValueError, jose_errors.JoseError) as exc:
            raise RichNotificationError(f"not a valid signed JWT ({type(exc).__name__})") from None
        self._check_claims(claims)

    def _check_claims(self, claims: Mapping[str, Any]) -> None:
        registry = jwt.JWTClaimsRegistry(
            now=int(self._clock()),
            leeway=self._leeway,
            exp={"essential": True},
            aud={"essential": True, "value": self.app_id},
            iss={"essential": True, "values": sorted(self.issuers)},
            azp={"essential": True, "value": CHANGE_TRACKING_APP_ID},
        )
        try:
            registry.validate(dict(claims))
        except jose_errors.ExpiredTokenError:
            raise RichNotificationError("the token has expired") from None
        except jose_errors.MissingClaimError as exc:
            raise RichNotificationError(f"the token lacks the claim(s) {exc.claim}") from None
        except jose_errors.InvalidClaimError as exc:
            raise RichNotificationError(_claim_reason(exc, claims)) from None


def _claim_reason(exc: jose_errors.InvalidClaimError, claims: Mapping[str, Any]) -> str:
    name = str(exc.claim)
    if name == "aud":
        return "the token is for another app (aud)"
    if name == "iss":
        return f"the token was issued by {claims.get('iss')!r}, not by one of this app's tenants"
    if name == "azp":
        return "the token was not obtained by Microsoft Graph change tracking (azp)"
    if name in ("nbf", "iat"):
        return "the token is not valid yet"
    return f"the token's {name} claim is invalid"


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in keys.keys)
