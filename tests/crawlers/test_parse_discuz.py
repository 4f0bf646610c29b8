"""Discuz! forum list, thread and mobile-API parsing; GBK (gb18030) and UTF-8 pages."""

from __future__ import annotations

from crawlers.parsers import discuz
from tests.helpers import PARSER_PAGES, PARSER_NOW as NOW, utc

PAGES = PARSER_PAGES / "discuz"
BASE = "http://127.0.0.1:8765/bbs"
KW = dict(product="demo", target="36", now=NOW, site="bbs")


def forum(name: str, **kw):
    return discuz.parse_forum((PAGES / name).read_bytes(), discuz.forum_url(BASE, 36), **KW, **kw)


def thread(name: str, **kw):
    return discuz.parse_thread((PAGES / name).read_bytes(), discuz.thread_url(BASE, 20871), **KW, **kw)


def test_urls_and_gbk_keyword():
    assert discuz.forum_url("http://x/bbs/", 36, page=2) == "http://x/bbs/forum.php?mod=forumdisplay&fid=36&orderby=dateline&page=2"
    assert discuz.forum_url("http://x", 36, page=2, rewrite=True) == "http://x/forum-36-2.html"
    assert discuz.thread_url("http://x", 7, page=3, rewrite=True) == "http://x/thread-7-3-1.html"
    assert discuz.mobile_url("http://x", "viewthread", tid=7, page=2) == (
        "http://x/api/mobile/index.php?version=4&module=viewthread&tid=7&page=2")
    assert discuz.quote_keyword("闪退") == "%C9%C1%CD%CB"
    assert discuz.quote_keyword("闪退", "utf-8") == "%E9%97%AA%E9%80%80"
    assert discuz.search_url("http://x", "登录", formhash="3fa1b2c4") == (
        "http://x/search.php?mod=forum&srchtxt=%B5%C7%C2%BC&formhash=3fa1b2c4&searchsubmit=yes")


def test_gbk_forum_list():
    page = forum("forum_gbk.html")
    assert [f.meta["tid"] for f in page.follow] == ["1001", "20871", "20866", "20850"]
    assert all(f.kind == "discuz_thread" for f in page.follow)
    sticky, first, second, third = (f.meta for f in page.follow)
    assert sticky["sticky"] is True and first["sticky"] is False
    assert first["title"] == "12.3.0 版本登录一直转圈，有人一样吗？"
    assert first["author_name"] == "银行卡丢了怎么办" and first["author_id"] == "88231"
    assert first["created_at"] == utc(2026, 11, 24, 1, 12)  # span@title preferred over "2 小时前"
    assert second["created_at"] == utc(2026, 11, 23, 10, 30)
    assert third["created_at"] == utc(2026, 11, 17, 16, 0)  # plain "2026-11-18", not the last-post column
    assert (first["replies"], first["views"]) == (17, 523)
    assert page.follow[1].url == f"{BASE}/forum.php?mod=viewthread&tid=20871&extra=page%3D1"
    assert page.next == f"{BASE}/forum.php?mod=forumdisplay&fid=36&orderby=dateline&page=2"
    assert page.items == [] and page.dropped == [] and page.block is None


def test_utf8_last_forum_page_and_empty_forum():
    last = forum("forum_utf8_last.html")
    assert [f.meta["title"] for f in last.follow] == ["建议：增加账单导出为Excel的功能"]
    assert last.next is None
    empty = forum("forum_empty.html")
    assert empty.follow == [] and empty.next is None and empty.block is None and empty.dropped == []


def test_gbk_thread_floors():
    page = thread("thread_gbk.html")
    assert [i.source_id for i in page.items] == ["301122", "301125", "301131"]
    assert page.dropped == [("locked", "pid 301130: 作者被禁止或删除 内容自动屏蔽")]
    op, reply, fourth = page.items
    assert op.source == "forum:bbs" and op.kind == "post" and op.parent_id is None
    assert op.title == "12.3.0 版本登录一直转圈，有人一样吗？"
    assert op.text == ("升级到 12.3.0 以后，登录一直转圈，等一分钟提示“网络异常”[哭]\n"
                       "换了4G和WiFi都一样，卸载重装也没用。\n手机是华为 Mate 60，鸿蒙4.2。")
    assert 'alt="[哭]"' in op.raw_text
    assert op.created_at == utc(2026, 11, 24, 1, 12, 45)
    assert op.author_id == "88231" and op.extra == {"floor": 1, "tid": "20871"}
    assert op.url == f"{BASE}/forum.php?mod=redirect&goto=findpost&ptid=20871&pid=301122"
    assert reply.kind == "reply" and reply.parent_id == "20871" and reply.extra["floor"] == 2
    assert reply.text == "+1，我也是，打客服电话说在修复&请耐心等待。"  # quote removed, entity unescaped
    assert fourth.extra["floor"] == 4 and fourth.created_at == utc(2026, 11, 24, 2, 33, 10)
    assert page.next == f"{BASE}/forum.php?mod=viewthread&tid=20871&extra=page%3D1&page=2"
    assert page.meta == {"tid": "20871", "title": "12.3.0 版本登录一直转圈，有人一样吗？"}


def test_utf8_last_thread_page_absolute_time():
    page = thread("thread_utf8_last.html")
    assert len(page.items) == 1 and page.next is None
    item = page.items[0]
    assert item.text == "刚刚更新了12.3.1，已经能登录了，谢谢大家 :)"
    assert item.created_at == utc(2026, 11, 24, 3, 0) and item.extra["floor"] == 5


def test_explicit_encoding_overrides_sniffing():
    body = (PAGES / "thread_gbk.html").read_bytes()
    page = discuz.parse_thread(body, discuz.thread_url(BASE, 20871), **KW, encoding="gbk")
    assert page.items[0].title == "12.3.0 版本登录一直转圈，有人一样吗？"
    wrong = discuz.parse_thread(body, discuz.thread_url(BASE, 20871), **KW, encoding="utf-8")
    assert "\ufffd" in wrong.items[0].text  # wrong encoding never raises


def test_block_and_message_pages():
    login = forum("login_gbk.html")
    assert login.block is not None and login.block.kind == "login"
    assert "VOC_FORUM_BBS_COOKIE" in login.block.fix and login.follow == []
    noperm = forum("no_permission_gbk.html")
    assert noperm.block is not None and noperm.block.kind == "forbidden"
    waf = thread("waf_challenge.html")
    assert waf.block is not None and waf.block.kind == "captcha"
    missing = thread("thread_missing_gbk.html")
    assert missing.block is None and missing.dropped == [("not_found", "指定的主题不存在或已被删除或正在被审核")]


def test_selectors_are_overridable():
    html = ('<html><body><ul><li class="row" id="normalthread_9"><a class="t" href="thread-9-1-1.html">卡顿严重</a>'
            '<span class="who">张三</span><i class="when">2026-11-20 08:00</i></li></ul></body></html>')
    sel = {"thread_row": "li.row", "thread_title": "a.t", "thread_author": "span.who", "thread_date": "i.when"}
    page = discuz.parse_forum(html, "http://x/forum-2-1.html", **KW, selectors=sel)
    assert [(f.meta["tid"], f.meta["title"], f.meta["author_name"]) for f in page.follow] == [("9", "卡顿严重", "张三")]
    assert page.follow[0].url == "http://x/thread-9-1-1.html"
    assert page.follow[0].meta["created_at"] == utc(2026, 11, 20, 0, 0)


def test_mobile_viewthread():
    url = discuz.mobile_url(BASE, "viewthread", tid=20871)
    page = discuz.parse_mobile((PAGES / "mobile_viewthread.json").read_bytes(), url, **KW)
    assert [(i.source_id, i.kind, i.parent_id) for i in page.items] == [("301122", "post", None), ("301125", "reply", "20871")]
    assert page.items[0].text == "升级到 12.3.0 以后，登录一直转圈，等一分钟提示“网络异常”[哭]\n换了4G和WiFi都一样。"
    assert page.items[0].created_at == utc(2026, 11, 24, 1, 12, 45)
    assert page.items[1].author_name == "财务小刘"
    assert page.next == discuz.mobile_url(BASE, "viewthread", tid=20871, page=2)  # 17 replies, 10 per page


def test_mobile_forumdisplay_and_login():
    url = discuz.mobile_url(BASE, "forumdisplay", fid=36)
    page = discuz.parse_mobile((PAGES / "mobile_forumdisplay.json").read_bytes(), url, **KW)
    assert [f.meta["tid"] for f in page.follow] == ["20871", "20866"]
    assert page.follow[1].meta["created_at"] == utc(2026, 11, 23, 10, 30)
    assert page.follow[0].url == discuz.mobile_url(BASE, "viewthread", tid=20871)
    assert page.next is None
    login = discuz.parse_mobile((PAGES / "mobile_login.json").read_bytes(), url, **KW)
    assert login.block is not None and login.block.kind == "login" and "to_login" in login.block.reason


def test_bad_input_never_raises():
    for body in [b"", b"\x00\xff" * 10, b"<html", b"<div>" * 1000, "x" * (21 * 1024 * 1024)]:
        for fn in (discuz.parse_forum, discuz.parse_thread):
            page = fn(body, discuz.forum_url(BASE, 36), **KW)
            assert page.items == [] and page.follow == [] and page.next is None
    huge = discuz.parse_thread(b"<div>" * (5 * 1024 * 1024), discuz.thread_url(BASE, 1), **KW)
    assert huge.dropped[0][0] == "too_large"
    assert discuz.parse_mobile(b'{"Variables": {"postlist": [', discuz.mobile_url(BASE, "viewthread", tid=1),
                               **KW).dropped[0][0] == "bad_json"
