"""Tencent MyApp (应用宝, sj.qq.com): the app's review page and, optionally, the legacy comment JSON API.

**Review page** ``{base}/appdetail/{package}/review`` (Next.js). The data sits in
``<script id="__NEXT_DATA__" type="application/json">`` at ``props.pageProps.dynamicCardResponse.data
.components[*].data.itemData``; the reviews card is a 3-item list: ``[0]`` the app (``name``,
``version_name``, ``update_time``), ``[1].appScore`` (``score``, ``total``, ``mulScore``), ``[2].comments[]``
= ``{comment: {commentID, content, createTime (epoch s), mulDimensionScore.total, praiseNum, replyNum},
user: {nickName}}``. Only the first page of comments is embedded and no paging API is known, so the
page is never followed (``next`` is None). Comments carry no version of their own: ``app_version`` is
the app's current ``version_name`` (the version on sale when the review was collected).

**Legacy API** ``{base}/myapp/app/comment.htm?apkName={pkg}&apkCode=&p={n}&contextData={cursor}`` →
``{success, msg, obj: {total, hasNext, contextData, commentDetails: [{content, nickName, score,
createdTime (epoch s), versionCode, uin}]}}``; probably retired. Its failure shape
``{"success": false, "obj": null, "msg": "CommentManager.takeCommentList.error"}`` is dropped with reason
``error`` and the message. Legacy comments have no id: ``source_id`` is ``{uin}-{createdTime}``.

Reviews link to ``https://sj.qq.com/appdetail/{package}/review`` (there is no page per review).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from crawlers.items import FeedbackItem
from crawlers.parsers._page import Page
from crawlers.parsers._util import as_object, get, html_page, json_page, s, script_json
from crawlers.parsers.normalize import parse_count, parse_epoch, parse_rating

__all__ = ["review_page_url", "legacy_comments_url", "parse_review_page", "parse_legacy_comments"]

SOURCE = "yyb"
SITE = "https://sj.qq.com"

_NEXT_DATA_RE = re.compile(
    r"<script\b[^>]*\bid\s*=\s*[\"']__NEXT_DATA__[\"'][^>]*>(.*?)</script\s*>", re.S | re.I)


def review_page_url(base_url: str, package: str) -> str:
    return f"{base_url.rstrip('/')}/appdetail/{quote(package, safe='.')}/review"


def legacy_comments_url(base_url: str, package: str, *, page: int = 1, context: str = "") -> str:
    return (f"{base_url.rstrip('/')}/myapp/app/comment.htm?apkName={quote(package, safe='.')}&apkCode="
            f"&p={page}&contextData={quote(context, safe='')}")


def _public_url(package: str) -> str:
    return f"{SITE}/appdetail/{quote(package, safe='.')}/review"


def _package(url: str, target: str) -> str:
    if target:
        return target
    m = re.search(r"/appdetail/([^/?#]+)", url)
    if m:
        return m.group(1)
    return dict(parse_qsl(urlsplit(url).query)).get("apkName", "")


def _card(state: Any) -> tuple[dict[str, Any] | None, dict[str, Any], list[Any] | None]:
    """(app, score, comments) of the first component whose ``itemData`` holds a ``comments`` list."""
    components = get(state, "props", "pageProps", "dynamicCardResponse", "data", "components")
    if not isinstance(components, list):
        return None, {}, None
    for comp in components:
        items = get(comp, "data", "itemData")
        if not isinstance(items, list):
            continue
        comments = next((e["comments"] for e in items if isinstance(e, dict) and isinstance(e.get("comments"), list)),
                        None)
        if comments is None:
            continue
        app = next((e for e in items if isinstance(e, dict) and ("version_name" in e or "name" in e)), None)
        score: dict[str, Any] = next(
            (e["appScore"] for e in items if isinstance(e, dict) and isinstance(e.get("appScore"), dict)), {})
        return app, score, comments
    return None, {}, None


def parse_review_page(body: bytes | str, url: str, *, product: str, target: str, now: datetime,
                      encoding: str | None = None) -> Page:
    """The review page → its embedded comments (``next`` always None). ``meta``: ``app_name``,
    ``version``, ``score``, ``rating_count``. No ``__NEXT_DATA__`` → a block if the page is one, else
    dropped ``bad_html``; no comments card → dropped ``unknown_shape``."""
    text, page = html_page(body, encoding)
    if text is None:
        return page
    state = script_json(SOURCE, text, page, _NEXT_DATA_RE, "__NEXT_DATA__")
    if state is None:
        return page
    app, score, comments = _card(state)
    if comments is None:
        return page.drop("unknown_shape", "no comments card in dynamicCardResponse")
    version = s(app.get("version_name")) or None if app else None
    page.meta.update(app_name=s(app.get("name")) or None if app else None, version=version,
                     score=s(score.get("score")) or None, rating_count=parse_count(score.get("total")))
    package = _package(url, target)
    for entry in comments:
        comment = entry.get("comment") if isinstance(entry, dict) else None
        if not isinstance(comment, dict):
            page.drop("bad_entry", repr(entry)[:80])
            continue
        cid = s(comment.get("commentID"))
        content = s(comment.get("content"))
        if not cid or not content:
            page.drop("missing_field", f"commentID={cid!r}")
            continue
        user = as_object(entry.get("user"))
        page.items.append(FeedbackItem(
            source=SOURCE, source_id=cid, product=product, target=target, url=_public_url(package),
            text=content, raw_text=content, kind="review",
            author_name=s(user.get("nickName")) or None,
            created_at=parse_epoch(comment.get("createTime")),
            rating=parse_rating(get(comment, "mulDimensionScore", "total")),
            app_version=version, platform="android",
            likes=parse_count(comment.get("praiseNum")), replies=parse_count(comment.get("replyNum")),
        ))
    return page


def parse_legacy_comments(body: bytes | str, url: str, *, product: str, target: str, now: datetime,
                          encoding: str | None = None) -> Page:
    """One page of the legacy API; ``next`` is ``p + 1`` with the returned ``contextData`` while
    ``obj.hasNext``. ``meta``: ``total``. ``success: false`` → dropped ``error`` with ``msg``."""
    data, page = json_page(SOURCE, body, encoding)
    if data is None:
        return page
    if not isinstance(data, dict) or "success" not in data:
        return page.drop("unknown_shape", "no success flag")
    if data.get("success") is not True:
        return page.drop("error", s(data.get("msg")) or "success false")
    obj = data.get("obj")
    rows = obj.get("commentDetails") if isinstance(obj, dict) else None
    if not isinstance(obj, dict) or not isinstance(rows, list):
        return page.drop("unknown_shape", "no obj.commentDetails[]")
    page.meta["total"] = parse_count(obj.get("total"))
    package = _package(url, target)
    for row in page.objects(rows):
        uin, created, content = s(row.get("uin")), s(row.get("createdTime")), s(row.get("content"))
        if not uin or not created or not content:
            page.drop("missing_field", f"uin={uin!r} createdTime={created!r}")
            continue
        page.items.append(FeedbackItem(
            source=SOURCE, source_id=f"{uin}-{created}", product=product, target=target, url=_public_url(package),
            text=content, raw_text=content, kind="review", author_id=uin,
            author_name=s(row.get("nickName")) or None, created_at=parse_epoch(row.get("createdTime")),
            rating=parse_rating(row.get("score")), app_version=s(row.get("versionCode")) or None, platform="android",
        ))
    context = s(obj.get("contextData"))
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if rows and obj.get("hasNext") is True and query.get("apkName"):
        number = int(query["p"]) if query.get("p", "").isdigit() else 1
        base = f"{parts.scheme}://{parts.netloc}" if parts.scheme else ""
        page.next = legacy_comments_url(base, query["apkName"], page=number + 1, context=context)
    return page
