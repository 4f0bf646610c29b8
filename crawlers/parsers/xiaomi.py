"""Xiaomi GetApps (小米应用商店) app-market comment API: ``/apm/comment/list/{numericAppId}``, page 0 first.

The response is ``{"comments": [...], "hasMore", "commentCount", "pointCount"}``; each comment has
``commentId``, ``commentValue`` (plain text), ``pointValue`` (1–5), ``updateTime`` (epoch ms), ``nickname``,
``versionName``, ``device``, ``country``. Paging ends when ``hasMore`` is false or ``comments`` is empty.

There is no public page per review (the web page ``app.mi.com/details?id={package}`` shows no review
text), so :attr:`FeedbackItem.url` is the app's web page when its ``package`` is known, else the stable
API URL without query (``https://app.market.xiaomi.com/apm/comment/list/{id}``).
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import quote

from crawlers.items import FeedbackItem
from crawlers.parsers._page import Page
from crawlers.parsers._util import json_page, s
from crawlers.parsers.normalize import parse_count, parse_epoch, parse_rating

__all__ = ["comments_url", "parse_comments", "review_url"]

SOURCE = "xiaomi"
API_ORIGIN = "https://app.market.xiaomi.com"

_ID_RE = re.compile(r"/apm/comment/list/(\d+)")
_PAGE_RE = re.compile(r"([?&]page=)(\d+)")


def comments_url(base_url: str, app_id: str, *, page: int = 0, client_id: str, os: str = "1") -> str:
    """``page`` counts from 0; ``client_id`` is the market app's 32-hex device id, ``os`` its ROM build."""
    return (f"{base_url.rstrip('/')}/apm/comment/list/{app_id}?clientId={quote(client_id, safe='')}&co=CN&la=zh"
            f"&os={quote(os, safe='')}&page={page}&sdk=22")


def review_url(app_id: str, package: str | None = None) -> str:
    """The public URL reviews of ``app_id`` link to (see the module docstring)."""
    if package:
        return f"https://app.mi.com/details?id={quote(package, safe='.')}"
    return f"{API_ORIGIN}/apm/comment/list/{app_id}"


def parse_comments(body: bytes | str, url: str, *, product: str, target: str, now: datetime,
                   encoding: str | None = None, package: str | None = None) -> Page:
    """One page of comments; ``next`` is ``page + 1`` unless ``hasMore`` is false or the page had no comments.
    ``meta``: ``has_more``, ``comment_count``, ``point_count`` (the store's average score)."""
    data, page = json_page(SOURCE, body, encoding)
    if data is None:
        return page
    if not isinstance(data, dict) or "comments" not in data or not isinstance(data["comments"] or [], list):
        return page.drop("unknown_shape", "no comments[]")
    rows = data["comments"] or []
    has_more = data.get("hasMore")
    page.meta.update(has_more=has_more if isinstance(has_more, bool) else None,
                     comment_count=parse_count(data.get("commentCount")),
                     point_count=s(data.get("pointCount")) or None)
    found = _ID_RE.search(url)
    app_id = target or (found.group(1) if found else "")
    link = review_url(app_id, package)
    for row in page.objects(rows):
        cid = s(row.get("commentId"))
        text = s(row.get("commentValue"))
        if not cid or not text:
            page.drop("missing_field", f"commentId={cid!r}")
            continue
        extra = {k: v for k, v in (("device", s(row.get("device"))), ("country", s(row.get("country")))) if v}
        page.items.append(FeedbackItem(
            source=SOURCE, source_id=cid, product=product, target=target, url=link,
            text=text, raw_text=text, kind="review",
            author_name=s(row.get("nickname")) or None,
            created_at=parse_epoch(row.get("updateTime")),
            rating=parse_rating(row.get("pointValue")),
            app_version=s(row.get("versionName")) or None, platform="android",
            extra=extra,
        ))
    m = _PAGE_RE.search(url)
    if rows and has_more is not False and m:  # an absent hasMore: go on (max_pages bounds the walk)
        page.next = url[:m.start(2)] + str(int(m.group(2)) + 1) + url[m.end(2):]
    return page
