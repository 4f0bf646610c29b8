"""V2EX API v1/v2 parsing."""

from __future__ import annotations

from datetime import datetime, timezone

from crawlers.parsers import v2ex
from tests.helpers import PARSER_NOW as NOW, REPLAY_BASE as BASE, parser_page

KW = dict(product="demo", target="apple", now=NOW)


def body(name: str) -> bytes:
    return parser_page("v2ex", name)


def test_urls_and_rate_limit_headers():
    assert v2ex.topics_url(BASE, kind="hot") == f"{BASE}/api/topics/hot.json"
    assert v2ex.topics_url(BASE, kind="node:apple") == f"{BASE}/api/topics/show.json?node_name=apple"
    assert v2ex.replies_url(BASE, 5, page=2) == f"{BASE}/api/replies/show.json?topic_id=5&page=2"
    assert v2ex.v2_node_topics_url(BASE, "apple", page=3) == f"{BASE}/api/v2/nodes/apple/topics?p=3"
    assert v2ex.rate_limit({"X-Rate-Limit-Limit": "120", "x-rate-limit-remaining": "7",
                            b"X-Rate-Limit-Reset": [b"1795485600"], "Content-Type": "application/json"}) == {
        "limit": 120, "remaining": 7, "reset": 1795485600}
    assert v2ex.rate_limit({"Server": "x"}) is None


def test_v1_topics():
    page = v2ex.parse_topics(body("topics_latest.json"), v2ex.topics_url(BASE), **KW)
    assert [i.source_id for i in page.items] == ["t1088123", "t1088100"]
    first, second = page.items
    assert first.title == "演示银行 App 12.3.0 登录闪退，有人遇到吗"
    assert first.text == "iPhone 15 Pro / iOS 18.1，更新后一打开就闪退。\n\n重装也没用，客服说在排查。"
    assert first.created_at == datetime(2026, 11, 24, 0, 26, 40, tzinfo=timezone.utc)
    assert (first.author_id, first.author_name, first.replies) == ("501234", "kevin_w", 3)
    assert first.url == "https://www.v2ex.com/t/1088123" and first.extra["node"] == "apple"
    assert second.text == "最近想换一个，要求能导出 CSV"  # content empty → rendered HTML stripped
    assert [(f.kind, f.url) for f in page.follow] == [("v2ex_replies", v2ex.replies_url(BASE, "1088123"))]
    assert page.next is None


def test_empty_list():
    page = v2ex.parse_topics(body("topics_empty.json"), v2ex.topics_url(BASE), **KW)
    assert page.items == [] and page.next is None and page.dropped == []


def test_v1_replies_all_at_once():
    page = v2ex.parse_replies(body("replies_v1.json"), v2ex.replies_url(BASE, 1088123), **KW)
    assert [(i.source_id, i.parent_id, i.likes, i.extra["floor"]) for i in page.items] == [
        ("r14500001", "t1088123", 2, 1), ("r14500002", "t1088123", 0, 2), ("r14500003", "t1088123", 5, 3)]
    assert page.items[2].url == "https://www.v2ex.com/t/1088123#reply3"
    assert page.next is None


def test_v2_replies_pagination():
    first = v2ex.parse_replies(body("replies_v2_page1.json"), v2ex.v2_replies_url(BASE, 1088123), **KW)
    assert [i.source_id for i in first.items] == ["r14500001", "r14500002"]
    assert first.items[1].text == "@lucas 旧版本在哪下？"
    assert first.next == v2ex.v2_replies_url(BASE, 1088123, page=2)
    last = v2ex.parse_replies(body("replies_v2_page2_last.json"), first.next, **KW)
    assert [(i.source_id, i.extra["floor"]) for i in last.items] == [("r14500003", 3)]
    assert last.items[0].url == "https://www.v2ex.com/t/1088123#reply3"
    assert last.next is None


def test_errors_and_rate_limit():
    err = v2ex.parse_replies(body("v2_error.json"), v2ex.v2_replies_url(BASE, 1), **KW)
    assert err.items == [] and err.dropped == [("error", "Object Not Found")]
    limited = v2ex.parse_topics(body("rate_limited.json"), v2ex.topics_url(BASE), **KW)
    assert limited.block is not None and limited.block.kind == "rate_limit"
    assert v2ex.parse_topics(b"<html>", v2ex.topics_url(BASE), **KW).dropped[0][0] == "not_json"
