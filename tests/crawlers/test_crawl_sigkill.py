"""A crawl SIGKILLed halfway, then run again, ends with exactly the documents of an uninterrupted run."""

from __future__ import annotations

import time

from crawlers.replay_data import serve_appstore_reviews
from crawlers.runner import run_crawl, start_crawl
from crawlers.state import CrawlState

APP = "1600000001"


def comparable(docs):
    return {i: {k: v for k, v in d.items() if k != "crawled_at"} for i, d in docs.items()}


def test_sigkill_halfway_then_rerun_equals_uninterrupted_run(crawl_settings, replay, stored_docs, tmp_path):
    # Pages 4.. are slow, so the kill lands after some batches were indexed and before the walk ended.
    ids = serve_appstore_reviews(replay, APP, 300, delay=lambda page: 0.5 if page >= 4 else 0.0)
    whole = crawl_settings(root=tmp_path / "whole")
    reference = run_crawl(whole, sources=["appstore"]).source("appstore")
    assert (reference.status, reference.new) == ("ok", 300)
    expected = comparable(stored_docs(whole))
    assert len(expected) == 300

    killed = crawl_settings(root=tmp_path / "killed")
    job = start_crawl(killed, sources=["appstore"])
    page5 = f"/cn/rss/customerreviews/page=5/id={APP}/sortby=mostrecent/json"
    start = len(replay.requests)
    deadline = time.monotonic() + 60
    while not any(r.path == page5 for r in replay.requests[start:]):
        assert time.monotonic() < deadline, "the crawl never reached page 5"
        time.sleep(0.05)
    job.kill()
    report = job.wait(timeout=30)
    assert report.returncode < 0
    run = report.source("appstore")
    assert run.status == "failed" and "killed by signal 9" in run.error_messages[0]
    partial = stored_docs(killed)
    assert 0 < len(partial) < 300  # halfway indeed
    with CrawlState(killed.resolve(killed.crawl.state_path)) as state:
        assert state.cursor("appstore", APP) is None  # nothing committed by the killed run
        assert not state.is_locked("appstore")  # its lock is stale, not held

    again = run_crawl(killed, sources=["appstore"]).source("appstore")
    assert again.status == "ok" and again.new + again.updated == 300 and again.new == 300 - len(partial)
    assert comparable(stored_docs(killed)) == expected
    assert sorted(d["source_id"] for d in expected.values()) == sorted(ids)


def test_a_second_crawl_of_a_running_source_is_skipped(crawl_settings, replay):
    import threading

    from crawlers.replay import Reply
    from crawlers.replay_data import appstore_feed

    serve_appstore_reviews(replay, APP, 100)
    release = threading.Event()

    def held(_req):  # page 2 answers only once the second crawl is over: the first one is surely running
        release.wait(60)
        return Reply(200, appstore_feed([]), {"Content-Type": "application/json"})

    replay.add_handler(f"/cn/rss/customerreviews/page=2/id={APP}/sortby=mostrecent/json", held)
    replay.routes.insert(0, replay.routes.pop())
    settings = crawl_settings()
    first = start_crawl(settings, sources=["appstore"])
    deadline = time.monotonic() + 30
    while not any("page=2/" in r.path for r in replay.requests):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    try:
        second = run_crawl(settings, sources=["appstore"]).source("appstore")
    finally:
        release.set()
    assert second.status == "skipped" and (second.new, second.updated, second.pages) == (0, 0, 0)
    assert sum(1 for r in replay.requests if "page=1/" in r.path) == 1  # the skipped crawl asked nothing
    assert any("appstore is already being crawled by crawl " in m for m in second.error_messages)
    done = first.wait(timeout=60).source("appstore")
    assert (done.status, done.new) == ("ok", 50)
