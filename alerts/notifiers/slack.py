"""Slack incoming webhook: ``text`` fallback plus Block Kit sections (mrkdwn, crawled text escaped).
Success: HTTP 200 and the body ``ok`` (errors come back as 4xx with e.g. ``invalid_payload``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx

from alerts.message import Notification, headline, numbers_line, safe_url, slack_escape, sources_line
from alerts.notifiers._base import PermanentNotifierError, Target, check_response, post_json

__all__ = ["render", "send"]


def render(alert: Notification, target: Target | None = None) -> dict[str, Any]:
    lines = [f"*{slack_escape(headline(alert), 200)}*"]
    if alert.figures:
        lines.append(slack_escape(numbers_line(alert), 300))
    if alert.terms:
        lines.append("新出现的词：" + slack_escape("、".join(alert.terms), 200))
    if alert.sources:
        lines.append("来源：" + slack_escape(sources_line(alert), 200))
    if alert.body_markdown and not alert.figures:
        lines.append(slack_escape(alert.body_text or alert.body_markdown, 2500))
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}]
    for i, s in enumerate(alert.samples[:3], 1):
        url = safe_url(s.get("url", ""))
        text = f"{i}. {slack_escape(s.get('text', ''))} ({slack_escape(s.get('source', ''))})"
        if url:
            text += f" <{url}|原文>"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    if alert.search_url:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"<{safe_url(alert.search_url)}|查看全部相关反馈>"}})
    # ``text`` is mrkdwn too (the notification and fallback line): escaped like the blocks
    return {"text": slack_escape(headline(alert), 300), "blocks": blocks}


def send(payload: dict[str, Any], *, target: Target, client: httpx.Client, now: datetime) -> None:
    body = json.dumps(payload, ensure_ascii=False).encode()
    result = check_response(post_json(client, target, body), target.channel, code_keys=())
    if isinstance(result, str) and result.strip() not in ("ok", ""):
        raise PermanentNotifierError(target.channel, f"Slack answered {result[:100]!r}")
