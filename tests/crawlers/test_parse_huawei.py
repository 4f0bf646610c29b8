"""Huawei AppGallery comments API parsing."""

from __future__ import annotations

from datetime import datetime, timezone

from crawlers.parsers import huawei
from tests.helpers import PARSER_PAGES, PARSER_NOW as NOW, REPLAY_BASE as BASE

PAGES = PARSER_PAGES / "huawei"
APP = "C100234567"


def parse(name: str, page: int = 1):
    return huawei.parse_comments((PAGES / name).read_bytes(), huawei.comments_url(BASE, APP, page=page),
                                 product="demo", target=APP, now=NOW)


def test_url():
    assert huawei.comments_url("https://web-drcn.hispace.dbankcloud.com", APP, page=2, path="/edge/uowap/index") == (
        "https://web-drcn.hispace.dbankcloud.com/edge/uowap/index?method=internal.user.commenList3&serviceType=20"
        "&reqPageNum=2&maxResults=25&appid=C100234567&version=10.0.0&zone=&locale=zh")


def test_normal_page():
    page = parse("comments_page1.json")
    assert [i.source_id for i in page.items] == ["4a8c1f0e2b3d4e5f90123456789abcde", "4a8c1f0e2b3d4e5f90123456789abcdf"]
    first = page.items[0]
    assert first.text == "更新后打开就白屏，等半天进不去首页，鸿蒙4.2" and first.kind == "review"
    assert first.created_at == datetime(2026, 11, 24, 0, 41, tzinfo=timezone.utc)  # 08:41 China time
    assert (first.rating, first.likes, first.replies) == (1, 12, 1)
    assert first.app_version == "12.3.0.301" and first.platform == "android"
    assert first.author_name == "花粉小李" and first.author_id == "890086000102345678"
    assert first.url == "https://appgallery.huawei.com/app/C100234567"
    assert first.extra == {"device": "ALN-AL00", "developer_reply": "您好，已收到反馈，新版本12.3.1已修复，请更新后重试。"}
    assert page.items[1].rating == 4 and "developer_reply" not in page.items[1].extra
    assert page.next == huawei.comments_url(BASE, APP, page=2)
    assert page.meta == {"total_pages": 3, "count": 12876, "score": "3.9"}


def test_last_and_empty_pages():
    last = parse("comments_page3_last.json", page=3)
    assert [i.rating for i in last.items] == [5] and last.next is None  # page 3 of totalPages 3
    empty = parse("comments_empty.json", page=2)  # empty list despite totalPages: the end
    assert empty.items == [] and empty.next is None and empty.dropped == []


def test_html_error_and_bad_rows():
    page = parse("error_html.html")
    assert page.items == [] and page.dropped[0][0] == "not_json"
    body = '{"list": [{"commentId": "x1"}, "junk", {"commentId": "x2", "commentInfo": "还行", "stars": "3.0"}]}'
    page = huawei.parse_comments(body, huawei.comments_url(BASE, APP), product="demo", target=APP, now=NOW)
    assert [(i.source_id, i.rating, i.created_at) for i in page.items] == [("x2", 3, None)]
    assert [r for r, _ in page.dropped] == ["missing_field", "bad_entry"]
    assert huawei.parse_comments(b'{"list": [{"commentId"', "u", product="d", target=APP, now=NOW).dropped[0][0] == "bad_json"


def test_waf_challenge_page():
    from crawlers.parsers.blocks import detect_block

    body = (PAGES / "waf_challenge.html").read_bytes()
    block = detect_block("huawei", 200, {}, body)
    assert block is not None and block.kind == "captcha" and "VOC_HUAWEI_COOKIE" in block.fix
    page = parse("waf_challenge.html")
    assert page.items == [] and page.next is None and page.block == block  # seen by the parser too
