"""Tencent MyApp (应用宝): the review page's ``__NEXT_DATA__`` and the legacy comment JSON API."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest

from crawlers.parsers import Page, yyb
from crawlers.parsers.blocks import detect_block
from tests.helpers import PARSER_PAGES, PARSER_NOW as NOW, REPLAY_BASE as BASE, parser_page

PAGES = PARSER_PAGES / "yyb"
PKG = "com.qingji.notes"
PUBLIC = "https://sj.qq.com/appdetail/com.qingji.notes/review"


def review(name: str | bytes, **kw) -> Page:
    body = parser_page("yyb", name)
    return yyb.parse_review_page(body, yyb.review_page_url(BASE, PKG), product="demo", target=PKG, now=NOW, **kw)


def legacy(name: str | bytes, page: int = 1, context: str = "") -> Page:
    body = parser_page("yyb", name)
    return yyb.parse_legacy_comments(body, yyb.legacy_comments_url(BASE, PKG, page=page, context=context),
                                     product="demo", target=PKG, now=NOW)


def test_urls():
    assert yyb.review_page_url("https://sj.qq.com", PKG) == PUBLIC
    assert yyb.legacy_comments_url("https://sj.qq.com", PKG, page=2, context="eyJ+/=") == (
        "https://sj.qq.com/myapp/app/comment.htm?apkName=com.qingji.notes&apkCode=&p=2&contextData=eyJ%2B%2F%3D")


def test_review_page():
    page = review("review_page.html")
    assert [i.source_id for i in page.items] == ["cmt_8f2a61d0", "cmt_8f2a5e11", "cmt_8f2a4c07"]
    first = page.items[0]
    assert first.text == "升级5.2.0之后登录一直转圈😭 验证码也收不到" and first.kind == "review"
    assert first.created_at == datetime(2026, 11, 24, 0, 41, tzinfo=timezone.utc)  # epoch seconds
    assert (first.rating, first.likes, first.replies) == (1, 23, 2)
    assert (first.app_version, first.platform, first.author_name) == ("5.2.0", "android", "小鱼儿")
    assert first.url == PUBLIC and first.author_id is None
    assert page.items[1].likes == 12000  # "1.2万"
    assert page.items[2].text == "会员太贵了，能不能便宜点 & 出个学生价"  # \u0026 unescaped by JSON
    assert page.next is None and page.dropped == []  # only page 1 is embedded
    assert page.meta == {"app_name": "轻记", "version": "5.2.0", "score": "3.7", "rating_count": 1865}


def test_script_in_a_review_stays_text():
    raw = (PAGES / "review_page.html").read_text(encoding="utf-8")
    assert "\\u003cscript\\u003ealert(1)" in raw  # escaped inside the page, as Next.js does
    item = review("review_page.html").items[1]
    assert item.text == "笔记同步很快，赞👍 但粘贴<script>alert(1)</script>这段代码会变空白" == item.raw_text


def test_empty_review_page():
    page = review("review_empty.html")
    assert page.items == [] and page.next is None and page.dropped == [] and page.meta["version"] == "5.2.0"


def test_page_without_next_data_or_comments_card():
    page = review("not_found.html")
    assert page.items == [] and page.block is None and page.dropped == [("bad_html", "no __NEXT_DATA__ script")]
    html = (PAGES / "review_page.html").read_text(encoding="utf-8")
    no_card = html.replace('"comments":', '"commentz":')
    assert [r for r, _ in review(no_card.encode()).dropped] == ["unknown_shape"]
    other = re.sub(r'(<script id="__NEXT_DATA__"[^>]*>).*?(</script>)', r'\1{"props": {"pageProps": {}}}\2', html)
    assert [r for r, _ in review(other.encode()).dropped] == ["unknown_shape"]
    broken = re.sub(r'(<script id="__NEXT_DATA__"[^>]*>)(.*?)(</script>)', lambda m: m[1] + m[2][:500] + m[3], html)
    assert [r for r, _ in review(broken.encode()).dropped] == ["bad_json"]
    half = html.encode()[: len(html.encode()) // 2]  # truncated before the closing </script>
    assert [r for r, _ in review(half).dropped] == ["bad_html"]


def test_waf_page_is_a_block():
    body = (PAGES / "waf_challenge.html").read_bytes()
    block = detect_block("yyb", 200, {}, body)
    assert block is not None and block.kind == "captcha" and "VOC_YYB_COOKIE" in block.fix
    page = review("waf_challenge.html")
    assert page.items == [] and page.block == block and page.dropped[0][0] == "blocked"


def test_missing_fields_and_bad_entries():
    comments = [{"comment": {"commentID": "a1"}}, "junk", {"user": {"nickName": "x"}},
                {"comment": {"commentID": "a2", "content": "还行", "createTime": "oops",
                             "mulDimensionScore": {"total": "4.0"}}}]
    data = {"props": {"pageProps": {"dynamicCardResponse": {"data": {"components": [
        {"data": {"itemData": [{"appScore": {"score": 3}}, {"comments": comments}]}}]}}}}}
    body = f'<html><script id="__NEXT_DATA__" type="application/json">{json.dumps(data)}</script></html>'
    page = review(body.encode())
    assert [(i.source_id, i.rating, i.created_at, i.app_version, i.author_name) for i in page.items] == [
        ("a2", 4, None, None, None)]
    assert [r for r, _ in page.dropped] == ["missing_field", "bad_entry", "bad_entry"]


def test_gbk_page_with_its_meta_charset():
    html = (PAGES / "review_page.html").read_text(encoding="utf-8")
    for emoji in "😭👍":
        html = html.replace(emoji, "")
    body = html.replace('<meta charSet="utf-8"/>', '<meta charset="gbk"/>').encode("gbk")
    page = review(body)
    assert page.items[0].text == "升级5.2.0之后登录一直转圈 验证码也收不到" and page.meta["app_name"] == "轻记"


def test_a_5mb_page_parses_completely():
    html = (PAGES / "review_page.html").read_text(encoding="utf-8")
    m = re.search(r'(<script id="__NEXT_DATA__"[^>]*>)(.*?)(</script>)', html, re.S)
    state = json.loads(m[2])
    card = state["props"]["pageProps"]["dynamicCardResponse"]["data"]["components"][1]["data"]["itemData"][2]
    one = card["comments"][0]
    card["comments"] = [{"comment": {**one["comment"], "commentID": f"c{n}", "content": one["comment"]["content"] * 10},
                         "user": one["user"]} for n in range(14_000)]
    body = (html[: m.start(2)] + json.dumps(state, ensure_ascii=False) + html[m.end(2):]).encode()
    assert 5_000_000 < len(body) < 20 * 1024 * 1024
    page = review(body)
    assert len(page.items) == 14_000 and page.dropped == []


def test_over_20mb_is_dropped_unparsed():
    assert review(b"<html>" + b" " * (20 * 1024 * 1024)).dropped[0][0] == "too_large"


def test_legacy_pages():
    first = legacy("legacy_page1.json")
    assert [i.source_id for i in first.items] == ["8812345-1795005000", "7712399-1794272523"]
    item = first.items[0]
    assert (item.text, item.rating, item.app_version, item.author_id, item.author_name) == (
        "老版本好用，新版广告太多了😤", 2, "513", "8812345", "阿飞")
    assert item.created_at == datetime(2026, 11, 18, 12, 30, tzinfo=timezone.utc) and item.url == PUBLIC
    assert first.next == yyb.legacy_comments_url(BASE, PKG, page=2, context="eyJjdXJzb3IiOjJ9")
    assert first.meta == {"total": 3}
    last = legacy("legacy_page2_last.json", page=2, context="eyJjdXJzb3IiOjJ9")
    assert [i.rating for i in last.items] == [3] and last.next is None


def test_legacy_failure_shape_is_an_error_with_its_message():
    page = legacy("legacy_error.json")
    assert page.items == [] and page.next is None and page.block is None
    assert page.dropped == [("error", "CommentManager.takeCommentList.error")]


def test_legacy_bad_bodies():
    assert legacy("not_found.html").dropped[0][0] == "not_json"
    raw = (PAGES / "legacy_page1.json").read_bytes()
    assert legacy(raw[:100]).dropped[0][0] == "bad_json"
    for body in (b"{}", b"[]", b'{"success": true, "obj": null}', b'{"success": true, "obj": {"commentDetails": 1}}'):
        assert [r for r, _ in legacy(body).dropped] == ["unknown_shape"], body
    page = legacy(b'{"success": true, "obj": {"hasNext": true, "commentDetails": [{"uin": "1"}, 2]}}')
    assert page.items == [] and [r for r, _ in page.dropped] == ["missing_field", "bad_entry"]


@pytest.mark.parametrize("fn", [yyb.parse_review_page, yyb.parse_legacy_comments])
@pytest.mark.parametrize("body", [b"", b"null", b"\x00\xff\xfe" * 50, "<html><body>很</body>",
                                  b"<div " * 100,
                                  b'<script id="__NEXT_DATA__">[1, null]</script>',
                                  b'<script id="__NEXT_DATA__">{"props": {"pageProps": {"dynamicCardResponse": '
                                  b'{"data": {"components": [1, {"data": {"itemData": [{"comments": [1]}]}}]}}}}}'
                                  b'</script>'])
def test_never_raises_on_garbage(fn, body):
    page = fn(body, "http://127.0.0.1:1/p?p=x", product="demo", target="", now=NOW)
    assert isinstance(page, Page) and page.items == []
