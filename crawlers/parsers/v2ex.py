"""V2EX: API v1 (bare JSON arrays, 120 req/h) and v2 (``{success, message, result, pagination}``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from crawlers.items import FeedbackItem
from crawlers.parsers._page import Follow, Page
from crawlers.parsers._util import get, json_page, s
from crawlers.parsers.normalize import html_to_text, origin, parse_count, parse_epoch

__all__ = ["topics_url", "topic_url", "replies_url", "v2_node_topics_url", "v2_replies_url", "rate_limit",
           "parse_topics", "parse_replies"]

SOURCE = "v2ex"
SITE = "https://www.v2ex.com"


def topics_url(base_url: str, *, kind: str = "latest") -> str:
    """``kind`` = ``latest`` | ``hot`` | ``node:<name>`` (v1 ``topics/show.json?node_name=``)."""
    base = base_url.rstrip("/")
    if kind.startswith("node:"):
        return f"{base}/api/topics/show.json?node_name={kind[5:]}"
    return f"{base}/api/topics/{kind}.json"


def topic_url(base_url: str, tid: str | int) -> str:
    return f"{base_url.rstrip('/')}/api/topics/show.json?id={tid}"


def replies_url(base_url: str, tid: str | int, *, page: int = 1) -> str:
    return f"{base_url.rstrip('/')}/api/replies/show.json?topic_id={tid}&page={page}"


def v2_node_topics_url(base_url: str, node: str, *, page: int = 1) -> str:
    return f"{base_url.rstrip('/')}/api/v2/nodes/{node}/topics?p={page}"


def v2_replies_url(base_url: str, tid: str | int, *, page: int = 1) -> str:
    return f"{base_url.rstrip('/')}/api/v2/topics/{tid}/replies?p={page}"


def rate_limit(headers: Mapping[Any, Any] | None) -> dict[str, int] | None:
    """``X-Rate-Limit-Limit/Remaining/Reset`` → ``{"limit", "remaining", "reset"}`` (None when absent)."""
    if not headers:
        return None
    found: dict[str, int] = {}
    for key, value in headers.items():
        k = (key.decode("latin-1") if isinstance(key, bytes) else str(key)).lower()
        if isinstance(value, (list, tuple)):
            value = value[0] if value else ""
        v = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        if k.startswith("x-rate-limit-") and v.strip().isdigit():
            found[k[len("x-rate-limit-"):]] = int(v)
    return found or None


def _read(body: bytes | str, encoding: str | None) -> tuple[list[Any] | None, dict[str, Any] | None, Page]:
    """An API answer → (rows, pagination, page); rows None with ``page`` saying why (too large, blocked, not JSON,
    an error answer, an unknown shape)."""
    data, page = json_page(SOURCE, body, encoding)
    if data is None:
        return None, None, page
    return (*_rows(data, page), page)


def _rows(data: Any, page: Page) -> tuple[list[Any] | None, dict[str, Any] | None]:
    """v1 array, v1 single object, or v2 envelope → (rows, pagination)."""
    if isinstance(data, list):
        return data, None
    if isinstance(data, dict) and "success" in data:
        if data.get("success") is not True:
            page.drop("error", s(data.get("message")) or "success false")
            return None, None
        result = data.get("result")
        rows = result if isinstance(result, list) else [result] if isinstance(result, dict) else []
        pagination = data.get("pagination")
        return rows, pagination if isinstance(pagination, dict) else None
    if isinstance(data, dict) and "id" in data:
        return [data], None
    if isinstance(data, dict) and data.get("status") == "error":
        page.drop("error", s(data.get("message")))
        return None, None
    page.drop("unknown_shape", "neither array nor v2 envelope")
    return None, None


def _text(row: dict[str, Any]) -> tuple[str, str]:
    content = s(row.get("content"))
    rendered = s(row.get("content_rendered"))
    if content:
        return content.replace("\r\n", "\n").strip(), rendered or content
    return html_to_text(rendered), rendered


def _next_v2(url: str, pagination: dict[str, Any] | None) -> str | None:
    if not pagination:
        return None
    m = re.search(r"([?&]p=)(\d+)", url)
    number = int(m.group(2)) if m else 1
    pages = parse_count(pagination.get("pages")) or 0
    if number >= pages:
        return None
    return url[:m.start(2)] + str(number + 1) + url[m.end(2):] if m else url + ("&" if "?" in url else "?") + "p=2"


def parse_topics(body: bytes | str, url: str, *, product: str, target: str, now: datetime,
                 encoding: str | None = None) -> Page:
    """Topic list (v1 latest/hot/show, v2 node topics) → ``post`` items + a ``v2ex_replies`` follow per
    topic with replies."""
    rows, pagination, page = _read(body, encoding)
    if rows is None:
        return page
    base = origin(url)
    v2 = "/api/v2/" in url
    for row in rows:
        tid = s(get(row, "id"))
        title = s(get(row, "title"))
        if not tid or not title:
            page.drop("missing_field", f"id={tid!r}")
            continue
        text, raw = _text(row)
        replies = parse_count(row.get("replies"))
        page.items.append(FeedbackItem(
            source=SOURCE, source_id=f"t{tid}", product=product, target=target, url=f"{SITE}/t/{tid}",
            title=title, text=text, raw_text=raw, kind="post",
            author_id=s(get(row, "member", "id")) or None, author_name=s(get(row, "member", "username")) or None,
            created_at=parse_epoch(row.get("created")), platform="web", replies=replies,
            extra={"node": s(get(row, "node", "name")) or None, "last_touched": parse_epoch(row.get("last_touched"))},
        ))
        if replies:
            page.follow.append(Follow(kind="v2ex_replies",
                                      url=v2_replies_url(base, tid) if v2 else replies_url(base, tid),
                                      meta={"tid": tid, "replies": replies}))
    page.next = _next_v2(url, pagination)
    return page


def parse_replies(body: bytes | str, url: str, *, product: str, target: str, now: datetime,
                  encoding: str | None = None) -> Page:
    """Replies of one topic (topic id read from ``url``) → ``reply`` items with ``parent_id`` = ``t<tid>``.
    v1 returns every reply at once (``next`` None); v2 pages with ``pagination``."""
    rows, pagination, page = _read(body, encoding)
    if rows is None:
        return page
    m = re.search(r"topic_id=(\d+)|/topics/(\d+)/replies", url)
    tid = (m.group(1) or m.group(2)) if m else ""
    pm = re.search(r"[?&]p=(\d+)", url)
    offset = (int(pm.group(1)) - 1) * (parse_count((pagination or {}).get("per_page")) or 20) if pm else 0
    for n, row in enumerate(rows, start=1):
        rid = s(get(row, "id"))
        text, raw = _text(row) if isinstance(row, dict) else ("", "")
        if not rid or not text:
            page.drop("missing_field", f"id={rid!r}")
            continue
        floor = offset + n
        page.items.append(FeedbackItem(
            source=SOURCE, source_id=f"r{rid}", product=product, target=target,
            url=f"{SITE}/t/{tid}#reply{floor}", text=text, raw_text=raw, kind="reply",
            parent_id=f"t{tid}" if tid else None,
            author_id=s(get(row, "member", "id")) or None, author_name=s(get(row, "member", "username")) or None,
            created_at=parse_epoch(row.get("created")), platform="web", likes=parse_count(row.get("thanks")),
            extra={"floor": floor},
        ))
    page.next = _next_v2(url, pagination)
    return page
