"""黑猫投诉 signed search and company feed parsing."""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timezone

from crawlers.parsers import heimao
from tests.helpers import PARSER_PAGES, PARSER_NOW as NOW, REPLAY_BASE as BASE

PAGES = PARSER_PAGES / "heimao"
TS, RS = 1795485900000, "a1B2c3D4e5F6g7H8"
KW = dict(product="demo", target="演示银行", now=NOW)


def url(page: int = 1) -> str:
    return heimao.search_url(BASE, "演示银行", page=page, page_size=2, ts=TS, rs=RS)


def parse(name: str, page: int = 1):
    return heimao.parse_complaints((PAGES / name).read_bytes(), url(page), **KW)


def test_signature_is_sha256_of_sorted_list():
    parts = sorted([str(TS), RS, "$d6eb7ff91ee257475%", "演示银行", "2", "1"])
    assert heimao.sign(TS, RS, "演示银行", 2, 1) == hashlib.sha256("".join(parts).encode()).hexdigest()
    assert heimao.sign(TS, RS, "演示银行", 2, 1) != heimao.sign(TS, RS, "演示银行", 2, 2)
    assert url() == (f"{BASE}/api/index/s?ts={TS}&rs={RS}&signature={heimao.sign(TS, RS, '演示银行', 2, 1)}"
                     "&keywords=%E6%BC%94%E7%A4%BA%E9%93%B6%E8%A1%8C&page_size=2&page=1")
    rs = heimao.random_rs(random.Random(7))
    assert len(rs) == 16 and rs.isalnum() and rs == heimao.random_rs(random.Random(7))
    assert heimao.company_url(BASE, 5650743478, page=3) == (
        f"{BASE}/api/company/received_complaints?couid=5650743478&type=1&page_size=10&page=3")


def test_search_page():
    page = parse("search_page1.json")
    assert [i.source_id for i in page.items] == ["17390396995", "17390395001"]
    first = page.items[0]
    assert first.kind == "complaint" and first.title == "演示银行信用卡乱收年费"  # highlight span stripped
    assert first.text == "办卡时承诺免年费，结果本月扣了680元年费，客服推诿不处理，要求退还年费。"
    assert first.url == "https://tousu.sina.com.cn/complaint/view/17390396995/"
    assert first.created_at == datetime(2026, 11, 23, 13, 20, tzinfo=timezone.utc)
    assert (first.author_name, first.author_id) == ("用户7739012345", "7739012345")
    assert first.extra == {"company": "演示银行", "issue": "乱收费", "appeal": "退款,道歉", "cost": "680", "status": "处理中"}
    assert page.next == url(2)  # re-signed for page 2
    assert page.meta == {"page": 1, "page_amount": 2, "item_count": 3, "next_page": 2}


def test_last_and_empty_pages():
    last = parse("search_page2_last.json", page=2)
    assert [i.source_id for i in last.items] == ["17390388888"] and last.next is None
    empty = parse("search_empty.json")
    assert empty.items == [] and empty.next is None and empty.block is None


def test_company_feed_next_page():
    page = heimao.parse_complaints((PAGES / "search_page1.json").read_bytes(), heimao.company_url(BASE, 99), **KW)
    assert page.next == heimao.company_url(BASE, 99, page=2)


def test_blocks():
    limited = parse("rate_limited.json")
    assert limited.block is not None and limited.block.kind == "rate_limit" and "398" in limited.block.reason
    sig = parse("signature_error.json")
    assert sig.block is not None and sig.block.kind == "error" and "10006" in sig.block.reason
    login = parse("login_page.html")
    assert login.block is not None and login.block.kind == "login" and "VOC_HEIMAO_COOKIE" in login.block.fix
    assert parse("login_page.html").items == []
    assert heimao.parse_complaints(b'{"result": {"status": {"code": 0}, "data": {"lists": [{"main"', url(), **KW
                                   ).dropped[0][0] == "bad_json"
