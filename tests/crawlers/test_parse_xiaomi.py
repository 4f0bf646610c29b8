"""Xiaomi GetApps app-market comment API parsing (``/apm/comment/list/{id}``)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from crawlers.parsers import Page, xiaomi
from crawlers.parsers.blocks import detect_block
from tests.helpers import PARSER_PAGES, PARSER_NOW as NOW, REPLAY_BASE as BASE, parser_page

PAGES = PARSER_PAGES / "xiaomi"
APP = "108048"
PKG = "com.qingji.notes"


def url(page: int = 0) -> str:
    return xiaomi.comments_url(BASE, APP, page=page, client_id="0f1e2d3c4b5a69788796a5b4c3d2e1f0")


def parse(name: str | bytes, page: int = 0, *, package: str | None = PKG, **kw) -> Page:
    body = parser_page("xiaomi", name)
    return xiaomi.parse_comments(body, url(page), product="demo", target=APP, now=NOW, package=package, **kw)


def test_url():
    assert xiaomi.comments_url("https://app.market.xiaomi.com", APP, page=0, client_id="abc", os="V14.0.6") == (
        "https://app.market.xiaomi.com/apm/comment/list/108048?clientId=abc&co=CN&la=zh&os=V14.0.6&page=0&sdk=22")


def test_normal_page():
    page = parse("comments_page0.json")
    assert [i.source_id for i in page.items] == ["68130045521", "68129871102", "68127700345"]
    first = page.items[0]
    assert first.text == "更新到5.2.0后一打开就闪退😡，小米14 澎湃OS，重装也没用" and first.kind == "review"
    assert first.created_at == datetime(2026, 11, 24, 0, 41, tzinfo=timezone.utc)  # epoch ms, 08:41 China time
    assert (first.rating, first.app_version, first.platform) == (1, "5.2.0", "android")
    assert (first.likes, first.replies) == (None, None)  # the API has no counters
    assert first.author_name == "米粉阿强" and first.author_id is None
    assert first.url == "https://app.mi.com/details?id=com.qingji.notes"
    assert first.extra == {"device": "23127PN0CC", "country": "CN"}
    assert page.items[2].author_name is None  # empty nickname
    assert page.next == url(1)
    assert page.meta == {"has_more": True, "comment_count": 2231, "point_count": "3.6"}
    assert page.dropped == []


def test_script_in_a_review_stays_text():
    item = parse("comments_page0.json").items[1]
    assert item.text == "同步功能挺好用👍 就是<script>alert('x')</script>这种代码贴进笔记会被吞掉" == item.raw_text


def test_without_package_the_url_is_the_stable_api_url():
    page = parse("comments_page0.json", package=None)
    assert {i.url for i in page.items} == {"https://app.market.xiaomi.com/apm/comment/list/108048"}


def test_last_and_empty_pages():
    last = parse("comments_page1_last.json", page=1)
    assert [(i.source_id, i.rating) for i in last.items] == [("68120011873", 5)]
    assert last.next is None and last.meta["has_more"] is False  # hasMore false ends paging
    empty = parse("comments_empty.json", page=2)
    assert empty.items == [] and empty.next is None and empty.dropped == []
    # an empty list ends paging even when hasMore claims otherwise
    stale = parse(b'{"comments": [], "hasMore": true}', page=3)
    assert stale.items == [] and stale.next is None and stale.dropped == []


def test_html_instead_of_json_and_block_page():
    page = parse("error_html.html")
    assert page.items == [] and page.next is None and page.dropped[0][0] == "not_json"
    body = (PAGES / "waf_challenge.html").read_bytes()
    block = detect_block("xiaomi", 200, {}, body)
    assert block is not None and block.kind == "captcha" and "VOC_XIAOMI_COOKIE" in block.fix
    page = parse("waf_challenge.html")
    assert page.items == [] and page.next is None and page.block == block


def test_truncated_json_and_wrong_shapes():
    raw = (PAGES / "comments_page0.json").read_bytes()
    assert parse(raw[: len(raw) // 2]).dropped[0][0] == "bad_json"
    for body in (b"[]", b"{}", b'{"comments": {"a": 1}}', b'{"result": "ok"}'):
        page = parse(body)
        assert page.items == [] and page.next is None and [r for r, _ in page.dropped] == ["unknown_shape"], body


def test_missing_fields_and_bad_entries_are_dropped_the_rest_kept():
    body = json.dumps({"hasMore": True, "comments": [
        {"commentId": 1, "pointValue": 3},  # no text
        "junk",
        {"commentValue": "没有id"},
        {"commentId": 2, "commentValue": "还行", "pointValue": "9", "updateTime": "not a time"},
    ]}, ensure_ascii=False).encode()
    page = parse(body)
    assert [(i.source_id, i.text, i.rating, i.created_at) for i in page.items] == [("2", "还行", None, None)]
    assert [r for r, _ in page.dropped] == ["missing_field", "bad_entry", "missing_field"]
    assert page.next == url(1)


def test_no_has_more_goes_on_while_there_are_comments():
    page = parse(b'{"comments": [{"commentId": 5, "commentValue": "ok"}]}', page=4)
    assert page.next == url(5)


def test_gbk_encoded_body_with_its_encoding():
    text = (PAGES / "comments_page1_last.json").read_text(encoding="utf-8").replace("🌟", "")
    page = parse(text.encode("gbk"), encoding="gbk")
    assert page.items[0].text == "好用，界面干净，五星" and page.items[0].author_name == "晴天"


def test_a_5mb_page_parses_completely():
    row = json.loads((PAGES / "comments_page0.json").read_text(encoding="utf-8"))["comments"][0]
    rows = [{**row, "commentId": 10_000_000 + n, "commentValue": row["commentValue"] * 8} for n in range(14_000)]
    body = json.dumps({"comments": rows, "hasMore": True}, ensure_ascii=False).encode()
    assert 5_000_000 < len(body) < 20 * 1024 * 1024
    page = parse(body)
    assert len(page.items) == 14_000 and page.dropped == [] and page.next == url(1)


def test_over_20mb_is_dropped_unparsed():
    page = parse(b'{"comments": [' + b" " * (20 * 1024 * 1024) + b"]}")
    assert page.items == [] and page.dropped[0][0] == "too_large"


@pytest.mark.parametrize("body", [b"", b"\x00\xff\xfe" * 50, "<html><body>很</body>", b"<div " * 100,
                                  b'{"comments": [null, 1, [], {"commentId": {}}]}'])
def test_never_raises_on_garbage(body):
    page = xiaomi.parse_comments(body, "http://127.0.0.1:1/p?page=x", product="demo", target="", now=NOW)
    assert isinstance(page, Page) and page.items == []
