"""DingTalk custom robot (自定义机器人): markdown or actionCard, signed ("加签").

Signing (DingTalk docs, 自定义机器人安全设置 → 加签): ``timestamp`` is the current time in milliseconds;
``sign = base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"))``, URL-encoded, both sent as query
parameters next to ``access_token``. Computed per request from the injected clock; the configured URL is
never modified. Success: HTTP 200 and ``errcode == 0``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

import httpx

from alerts.message import Notification, headline, md_escape, safe_url, to_markdown
from alerts.notifiers._base import Target, check_response, post_json

__all__ = ["render", "send", "sign"]


def render(alert: Notification, target: Target | None = None) -> dict[str, Any]:
    """``markdown``, or an ``actionCard`` when the channel's ``style`` says so (DingTalk's own option)."""
    title = md_escape(headline(alert), 60)
    if target is not None and target.style == "actionCard":
        card: dict[str, Any] = {"title": title, "text": to_markdown(alert), "btnOrientation": "0"}
        if alert.search_url:
            card["singleTitle"] = "查看全部相关反馈"
            card["singleURL"] = safe_url(alert.search_url)
        return {"msgtype": "actionCard", "actionCard": card}
    return {"msgtype": "markdown", "markdown": {"title": title, "text": to_markdown(alert)}}


def sign(secret: str, timestamp_ms: int) -> str:
    string_to_sign = f"{timestamp_ms}\n{secret}"
    digest = hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def send(payload: dict[str, Any], *, target: Target, client: httpx.Client, now: datetime) -> None:
    params = None
    if target.secret:
        ts = int(now.timestamp() * 1000)
        params = {"timestamp": str(ts), "sign": sign(target.secret, ts)}  # httpx URL-encodes the value
    body = json.dumps(payload, ensure_ascii=False).encode()
    check_response(post_json(client, target, body, params=params), target.channel, code_keys=("errcode",))
