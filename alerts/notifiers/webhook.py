"""Generic webhook: the notification as JSON, signed with HMAC-SHA256.

Headers: ``X-VOC-Timestamp`` (Unix seconds), ``X-VOC-Signature: sha256=<hex>`` where the hex digest is
``HMAC-SHA256(secret, f"{timestamp}." + body)``, and ``X-VOC-Delivery`` (the notification id, stable across
retries, so a receiver can de-duplicate). Success: HTTP 2xx and, if the body is JSON with ``code`` or
``errcode``, that code is 0.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

import httpx

from alerts.message import Notification, header_text, to_markdown, to_plain
from alerts.notifiers._base import Target, check_response, post_json

__all__ = ["render", "send", "signature"]


def render(alert: Notification, target: Target | None = None) -> dict[str, Any]:
    payload = alert.to_json()
    payload["text"] = to_plain(alert)
    payload["markdown"] = to_markdown(alert)
    return payload


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def send(payload: dict[str, Any], *, target: Target, client: httpx.Client, now: datetime) -> None:
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    ts = int(now.timestamp())
    headers = {"X-VOC-Timestamp": str(ts), "X-VOC-Delivery": header_text(payload.get("id", ""), 200)}
    if target.secret:
        headers["X-VOC-Signature"] = signature(target.secret, ts, body)
    check_response(post_json(client, target, body, headers=headers), target.channel, code_keys=("code", "errcode"))
