"""Tieba parsers on real captured pages (tests/fixtures/pages/tieba/real/, provenance in PROVENANCE.md there).

The MediaCrawler captures are from 2024-08-06..08, so relative dates ("7-6" on the bar list) resolve against
a crawl time in those days. Each test pins counts and spot-checks one or two items field by field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from crawlers.parsers import tieba

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "pages" / "tieba" / "real"
BASE = "http://127.0.0.1:8765"
NOW = datetime(2024, 8, 8, 6, 19, tzinfo=UTC)  # when the bar page was captured (14:19 in Shanghai)
KW = dict(product="demo", target="t", now=NOW)


def real(name: str) -> bytes:
    return (REAL / name).read_bytes()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_bar_page_reads_the_bigpipe_list_sent_after_html():
    """The real bar page closes </html> at line 322 and sends its 48 threads afterwards in a BigPipe
    code.pagelet_html comment; before the fix this page gave no follow and no drop at all."""
    body = real("mediacrawler_tieba_note_list.html")
    assert body.index(b"</html>") < body.index(b"pagelet_html_frs-list/pagelet/thread_list")
    page = tieba.parse_forum(body, tieba.forum_url(BASE, "盗墓笔记"), **KW)
    assert len(page.follow) == 48 and page.dropped == [] and page.block is None
    first = page.follow[0]
    assert first.url == tieba.thread_url(BASE, "9079949995")
    assert first.meta == {"tid": "9079949995", "title": "盗墓笔记全集+txt小说，已整理", "abstract": "",
                          "author_name": "公子伯仲", "replies": 18, "created_at": utc(2024, 7, 5, 16, 0),  # "7-6"
                          "is_top": False, "first_post_id": "150544122828"}
    assert page.follow[1].meta["author_name"] == "张海楼" and page.follow[1].meta["created_at"] == utc(2020, 4, 30, 16, 0)
    assert page.next == tieba.forum_url(BASE, "盗墓笔记", pn=50)


def test_thread_page_floors_ids_names_emoticons_and_ad():
    page = tieba.parse_thread(real("mediacrawler_note_comments.html"), tieba.thread_url(BASE, "9119688421"), **KW)
    assert len(page.items) == 30
    assert page.meta == {"tid": "9119688421", "title": "【强烈恭喜】全红婵陈宇汐包揽跳水女子10米台巴黎奥运金银牌！",
                         "forum": "网球风云吧", "replies": 251, "pages": 4}
    assert page.next == tieba.thread_url(BASE, "9119688421", page=2)
    # The ad floor (empty data-field, labelled 广告) is dropped with its reason, not kept as a reply.
    assert [r for r, _ in page.dropped] == ["ad"] and "广告" in page.dropped[0][1]
    assert not any(i.text.endswith("广告") or "立即查看" in i.text for i in page.items)
    op = page.items[0]
    assert (op.source_id, op.kind, op.parent_id, op.title) == ("150726491368", "post", None, page.meta["title"])
    assert op.text == "中国队第22金！无悬念！" and op.created_at == utc(2024, 8, 6, 14, 9)
    # The displayed name, not the hidden user_nickname placeholder (贴吧用户_Q6eeVK7); the portrait without ?t=.
    assert (op.author_id, op.author_name) == ("tb.1.b08d8f12.IR-tbLlZ2GkD6ARA-mfGOA", "heinzfrentzen")
    assert not any((i.author_name or "").startswith("贴吧用户_") for i in page.items)
    assert not any("?" in (i.author_id or "") for i in page.items)
    assert op.extra == {"floor": 1, "tid": "9119688421", "fid": "4513750", "region": "福建", "client": "Android客户端"}
    # Emoticons without alt become [name] tokens from their image.
    by_id = {i.source_id: i for i in page.items}
    assert by_id["150726497321"].text == "全后卫冕，太好了[image_emoticon24]"
    assert by_id["150726498817"].text == "皇后回宫[image_emoticon66][image_emoticon20]"
    floor = by_id["150726500312"]
    assert (floor.kind, floor.parent_id, floor.replies, floor.extra["floor"]) == ("reply", "9119688421", 16, 7)
    assert ("tieba_lzl", tieba.lzl_url(BASE, "9119688421", "150726500312", "4513750")) in [(f.kind, f.url) for f in page.follow]


def test_same_user_one_id_on_floor_and_in_lzl():
    """heinzfrentzen's portrait carries ?t=1532192361 on floors; his 楼中楼 reply has none: one id either way."""
    thread = tieba.parse_thread(real("mediacrawler_note_comments.html"), tieba.thread_url(BASE, "9119688421"), **KW)
    lzl_url = tieba.lzl_url(BASE, "9119688421", "150726500312", "4513750")  # parent floor inferred (16 replies, 2 pages)
    lzl = tieba.parse_lzl(real("mediacrawler_note_sub_comments.html"), lzl_url, **KW)
    assert len(lzl.items) == 10 and lzl.dropped == []
    assert lzl.next == tieba.lzl_url(BASE, "9119688421", "150726500312", "4513750", page=2)
    first = lzl.items[0]
    assert (first.source_id, first.kind, first.parent_id) == ("150726504693", "reply", "150726500312")
    assert first.text == "[image_emoticon25] [image_emoticon25]"  # emoticon-only reply: kept, not empty
    assert first.created_at == utc(2024, 8, 6, 14, 11)
    assert first.author_id == thread.items[0].author_id == "tb.1.b08d8f12.IR-tbLlZ2GkD6ARA-mfGOA"
    assert lzl.items[1].author_name == "可爱的搬运工94" and lzl.items[1].text == "陈芋汐水花也不小"


def test_second_thread_capture_and_its_ad_floor():
    page = tieba.parse_thread(real("mediacrawler_note_detail.html"), tieba.thread_url(BASE, "9117905169"), **KW)
    assert len(page.items) == 30 and [r for r, _ in page.dropped] == ["ad"]
    assert page.meta["replies"] == 786 and page.meta["pages"] == 13
    op = page.items[0]
    assert (op.source_id, op.author_name, op.author_id) == ("150719031818", "章景轩", "tb.1.6ae447d1.1kSMO_ldLGD7OUTJ7rd_Bw")
    assert op.created_at == utc(2024, 8, 5, 8, 56)
    last = page.items[-1]
    assert (last.source_id, last.extra["floor"], last.text) == ("150721484814", 42, "自己犯贱能怪谁呢[image_emoticon2]")


def test_2017_thread_page():
    page = tieba.parse_thread(real("tieba-readability_test_test.html"), tieba.thread_url(BASE, "5346624244"), **KW)
    assert len(page.items) == 30 and page.dropped == []
    assert page.meta == {"tid": "5346624244", "title": "OVERLORD 第12卷【圣王国的圣骑士丨上】", "forum": "overlord不死者之王吧",
                         "replies": 57, "pages": 2}
    op = page.items[0]
    assert (op.source_id, op.kind, op.author_id, op.author_name) == ("112695649620", "post", "320828814", "夜の无")
    assert op.created_at == utc(2017, 9, 28, 15, 58) and op.text.startswith("本汉化由【OVERLORD贴吧汉化管理群】提供")
    assert page.items[-1].extra["floor"] == 1836 and page.items[-1].replies == 198


def test_2013_thread_layout():
    """The 2013 layout: content.id / floor / date in data-field, "共有4页" without a reply count."""
    page = tieba.parse_thread(real("widgetindex_text_replacer.tpl.html"), tieba.thread_url(BASE, "2362497559"), **KW)
    assert len(page.items) == 30 and page.dropped == []
    assert page.meta == {"tid": "2362497559", "title": "“几何流”阵型设计要点 - 1宏观讲解内外分布关系《外软内硬》",
                         "forum": "clashofclans吧", "replies": None, "pages": 4}
    second = page.items[1]
    assert (second.source_id, second.kind, second.parent_id, second.text) == ("33452343231", "reply", "2362497559", "沙发留存")
    assert (second.author_id, second.author_name, second.created_at) == ("ca9953616c617275313133a130", "Salaru113",
                                                                          utc(2013, 5, 31, 19, 29))
    assert page.items[-1].extra["floor"] == 30 and page.next == tieba.thread_url(BASE, "2362497559", page=2)


def test_search_keeps_title_only_hit():
    page = tieba.parse_search(real("mediacrawler_search_keyword_notes.html"), tieba.search_url(BASE, "园区"), **KW)
    assert len(page.items) == 10 and page.dropped == [] and page.next is None
    first = page.items[0]
    assert (first.source_id, first.kind, first.author_name) == ("150718967291", "post", "VR虚拟达人")
    assert first.created_at == utc(2024, 8, 5, 8, 45) and first.extra["tid"] == "9117888152"
    title_only = page.items[-1]  # its p_content is empty: the title is what the search matched
    assert (title_only.source_id, title_only.title, title_only.text) == ("150510120873", "东南亚，园区【 工 价 低 】",
                                                                         "东南亚，园区【 工 价 低 】")
    assert title_only.created_at == utc(2024, 6, 30, 4, 9) and title_only.extra["forum"] == "园区招商"


def test_pages_that_parse_to_nothing_say_so():
    """Silence is an error: a bar page whose rows do not parse, or a thread page without floors."""
    bar = real("mediacrawler_tieba_note_list.html").replace(b"j_th_tit", b"j_th_renamed")
    page = tieba.parse_forum(bar, tieba.forum_url(BASE, "盗墓笔记"), **KW)
    assert page.follow == [] and page.dropped[-1] == ("parse_empty", "bar page: 48 thread rows, none parsed")
    thread = real("widgetindex_text_replacer.tpl.html").replace(b"l_post", b"x_post")
    assert tieba.parse_thread(thread, tieba.thread_url(BASE, "1"), **KW).dropped == [("parse_empty", "thread page without floors")]


def test_thread_floors_sent_in_a_pagelet_after_html():
    """CONSTRUCTED from a real capture: the 30 real floors of mediacrawler_note_comments.html moved into a BigPipe
    ``code.pagelet_html`` comment after an early ``</html>`` — the structure of the real bar page, applied to a
    thread page (no real thread capture of that shape was found)."""
    from parsel import Selector

    real_page = real("mediacrawler_note_comments.html").decode("utf-8")
    floors = "".join(post.get() for post in Selector(text=real_page).css("div.l_post"))
    built = ("<!DOCTYPE html><html><head><title>【强烈恭喜】全红婵陈宇汐包揽跳水女子10米台巴黎奥运金银牌！【网球风云吧】_百度贴吧</title>"
             "</head><body><div id=\"pagelet_pb/pagelet/postlist\"></div></body></html>\n"
             '<code class="pagelet_html" id="pagelet_html_pb/pagelet/postlist" style="display:none;"><!--'
             + floors.replace("-->", "--&gt;") + "--></code>")
    page = tieba.parse_thread(built.encode(), tieba.thread_url(BASE, "9119688421"), **KW)
    inline = tieba.parse_thread(real("mediacrawler_note_comments.html"), tieba.thread_url(BASE, "9119688421"), **KW)
    assert len(page.items) == 30 and [r for r, _ in page.dropped] == ["ad"]
    assert [(i.source_id, i.text, i.author_id) for i in page.items] == [(i.source_id, i.text, i.author_id) for i in inline.items]
