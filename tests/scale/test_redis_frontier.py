"""The crawl on a shared Redis frontier (scrapy-redis) with tag workers behind a Redis Streams item queue, against
a real redis-server and the loopback replay server: it ends with exactly the documents of a single-process run."""

from __future__ import annotations

from crawlers.replay_data import serve_appstore_reviews
from crawlers.rounds import run_round
from crawlers.runner import run_crawl
from crawlers.state import CrawlState, iso

APPS = ("1600000001", "1600000002")


def comparable(docs):
    return {i: {k: v for k, v in d.items() if k != "crawled_at"} for i, d in docs.items()}


def products():
    return [{"id": "qingji", "name": "轻记", "appstore": {"app_ids": list(APPS), "country": "cn", "max_pages": 10}}]


def test_round_on_the_frontier_equals_single_process_run(crawl_settings, replay, stored_docs, redis_server, tmp_path):
    for i, app in enumerate(APPS):
        serve_appstore_reviews(replay, app, 120, first=1000 * i)
    single = crawl_settings(root=tmp_path / "single", products=products())
    ref = run_crawl(single, sources=["appstore"])
    assert ref.ok, ref.format()
    expected = comparable(stored_docs(single))
    assert len(expected) == 240

    shared = crawl_settings(root=tmp_path / "shared", products=products())
    report = run_round(shared, redis_server.url, sources=["appstore"], tag_workers=1, timeout=90)
    assert report.ok, report.format()
    assert comparable(stored_docs(shared)) == expected
    with CrawlState(single.resolve(single.crawl.state_path)) as state:
        want = {k: v for k, v in state.cursors().items()}
    assert {k: v for k, v in report.cursors.items()} == want
    client = redis_server.client()
    assert {tuple(k.decode().split("\t")): v.decode() for k, v in client.hgetall("voc:cursors").items()} == \
        {k: iso(v) for k, v in want.items()}
