"""Zhihu and V2EX parsers on real captured responses (provenance in tests/fixtures/pages/PROVENANCE.md).

Two Zhihu captures are single elements of a page (an answer as ``data[].target`` of a question feed, a comment as
``data[]`` of ``root_comment``): the tests put each into the smallest page around it (a constructed wrapper,
``{"data": [...], "paging": {"is_end": true}}``); the element itself is unchanged. The V2EX capture is a README
whose ```json blocks hold the API's answers.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from crawlers.parsers import v2ex, zhihu

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"
BASE = "http://127.0.0.1:8765"
KW = dict(product="demo", target="t", now=datetime(2025, 8, 20, tzinfo=UTC))
ANSWER = "1936787046304842491"
QUESTION = "1924054028658116132"


def zhihu_real(name: str) -> bytes:
    return (PAGES / "zhihu" / "real" / name).read_bytes()


def test_zhihu_search_v3_answer_hit():
    page = zhihu.parse_search(zhihu_real("zhihu-plus-plus_search-general-sanitized.json"), zhihu.search_url(BASE, "kotlin"), **KW)
    assert len(page.items) == 1 and page.dropped == [] and page.next is None  # paging.is_end
    hit = page.items[0]
    assert (hit.source_id, hit.kind, hit.parent_id, hit.title) == (f"answer:{ANSWER}", "answer", f"question:{QUESTION}",
                                                                   "如何评价kotlin？")
    assert (hit.author_id, hit.author_name) == ("redacted-author-id", "脱敏作者")  # pseudonymised by the origin
    assert hit.created_at == datetime(2025, 8, 7, 5, 53, 35, tzinfo=UTC) and (hit.likes, hit.replies) == (101, 71)
    assert hit.text.startswith("以前我也是Kotlin信徒") and "<em>" not in hit.text
    assert hit.url == f"https://www.zhihu.com/question/{QUESTION}/answer/{ANSWER}"
    assert [f.kind for f in page.follow] == ["zhihu_comments", "zhihu_question"]


def test_zhihu_answer_object_in_a_feed():
    answer = json.loads(zhihu_real("zhihu-plus-plus_real-api_answer-detail.json"))
    body = json.dumps({"data": [{"target_type": "answer", "target": answer}], "paging": {"is_end": True}}).encode()
    page = zhihu.parse_feeds(body, zhihu.feeds_url(BASE, QUESTION), **KW)
    assert len(page.items) == 1 and page.dropped == [] and page.next is None
    item = page.items[0]
    assert (item.source_id, item.author_name, item.author_id) == (f"answer:{ANSWER}", "脱敏用户001", "redacted-person-001")
    assert item.extra["updated_at"] == datetime(2025, 8, 7, 9, 57, 14, tzinfo=UTC)
    assert page.follow[0].url == zhihu.root_comments_url(BASE, "answers", ANSWER)


def test_zhihu_comment_v5_element():
    comment = json.loads(zhihu_real("zhihu-plus-plus_real-api_comment.json"))
    body = json.dumps({"data": [comment], "paging": {"is_end": True}}).encode()
    page = zhihu.parse_comments(body, zhihu.root_comments_url(BASE, "answers", ANSWER), **KW)
    assert len(page.items) == 1 and page.next is None
    c = page.items[0]
    assert (c.source_id, c.kind, c.parent_id, c.likes) == ("comment:11253652875", "comment", f"answer:{ANSWER}", 37)
    assert c.text == "我不在乎你其它的观点, 但是, 你骂Maven/Gradle的话, 那我们就是朋友."
    assert c.created_at == datetime(2025, 8, 7, 7, 11, 34, tzinfo=UTC) and c.extra["region"] == "上海"


def test_zhihu_2015_question_page_is_a_failed_page_not_an_empty_one():
    page = zhihu.parse_initial_data(zhihu_real("zhihu-py3_test_data_question.html"), f"{BASE}/question/20564209", **KW)
    assert page.items == [] and page.dropped == [("bad_html", "no js-initialData script")]


def test_v2ex_hot_topics_v1():
    readme = (PAGES / "v2ex" / "real" / "her-cat_v2ex-api_README.md").read_text(encoding="utf-8")
    hot = re.findall(r"```json\n(.*?)```", readme, re.S)[0]
    page = v2ex.parse_topics(hot.encode(), v2ex.topics_url(BASE, kind="hot"), **KW)
    assert len(page.items) == 1 and page.dropped == []
    topic = page.items[0]
    assert (topic.source_id, topic.kind, topic.title, topic.replies) == ("t574429", "post", "30 岁大龄剩女日常吐槽", 88)
    assert (topic.author_id, topic.author_name) == ("278484", "fyy5520")
    assert topic.created_at == datetime(2019, 6, 16, 6, 6, 12, tzinfo=UTC) and topic.extra["node"] == "life"
    assert topic.url == "https://www.v2ex.com/t/574429"
    assert [(f.kind, f.url) for f in page.follow] == [("v2ex_replies", v2ex.replies_url(BASE, "574429"))]
