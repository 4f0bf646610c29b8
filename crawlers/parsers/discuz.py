"""Generic Discuz! X forums: forum lists, thread floors, the mobile JSON API; GBK/GB18030 aware.

Selectors are CSS (parsel) and may be overridden per site with a mapping (``selectors=``) whose keys
are those of :data:`DEFAULT_SELECTORS`. ``source`` is ``forum:<site>``; ``target`` is the forum id.
List pages yield no items: each thread row becomes a ``discuz_thread`` :class:`Follow` whose ``meta``
carries ``tid``, ``title``, ``author_name``, ``created_at``, ``replies``, ``views``, ``sticky``.
Thread pages yield one item per floor (floor 1 → kind ``post`` with the title; others ``reply`` with
``parent_id`` = tid). Banned floors (``div.locked``) are dropped with reason ``locked``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import quote, urljoin

from parsel import Selector

from crawlers.items import FeedbackItem
from crawlers.parsers._page import Follow, Page
from crawlers.parsers._util import get, html_page, json_page, s
from crawlers.parsers.blocks import detect_block
from crawlers.parsers.normalize import html_to_text, parse_count, parse_epoch, parse_time, rebase

__all__ = [
    "DEFAULT_SELECTORS",
    "forum_url",
    "thread_url",
    "mobile_url",
    "quote_keyword",
    "search_url",
    "parse_forum",
    "parse_thread",
    "parse_mobile",
]

DEFAULT_SELECTORS: dict[str, str] = {
    "thread_row": "tbody[id^='normalthread_'], tbody[id^='stickthread_']",
    "thread_title": "a.s.xst, a.xst",
    "thread_author": "td.by cite a",
    "thread_date": "td.by em",
    "thread_replies": "td.num a.xi2",
    "thread_views": "td.num em",
    "post": "div[id^='post_']",
    "post_body": "td.t_f[id^='postmessage_'], td[id^='postmessage_'], div[id^='postmessage_']",
    "post_author": "div.authi a.xw1, div.authi a",
    "post_time": "em[id^='authorposton']",
    "post_floor": "a[id^='postnum'], strong a[id^='postnum']",
    "post_locked": "div.locked",
    "subject": "span#thread_subject",
    "next": "div.pg a.nxt::attr(href)",
}

_FLOOR_WORDS = {"楼主": 1, "沙发": 2, "板凳": 3, "地板": 4}
_QUOTE_RE = re.compile(r'<div class="quote">.*?</blockquote>\s*</div>(\s*<br\s*/?>)?', re.S)
_NOT_FOUND = ("指定的主题不存在", "已被删除或正在被审核")


def forum_url(base_url: str, fid: str | int, *, page: int = 1, rewrite: bool = False) -> str:
    base = base_url.rstrip("/")
    if rewrite:
        return f"{base}/forum-{fid}-{page}.html"
    return f"{base}/forum.php?mod=forumdisplay&fid={fid}&orderby=dateline&page={page}"


def thread_url(base_url: str, tid: str | int, *, page: int = 1, rewrite: bool = False) -> str:
    base = base_url.rstrip("/")
    if rewrite:
        return f"{base}/thread-{tid}-{page}-1.html"
    return f"{base}/forum.php?mod=viewthread&tid={tid}&extra=page%3D1&page={page}"


def mobile_url(base_url: str, module: str, *, fid: str | int | None = None, tid: str | int | None = None,
               page: int = 1) -> str:
    url = f"{base_url.rstrip('/')}/api/mobile/index.php?version=4&module={module}"
    if fid is not None:
        url += f"&fid={fid}"
    if tid is not None:
        url += f"&tid={tid}"
    return url + f"&page={page}"


def quote_keyword(keyword: str, encoding: str = "gbk") -> str:
    """Percent-encode a search keyword in the site's charset (GBK sites need GBK bytes)."""
    codec = "gb18030" if encoding.lower() in ("gbk", "gb2312", "gb18030") else encoding
    return quote(keyword.encode(codec, errors="replace"), safe="")


def search_url(base_url: str, keyword: str, *, formhash: str, encoding: str = "gbk") -> str:
    return (f"{base_url.rstrip('/')}/search.php?mod=forum&srchtxt={quote_keyword(keyword, encoding)}"
            f"&formhash={formhash}&searchsubmit=yes")


def _open(body: bytes | str, encoding: str | None,
          selectors: Mapping[str, str] | None) -> tuple[str, Selector | None, dict[str, str], Page]:
    """A forum page: its text, its selector (None with ``page`` saying why when the body is refused) and the site's
    CSS selectors over the defaults."""
    text, page = html_page(body, encoding)
    if text is None:
        return "", None, {}, page
    return text, Selector(text=text, type="html"), {**DEFAULT_SELECTORS, **(selectors or {})}, page


def _uid(href: str) -> str | None:
    m = re.search(r"uid[=-](\d+)", href or "")
    return m.group(1) if m else None


def _time(node: Selector, now: datetime) -> datetime | None:
    title = node.css("span::attr(title)").get()
    if title:
        return parse_time(title, now=now)
    return parse_time(" ".join(t.strip() for t in node.css("::text").getall()), now=now)


def _blocked_or_empty(page: Page, source: str, text: str, what: str) -> Page:
    block = detect_block(source, 200, None, text)
    if block:
        page.block = block
        return page.drop("blocked", str(block))
    if any(marker in text for marker in _NOT_FOUND):
        return page.drop("not_found", "指定的主题不存在或已被删除或正在被审核")
    if "<html" not in text.lower() and "<div" not in text.lower():
        return page.drop("bad_html", text[:80])
    page.meta["empty"] = what
    return page


def _next(sel: Selector, css: str, url: str) -> str | None:
    href = sel.css(css).get()
    return rebase(urljoin(url, href.strip()), url) if href else None


def parse_forum(body: bytes | str, url: str, *, product: str, target: str, now: datetime,
                encoding: str | None = None, site: str = "discuz",
                selectors: Mapping[str, str] | None = None) -> Page:
    """A ``forumdisplay`` page → ``discuz_thread`` follows (newest first when ordered by dateline)."""
    text, sel, css, page = _open(body, encoding, selectors)
    if sel is None:
        return page
    source = f"forum:{site}"
    rows = sel.css(css["thread_row"])
    if not rows:
        return _blocked_or_empty(page, source, text, "no threads")
    for row in rows:
        row_id = row.attrib.get("id", "")
        m = re.search(r"(\d+)$", row_id)
        title_node = row.css(css["thread_title"])
        href = title_node.attrib.get("href", "") if title_node else ""
        if m:
            tid = m.group(1)
        else:
            h = re.search(r"tid=(\d+)|thread-(\d+)", href)
            tid = (h.group(1) or h.group(2)) if h else ""
        title = html_to_text(title_node.get()) if title_node else ""
        if not tid or not title:
            page.drop("missing_field", f"row {row_id!r}")
            continue
        author = row.css(css["thread_author"])
        date_nodes = row.css(css["thread_date"])
        created = None
        if date_nodes:
            node = date_nodes[0]
            created = _time(node, now)
        page.follow.append(Follow(kind="discuz_thread", url=rebase(urljoin(url, href), url) if href else
                                  thread_url(url.split("/forum")[0], tid), meta={
            "tid": tid, "title": title,
            "author_name": s(author.css("::text").get()) or None,
            "author_id": _uid(author.attrib.get("href", "")) if author else None,
            "created_at": created,
            "replies": parse_count(s(row.css(css["thread_replies"] + "::text").get())),
            "views": parse_count(s(row.css(css["thread_views"] + "::text").get())),
            "sticky": row_id.startswith("stickthread"),
        }))
    page.next = _next(sel, css["next"], url)
    return page


def parse_thread(body: bytes | str, url: str, *, product: str, target: str, now: datetime,
                 encoding: str | None = None, site: str = "discuz",
                 selectors: Mapping[str, str] | None = None) -> Page:
    """A ``viewthread`` page → one item per floor; ``next`` is the thread's next page."""
    text, sel, css, page = _open(body, encoding, selectors)
    if sel is None:
        return page
    source = f"forum:{site}"
    posts = [p for p in sel.css(css["post"]) if re.fullmatch(r"post_\d+", p.attrib.get("id", ""))]
    if not posts:
        return _blocked_or_empty(page, source, text, "no posts")
    subject = html_to_text(sel.css(css["subject"]).get() or "")
    m = re.search(r"tid=(\d+)|thread-(\d+)-", url)
    tid = (m.group(1) or m.group(2)) if m else ""
    if not tid:
        m = re.search(r"tid=(\d+)", text)
        tid = m.group(1) if m else ""
    page.meta.update(tid=tid, title=subject)
    for post in posts:
        pid = post.attrib["id"].split("_", 1)[1]
        if post.css(css["post_locked"]):
            page.drop("locked", f"pid {pid}: " + " ".join(post.css(css["post_locked"] + " ::text").getall()).strip())
            continue
        body_node = post.css(css["post_body"])
        if not body_node:
            page.drop("missing_field", f"pid {pid}: no body")
            continue
        raw = body_node[0].get()
        inner = re.sub(r"^<[^>]+>|</[^>]+>$", "", raw.strip()).strip()
        inner = _QUOTE_RE.sub("", inner).strip()
        author = post.css(css["post_author"])
        time_node = post.css(css["post_time"])
        floor_node = post.css(css["post_floor"])
        floor_text = "".join(floor_node[0].css("::text").getall()).strip() if floor_node else ""
        floor = _FLOOR_WORDS.get(floor_text) or parse_count(floor_text.rstrip("#").strip())
        first = floor == 1
        page.items.append(FeedbackItem(
            source=source, source_id=pid, product=product, target=target,
            url=rebase(urljoin(url, f"forum.php?mod=redirect&goto=findpost&ptid={tid}&pid={pid}"), url),
            title=subject if first else "", text=html_to_text(inner), raw_text=inner,
            kind="post" if first else "reply", parent_id=None if first else tid or None,
            author_id=_uid(author.attrib.get("href", "")) if author else None,
            author_name=s(author.css("::text").get()) or None,
            created_at=_time(time_node[0], now) if time_node else None,
            platform="web", extra={"floor": floor, "tid": tid},
        ))
    page.next = _next(sel, css["next"], url)
    return page


def parse_mobile(body: bytes | str, url: str, *, product: str, target: str, now: datetime,
                 encoding: str | None = None, site: str = "discuz") -> Page:
    """``api/mobile/index.php`` (version 4) JSON: ``viewthread`` → items, ``forumdisplay`` → follows."""
    source = f"forum:{site}"
    data, page = json_page(source, body, encoding)
    if data is None:
        return page
    variables = data.get("Variables") if isinstance(data, dict) else None
    if not isinstance(variables, dict):
        msg = get(data, "Message", "messageval")
        return page.drop("unknown_shape", f"no Variables{f' ({msg})' if msg else ''}")
    base = url.split("/api/mobile/")[0]
    page_m = re.search(r"[?&]page=(\d+)", url)
    page_no = parse_count(page_m.group(1)) if page_m else 1
    if "postlist" in variables:
        thread = variables.get("thread") or {}
        tid = s(thread.get("tid"))
        subject = html_to_text(s(thread.get("subject")))
        posts = variables.get("postlist") or []
        for post in posts if isinstance(posts, list) else []:
            pid = s(get(post, "pid"))
            message = s(get(post, "message"))
            if not pid or not message:
                page.drop("missing_field", f"pid {pid!r}")
                continue
            first = s(post.get("first")) == "1"
            page.items.append(FeedbackItem(
                source=source, source_id=pid, product=product, target=target,
                url=f"{base}/forum.php?mod=redirect&goto=findpost&ptid={tid}&pid={pid}",
                title=subject if first else "", text=html_to_text(message), raw_text=message,
                kind="post" if first else "reply", parent_id=None if first else tid or None,
                author_id=s(post.get("authorid")) or None, author_name=s(post.get("author")) or None,
                created_at=parse_epoch(post.get("dbdateline")) or parse_time(post.get("dateline"), now=now),
                platform="web", extra={"floor": parse_count(post.get("number")), "tid": tid},
            ))
        ppp = parse_count(variables.get("ppp")) or 0
        replies = parse_count(thread.get("replies"))
        if ppp and replies is not None and (page_no or 1) * ppp < replies + 1:
            page.next = mobile_url(base, "viewthread", tid=tid, page=(page_no or 1) + 1)
        return page
    if "forum_threadlist" in variables:
        rows = variables.get("forum_threadlist") or []
        fid = s(get(variables, "forum", "fid")) or target
        for row in rows if isinstance(rows, list) else []:
            tid = s(get(row, "tid"))
            if not tid:
                page.drop("missing_field", "thread row without tid")
                continue
            page.follow.append(Follow(kind="discuz_thread", url=mobile_url(base, "viewthread", tid=tid), meta={
                "tid": tid, "title": html_to_text(s(row.get("subject"))),
                "author_name": s(row.get("author")) or None, "author_id": s(row.get("authorid")) or None,
                "created_at": parse_epoch(row.get("dbdateline")),
                "replies": parse_count(row.get("replies")), "views": parse_count(row.get("views")),
                "sticky": s(row.get("displayorder")) not in ("", "0"),
            }))
        threads = parse_count(get(variables, "forum", "threads")) or 0
        tpp = parse_count(variables.get("tpp")) or len(rows)
        if rows and tpp and (page_no or 1) * tpp < threads:
            page.next = mobile_url(base, "forumdisplay", fid=fid, page=(page_no or 1) + 1)
        return page
    return page.drop("unknown_shape", "Variables has neither postlist nor forum_threadlist")
