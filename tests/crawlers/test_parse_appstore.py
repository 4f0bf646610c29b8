"""App Store RSS review feed and lookup parsing against saved (constructed) pages."""

from __future__ import annotations

from datetime import datetime, timezone

from crawlers.parsers import appstore
from tests.helpers import PARSER_PAGES, PARSER_NOW as NOW, REPLAY_BASE as BASE

PAGES = PARSER_PAGES / "appstore"
APP = "1142110895"


def parse(name: str, page: int = 1):
    url = appstore.reviews_url(BASE, APP, page=page)
    return appstore.parse_reviews((PAGES / name).read_bytes(), url, product="demo", target=APP, now=NOW)


def test_urls():
    assert appstore.reviews_url("https://itunes.apple.com/", "123", page=3) == (
        "https://itunes.apple.com/cn/rss/customerreviews/page=3/id=123/sortby=mostrecent/json")
    assert appstore.lookup_url("https://itunes.apple.com", "123") == "https://itunes.apple.com/lookup?id=123&country=cn"


def test_normal_page_skips_app_info_and_reads_every_field():
    page = parse("reviews_page1.json")
    assert [i.source_id for i in page.items] == ["11418807411", "11418544120", "11417932086"]
    assert page.dropped == [("app_info", f"https://apps.apple.com/cn/app/id{APP}?uo=2")]
    first = page.items[0]
    assert first.source == "appstore" and first.kind == "review" and first.product == "demo" and first.target == APP
    assert first.title == "更新后一直闪退"
    assert first.text.startswith("昨天更新到12.3.0以后，一打开就闪退")
    assert first.rating == 1 and first.app_version == "12.3.0" and first.platform == "ios"
    assert first.author_id == "236071519" and first.author_name == "小王不想排队"
    assert first.created_at == datetime(2026, 11, 24, 1, 26, 24, tzinfo=timezone.utc)
    assert first.likes == 3 and first.extra["vote_count"] == 5
    assert first.url == f"https://itunes.apple.com/cn/review?id={APP}&type=Purple%20Software"
    assert page.items[2].rating == 5 and "👍" in page.items[2].text
    assert page.next == appstore.reviews_url(BASE, APP, page=2)
    assert page.block is None


def test_last_page_single_entry_object_without_updated():
    page = parse("reviews_page10_single.json", page=10)
    assert len(page.items) == 1
    item = page.items[0]
    assert item.source_id == "6455612413" and item.rating == 3 and item.created_at is None
    assert item.text == "晚上用太刺眼了，希望增加夜间模式。其他都还行。"
    assert page.next is None  # page 10 is the feed's limit


def test_empty_feed_ends_paging():
    page = parse("reviews_empty.json", page=3)
    assert page.items == [] and page.next is None and page.dropped == []


def test_page_depth_plain_text():
    page = parse("reviews_page11.txt", page=11)
    assert page.items == [] and page.next is None
    assert page.dropped == [("page_depth", "CustomerReviews RSS page depth is limited to 10")]


def test_lookup_metadata():
    page = appstore.parse_lookup((PAGES / "lookup.json").read_bytes(), appstore.lookup_url(BASE, APP),
                                 product="demo", target=APP, now=NOW)
    assert page.meta == {"app_id": APP, "name": "演示银行 - Demo Bank", "version": "12.3.0",
                         "rating": 4.52381, "rating_count": 126031, "bundle_id": "com.demo.bank"}


def test_bad_input_never_raises():
    for body, reason in [(b'{"feed": {"entry": [', "bad_json"), (b"<html><body>502</body></html>", "not_json"),
                         (b"", "not_json"), (b"\xff\xfe\x00garbage", "not_json"), (b'{"nofeed": 1}', "unknown_shape"),
                         (b"[" * 30_000_000, "too_large")]:
        page = appstore.parse_reviews(body, appstore.reviews_url(BASE, APP), product="demo", target=APP, now=NOW)
        assert page.items == [] and page.next is None
        assert page.dropped[0][0] == reason


def test_entry_missing_fields_is_dropped_not_fatal():
    body = ('{"feed": {"entry": [{"im:rating": {"label": "4"}, "id": {"label": "1"}},'
            ' {"im:rating": {"label": "5"}, "id": {"label": "2"}, "content": {"label": "不错"}}, 7]}}')
    page = appstore.parse_reviews(body, appstore.reviews_url(BASE, APP), product="demo", target=APP, now=NOW)
    assert [i.source_id for i in page.items] == ["2"]
    assert [r for r, _ in page.dropped] == ["missing_field", "bad_entry"]


def test_block_pages():
    from crawlers.parsers.blocks import detect_block

    body = (PAGES / "blocked_403.html").read_bytes()
    block = detect_block("appstore", 403, {"Content-Type": "text/html"}, body)
    assert block is not None and block.kind == "forbidden" and block.reason == "HTTP 403"
    page = appstore.parse_reviews(body, appstore.reviews_url(BASE, APP), product="demo", target=APP, now=NOW)
    assert page.items == [] and page.next is None and page.dropped[0][0] == "not_json"
