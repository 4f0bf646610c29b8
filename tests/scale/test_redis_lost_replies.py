"""A Redis command that ran but whose reply was lost (Redis restarted, the connection dropped) is retried by the client;
the frontier's writes must come out as if it ran once. Through a real proxy that cuts exactly that reply."""

from __future__ import annotations

import pytest
from scrapy import Request, Spider
from scrapy.crawler import Crawler

from crawlers.frontier import DupeFilter, Keys, ReliableQueue, claim_seed, connect

SETTINGS = {"VOC_FRONTIER_PREFIX": "voc", "VOC_FRONTIER_ROUND": "r1", "VOC_FRONTIER_WORKER": "w1",
            "VOC_FRONTIER_TTL": 600, "SCHEDULER_DUPEFILTER_KEY": "voc:r1:seen:%(spider)s"}


@pytest.fixture
def spider():
    crawler = Crawler(Spider, SETTINGS)
    return Spider.from_crawler(crawler, name="appstore")


def test_a_pop_whose_reply_was_lost_moves_one_request(spider, reply_cutter, redis_server):
    client = connect(reply_cutter.url)
    queue = ReliableQueue(client, spider, Keys("voc", "r1").requests % {"spider": "appstore"})
    assert queue.pop() is None  # (the script is loaded before the cut)
    queue.push(Request("https://example.com/a"))
    queue.push(Request("https://example.com/b"))
    reply_cutter.arm(b"inflight")
    got = queue.pop()
    assert reply_cutter.cuts == 1
    assert got.url == "https://example.com/a"  # the request the server moved, not a second one
    direct = redis_server.client()
    assert direct.lrange(queue.inflight, 0, -1) == [got.meta["voc_frontier_raw"]]  # nothing orphaned in flight
    assert len(queue) == 1
    queue.ack(got.meta["voc_frontier_raw"])
    assert queue.pop().url == "https://example.com/b" and len(queue) == 0


def test_a_fingerprint_whose_reply_was_lost_is_still_new(spider, reply_cutter, monkeypatch):
    monkeypatch.setenv("VOC_FRONTIER_URL", reply_cutter.url)  # how a crawl child learns the frontier
    df = DupeFilter.from_spider(spider)
    assert not df.request_seen(Request("https://example.com/first"))  # (the script is loaded before the cut)
    reply_cutter.arm(b":seen:")
    assert not df.request_seen(Request("https://example.com/page-2"))  # new: must be crawled, not dropped as seen
    assert reply_cutter.cuts == 1
    assert df.request_seen(Request("https://example.com/page-2"))  # and seen from now on
    assert df.request_seen(Request("https://example.com/first"))


def test_a_seed_claim_whose_reply_was_lost_is_still_ours(reply_cutter, redis_server):
    client = connect(reply_cutter.url)
    reply_cutter.arm(b":seed:")
    assert claim_seed(client, "voc:r1:seed:appstore", "w1", 600)
    assert reply_cutter.cuts == 1
    assert not claim_seed(redis_server.client(), "voc:r1:seed:appstore", "w2", 600)  # the others only crawl


def test_a_slot_lease_whose_reply_was_lost_is_still_ours(reply_cutter, monkeypatch):
    import asyncio

    from crawlers.politeness import GlobalPolitenessMiddleware

    monkeypatch.setenv("VOC_FRONTIER_URL", reply_cutter.url)
    crawler = Crawler(Spider, {**SETTINGS, "VOC_FRONTIER_URL": True, "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
                               "DOWNLOAD_DELAY": 0, "DOWNLOAD_TIMEOUT": 30})
    mw = GlobalPolitenessMiddleware.from_crawler(crawler)
    warm = Request("https://warm.example/")
    asyncio.run(mw.process_request(warm))  # (the scripts are loaded before the cut)
    mw.process_response(warm, None)
    reply_cutter.arm(b":slots:")
    request = Request("https://example.com/page-1")
    # The domain's one slot went to this very call: waiting for it to come free would wait out the lease (60 s).
    asyncio.run(asyncio.wait_for(mw.process_request(request), 5))
    assert reply_cutter.cuts == 1 and request.meta["voc_lease"]
