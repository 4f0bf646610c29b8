"""Zhihu: search_v3, question feeds, comment_v5 root/child comments, and ``js-initialData`` HTML pages.

Zhihu ids of answers, articles and comments share one number space per type, so ``source_id`` is
prefixed: ``answer:<id>``, ``article:<id>``, ``zvideo:<id>``, ``comment:<id>``. ``parent_id`` uses the
same prefixed form (an answer's parent is ``question:<qid>``). ``paging.next`` is followed verbatim
(rebased onto the request's origin) unless ``paging.is_end`` or the offset stopped changing.
Requests need Zhihu's signature headers (``x-zse-96``); the spider drives a real browser for that —
these functions only build the URLs and read the bodies.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit


from crawlers.items import FeedbackItem
from crawlers.parsers._page import Block, Follow, Page
from crawlers.parsers._util import as_array, as_object, get, html_page, json_page, s, script_json
from crawlers.parsers.blocks import cookie_env
from crawlers.parsers.normalize import html_to_text, origin, parse_count, parse_epoch, rebase

__all__ = ["search_url", "feeds_url", "root_comments_url", "child_comments_url", "parse_search", "parse_feeds",
           "parse_comments", "parse_initial_data"]

SOURCE = "zhihu"
SITE = "https://www.zhihu.com"
FEED_INCLUDE = ("data[*].is_normal,admin_closed_comment,reward_info,is_collapsed,annotation_action,"
                "annotation_detail,collapse_reason,is_sticky,collapsed_by,suggest_edit,comment_count,"
                "can_comment,content,editable_content,attachment,voteup_count,reshipment_settings,"
                "comment_permission,created_time,updated_time,review_info,relevant_info,question,excerpt,"
                "is_labeled,paid_info,paid_info_content,reaction_instruction,relationship.is_authorized,"
                "is_author,voting,is_thanked,is_nothelp;data[*].author.follower_count,badge[*].topics")


def search_url(base_url: str, keyword: str, *, offset: int = 0, limit: int = 20, sort: str = "",
               time_interval: str = "", vertical: str = "") -> str:
    return (f"{base_url.rstrip('/')}/api/v4/search_v3?gk_version=gz-gaokao&t=general&q={quote(keyword, safe='')}"
            f"&correction=1&offset={offset}&limit={limit}&filter_fields=&lc_idx={offset}&show_all_topics=0"
            f"&search_source=Filter&time_interval={time_interval}&sort={sort}&vertical={vertical}")


def feeds_url(base_url: str, question_id: str | int, *, limit: int = 5, offset: int = 0, cursor: str = "",
              session_id: str = "") -> str:
    return (f"{base_url.rstrip('/')}/api/v4/questions/{question_id}/feeds?cursor={cursor}"
            f"&include={quote(FEED_INCLUDE, safe='')}&limit={limit}&offset={offset}&order=default"
            f"&platform=desktop&session_id={session_id}")


def root_comments_url(base_url: str, kind: str, obj_id: str | int, *, offset: str = "", limit: int = 10) -> str:
    """``kind``: ``answers`` | ``articles`` | ``zvideos``."""
    return (f"{base_url.rstrip('/')}/api/v4/comment_v5/{kind}/{obj_id}/root_comment?order=score"
            f"&offset={quote(offset, safe='')}&limit={limit}")


def child_comments_url(base_url: str, root_id: str | int, *, offset: str = "", limit: int = 10) -> str:
    return (f"{base_url.rstrip('/')}/api/v4/comment_v5/comment/{root_id}/child_comment?order=sort"
            f"&offset={quote(offset, safe='')}&limit={limit}")


def _pick(obj: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if obj.get(key) not in (None, ""):
            return obj[key]
    return None


def _content_item(obj: dict[str, Any], *, product: str, target: str, now: datetime) -> FeedbackItem | None:
    """An answer / article / zvideo object (API snake_case or initialData camelCase)."""
    kind = s(obj.get("type")) or "answer"
    oid = s(obj.get("id"))
    raw = s(_pick(obj, "content", "excerpt", "description"))
    if kind not in ("answer", "article", "zvideo") or not oid or not raw:
        return None
    author = as_object(obj.get("author"))
    question = as_object(obj.get("question"))
    qid = s(question.get("id"))
    if kind == "answer":
        url = f"{SITE}/question/{qid}/answer/{oid}" if qid else f"{SITE}/answer/{oid}"
        title = html_to_text(s(_pick(question, "title", "name")))
    elif kind == "article":
        url, title = f"https://zhuanlan.zhihu.com/p/{oid}", html_to_text(s(obj.get("title")))
    else:
        url, title = f"{SITE}/zvideo/{oid}", html_to_text(s(obj.get("title")))
    return FeedbackItem(
        source=SOURCE, source_id=f"{kind}:{oid}", product=product, target=target, url=url, title=title,
        text=html_to_text(raw), raw_text=raw, kind="answer" if kind == "answer" else "post",
        parent_id=f"question:{qid}" if kind == "answer" and qid else None,
        author_id=s(author.get("id")) or None, author_name=html_to_text(s(author.get("name"))) or None,
        created_at=parse_epoch(_pick(obj, "created_time", "createdTime", "created")), platform="web",
        likes=parse_count(_pick(obj, "voteup_count", "voteupCount")),
        replies=parse_count(_pick(obj, "comment_count", "commentCount")),
        extra={"kind": kind, "question_id": qid or None,
               "updated_at": parse_epoch(_pick(obj, "updated_time", "updatedTime", "updated"))},
    )


def _comments_follow(item: FeedbackItem, base: str) -> Follow | None:
    kind, _, oid = item.source_id.partition(":")
    if not item.replies:
        return None
    return Follow(kind="zhihu_comments", url=root_comments_url(base, kind + "s", oid),
                  meta={"parent_id": item.source_id})


def _next(data: dict[str, Any], url: str) -> str | None:
    paging = data.get("paging")
    if not isinstance(paging, dict) or paging.get("is_end") in (True, "true", 1) or not s(paging.get("next")):
        return None
    nxt = rebase(s(paging["next"]), url)
    old = parse_qs(urlsplit(url).query)
    new = parse_qs(urlsplit(nxt).query)
    keys = ("offset", "cursor", "session_id")
    if nxt == url or (any(k in new for k in keys) and all(old.get(k) == new.get(k) for k in keys)):
        return None  # the offset stopped changing
    return nxt


def _rows(body: bytes | str, encoding: str | None) -> tuple[Any, list[Any] | None, Page]:
    """An API answer, its ``data[]`` rows and the page; rows None with ``page`` saying why (too large, blocked,
    not JSON, no ``data[]``)."""
    data, page = json_page(SOURCE, body, encoding)
    if data is None:
        return None, None, page
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        page.drop("unknown_shape", "no data[]")
        return data, None, page
    return data, data["data"], page


def _add_content(page: Page, obj: dict[str, Any], base: str, *, product: str, target: str,
                 now: datetime) -> FeedbackItem | None:
    """Add an answer/article/zvideo item and the follow for its comments; drop it with a reason if unusable."""
    item = _content_item(obj, product=product, target=target, now=now)
    if item is None:
        kind = s(obj.get("type")) or "answer"
        # A question, a person, a topic… is not feedback ("other_type"); an answer we cannot read is a failure.
        page.drop("missing_field" if kind in ("answer", "article", "zvideo") else "other_type",
                  f"{kind} {s(obj.get('id'))!r}")
        return None
    page.items.append(item)
    follow = _comments_follow(item, base)
    if follow:
        page.follow.append(follow)
    return item


def parse_search(body: bytes | str, url: str, *, product: str, target: str, now: datetime,
                 encoding: str | None = None) -> Page:
    """search_v3 → answers/articles/zvideos as items, each with comments as a ``zhihu_comments``
    follow; each distinct question as a ``zhihu_question`` follow (its feed)."""
    data, rows, page = _rows(body, encoding)
    if rows is None:
        return page
    base = origin(url)
    questions: list[str] = []
    for row in rows:
        obj = get(row, "object")
        if not isinstance(obj, dict) or s(get(row, "type")) not in ("search_result", "zvideo", ""):
            continue  # one-box cards, related queries, ads
        item = _add_content(page, obj, base, product=product, target=target, now=now)
        if item is None:
            continue
        highlight = get(row, "highlight", "title")
        if not item.title and highlight:
            item.title = html_to_text(s(highlight))
        qid = item.extra.get("question_id")
        if qid and qid not in questions:
            questions.append(qid)
            page.follow.append(Follow(kind="zhihu_question", url=feeds_url(base, qid), meta={"question_id": qid}))
    page.next = _next(data, url) if rows else None
    return page


def parse_feeds(body: bytes | str, url: str, *, product: str, target: str, now: datetime,
                encoding: str | None = None) -> Page:
    """A question's feed (``data[].target``) or the older ``answers`` list → answer items."""
    data, rows, page = _rows(body, encoding)
    if rows is None:
        return page
    base = origin(url)
    for row in rows:
        obj = row.get("target") if isinstance(row, dict) and isinstance(row.get("target"), dict) else row
        if not isinstance(obj, dict):
            page.drop("bad_entry", repr(row)[:80])
            continue
        _add_content(page, obj, base, product=product, target=target, now=now)
    page.meta["totals"] = parse_count(get(data, "paging", "totals"))
    page.next = _next(data, url) if rows else None
    return page


def _comment_url(parent: str, cid: str, api_url: str) -> str:
    kind, _, oid = parent.partition(":")
    if kind == "answer":
        return f"{SITE}/answer/{oid}#comment-{cid}"
    if kind == "article":
        return f"https://zhuanlan.zhihu.com/p/{oid}#comment-{cid}"
    return api_url or f"{SITE}/api/v4/comment_v5/comment/{cid}"


def _comment(c: dict[str, Any], parent: str, *, reply: bool, product: str, target: str,
             now: datetime) -> FeedbackItem | None:
    cid = s(c.get("id"))
    raw = s(c.get("content"))
    if not cid or not raw:
        return None
    author = as_object(c.get("author"))
    if isinstance(author.get("member"), dict):  # old shape
        author = author["member"]
    region = None
    for tag in c.get("comment_tag") or []:
        if isinstance(tag, dict) and tag.get("type") == "ip_info":
            region = re.sub(r"^IP\s*属地", "", s(tag.get("text"))) or None
    return FeedbackItem(
        source=SOURCE, source_id=f"comment:{cid}", product=product, target=target,
        url=_comment_url(parent, cid, s(c.get("url"))),
        text=html_to_text(raw), raw_text=raw, kind="reply" if reply else "comment", parent_id=parent,
        author_id=s(author.get("id")) or None, author_name=html_to_text(s(author.get("name"))) or None,
        created_at=parse_epoch(c.get("created_time")), platform="web",
        likes=parse_count(c.get("like_count") if c.get("like_count") is not None else c.get("vote_count")),
        replies=parse_count(c.get("child_comment_count")) if not reply else None,
        extra={"region": region, "reply_to": s(c.get("reply_comment_id")) or None,
               "dislikes": parse_count(c.get("dislike_count"))},
    )


def parse_comments(body: bytes | str, url: str, *, product: str, target: str, now: datetime,
                   encoding: str | None = None) -> Page:
    """comment_v5 ``root_comment`` (parent from the URL: ``answer:<id>`` …) or ``child_comment``
    (parent ``comment:<root>``). Inline ``child_comments`` become ``reply`` items; a root comment with
    more children than inlined gets a ``zhihu_child_comments`` follow."""
    data, rows, page = _rows(body, encoding)
    if rows is None:
        return page
    base = origin(url)
    m_child = re.search(r"/comment_v5/comment/(\d+)/child_comment", url)
    m_root = re.search(r"/comment_v5/(answers|articles|zvideos)/(\d+)/root_comment", url)
    if m_child:
        parent, reply = f"comment:{m_child.group(1)}", True
    elif m_root:
        parent, reply = f"{m_root.group(1)[:-1]}:{m_root.group(2)}", False
    else:
        parent, reply = "", False
    for row in page.objects(rows):
        item = _comment(row, parent, reply=reply, product=product, target=target, now=now)
        if item is None:
            page.drop("missing_field", f"comment {s(row.get('id'))!r}")
            continue
        page.items.append(item)
        children = as_array(row.get("child_comments"))
        for child in children:
            sub = _comment(child, item.source_id, reply=True, product=product, target=target, now=now) \
                if isinstance(child, dict) else None
            if sub is None:
                page.drop("missing_field", "child comment")
                continue
            page.items.append(sub)
        if not reply and (item.replies or 0) > len(children):
            page.follow.append(Follow(kind="zhihu_child_comments",
                                      url=child_comments_url(base, item.source_id.split(":", 1)[1]),
                                      meta={"parent_id": item.source_id}))
    page.meta["totals"] = parse_count(get(data, "paging", "totals")) or parse_count(get(data, "counts", "total_counts"))
    page.next = _next(data, url) if rows else None
    return page


_INITIAL_RE = re.compile(r'<script[^>]*id="js-initialData"[^>]*>(.*?)</script>', re.S)


def _unhuman(text: str) -> Block | None:
    """Zhihu's own check page (安全验证 / unhuman), which the generic block rules do not know."""
    if "unhuman" in text.lower() or "安全验证" in text:
        return Block(kind="captcha", reason="安全验证 (unhuman) page",
                     fix=f"open zhihu.com in a browser, pass the check, then set {cookie_env(SOURCE)}")
    return None


def parse_initial_data(body: bytes | str, url: str, *, product: str, target: str, now: datetime,
                       encoding: str | None = None) -> Page:
    """An HTML page (``/question/…/answer/…``, ``zhuanlan.zhihu.com/p/…``) → its embedded answers and
    articles (``initialState.entities``)."""
    text, page = html_page(body, encoding)
    if text is None:
        return page
    state = script_json(SOURCE, text, page, _INITIAL_RE, "js-initialData", _unhuman)
    if state is None:
        return page
    entities = get(state, "initialState", "entities")
    if not isinstance(entities, dict):
        return page.drop("unknown_shape", "no initialState.entities")
    users = as_object(entities.get("users"))
    questions = as_object(entities.get("questions"))
    for kind in ("answers", "articles"):
        group = entities.get(kind)
        for obj in (group.values() if isinstance(group, dict) else []):
            if not isinstance(obj, dict):
                continue
            obj = dict(obj)
            obj.setdefault("type", kind[:-1])
            if isinstance(obj.get("author"), str):  # a url_token pointing into entities.users
                obj["author"] = users.get(obj["author"], {"name": obj["author"]})
            q = obj.get("question")
            if isinstance(q, (str, int)):
                obj["question"] = questions.get(str(q), {"id": q})
            item = _content_item(obj, product=product, target=target, now=now)
            if item is None:
                page.drop("missing_field", f"{kind} {s(obj.get('id'))!r}")
                continue
            page.items.append(item)
    return page
