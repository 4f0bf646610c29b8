"""Apple App Store: the customer-review RSS JSON feed (≤ 10 pages × 50) and the ``lookup`` metadata."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from crawlers.items import FeedbackItem
from crawlers.parsers._page import Page
from crawlers.parsers._util import get, json_page, s
from crawlers.parsers.normalize import decode_body, origin, parse_count, parse_time

__all__ = ["reviews_url", "lookup_url", "parse_reviews", "parse_lookup", "MAX_PAGE"]

SOURCE = "appstore"
MAX_PAGE = 10
PAGE_DEPTH_TEXT = "CustomerReviews RSS page depth is limited to"
_PAGE_RE = re.compile(r"/page=(\d+)/")


def reviews_url(base_url: str, app_id: str, *, page: int = 1, sort: str = "mostrecent", country: str = "cn") -> str:
    return f"{base_url.rstrip('/')}/{country}/rss/customerreviews/page={page}/id={app_id}/sortby={sort}/json"


def lookup_url(base_url: str, app_id: str, *, country: str = "cn") -> str:
    return f"{base_url.rstrip('/')}/lookup?id={app_id}&country={country}"


def _label(entry: Any, *path: str) -> str:
    return s(get(entry, *path, "label"))


def parse_reviews(body: bytes | str, url: str, *, product: str, target: str, now: datetime,
                  encoding: str | None = None) -> Page:
    """One RSS page → review items; ``next`` is the following page while this one had entries."""
    text = decode_body(body[:200], encoding or "utf-8") if isinstance(body, (bytes, str)) else ""
    if PAGE_DEPTH_TEXT in text:
        return Page().drop("page_depth", text.strip())
    data, page = json_page(SOURCE, body, encoding)
    if data is None:
        return page
    feed = data.get("feed") if isinstance(data, dict) else None
    if not isinstance(feed, dict):
        return page.drop("unknown_shape", "no feed object")
    entries = feed.get("entry")
    if entries is None:
        entries = []
    elif isinstance(entries, dict):
        entries = [entries]
    elif not isinstance(entries, list):
        return page.drop("unknown_shape", "feed.entry is neither list nor object")
    for entry in page.objects(entries):
        review_id = _label(entry, "id")
        if "im:rating" not in entry:
            page.drop("app_info", review_id or "entry without im:rating")
            continue
        body_text = _label(entry, "content")
        if not review_id or not body_text:
            page.drop("missing_field", f"id={review_id!r} content={'yes' if body_text else 'no'}")
            continue
        updated = parse_time(_label(entry, "updated"), now=now)
        extra: dict[str, Any] = {"vote_count": parse_count(_label(entry, "im:voteCount"))}
        if updated is None:  # real feeds of 2020-2021 carry no per-entry time: the spider dates it at first sight
            extra["time_source"] = "first_seen"
        author_uri = _label(entry, "author", "uri")
        m = re.search(r"/id(\d+)", author_uri)
        link = s(get(entry, "link", "attributes", "href")) if isinstance(entry.get("link"), dict) else ""
        page.items.append(FeedbackItem(
            source=SOURCE, source_id=review_id, product=product, target=target,
            url=link or f"https://apps.apple.com/cn/app/id{target}",
            title=_label(entry, "title"), text=body_text, raw_text=body_text, kind="review",
            author_id=m.group(1) if m else (author_uri or None),
            author_name=_label(entry, "author", "name") or None,
            created_at=updated,
            rating=parse_count(_label(entry, "im:rating")),
            app_version=_label(entry, "im:version") or None, platform="ios",
            likes=parse_count(_label(entry, "im:voteSum")),
            extra=extra,
        ))
    m = _PAGE_RE.search(url)
    number = int(m.group(1)) if m else 1
    page.meta["page"] = number
    if entries and number < MAX_PAGE and m:
        page.next = origin(url) + _PAGE_RE.sub(f"/page={number + 1}/", url[len(origin(url)):], count=1)
    return page


def parse_lookup(body: bytes | str, url: str, *, product: str, target: str, now: datetime,
                 encoding: str | None = None) -> Page:
    """``lookup?id=`` → ``Page.meta`` with name, version, rating, rating_count, bundle_id (no items)."""
    data, page = json_page(SOURCE, body, encoding)
    if data is None:
        return page
    result = get(data, "results", 0)
    if not isinstance(result, dict):
        return page.drop("missing_field", "no results[0]")
    page.meta.update(
        app_id=s(result.get("trackId")) or target,
        name=s(result.get("trackName")),
        version=s(result.get("version")),
        rating=result.get("averageUserRating"),
        rating_count=parse_count(result.get("userRatingCount")),
        bundle_id=s(result.get("bundleId")),
    )
    return page
