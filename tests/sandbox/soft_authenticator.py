"""A software WebAuthn authenticator, so passkeys can be tested over plain HTTP.

It produces what a browser would post after navigator.credentials.create/get with a
platform authenticator ("none" attestation, ES256), base64url-encoded.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, encode_cbor

_USER_PRESENT = 0x01
_USER_VERIFIED = 0x04
_ATTESTED_DATA = 0x40


@dataclass
class SoftAuthenticator:
    """One resident ES256 credential per registration, kept in memory."""

    origin: str
    rp_id: str = "localhost"
    credentials: dict[bytes, tuple[ec.EllipticCurvePrivateKey, bytes]] = field(default_factory=dict)
    sign_count: int = 0

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False}
        ).encode()

    def create(self, options: dict[str, Any]) -> dict[str, Any]:
        """The registration credential JSON for creation ``options`` from the server."""
        key = ec.generate_private_key(ec.SECP256R1())
        numbers = key.public_key().public_numbers()
        credential_id = secrets.token_bytes(16)
        user_handle = base64url_to_bytes(options["user"]["id"])
        self.credentials[credential_id] = (key, user_handle)
        cose_key = encode_cbor(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([_USER_PRESENT | _USER_VERIFIED | _ATTESTED_DATA])
            + self.sign_count.to_bytes(4, "big")
            + bytes(16)
            + len(credential_id).to_bytes(2, "big")
            + credential_id
            + cose_key
        )
        attestation = encode_cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"])
        encoded_id = bytes_to_base64url(credential_id)
        return {
            "id": encoded_id,
            "rawId": encoded_id,
            "type": "public-key",
            "response": {
                "clientDataJSON": bytes_to_base64url(client_data),
                "attestationObject": bytes_to_base64url(attestation),
            },
            "clientExtensionResults": {},
        }

    def get(self, options: dict[str, Any]) -> dict[str, Any]:
        """The assertion JSON for request ``options``, signed by the first credential."""
        credential_id, (key, user_handle) = next(iter(self.credentials.items()))
        self.sign_count += 1
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([_USER_PRESENT | _USER_VERIFIED])
            + self.sign_count.to_bytes(4, "big")
        )
        client_data = self._client_data("webauthn.get", options["challenge"])
        signature = key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        encoded_id = bytes_to_base64url(credential_id)
        return {
            "id": encoded_id,
            "rawId": encoded_id,
            "type": "public-key",
            "response": {
                "clientDataJSON": bytes_to_base64url(client_data),
                "authenticatorData": bytes_to_base64url(auth_data),
                "signature": bytes_to_base64url(signature),
                "userHandle": bytes_to_base64url(user_handle),
            },
            "clientExtensionResults": {},
        }
