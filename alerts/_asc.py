"""App Store Connect API: the ES256 JWT and the ``customerReviewResponses`` request.

Token (Apple, "Generating Tokens for API Requests"): header ``{"alg": "ES256", "kid": <key id>, "typ":
"JWT"}``, claims ``{"iss": <issuer id>, "iat": now, "exp": now + ≤ 20 min, "aud": "appstoreconnect-v1"}``,
signed with the team's .p8 private key (P-256); the signature is the raw 64-byte ``r || s``, base64url
without padding. Request: ``POST {api}/v1/customerReviewResponses`` with the JSON:API body
``{"data": {"type": "customerReviewResponses", "attributes": {"responseBody"}, "relationships":
{"review": {"data": {"type": "customerReviews", "id"}}}}}``; answer 201 with ``data.id``.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any

__all__ = ["TOKEN_LIFETIME", "asc_token", "response_request", "b64url"]

#: Apple refuses tokens that live longer than 20 minutes.
TOKEN_LIFETIME = timedelta(minutes=19)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def asc_token(*, key_id: str, issuer_id: str, private_key_pem: str, now: datetime) -> str:
    """An App Store Connect API token (ES256 JWT); ValueError when the key is not an EC P-256 PEM key."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    try:
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"the App Store Connect private key is not a readable .p8 (PEM) key: {type(exc).__name__}") \
            from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("the App Store Connect private key must be an EC P-256 key (the .p8 file Apple issues)")
    iat = int(now.timestamp())
    header = {"alg": "ES256", "kid": key_id, "typ": "JWT"}
    claims = {"iss": issuer_id, "iat": iat, "exp": iat + int(TOKEN_LIFETIME.total_seconds()),
              "aud": "appstoreconnect-v1"}
    signing_input = ".".join(b64url(json.dumps(p, separators=(",", ":")).encode()) for p in (header, claims))
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def response_request(api_url: str, review_id: str, body: str) -> tuple[str, dict[str, Any]]:
    """(url, JSON:API body) of a reply to the customer review ``review_id``."""
    return (f"{api_url.rstrip('/')}/v1/customerReviewResponses",
            {"data": {"type": "customerReviewResponses", "attributes": {"responseBody": body},
                      "relationships": {"review": {"data": {"type": "customerReviews", "id": review_id}}}}})
