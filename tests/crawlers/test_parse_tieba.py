"""Baidu Tieba bar list (inside an HTML comment), thread, 楼中楼 and search parsing."""

from __future__ import annotations

from crawlers.parsers import tieba
from crawlers.parsers.blocks import detect_block
from tests.helpers import PARSER_NOW as NOW, REPLAY_BASE as BASE, parser_page, utc

KW = dict(product="demo", target="演示银行", now=NOW)
TID = "9012345678"


def body(name: str) -> bytes:
    return parser_page("tieba", name)


def test_urls():
    assert tieba.forum_url(BASE, "演示银行", pn=50) == f"{BASE}/f?kw=%E6%BC%94%E7%A4%BA%E9%93%B6%E8%A1%8C&ie=utf-8&pn=50"
    assert tieba.thread_url(BASE, 1, page=2, see_lz=True) == f"{BASE}/p/1?pn=2&see_lz=1"
    assert tieba.lzl_url(BASE, 1, 2, 3, page=2) == f"{BASE}/p/comment?tid=1&pid=2&fid=3&pn=2"
    assert tieba.search_url(BASE, "闪退") == f"{BASE}/f/search/res?isnew=1&qw=%E9%97%AA%E9%80%80&rn=10&pn=1&sm=1&only_thread=0"


def test_bar_list_inside_html_comment():
    page = tieba.parse_forum(body("forum_page1.html"), tieba.forum_url(BASE, "演示银行"), **KW)
    assert [f.meta["tid"] for f in page.follow] == ["9012345001", TID, "9012345600"]
    top, thread, older = (f.meta for f in page.follow)
    assert top["is_top"] is True and top["created_at"] == utc(2025, 2, 28, 16, 0)  # "2025-03"
    assert thread == {"tid": TID, "title": "新版App登录闪退，谁有办法？", "abstract": "12.3.0更新后每次点登录就闪退，苹果15，重装没用",
                      "author_name": "小明同学", "replies": 23, "created_at": utc(2026, 11, 24, 2, 21),  # "10:21" today
                      "is_top": False, "first_post_id": "150000100001"}
    assert older["created_at"] == utc(2026, 11, 19, 16, 0)  # "11-20" this year
    assert page.follow[1].url == tieba.thread_url(BASE, TID)
    assert page.next == tieba.forum_url(BASE, "演示银行", pn=50)  # //tieba.baidu.com rebased onto BASE
    assert page.items == [] and page.block is None


def test_bar_last_and_empty():
    last = tieba.parse_forum(body("forum_last.html"), tieba.forum_url(BASE, "演示银行", pn=100), **KW)
    assert [f.meta["title"] for f in last.follow] == ["这个App能不能出个夜间模式"] and last.next is None
    empty = tieba.parse_forum(body("forum_empty.html"), tieba.forum_url(BASE, "演示银行"), **KW)
    assert empty.follow == [] and empty.next is None and empty.dropped == [] and empty.block is None


def test_thread_floors():
    page = tieba.parse_thread(body("thread_page1.html"), tieba.thread_url(BASE, TID), **KW)
    assert [(i.source_id, i.kind, i.parent_id) for i in page.items] == [
        ("150000100001", "post", None), ("150000100009", "reply", TID), ("150000100015", "reply", TID)]
    op = page.items[0]
    assert op.title == "新版App登录闪退，谁有办法？"
    assert op.text == "12.3.0更新后每次点登录就闪退[泪]\n苹果15，iOS 18.1，重装没用"
    assert op.created_at == utc(2026, 11, 24, 2, 21)
    assert (op.author_id, op.author_name, op.replies) == ("tb.1.c0ffee12.abc", "小明同学", 2)
    assert op.extra == {"floor": 1, "tid": TID, "fid": "27654321", "region": "广东", "client": "iPhone客户端"}
    assert op.url == f"https://tieba.baidu.com/p/{TID}?pid=150000100001#150000100001"
    assert page.items[1].text == "同，我安卓也闪退 https://tieba.baidu.com/p/1"
    assert page.items[2].extra["client"] is None and page.items[2].extra["region"] == "北京"
    assert [(f.kind, f.url) for f in page.follow] == [("tieba_lzl", tieba.lzl_url(BASE, TID, "150000100001", "27654321"))]
    assert page.meta == {"tid": TID, "title": "新版App登录闪退，谁有办法？", "forum": "演示银行吧", "replies": 23, "pages": 2}
    assert page.next == tieba.thread_url(BASE, TID, page=2)
    last = tieba.parse_thread(body("thread_last.html"), page.next, **KW)
    assert [(i.source_id, i.extra["floor"]) for i in last.items] == [("150000100090", 24)] and last.next is None


def test_lzl_sub_replies():
    url = tieba.lzl_url(BASE, TID, "150000100001", "27654321")
    page = tieba.parse_lzl(body("lzl_page1.html"), url, **KW)
    assert [(i.source_id, i.kind, i.parent_id, i.author_name) for i in page.items] == [
        ("150000100002", "reply", "150000100001", "赵六"), ("150000100003", "reply", "150000100001", "小明同学")]
    assert page.items[0].text == "我也是[汗]" and page.items[0].created_at == utc(2026, 11, 24, 2, 25)
    assert page.items[1].text == "回复 赵六 :试试退回旧版"
    assert page.next is None  # total_page 1


def test_search():
    page = tieba.parse_search(body("search_page1.html"), tieba.search_url(BASE, "闪退"), **KW)
    assert [(i.source_id, i.kind, i.parent_id) for i in page.items] == [
        ("150000100001", "post", None), ("150000100009", "reply", TID)]
    hit = page.items[0]
    assert hit.title == "新版App登录闪退，谁有办法？" and hit.text == "12.3.0更新后每次点登录就闪退，苹果15，iOS 18.1，重装没用"
    assert hit.author_name == "小明同学" and hit.created_at == utc(2026, 11, 24, 2, 21)
    assert hit.extra["forum"] == "演示银行" and hit.extra["fid"] == "27654321"
    assert page.next.startswith(f"{BASE}/f/search/res?") and page.next.endswith("&pn=2")
    last = tieba.parse_search(body("search_last.html"), page.next, **KW)
    assert [i.created_at for i in last.items] == [utc(2025, 1, 5, 0, 3)] and last.next is None
    empty = tieba.parse_search(body("search_empty.html"), tieba.search_url(BASE, "zzqqxx"), **KW)
    assert empty.items == [] and empty.next is None and empty.dropped == []


def test_blocks():
    for fn, name in [(tieba.parse_forum, "security_check.html"), (tieba.parse_thread, "security_check.html"),
                     (tieba.parse_search, "blocked.txt")]:
        page = fn(body(name), tieba.forum_url(BASE, "x"), **KW)
        assert page.block is not None and "VOC_TIEBA_COOKIE" in page.block.fix and page.items == [] and page.follow == []
    assert tieba.parse_forum(body("security_check.html"), BASE, **KW).block.kind == "captcha"
    redirect = detect_block("tieba", 302, {"Location": "https://wappass.baidu.com/static/captcha/tuxing.html?ak=x&backurl=y"}, b"")
    assert redirect is not None and redirect.kind == "captcha"
    assert tieba.parse_thread(b"\x00\x01 not html", tieba.thread_url(BASE, 1), **KW).dropped[0][0] == "bad_html"
