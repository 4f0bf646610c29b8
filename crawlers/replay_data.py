"""Synthetic responses in the sources' real formats, for the replay server (tests, bench, demo).

``serve_appstore_reviews(server, app_id, total)`` serves an App Store customer-review RSS JSON feed of
``total`` reviews newest first (≤ 10 pages of 50, page 11 the plain-text depth reply); the review texts
are drawn from :data:`SENTENCES`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

__all__ = ["SENTENCES", "review_entry", "appstore_feed", "serve_appstore_reviews", "reviews_path", "PAGE_DEPTH_TEXT"]

#: Review sentences in the style of real App Store reviews (short, colloquial).
SENTENCES = (
    "更新之后一直闪退，根本打不开", "验证码登录收不到短信，登录失败好几次了", "云同步很好用，换手机数据都在",
    "希望增加夜间模式", "会员太贵了，功能却没多少", "手写笔记很流畅，推荐", "语音转文字识别率不错",
    "客服半天不回复，问题也没解决", "界面简洁，记录很方便", "同步经常失败，笔记丢了好几条",
)

PAGE_DEPTH_TEXT = "CustomerReviews RSS page depth is limited to 10"
_PACIFIC = timezone(timedelta(hours=-8))


def reviews_path(app_id: str, page: int, *, country: str = "cn") -> str:
    return f"/{country}/rss/customerreviews/page={page}/id={app_id}/sortby=mostrecent/json"


def review_entry(n: int, *, when: datetime, likes: int = 0, text: str | None = None, app_id: str = "1600000001") -> dict[str, Any]:
    """One ``feed.entry`` object as the RSS JSON feed has it."""
    body = text if text is not None else f"{SENTENCES[n % len(SENTENCES)]}（第{n}条）"
    return {
        "author": {"uri": {"label": f"https://itunes.apple.com/cn/reviews/id{900000 + n}"}, "name": {"label": f"用户{n}"},
                   "label": ""},
        "updated": {"label": when.astimezone(_PACIFIC).isoformat()},
        "im:rating": {"label": str(1 + n % 5)},
        "im:version": {"label": "3.2.0" if n % 2 else "3.1.9"},
        "id": {"label": str(7000000000 + n)},
        "title": {"label": body[:6]},
        "content": {"label": body, "attributes": {"type": "text"}},
        "link": {"attributes": {"rel": "related", "href": f"https://itunes.apple.com/cn/review?id={app_id}&type=Purple%20Software"}},
        "im:voteSum": {"label": str(likes)},
        "im:voteCount": {"label": str(likes)},
    }


def appstore_feed(entries: list[dict[str, Any]]) -> bytes:
    """The feed document: no ``entry`` key when empty, an object (not a list) for a single entry."""
    body: dict[str, Any] = {"feed": {"author": {"name": {"label": "iTunes Store"}}, "title": {"label": "iTunes Store：客户评论"}}}
    if len(entries) == 1:
        body["feed"]["entry"] = entries[0]
    elif entries:
        body["feed"]["entry"] = entries
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def serve_appstore_reviews(server: Any, app_id: str, total: int, *, per_page: int = 50, newest: datetime | None = None,
                           likes: Callable[[int], int] = lambda n: 0, delay: float | Callable[[int], float] = 0.0,
                           country: str = "cn", step: timedelta = timedelta(minutes=7), first: int = 0) -> list[str]:
    """Serve ``total`` reviews of ``app_id`` on ``server`` (a :class:`~crawlers.replay.ReplayServer`).

    ``delay`` may be a function of the page number; ``first`` numbers the reviews from there (distinct ids for
    several apps). Returns the review ids, newest first.
    """
    newest = newest or datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    ids: list[str] = []
    pages = [list(range(first + i, first + min(i + per_page, total))) for i in range(0, total, per_page)][:10]
    for number in range(1, 11):
        ns = pages[number - 1] if number - 1 < len(pages) else []
        entries = [review_entry(n, when=newest - step * (n - first), likes=likes(n), app_id=app_id) for n in ns]
        ids += [e["id"]["label"] for e in entries]
        wait = delay(number) if callable(delay) else delay
        server.add(reviews_path(app_id, number, country=country), body=appstore_feed(entries),
                   content_type="application/json; charset=utf-8", delay=wait)
    server.add(reviews_path(app_id, 11, country=country), body=PAGE_DEPTH_TEXT, content_type="text/plain")
    return ids
