"""Baidu Tieba (legacy PC HTML): bar thread lists (inside an HTML comment), threads, 楼中楼, search.

``source_id`` of every post / reply is Tieba's post id (``pid``; 楼中楼 ``spid``), so a search hit
and the same floor crawled from its thread are one document. Bar lists yield no items: each thread
is a ``tieba_thread`` follow (meta: tid, title, abstract, author_name, replies, created_at, is_top).
Floors with sub-replies get a ``tieba_lzl`` follow. Floor 1 is ``kind="post"`` (with the thread
title); other floors ``reply`` with ``parent_id`` = tid; 楼中楼 ``reply`` with ``parent_id`` = pid.
"""

from __future__ import annotations

import html as _html
import re
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, quote, urljoin, urlsplit

from parsel import Selector

from crawlers.items import FeedbackItem
from crawlers.parsers._bigpipe import pagelets
from crawlers.parsers._page import Block, Follow, Page
from crawlers.parsers._util import as_object, html_page, s
from crawlers.parsers.blocks import cookie_env, detect_block
from crawlers.parsers.normalize import html_to_text, json_loads, origin, parse_count, parse_time, rebase

__all__ = ["forum_url", "thread_url", "lzl_url", "search_url", "parse_forum", "parse_thread", "parse_lzl",
           "parse_search", "user_id"]

SOURCE = "tieba"
SITE = "https://tieba.baidu.com"
PAGE_SIZE = 50


def forum_url(base_url: str, kw: str, *, pn: int = 0) -> str:
    return f"{base_url.rstrip('/')}/f?kw={quote(kw, safe='')}&ie=utf-8&pn={pn}"


def thread_url(base_url: str, tid: str | int, *, page: int = 1, see_lz: bool = False) -> str:
    return f"{base_url.rstrip('/')}/p/{tid}?pn={page}" + ("&see_lz=1" if see_lz else "")


def lzl_url(base_url: str, tid: str | int, pid: str | int, fid: str | int, *, page: int = 1) -> str:
    return f"{base_url.rstrip('/')}/p/comment?tid={tid}&pid={pid}&fid={fid}&pn={page}"


def search_url(base_url: str, kw: str, *, page: int = 1, sort: int = 1, only_thread: int = 0) -> str:
    """``sort``: 1 newest, 0 oldest, 2 relevance."""
    return (f"{base_url.rstrip('/')}/f/search/res?isnew=1&qw={quote(kw, safe='')}&rn=10&pn={page}"
            f"&sm={sort}&only_thread={only_thread}")


def _field(node: Selector) -> dict[str, Any]:
    raw = node.attrib.get("data-field") or ""
    for text in (raw, _html.unescape(raw)):
        try:
            value = json_loads(text)
        except ValueError:
            continue
        return value if isinstance(value, dict) else {}
    return {}


def _text(node: Selector | None) -> str:
    return html_to_text(node.get()) if node is not None else ""


def _inner(node: Selector) -> str:
    return re.sub(r"^<[^>]+>|</[^>]+>$", "", node.get().strip()).strip()


def _blocked(page: Page, text: str) -> Page | None:
    block = detect_block(SOURCE, 200, None, text)
    if block is None and "wappass.baidu.com" in text and "captcha" in text:
        block = Block(kind="captcha", reason="captcha page (wappass)",
                      fix=f"solve it in a browser, then set {cookie_env(SOURCE)}")
    if block:
        page.block = block
        return page.drop("blocked", str(block))
    return None


def _open(body: bytes | str, encoding: str | None) -> tuple[str, Selector | None, Page]:
    """The decoded page and its selector, or a None selector with ``page`` saying why (too large, blocked)."""
    text, page = html_page(body, encoding)
    if text is None or _blocked(page, text):
        return "", None, page
    return text, Selector(text=text, type="html"), page


def _query(url: str, key: str) -> str:
    return (parse_qs(urlsplit(url).query).get(key) or [""])[0]


def user_id(portrait: Any) -> str:
    """What is stable about a user: the avatar's ``portrait`` key without its cache-buster
    (``tb.1.b08d8f12.IR-tb…?t=1532192361`` → ``tb.1.b08d8f12.IR-tb…``); a floor and a 楼中楼 reply by one user
    then carry one id (and one pseudonym)."""
    return re.split(r"[?&#]", s(portrait), maxsplit=1)[0]


def _display_name(node: Selector) -> str:
    """The name the page shows (``a.p_author_name``), not the hidden ``user_nickname`` placeholder."""
    links = node.css("a.p_author_name")
    return " ".join("".join(links[0].css("::text").getall()).split()) if links else ""


def parse_forum(body: bytes | str, url: str, *, product: str, target: str, now: datetime,
                encoding: str | None = None) -> Page:
    """``/f?kw=`` bar page → ``tieba_thread`` follows; the list is read from inside the
    ``code.pagelet_html`` comment (or the page itself when inlined)."""
    text, sel, page = _open(body, encoding)
    if sel is None:
        return page
    lists = [sel] + [Selector(text=part, type="html") for part in pagelets(text, marker="j_thread_list")
                     if "thread_list" in part]
    base = origin(url)
    seen: set[str] = set()
    for part in lists:
        for li in part.css("li.j_thread_list"):
            data = _field(li)
            tid = s(li.attrib.get("data-tid")) or s(data.get("id"))
            title_node = li.css("a.j_th_tit")
            title = _text(title_node[0]) if title_node else ""
            if not tid or not title:
                page.drop("missing_field", f"thread {tid!r}")
                continue
            if tid in seen:
                continue
            seen.add(tid)
            author = li.css("a.frs-author-name::text").get() or s(data.get("author_nickname")) or s(data.get("author_name"))
            page.follow.append(Follow(kind="tieba_thread", url=thread_url(base, tid), meta={
                "tid": tid, "title": title, "abstract": _text(li.css("div.threadlist_abs")[0])
                if li.css("div.threadlist_abs") else "",
                "author_name": s(author) or None,
                "replies": parse_count(s(li.css("span.threadlist_rep_num::text").get())) or parse_count(data.get("reply_num")),
                "created_at": parse_time(s(li.css("span.is_show_create_time::text").get()), now=now),
                "is_top": bool(data.get("is_top")), "first_post_id": s(data.get("first_post_id")) or None,
            }))
    if not page.follow:
        rows = sum(len(part.css("li.j_thread_list")) for part in lists)
        empty_list = any(part.css("ul#thread_list") and not part.css("ul#thread_list > li") for part in lists)
        if rows or not empty_list:  # rows there but none read, or no list at all: the layout is not ours
            return page.drop("parse_empty", f"bar page: {rows} thread rows, none parsed" if rows
                             else "bar page without a thread list")
    nxt = sel.css("a.next.pagination-item::attr(href)").get()
    if nxt is None:
        for part in lists[1:]:
            nxt = part.css("a.next.pagination-item::attr(href)").get() or nxt
    if page.follow and nxt:
        page.next = rebase(urljoin(url, nxt.strip()), url)
    return page


_TAIL_TIME = re.compile(r"\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{2}")


def _floors(sel: Selector) -> list[Selector]:
    return list(sel.css("div.l_post.j_l_post") or sel.css("div.l_post"))


def _ad_reason(post: Selector, pid: str) -> str | None:
    """Why a floor is an advertisement, or None: Tieba mixes ads into the floors — a ``div.l_post`` with an
    empty data-field (no post id) labelled 广告, or a floor holding ``ad-dom-img`` images."""
    if post.xpath(".//*[@ad-dom-img='true']"):
        return f"floor {pid or '?'}: ad-dom-img"
    if not pid:
        label = [t.strip() for t in post.xpath(".//text()[not(ancestor::style) and not(ancestor::script)]").getall()]
        if "广告" in label:
            words = " ".join(t for t in label if t)
            return f"unnumbered floor labelled 广告: {words[:80]}"
    return None


def parse_thread(body: bytes | str, url: str, *, product: str, target: str, now: datetime,
                 encoding: str | None = None) -> Page:
    """``/p/{tid}`` page → one item per floor; ``next`` while ``pn`` < the page count."""
    text, sel, page = _open(body, encoding)
    if sel is None:
        return page
    posts = _floors(sel)
    for part in pagelets(text, marker="l_post"):  # floors a BigPipe pagelet sends (after </html>, in a comment)
        if "l_post" in part:
            posts += _floors(Selector(text=part, type="html"))
    m = re.search(r"/p/(\d+)", url)
    tid = m.group(1) if m else ""
    title = s(sel.css("h3.core_title_txt::attr(title)").get()) or s(sel.css("h1.core_title_txt::attr(title)").get())
    page_title = s(sel.css("title::text").get())
    if not title:  # 【网球风云吧】_百度贴吧 (2017+) or _clashofclans吧_百度贴吧 (2013)
        title = re.sub(r"(?:【[^】]*吧】|_[^_]*吧)_百度贴吧$", "", page_title).strip()
    fm = re.search(r"(?:【([^】]*)吧】|_([^_]*)吧)_百度贴吧$", page_title)
    forum = s(sel.css("a.card_title_fname::text").get()) or (next(g for g in fm.groups() if g) + "吧" if fm else "")
    page.meta.update(tid=tid, title=title, forum=forum)
    if not posts:
        if "<html" not in text.lower():
            return page.drop("bad_html", "not an HTML page")
        return page.drop("parse_empty", "thread page without floors")
    base = origin(url)
    seen: set[str] = set()
    for post in posts:
        data = _field(post)
        author = as_object(data.get("author"))
        content = as_object(data.get("content"))
        # 2017+ pages: content.post_id / post_no; 2013 pages: content.id / floor / date.
        pid = s(content.get("post_id")) or s(content.get("id")) or s(post.attrib.get("data-pid"))
        ad = _ad_reason(post, pid)
        if ad:
            page.drop("ad", ad)
            continue
        if pid and pid in seen:
            continue
        seen.add(pid)
        tid = tid or s(content.get("thread_id"))
        body_node = post.css("div.d_post_content")
        raw = _inner(body_node[0]) if body_node else s(content.get("content"))
        if not pid or not raw:
            page.drop("missing_field", f"post {pid!r}")
            continue
        tail = [" ".join("".join(span.css("::text").getall()).split()) for span in post.css("div.post-tail-wrap > span")]
        floor = parse_count(content.get("post_no")) or parse_count(content.get("floor"))
        if floor is None:
            floor = next((parse_count(t[:-1]) for t in tail if t.endswith("楼")), None)
        when = next((t for t in reversed(tail) if _TAIL_TIME.fullmatch(t)), None) or s(content.get("date"))
        region = next((t.split(":", 1)[1].strip() for t in tail if t.startswith("IP属地")), None)
        client = next((t for t in tail if t.startswith("来自")), None)
        first = floor == 1
        fid = s(content.get("forum_id"))
        sub = parse_count(content.get("comment_num")) or 0
        page.items.append(FeedbackItem(
            source=SOURCE, source_id=pid, product=product, target=target,
            url=f"{SITE}/p/{tid}?pid={pid}#{pid}", title=title if first else "", text=html_to_text(raw),
            raw_text=raw, kind="post" if first else "reply", parent_id=None if first else tid or None,
            author_id=user_id(author.get("portrait")) or s(author.get("user_id")) or s(author.get("id")) or None,
            author_name=_display_name(post) or s(author.get("user_name")) or s(author.get("name"))
            or s(author.get("user_nickname")) or None,
            created_at=parse_time(when, now=now) if when else None,
            platform="web", replies=sub,
            extra={"floor": floor, "tid": tid, "fid": fid or None, "region": region,
                   "client": client[2:] if client else None},
        ))
        if sub > 0 and fid:
            page.follow.append(Follow(kind="tieba_lzl", url=lzl_url(base, tid, pid, fid),
                                      meta={"tid": tid, "pid": pid, "fid": fid, "count": sub}))
    if not page.items and not any(r == "ad" for r, _ in page.dropped):
        page.drop("parse_empty", f"{len(posts)} floors, none parsed")
    # "786回复贴，共13页" (2017+) or "共有4页" alone (2013): the labels say which number is which.
    pager = " ".join(" ".join(li.css("::text").getall()) for li in sel.css("li.l_reply_num"))
    replies_m = re.search(r"(\d+)\s*回复贴", pager)
    pages_m = re.search(r"共有?\s*(\d+)\s*页", pager)
    total_pages = int(pages_m.group(1)) if pages_m else None
    page.meta.update(replies=int(replies_m.group(1)) if replies_m else None, pages=total_pages)
    current = parse_count(_query(url, "pn")) or 1
    if total_pages and current < total_pages and page.items:
        page.next = thread_url(base, tid, page=current + 1, see_lz=_query(url, "see_lz") == "1")
    return page


def parse_lzl(body: bytes | str, url: str, *, product: str, target: str, now: datetime,
              encoding: str | None = None) -> Page:
    """``/p/comment?tid=&pid=&fid=&pn=`` fragment → 楼中楼 ``reply`` items (parent = pid)."""
    _, sel, page = _open(body, encoding)
    if sel is None:
        return page
    tid, pid, fid = _query(url, "tid"), _query(url, "pid"), _query(url, "fid")
    for li in sel.css("li.lzl_single_post"):
        data = _field(li)
        spid = s(data.get("spid"))
        node = li.css("span.lzl_content_main")
        raw = _inner(node[0]) if node else ""
        if not spid or not raw:
            page.drop("missing_field", f"lzl {spid!r}")
            continue
        page.items.append(FeedbackItem(
            source=SOURCE, source_id=spid, product=product, target=target,
            url=f"{SITE}/p/{tid}?pid={pid}&cid={spid}#{spid}", text=html_to_text(raw), raw_text=raw,
            kind="reply", parent_id=pid or None,
            author_id=user_id(data.get("portrait")) or None,
            author_name=s(data.get("showname")) or s(data.get("user_name")) or None,
            created_at=parse_time(s(li.css("span.lzl_time::text").get()), now=now), platform="web",
            extra={"tid": tid, "pid": pid},
        ))
    rows = sel.css("li.lzl_single_post")
    if rows and not page.items:
        page.drop("parse_empty", f"楼中楼 page: {len(rows)} replies, none parsed")
    pager = sel.css("li.lzl_li_pager")
    total = parse_count(_field(pager[0]).get("total_page")) if pager else None
    current = parse_count(_query(url, "pn")) or 1
    if page.items and total and current < total:
        page.next = lzl_url(origin(url), tid, pid, fid, page=current + 1)
    return page


def parse_search(body: bytes | str, url: str, *, product: str, target: str, now: datetime,
                 encoding: str | None = None) -> Page:
    """``/f/search/res`` → one item per hit (``post`` when it is the thread itself, else ``reply``)."""
    _, sel, page = _open(body, encoding)
    if sel is None:
        return page
    for hit in sel.css("div.s_post"):
        link = hit.css("span.p_title a")
        href = link.attrib.get("href", "") if link else ""
        tid = s(link.attrib.get("data-tid")) if link else ""
        m = re.search(r"[?&]pid=(\d+)", href)
        pid = m.group(1) if m else ""
        body_node = hit.css("div.p_content")
        raw = _inner(body_node[0]) if body_node else ""
        title = _text(link[0]) if link else ""
        if not tid or not pid or not (raw or title):
            page.drop("missing_field", f"hit tid={tid!r} pid={pid!r}")
            continue
        is_thread = not title.startswith("回复:")
        forum = s(hit.css("a.p_forum font::text").get()) or s(hit.css("a.p_forum::text").get())
        author_href = next((a.attrib.get("href", "") for a in hit.css("a") if "/home/main" in a.attrib.get("href", "")), "")
        author = next((s(a.css("::text").get()) or s(a.css("font::text").get())
                       for a in hit.css("a") if "/home/main" in a.attrib.get("href", "")), "")
        page.items.append(FeedbackItem(
            source=SOURCE, source_id=pid, product=product, target=target, url=f"{SITE}/p/{tid}?pid={pid}#{pid}",
            # A hit on the title alone (empty p_content) is kept: its title is what matched.
            title=title if is_thread else "", text=html_to_text(raw) or title, raw_text=raw or title,
            kind="post" if is_thread else "reply", parent_id=None if is_thread else tid,
            author_id=None, author_name=author or None,
            created_at=parse_time(s(hit.css("font.p_date::text").get()), now=now), platform="web",
            extra={"tid": tid, "fid": s(link.attrib.get("data-fid")) or None, "forum": forum or None,
                   "author_url": author_href or None},
        ))
    if not page.items:
        hits = len(sel.css("div.s_post"))
        if hits or not (sel.css("div.s_post_list") or sel.css("div.s_nodata")):
            return page.drop("parse_empty", f"search page: {hits} hits, none parsed" if hits
                             else "search page without a result list")
    nxt = sel.css("div.pager a.next::attr(href)").get()
    if page.items and nxt:
        page.next = rebase(urljoin(url, nxt.strip()), url)
    return page
