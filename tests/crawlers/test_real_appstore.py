"""App Store on a real customer-reviews JSON feed (JP storefront, August 2020; provenance in PROVENANCE.md).

The feed sits in a Swift multi-line string literal (``FixtureReviewAPI()``); :func:`real_feed` takes it out and undoes
the literal's one escape (``\\\\`` → ``\\``), giving the bytes Apple sent (pretty-printed by the origin). Real feeds
of 2020-2021 carry no per-entry ``updated``: the spider dates such reviews at first sight, so the cursor moves.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from crawlers.parsers import appstore
from crawlers.runner import run_crawl
from crawlers.state import CrawlState

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "pages" / "appstore" / "real" / "daybysay_reviewer_Fixture.swift"
BASE = "http://127.0.0.1:8765"
APP = "1404176564"
NOW = datetime(2020, 8, 8, tzinfo=UTC)


def real_feed() -> bytes:
    source = REAL.read_text(encoding="utf-8")
    literal = re.search(r'func FixtureReviewAPI\(\) -> String \{\s*return """\n(.*?)\n\s*"""', source, re.S)
    assert literal is not None
    return literal.group(1).replace("\\\\", "\\").encode()


def test_real_feed_entries():
    page = appstore.parse_reviews(real_feed(), appstore.reviews_url(BASE, APP, country="jp"), product="demo", target=APP,
                                  now=NOW)
    assert len(page.items) == 50 and page.dropped == [] and page.next == appstore.reviews_url(BASE, APP, page=2, country="jp")
    first = page.items[0]
    assert (first.source_id, first.kind, first.title, first.rating, first.app_version) == ("6290024630", "review", "神アプリ",
                                                                                          4, "3.4.3")
    assert (first.author_id, first.author_name) == ("638572168", "ヤミ。")
    assert first.text.startswith("とにかく周りの人皆んなが暖かく、みんなとすぐに仲良くなることができました！\n面白い人がたくさんいる")
    # No per-entry `updated` in the real feed: no invented time, but marked for dating at first sight.
    assert all(i.created_at is None and i.extra["time_source"] == "first_seen" for i in page.items)


def test_cursor_advances_on_first_sight_and_stops_the_next_walk(crawl_settings, replay):
    path = f"/jp/rss/customerreviews/page={{}}/id={APP}/sortby=mostrecent/json"
    replay.add(path.format(1), body=real_feed(), content_type="application/json")
    replay.add(path.format(2), body=b'{"feed": {"author": {"name": {"label": "iTunes Store"}}}}',
               content_type="application/json")
    products = [{"id": "reality", "name": "REALITY", "appstore": {"app_ids": [APP], "country": "jp", "max_pages": 10}}]
    settings = crawl_settings(products=products)
    first = run_crawl(settings, sources=["appstore"]).source("appstore")
    assert (first.status, first.pages, first.new) == ("ok", 2, 50)
    with CrawlState(settings.resolve(settings.crawl.state_path)) as state:
        mark = state.cursor("appstore", APP)
    assert mark is not None  # before: entries without time left the cursor unset, so every run walked every page
    before = len(replay.requests)
    second = run_crawl(settings, sources=["appstore"]).source("appstore")
    assert (second.status, second.pages, second.new) == ("ok", 1, 0)  # page 1 re-read (counters refresh), no more
    assert [r.path for r in replay.requests[before:] if "/rss/" in r.path] == [path.format(1)]
