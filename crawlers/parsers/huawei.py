"""Huawei AppGallery comments API (``internal.user.commenList3``); an empty ``list`` ends paging."""

from __future__ import annotations

import re
from datetime import datetime

from crawlers.items import FeedbackItem
from crawlers.parsers._page import Page
from crawlers.parsers._util import json_page, s
from crawlers.parsers.normalize import parse_count, parse_rating, parse_time

__all__ = ["comments_url", "parse_comments"]

SOURCE = "huawei"


def comments_url(base_url: str, app_id: str, *, page: int = 1, max_results: int = 25,
                 path: str = "/uowap/index") -> str:
    """``path`` is ``/uowap/index`` (…dbankcloud.cn) or ``/edge/uowap/index`` (…dbankcloud.com, 2025+)."""
    return (f"{base_url.rstrip('/')}{path}?method=internal.user.commenList3&serviceType=20"
            f"&reqPageNum={page}&maxResults={max_results}&appid={app_id}&version=10.0.0&zone=&locale=zh")


def parse_comments(body: bytes | str, url: str, *, product: str, target: str, now: datetime,
                   encoding: str | None = None) -> Page:
    data, page = json_page(SOURCE, body, encoding)
    if data is None:
        return page
    if not isinstance(data, dict) or not isinstance(data.get("list", []), list):
        return page.drop("unknown_shape", "no list[]")
    rows = data.get("list") or []
    page.meta.update(total_pages=parse_count(data.get("totalPages")), count=parse_count(data.get("count")),
                     score=s(data.get("score")) or None)
    app_id = target or (re.search(r"[?&]appid=([^&]+)", url) or [None, ""])[1]
    for row in page.objects(rows):
        cid = s(row.get("commentId")) or s(row.get("id"))
        text = s(row.get("commentInfo"))
        if not cid or not text:
            page.drop("missing_field", f"commentId={cid!r}")
            continue
        reply = row.get("replyComment")
        extra = {"device": s(row.get("phone")) or None}
        if isinstance(reply, dict) and s(reply.get("commentInfo")):
            extra["developer_reply"] = s(reply.get("commentInfo"))
        page.items.append(FeedbackItem(
            source=SOURCE, source_id=cid, product=product, target=target, url=f"https://appgallery.huawei.com/app/{app_id}",
            title=s(row.get("title")), text=text, raw_text=text, kind="review",
            author_id=s(row.get("accountId")) or None,
            author_name=s(row.get("nickName")) or s(row.get("accountName")) or None,
            created_at=parse_time(s(row.get("operTime")), now=now),
            rating=parse_rating(row.get("rating")) or parse_rating(row.get("stars")),
            app_version=s(row.get("versionName")) or None, platform="android",
            likes=parse_count(row.get("approveCounts")), replies=parse_count(row.get("replyCounts")),
            extra=extra,
        ))
    m = re.search(r"([?&]reqPageNum=)(\d+)", url)
    number = int(m.group(2)) if m else 1
    total = page.meta["total_pages"]
    if rows and m and (total is None or number < total):
        page.next = url[:m.start(2)] + str(number + 1) + url[m.end(2):]
    return page
