"""Feishu / Lark custom bot: interactive card, signed.

Signing (Feishu docs, 自定义机器人 → 签名校验): ``timestamp`` in seconds;
``string_to_sign = f"{timestamp}\\n{secret}"``; ``sign = base64(HMAC-SHA256(key=string_to_sign, msg=b""))``;
both go in the JSON body. Success: HTTP 200 and ``code == 0`` (older deployments answer ``StatusCode: 0``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

import httpx

from alerts.message import Notification, header_text, headline, safe_url, to_markdown
from alerts.notifiers._base import Target, check_response, post_json

__all__ = ["render", "send", "sign"]

_TEMPLATES = {"critical": "red", "warning": "orange", "info": "blue"}


def render(alert: Notification, target: Target | None = None) -> dict[str, Any]:
    elements: list[dict[str, Any]] = [{"tag": "div", "text": {"tag": "lark_md", "content": to_markdown(alert)}}]
    if alert.search_url:
        elements.append({"tag": "action", "actions": [{
            "tag": "button", "text": {"tag": "plain_text", "content": "查看全部相关反馈"}, "type": "primary",
            "url": safe_url(alert.search_url)}]})
    header = {"title": {"tag": "plain_text", "content": header_text(headline(alert), 100)},
              "template": "green" if alert.event == "resolved" else _TEMPLATES.get(alert.severity, "blue")}
    return {"msg_type": "interactive", "card": {"config": {"wide_screen_mode": True}, "header": header,
                                                 "elements": elements}}


def sign(secret: str, timestamp: int) -> str:
    string_to_sign = f"{timestamp}\n{secret}"
    return base64.b64encode(hmac.new(string_to_sign.encode(), b"", hashlib.sha256).digest()).decode()


def send(payload: dict[str, Any], *, target: Target, client: httpx.Client, now: datetime) -> None:
    body_obj = dict(payload)
    if target.secret:
        ts = int(now.timestamp())
        body_obj = {"timestamp": str(ts), "sign": sign(target.secret, ts), **payload}
    body = json.dumps(body_obj, ensure_ascii=False).encode()
    check_response(post_json(client, target, body), target.channel, code_keys=("code", "StatusCode"))
