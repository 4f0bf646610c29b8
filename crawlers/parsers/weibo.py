"""Weibo mobile API (m.weibo.cn): keyword search cards, long-text ``extend``, comment ``hotflow``.

Search pages yield ``post`` items (source_id = ``mid``). A post with ``isLongText`` is *not* yielded
yet: it comes back as a ``weibo_long_text`` follow whose ``meta["item"]`` is the truncated item; pass it
to :func:`parse_extend` to get the item with its full text (or, on failure, the truncated one, so it is
never lost). Posts with comments get a ``weibo_comments`` follow (hotflow, first page).
Comment items have ``kind`` ``comment`` (``parent_id`` = the post mid) or ``reply`` (inline sub-replies,
``parent_id`` = the root comment id).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from crawlers.items import FeedbackItem
from crawlers.parsers._page import Follow, Page
from crawlers.parsers._util import as_object, get, json_page, s
from crawlers.parsers.normalize import html_to_text, origin, parse_count, parse_time

__all__ = ["search_url", "extend_url", "hotflow_url", "comments_show_url", "detail_url", "parse_search", "parse_extend",
           "parse_comments", "mid_time"]

SOURCE = "weibo"
SITE = "https://m.weibo.cn"


def search_url(base_url: str, keyword: str, *, page: int = 1, search_type: int = 61) -> str:
    """``search_type``: 1 comprehensive, 61 real-time (newest first), 60 hot, 64 video."""
    containerid = quote(f"100103type={search_type}&q={keyword}", safe="")
    return f"{base_url.rstrip('/')}/api/container/getIndex?containerid={containerid}&page_type=searchall&page={page}"


def extend_url(base_url: str, mid: str) -> str:
    return f"{base_url.rstrip('/')}/statuses/extend?id={mid}"


def hotflow_url(base_url: str, mid: str, *, max_id: int | str | None = None, max_id_type: int | str = 0) -> str:
    url = f"{base_url.rstrip('/')}/comments/hotflow?id={mid}&mid={mid}"
    if max_id not in (None, "", 0, "0"):
        url += f"&max_id={max_id}"
    return url + f"&max_id_type={max_id_type}"


def comments_show_url(base_url: str, mid: str, *, page: int = 1) -> str:
    """Legacy fallback comment API (relative dates, ``data.max`` pages); parsed by :func:`parse_comments`."""
    return f"{base_url.rstrip('/')}/api/comments/show?id={mid}&page={page}"


def detail_url(base_url: str, mid: str) -> str:
    return f"{base_url.rstrip('/')}/detail/{mid}"


def _not_ok(page: Page, data: dict[str, Any]) -> Page:
    """``ok: 0`` without a block: the end of results ("这里还没有内容", "快来发表你的评论吧"), or, with an
    ``errno``, an error (dropped reason ``error``)."""
    msg = s(data.get("msg"))
    if s(data.get("errno")):
        return page.drop("error", f"errno {s(data.get('errno'))} {msg}".strip())
    page.meta["end"] = msg or "ok 0"
    return page


def _region(value: Any) -> str | None:
    text = s(value)
    m = re.search(r"(?:发布于|来自)\s*(\S+)", text)
    return m.group(1) if m else None


#: Weibo ids (mid, comment id) since 2012 carry their creation time: ``(id >> 22) + MID_EPOCH`` is the Unix
#: second (checked on the real captures: equal to ``created_at`` within one second).
MID_EPOCH = 515483463
_FULL_TIME = re.compile(r"\d{1,2}:\d{2}:\d{2}")


def mid_time(mid: Any) -> datetime | None:
    """The creation time an id encodes, or None for an id too small/large to be one (before 2012 or after 2100)."""
    text = s(mid)
    if not text.isascii() or not text.isdigit() or len(text) < 15 or len(text) > 19:
        return None
    ts = (int(text) >> 22) + MID_EPOCH
    if not 1325376000 <= ts <= 4102444800:  # 2012-01-01 .. 2100-01-01
        return None
    return datetime.fromtimestamp(ts, tz=UTC)


def created(value: Any, ident: Any, *, now: datetime) -> datetime | None:
    """A post's or comment's time: the text when it carries seconds (``Sat Nov 23 10:00:00 +0800 2026``), else
    — "06-14", "昨天 18:30", "3小时前" only say the day or the minute — the exact second its id encodes, when that
    agrees with the text to within two days."""
    parsed = parse_time(value, now=now)
    if parsed is not None and _FULL_TIME.search(s(value)):
        return parsed
    exact = mid_time(ident)
    if exact is not None and (parsed is None or abs((exact - parsed).total_seconds()) <= 2 * 86400):
        return exact
    return parsed


def _post(mblog: dict[str, Any], *, product: str, target: str, now: datetime) -> FeedbackItem | None:
    mid = s(mblog.get("mid")) or s(mblog.get("idstr")) or s(mblog.get("id"))
    raw = s(mblog.get("text"))
    if not mid or not raw:
        return None
    user = as_object(mblog.get("user"))
    retweeted = mblog.get("retweeted_status")
    extra: dict[str, Any] = {
        "bid": s(mblog.get("bid")) or s(mblog.get("mblogid")) or None,
        "client": html_to_text(s(mblog.get("source"))) or None,
        "region": _region(mblog.get("region_name")),
        "followers": parse_count(user.get("followers_count")),
        "verified": bool(user.get("verified")),
    }
    if isinstance(retweeted, dict) and s(retweeted.get("mid") or retweeted.get("id")):
        extra["retweet_of"] = s(retweeted.get("mid") or retweeted.get("id"))
    return FeedbackItem(
        source=SOURCE, source_id=mid, product=product, target=target, url=f"{SITE}/detail/{mid}",
        text=html_to_text(raw), raw_text=raw, kind="post",
        author_id=s(user.get("idstr")) or s(user.get("id")) or None, author_name=s(user.get("screen_name")) or None,
        created_at=created(mblog.get("created_at"), mid, now=now), platform="weibo",
        likes=parse_count(mblog.get("attitudes_count")), replies=parse_count(mblog.get("comments_count")),
        reposts=parse_count(mblog.get("reposts_count")), extra=extra,
    )


def _statuses(mblog: dict[str, Any]) -> list[dict[str, Any]]:
    """A status and, when it is a retweet, the original it quotes (stored as a post of its own, so the words
    that were retweeted are searchable and the retweet links to them through ``extra["retweet_of"]``)."""
    found = [mblog]
    original = mblog.get("retweeted_status")
    if isinstance(original, dict) and isinstance(original.get("user"), dict):  # a deleted original has no user
        found.append({**original, "_retweeted_by": s(mblog.get("mid")) or s(mblog.get("id"))})
    return found


def _mblogs(cards: list[Any]) -> list[Any]:
    found: list[Any] = []
    for card in cards:
        if not isinstance(card, dict):
            continue
        kind = s(card.get("card_type"))
        if kind == "9" and isinstance(card.get("mblog"), dict):
            found.append(card["mblog"])
        elif kind == "11" and isinstance(card.get("card_group"), list):
            found.extend(_mblogs(card["card_group"]))
    return found


def _unseen(page: Page, item: FeedbackItem | None, seen: set[str], what: str) -> FeedbackItem | None:
    """``item`` the first time this page reads it, else None: a repeat (in ``seen``) is skipped, and a missing
    item (a required field absent) is a counted ``missing_field`` drop naming ``what``."""
    if item is None:
        page.drop("missing_field", what)
        return None
    if item.source_id in seen:
        return None
    seen.add(item.source_id)
    return item


def parse_search(body: bytes | str, url: str, *, product: str, target: str, now: datetime,
                 encoding: str | None = None) -> Page:
    data, page = json_page(SOURCE, body, encoding)
    if data is None:
        return page
    if not isinstance(data, dict):
        return page.drop("unknown_shape", "not an object")
    if data.get("ok") in (0, "0"):
        return _not_ok(page, data)
    # m.weibo.cn search: {"ok":1,"data":{"cards":[…]}}; the app API's card lists: {"cards":[…]} at the top;
    # weibo.com ajax lists: {"ok":1,"data":[status, …]} or {"ok":1,"data":{"list":[…]}}.
    cards = get(data, "data", "cards")
    if not isinstance(cards, list):
        cards = data.get("cards")
    if isinstance(cards, list):
        mblogs = _mblogs(cards)
    elif isinstance(data.get("data"), list) or isinstance(get(data, "data", "list"), list):
        cards = data["data"] if isinstance(data.get("data"), list) else data["data"]["list"]
        mblogs = [c for c in cards if _is_status(c)]
        if len(mblogs) < len(cards):
            page.drop("bad_entry", f"{len(cards) - len(mblogs)} list entries are not statuses")
    else:
        return page.drop("unknown_shape", f"no cards or status list (keys: {', '.join(sorted(map(str, data))[:8])})")
    if cards and not mblogs and not any(isinstance(c, dict) and s(c.get("card_type")) not in ("9", "11") for c in cards):
        page.drop("parse_empty", f"{len(cards)} cards, no post read")
    base = origin(url)
    seen: set[str] = set()
    for status in (st for mblog in mblogs for st in _statuses(mblog)):
        item = _unseen(page, _post(status, product=product, target=target, now=now), seen,
                       f"mblog {s(status.get('id'))!r}")
        if item is None:
            continue
        if status.get("_retweeted_by"):
            item.extra["retweeted_by"] = status["_retweeted_by"]
        if status.get("isLongText") in (True, "true", 1):
            page.follow.append(Follow(kind="weibo_long_text", url=extend_url(base, item.source_id),
                                      meta={"mid": item.source_id, "item": item}))
        else:
            page.items.append(item)
        if item.replies:
            page.follow.append(Follow(kind="weibo_comments", url=hotflow_url(base, item.source_id),
                                      meta={"mid": item.source_id, "referer": f"{SITE}/detail/{item.source_id}"}))
    next_page = get(data, "data", "cardlistInfo", "page")
    m = re.search(r"([?&]page=)(\d+)", url)
    if cards and next_page not in (None, "", 0, "0") and m and str(next_page) != m.group(2):
        page.next = url[:m.start(2)] + s(next_page) + url[m.end(2):]
    return page


def _is_status(value: Any) -> bool:
    return isinstance(value, dict) and bool(s(value.get("mid")) or s(value.get("idstr"))) and "text" in value


def parse_extend(body: bytes | str, url: str, *, product: str, target: str, now: datetime,
                 encoding: str | None = None, item: FeedbackItem | None = None) -> Page:
    """``statuses/extend`` (``{"ok":1,"data":{"longTextContent":…}}``) → the post with its full text. With
    ``item`` (from the follow's meta) the result is that item with ``text``/``raw_text`` replaced; if the body is
    unusable, the truncated item is returned with ``extra["truncated"] = True`` and a dropped reason.
    A whole status (the app API's ``statuses/show``, whose ``longText.longTextContent`` holds the full text) is
    read as the post itself (and the original it retweets)."""
    data, page = json_page(SOURCE, body, encoding)
    # The app API's statuses/show is the status itself; m.weibo.cn's statuses/show wraps it in {"ok":1,"data":…}.
    status = next((d for d in (data, get(data, "data")) if _is_status(d)), None)
    if status is not None:
        raw = s(get(status, "longText", "longTextContent")) or s(get(status, "longText", "content"))
    else:
        raw = s(get(data, "data", "longTextContent")) if data is not None else ""
    if data is not None and not raw:
        if status is None and not isinstance(get(data, "data"), dict):
            page.drop("unknown_shape", "neither data.longTextContent nor a status")
        elif status is None or status.get("isLongText") in (True, "true", 1):
            page.drop("missing_field", "no data.longTextContent")
    if status is not None and item is None:
        for one in _statuses(status):
            post = _post(one, product=product, target=target, now=now)
            if post is None:
                page.drop("missing_field", f"status {s(one.get('id'))!r}")
                continue
            if one is status and raw:
                post.text, post.raw_text = html_to_text(raw), raw
            if one.get("_retweeted_by"):
                post.extra["retweeted_by"] = one["_retweeted_by"]
            page.items.append(post)
        return page
    if item is None:
        if raw:
            page.meta["long_text"] = raw
        return page
    if raw:
        full = dataclasses.replace(item, text=html_to_text(raw), raw_text=raw, extra=dict(item.extra))
        counts = status if status is not None else get(data, "data")
        for field, key in (("reposts", "reposts_count"), ("replies", "comments_count"), ("likes", "attitudes_count")):
            value = parse_count(counts.get(key)) if isinstance(counts, dict) else None
            if value is not None:
                setattr(full, field, value)
    else:
        full = dataclasses.replace(item, extra={**item.extra, "truncated": True})
    page.items.append(full)
    return page


def _comment(c: dict[str, Any], *, mid: str, parent: str | None, product: str, target: str,
             now: datetime) -> FeedbackItem | None:
    cid = s(c.get("id"))
    raw = s(c.get("text"))
    if not cid or not raw:
        return None
    user = as_object(c.get("user"))
    return FeedbackItem(
        source=SOURCE, source_id=cid, product=product, target=target, url=f"{SITE}/detail/{mid}#comment-{cid}",
        text=html_to_text(raw), raw_text=raw, kind="reply" if parent else "comment",
        parent_id=parent or mid,
        author_id=s(user.get("id")) or None, author_name=s(user.get("screen_name")) or None,
        created_at=created(c.get("created_at"), cid, now=now), platform="weibo",
        likes=parse_count(c.get("like_count", c.get("like_counts"))),
        replies=parse_count(c.get("total_number")) if not parent else None,
        extra={"mid": mid, "floor": parse_count(c.get("floor_number")), "region": _region(c.get("source"))},
    )


def parse_comments(body: bytes | str, url: str, *, product: str, target: str, now: datetime,
                   encoding: str | None = None) -> Page:
    """``comments/hotflow`` page (post mid read from ``url``); ``next`` adds the returned ``max_id``
    and ``max_id_type`` until ``max_id`` is 0. Also reads the legacy ``api/comments/show`` shape
    (``like_counts``, relative dates, ``next`` = page + 1 up to ``data.max``)."""
    data, page = json_page(SOURCE, body, encoding)
    if data is None:
        return page
    if not isinstance(data, dict):
        return page.drop("unknown_shape", "not an object")
    m = re.search(r"[?&](?:mid|id)=(\d+)", url)
    mid = m.group(1) if m else ""
    if data.get("ok") in (0, "0"):
        return _not_ok(page, data)
    inner = data.get("data")
    rows = get(inner, "data")
    if not isinstance(rows, list):
        return page.drop("unknown_shape", "no data.data")
    page.meta.update(total_number=parse_count(get(inner, "total_number")))
    # The legacy API puts the hot comments beside the page's rows (data.hot_data, on page 1): read both, once.
    hot = get(inner, "hot_data")
    seen: set[str] = set()
    for c in page.objects(rows + (hot if isinstance(hot, list) else [])):
        item = _unseen(page, _comment(c, mid=mid, parent=None, product=product, target=target, now=now), seen,
                       f"comment {s(c.get('id'))!r}")
        if item is None:
            continue
        page.items.append(item)
        subs = c.get("comments")
        for sub in subs if isinstance(subs, list) else []:
            reply = _comment(sub, mid=mid, parent=item.source_id, product=product, target=target, now=now) \
                if isinstance(sub, dict) else None
            if reply is None:
                page.drop("missing_field", "sub-reply")
                continue
            page.items.append(reply)
    if "/api/comments/show" in url:  # legacy: numbered pages up to data.max
        pm = re.search(r"[?&]page=(\d+)", url)
        current = int(pm.group(1)) if pm else 1
        if rows and current < (parse_count(get(inner, "max")) or 0):
            page.next = comments_show_url(origin(url), mid, page=current + 1)
        return page
    max_id = s(get(inner, "max_id"))
    if rows and max_id not in ("", "0"):
        page.next = hotflow_url(origin(url), mid, max_id=max_id, max_id_type=s(get(inner, "max_id_type")) or 0)
    return page
