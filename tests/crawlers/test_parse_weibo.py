"""Weibo m.weibo.cn search, long text and hotflow comment parsing."""

from __future__ import annotations

from crawlers.parsers import weibo
from crawlers.parsers.blocks import detect_block
from tests.helpers import PARSER_NOW as NOW, REPLAY_BASE as BASE, parser_page, utc

KW = dict(product="demo", target="演示银行", now=NOW)


def body(name: str) -> bytes:
    return parser_page("weibo", name)


def test_urls():
    assert weibo.search_url("https://m.weibo.cn", "闪退", page=2) == (
        "https://m.weibo.cn/api/container/getIndex?containerid=100103type%3D61%26q%3D%E9%97%AA%E9%80%80"
        "&page_type=searchall&page=2")
    assert weibo.hotflow_url(BASE, "5") == f"{BASE}/comments/hotflow?id=5&mid=5&max_id_type=0"
    assert weibo.hotflow_url(BASE, "5", max_id=99, max_id_type=1) == f"{BASE}/comments/hotflow?id=5&mid=5&max_id=99&max_id_type=1"
    assert weibo.extend_url(BASE, "5") == f"{BASE}/statuses/extend?id=5"
    assert weibo.detail_url(BASE, "5") == f"{BASE}/detail/5"


def test_search_cards_type_9_and_11():
    page = weibo.parse_search(body("search_page1.json"), weibo.search_url(BASE, "演示银行"), **KW)
    assert [i.source_id for i in page.items] == ["5103001", "5102888"]  # the long post waits for its text
    post = page.items[0]
    assert post.kind == "post" and post.url == "https://m.weibo.cn/detail/5103001"
    assert post.text == "#演示银行# App又崩了，转账转到一半闪退[怒]\n钱到底扣没扣？@演示银行客服"
    assert post.created_at == utc(2026, 11, 24, 2, 52)
    assert (post.likes, post.replies, post.reposts) == (1_000_000, 12, 3)  # "100万+"
    assert (post.author_id, post.author_name) == ("6600012345", "爱吃橘子的猫")
    assert post.extra == {"bid": "Pm3aXyZ1a", "client": "iPhone 15 Pro", "region": "浙江", "followers": 12000,
                          "verified": False}
    assert page.items[1].reposts == 1 and page.items[1].text == "演示银行新版本的夜间模式终于来了，好评[赞]"
    assert [(f.kind, f.url) for f in page.follow] == [
        ("weibo_comments", weibo.hotflow_url(BASE, "5103001")),
        ("weibo_long_text", weibo.extend_url(BASE, "5102950")),
    ]
    assert page.follow[1].meta["item"].author_name == "城南小王"
    assert page.next == weibo.search_url(BASE, "演示银行", page=2)


def test_long_text_extend():
    search = weibo.parse_search(body("search_page1.json"), weibo.search_url(BASE, "演示银行"), **KW)
    follow = search.follow[1]
    page = weibo.parse_extend(body("extend_5102950.json"), follow.url, **KW, item=follow.meta["item"])
    [full] = page.items
    assert full.source_id == "5102950" and full.created_at == utc(2026, 11, 24, 1, 30, 15)
    assert full.text == ("演示银行的信用卡客服太难打通了，排队40分钟，转人工又断线。\n年费说好免的结果扣了680[怒]\n"
                         "我要去黑猫投诉，大家有同样遭遇的可以一起。")
    assert (full.likes, full.replies, full.reposts) == (31, 5, 2)
    assert follow.meta["item"].text.endswith("全文")  # the original is not mutated
    broken = weibo.parse_extend(body("extend_empty.json"), follow.url, **KW, item=follow.meta["item"])
    assert broken.items[0].extra["truncated"] is True and broken.dropped[0][0] == "missing_field"
    truncated = weibo.parse_extend(b'{"ok": 1, "data": {"longTextCon', follow.url, **KW, item=follow.meta["item"])
    assert truncated.items[0].text.endswith("全文") and truncated.dropped[0][0] == "bad_json"


def test_last_and_empty_search_pages():
    last = weibo.parse_search(body("search_page3_last.json"), weibo.search_url(BASE, "演示银行", page=3), **KW)
    assert [i.source_id for i in last.items] == ["5100001"] and last.next is None
    empty = weibo.parse_search(body("search_empty.json"), weibo.search_url(BASE, "演示银行", page=4), **KW)
    assert empty.items == [] and empty.next is None and empty.dropped == [] and empty.meta == {"end": "这里还没有内容"}


def test_hotflow_comments_and_inline_replies():
    page = weibo.parse_comments(body("hotflow_page1.json"), weibo.hotflow_url(BASE, "5103001"), **KW)
    assert [(i.source_id, i.kind, i.parent_id) for i in page.items] == [
        ("5103005", "comment", "5103001"), ("5103010", "reply", "5103005"), ("5103007", "comment", "5103001")]
    first, reply, _ = page.items
    assert first.text == "同样闪退+1[哆啦A梦吃惊]" and first.likes == 11000 and first.replies == 2
    assert first.created_at == utc(2026, 11, 24, 2, 55, 2) and first.extra["region"] == "广东"
    assert reply.text == "回复@爱吃橘子的猫:我也是，钱扣了没到账" and reply.extra["region"] == "上海"
    assert page.next == weibo.hotflow_url(BASE, "5103001", max_id=138275412345678, max_id_type=0)
    last = weibo.parse_comments(body("hotflow_last.json"), page.next, **KW)
    assert [i.source_id for i in last.items] == ["5103020"] and last.next is None
    empty = weibo.parse_comments(body("hotflow_empty.json"), weibo.hotflow_url(BASE, "1"), **KW)
    assert empty.items == [] and empty.next is None and empty.dropped == []


def test_blocks():
    limited = weibo.parse_search(body("rate_limited.json"), weibo.search_url(BASE, "x"), **KW)
    assert limited.block is not None and limited.block.kind == "rate_limit" and limited.items == []
    captcha = weibo.parse_comments(body("captcha.json"), weibo.hotflow_url(BASE, "1"), **KW)
    assert captcha.block is not None and captcha.block.kind == "captcha"
    html = weibo.parse_search(body("blocked_432.html"), weibo.search_url(BASE, "x"), **KW)
    assert html.items == [] and html.dropped[0][0] == "not_json"
    assert str(detect_block("weibo", 432, {}, body("blocked_432.html"))) == "HTTP 432 — set VOC_WEIBO_COOKIE"
    assert detect_block("weibo", 403, {}, body("rate_limited.json")).kind == "rate_limit"


def test_legacy_comments_show_with_relative_dates():
    url = weibo.comments_show_url(BASE, "5103001", page=2)
    assert url == f"{BASE}/api/comments/show?id=5103001&page=2"
    page = weibo.parse_comments(body("comments_show_legacy.json"), url, **KW)
    assert [(i.source_id, i.kind, i.parent_id, i.likes) for i in page.items] == [
        ("4480001", "comment", "5103001", 3), ("4480002", "comment", "5103001", 0)]
    assert page.items[0].created_at == utc(2026, 11, 24, 3, 0)  # "5分钟前"
    assert page.items[1].created_at == utc(2026, 11, 23, 14, 10)  # "昨天 22:10"
    assert page.items[0].text == "还是闪退[生病]"
    assert page.next == weibo.comments_show_url(BASE, "5103001", page=3)
    last = weibo.parse_comments(body("comments_show_legacy.json"), weibo.comments_show_url(BASE, "5103001", page=3), **KW)
    assert last.next is None  # data.max = 3
