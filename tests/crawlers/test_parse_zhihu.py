"""Zhihu search_v3, question feeds, comment_v5 and js-initialData parsing."""

from __future__ import annotations

from crawlers.parsers import zhihu
from tests.helpers import PARSER_NOW as NOW, REPLAY_BASE as BASE, parser_page, utc

KW = dict(product="demo", target="演示银行", now=NOW)


def body(name: str) -> bytes:
    return parser_page("zhihu", name)


def test_urls():
    assert zhihu.search_url("https://www.zhihu.com", "闪退", offset=20, sort="created_time") == (
        "https://www.zhihu.com/api/v4/search_v3?gk_version=gz-gaokao&t=general&q=%E9%97%AA%E9%80%80&correction=1"
        "&offset=20&limit=20&filter_fields=&lc_idx=20&show_all_topics=0&search_source=Filter&time_interval="
        "&sort=created_time&vertical=")
    assert zhihu.root_comments_url(BASE, "answers", 9, offset="a_b") == (
        f"{BASE}/api/v4/comment_v5/answers/9/root_comment?order=score&offset=a_b&limit=10")
    assert zhihu.child_comments_url(BASE, 7) == f"{BASE}/api/v4/comment_v5/comment/7/child_comment?order=sort&offset=&limit=10"
    assert zhihu.feeds_url(BASE, 5, offset=5).startswith(f"{BASE}/api/v4/questions/5/feeds?cursor=&include=data%5B%2A%5D")


def test_search_page():
    page = zhihu.parse_search(body("search_page1.json"), zhihu.search_url(BASE, "演示银行"), **KW)
    assert [i.source_id for i in page.items] == ["answer:3300112233", "article:689900112"]
    answer, article = page.items
    assert answer.kind == "answer" and answer.parent_id == "question:612345678"
    assert answer.title == "如何评价演示银行 App 12.3.0 版本？"  # <em> highlight stripped
    assert answer.text == "更新后登录要人脸识别，而且经常识别失败。\n更离谱的是转账限额被默认调低了，得去柜台改。"
    assert answer.url == "https://www.zhihu.com/question/612345678/answer/3300112233"
    assert answer.created_at == utc(2026, 11, 23, 14, 40) and (answer.likes, answer.replies) == (256, 31)
    assert (answer.author_id, answer.author_name) == ("3a1b2c3d4e5f60718293a4b5c6d7e8f9", "小李")
    assert article.kind == "post" and article.url == "https://zhuanlan.zhihu.com/p/689900112"
    assert article.title == "演示银行信用卡年费避坑指南" and article.created_at == utc(2026, 11, 21, 22, 26, 40)
    assert [(f.kind, f.meta) for f in page.follow] == [
        ("zhihu_comments", {"parent_id": "answer:3300112233"}), ("zhihu_question", {"question_id": "612345678"})]
    assert page.follow[0].url == zhihu.root_comments_url(BASE, "answers", "3300112233")
    assert page.next.startswith(f"{BASE}/api/v4/search_v3?") and "offset=20" in page.next  # rebased onto BASE


def test_search_last_and_empty():
    last = zhihu.parse_search(body("search_last.json"), zhihu.search_url(BASE, "演示银行", offset=20), **KW)
    assert [i.source_id for i in last.items] == ["answer:3300000001"] and last.next is None
    assert last.items[0].title == "演示银行 App 好用吗？"
    empty = zhihu.parse_search(body("search_empty.json"), zhihu.search_url(BASE, "演示银行"), **KW)
    assert empty.items == [] and empty.next is None and empty.dropped == []


def test_question_feeds():
    page = zhihu.parse_feeds(body("feeds_page1.json"), zhihu.feeds_url(BASE, 612345678), **KW)
    assert [i.source_id for i in page.items] == ["answer:3300112233", "answer:3300112299"]
    assert page.items[1].text == "我也遇到了，官方公告说下个版本修复。"
    assert page.next == (f"{BASE}/api/v4/questions/612345678/feeds?cursor=c2a7f0&include=data%5B%2A%5D.content&limit=5"
                         "&offset=5&order=default&platform=desktop&session_id=1795485000123")
    assert page.meta == {"totals": 7}
    assert [f.kind for f in page.follow] == ["zhihu_comments"]  # only the answer with comments
    last = zhihu.parse_feeds(body("feeds_last.json"), page.next, **KW)
    assert [i.source_id for i in last.items] == ["answer:3300100001"] and last.next is None  # is_end


def test_feed_next_stops_when_offset_does_not_change():
    url = f"{BASE}/api/v4/questions/1/feeds?cursor=c6&limit=5&offset=10&order=default&platform=desktop&session_id=1"
    same = ('{"data": [{"target": {"type": "answer", "id": 1, "content": "x", "question": {"id": 1}}}], '
            '"paging": {"is_end": false, "next": "https://www.zhihu.com/api/v4/questions/1/feeds?cursor=c6&limit=5'
            '&offset=10&order=default&platform=desktop&session_id=1"}}')
    assert zhihu.parse_feeds(same, url, **KW).next is None


def test_root_and_child_comments():
    page = zhihu.parse_comments(body("root_comments_page1.json"), zhihu.root_comments_url(BASE, "answers", 3300112233), **KW)
    assert [(i.source_id, i.kind, i.parent_id) for i in page.items] == [
        ("comment:10990001", "comment", "answer:3300112233"), ("comment:10990002", "reply", "comment:10990001"),
        ("comment:10990005", "comment", "answer:3300112233")]
    root = page.items[0]
    assert root.text == "人脸识别在弱光下基本过不了[捂脸]" and root.likes == 56 and root.replies == 3
    assert root.extra["region"] == "广东" and root.created_at == utc(2026, 11, 23, 15, 50)
    assert root.url == "https://www.zhihu.com/answer/3300112233#comment-10990001"
    assert page.items[2].text == "建议直接打客服投诉"
    assert [(f.kind, f.url) for f in page.follow] == [
        ("zhihu_child_comments", zhihu.child_comments_url(BASE, "10990001"))]  # 3 children, 1 inlined
    assert page.next == (f"{BASE}/api/v4/comment_v5/answers/3300112233/root_comment?order_by=score&limit=10"
                         "&offset=593830129_10990005_0")
    last = zhihu.parse_comments(body("root_comments_last.json"), page.next, **KW)
    assert [i.source_id for i in last.items] == ["comment:10990099"] and last.next is None
    child = zhihu.parse_comments(body("child_comments.json"), zhihu.child_comments_url(BASE, 10990001), **KW)
    assert [(i.source_id, i.kind, i.parent_id, i.extra["reply_to"]) for i in child.items] == [
        ("comment:10990002", "reply", "comment:10990001", "10990001"),
        ("comment:10990003", "reply", "comment:10990001", "10990002"),
        ("comment:10990004", "reply", "comment:10990001", "10990003")]
    assert child.next is None and child.follow == []


def test_initial_data_html():
    page = zhihu.parse_initial_data(body("answer_page.html"), f"{BASE}/question/612345678/answer/3300112233", **KW)
    [item] = page.items
    assert item.source_id == "answer:3300112233" and item.author_name == "小李"
    assert item.title == "如何评价演示银行 App 12.3.0 版本？" and item.likes == 256 and item.replies == 31
    assert item.created_at == utc(2026, 11, 23, 14, 40)
    assert item.url == "https://www.zhihu.com/question/612345678/answer/3300112233"


def test_blocks():
    url = zhihu.search_url(BASE, "演示银行")
    for name, kind, code in [("error_40362.json", "rate_limit", "40362"), ("error_40352.json", "captcha", "40352"),
                             ("error_10003.json", "forbidden", "10003")]:
        page = zhihu.parse_search(body(name), url, **KW)
        assert page.block is not None and page.block.kind == kind and code in page.block.reason
        assert "VOC_ZHIHU_COOKIE" in page.block.fix and page.items == [] and page.next is None
    unhuman = zhihu.parse_initial_data(body("unhuman.html"), f"{BASE}/question/1", **KW)
    assert unhuman.block is not None and unhuman.block.kind == "captcha"
    broken = zhihu.parse_initial_data('<script id="js-initialData" type="text/json">{"initialState": {</script>',
                                      f"{BASE}/question/1", **KW)
    assert broken.dropped == [("bad_json", "js-initialData is not valid JSON")]
