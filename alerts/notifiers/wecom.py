"""WeCom (企业微信) group robot: markdown message. The webhook URL's ``key`` is the credential (no
signature scheme exists). Content is limited to 4096 bytes. Success: HTTP 200 and ``errcode == 0``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx

from alerts.message import Notification, to_markdown
from alerts.notifiers._base import Target, check_response, post_json

__all__ = ["render", "send", "MAX_BYTES"]

MAX_BYTES = 4096


def render(alert: Notification, target: Target | None = None) -> dict[str, Any]:
    content = to_markdown(alert)
    while len(content.encode()) > MAX_BYTES:
        content = content[: int(len(content) * 0.9)] + "…"
    return {"msgtype": "markdown", "markdown": {"content": content}}


def send(payload: dict[str, Any], *, target: Target, client: httpx.Client, now: datetime) -> None:
    body = json.dumps(payload, ensure_ascii=False).encode()
    check_response(post_json(client, target, body), target.channel, code_keys=("errcode",))
