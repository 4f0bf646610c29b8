"""黑猫投诉 (tousu.sina.com.cn): signed keyword search and company feed, same item shape.

``sign`` reproduces the site JS: sha256 hex of the *sorted* list ``[ts, rs, SALT, keywords, page_size,
page]`` joined without separator. ``ts`` (13-digit ms) and ``rs`` (16 chars of [0-9a-zA-Z]) are passed
in by the caller so request building stays pure and testable.
"""

from __future__ import annotations

import hashlib
import random
import re
import string
from datetime import datetime
from urllib.parse import parse_qs, quote, urlsplit

from crawlers.items import FeedbackItem
from crawlers.parsers._page import Block, Page
from crawlers.parsers._util import get, json_page, s
from crawlers.parsers.blocks import cookie_env, detect_block
from crawlers.parsers.normalize import html_to_text, parse_count, parse_epoch, parse_time

__all__ = ["SALT", "sign", "random_rs", "search_url", "company_url", "parse_complaints"]

SOURCE = "heimao"
SALT = "$d6eb7ff91ee257475%"
_RS_ALPHABET = string.digits + string.ascii_letters


def sign(ts: int | str, rs: str, keywords: str, page_size: int | str, page: int | str, *, salt: str = SALT) -> str:
    parts = sorted([str(ts), rs, salt, keywords, str(page_size), str(page)])
    return hashlib.sha256("".join(parts).encode("utf-8")).hexdigest()


def random_rs(rng: random.Random) -> str:
    return "".join(rng.choice(_RS_ALPHABET) for _ in range(16))


def search_url(base_url: str, keyword: str, *, page: int = 1, page_size: int = 10, ts: int, rs: str) -> str:
    signature = sign(ts, rs, keyword, page_size, page)
    return (f"{base_url.rstrip('/')}/api/index/s?ts={ts}&rs={rs}&signature={signature}"
            f"&keywords={quote(keyword, safe='')}&page_size={page_size}&page={page}")


def company_url(base_url: str, couid: str | int, *, page: int = 1, page_size: int = 10) -> str:
    return (f"{base_url.rstrip('/')}/api/company/received_complaints?couid={couid}&type=1"
            f"&page_size={page_size}&page={page}")


def _next_url(url: str, number: int) -> str:
    """The same request for page ``number``; a signed search URL is re-signed (same ``ts``/``rs``)."""
    if "signature=" in url and "/api/index/s" in url:
        query = parse_qs(urlsplit(url).query)
        one = {k: v[0] for k, v in query.items() if v}
        if {"ts", "rs", "keywords"} <= one.keys():
            return search_url(url.split("/api/index/s")[0], one["keywords"], page=number,
                              page_size=int(one.get("page_size", "10")), ts=int(one["ts"]), rs=one["rs"])
    return re.sub(r"([?&]page=)\d+", lambda m: f"{m.group(1)}{number}", url, count=1)


def parse_complaints(body: bytes | str, url: str, *, product: str, target: str, now: datetime,
                     encoding: str | None = None) -> Page:
    """Search or company-feed page → ``complaint`` items. ``next`` is the next page's URL; a signed
    search URL is re-signed with the same ``ts``/``rs`` (a spider wanting a fresh ``ts`` can rebuild it
    with ``search_url(..., page=page.meta["next_page"])``). Empty ``lists`` with ``item_count`` > 0 sets
    a ``rate_limit`` block; an HTML login page sets a ``login`` block."""
    stripped = body.lstrip()[:1] if isinstance(body, (bytes, str)) else b""
    if stripped in (b"<", "<"):
        block = detect_block(SOURCE, 200, None, body)
        page = Page()
        if block:
            page.block = block
            return page.drop("blocked", str(block))
        return page.drop("not_json", "HTML instead of JSON")
    data, page = json_page(SOURCE, body, encoding)
    if data is None:
        return page
    result = get(data, "result", "data")
    if not isinstance(result, dict):
        return page.drop("unknown_shape", "no result.data")
    rows = result.get("lists") or []
    pager = result.get("pager") or {}
    amount = parse_count(get(pager, "page_amount")) or 0
    total = parse_count(get(pager, "item_count")) or 0
    m = re.search(r"[?&]page=(\d+)", url)
    number = int(m.group(1)) if m else 1
    page.meta.update(page=number, page_amount=amount, item_count=total)
    if not rows:
        if total > 0 and number <= max(amount, 1):
            page.block = Block(kind="rate_limit", reason=f"empty list with item_count {total}",
                               fix=f"slow down (raise download_delay) or set {cookie_env(SOURCE)}")
            page.drop("blocked", str(page.block))
        return page
    for row in rows if isinstance(rows, list) else []:
        main = get(row, "main")
        sn = s(get(main, "sn"))
        summary = html_to_text(s(get(main, "summary")))
        title = html_to_text(s(get(main, "title")))
        if not sn or not (summary or title):
            page.drop("missing_field", f"sn={sn!r}")
            continue
        link = s(main.get("url"))
        if link.startswith("//"):
            link = "https:" + link
        link = link.split("?")[0] or f"https://tousu.sina.com.cn/complaint/view/{sn}/"
        page.items.append(FeedbackItem(
            source=SOURCE, source_id=sn, product=product, target=target, url=link,
            title=title, text=summary, raw_text=s(main.get("summary")), kind="complaint",
            author_id=(re.search(r"(\d+)\s*$", s(get(row, "author", "wb_profile"))) or [None, None])[1],
            author_name=s(get(row, "author", "title")) or None,
            created_at=parse_epoch(main.get("timestamp")) or parse_time(s(main.get("timestamp")), now=now),
            platform="web",
            extra={"company": html_to_text(s(main.get("cotitle"))) or None, "issue": s(main.get("issue")) or None,
                   "appeal": s(main.get("appeal")) or None, "cost": s(main.get("cost")) or None,
                   "status": s(main.get("status")) or None},
        ))
    if number < amount:
        page.next = _next_url(url, number + 1)
        page.meta["next_page"] = number + 1
    return page
