"""The spine end to end: appstore spider → pipelines → SQLite index, through the real Scrapy engine in a
child process against the loopback replay server."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

from datetime import timedelta
from pathlib import Path

import pytest

from classifier import make_tokenizer
from crawlers.replay import Reply
from crawlers.replay_data import appstore_feed, review_entry, serve_appstore_reviews
from crawlers.runner import run_crawl, start_crawl
from crawlers.state import CrawlState
from index import open_index

REPO = Path(__file__).resolve().parents[2]
PAGES = REPO / "tests" / "fixtures" / "pages"
APP = "1600000001"
REVIEWS = f"/cn/rss/customerreviews/page={{}}/id={APP}/sortby=mostrecent/json"


@pytest.fixture
def docs(stored_docs):
    return stored_docs


def test_appstore_crawl_indexes_full_documents(crawl_settings, replay, docs):
    ids = serve_appstore_reviews(replay, APP, 120)
    replay.add("/lookup", query={"id": APP}, body=PAGES / "appstore" / "lookup.json", content_type="application/json")
    settings = crawl_settings()
    report = run_crawl(settings, sources=["appstore"])
    run = report.source("appstore")
    assert (run.status, run.new, run.updated, run.errors) == ("ok", 120, 0, 0), report.format()
    assert run.pages == 4  # 50 + 50 + 20, then the empty page 4 ends the walk
    assert any(r.path == "/lookup" and r.query == {"id": APP, "country": "cn"} for r in replay.requests)
    assert "app 1600000001: " in report.log_path.read_text(encoding="utf-8")  # the app's metadata was read
    stored = docs(settings)
    assert sorted(d["source_id"] for d in stored.values()) == sorted(ids)
    doc = next(d for d in stored.values() if d["source_id"] == ids[0])
    assert doc["source"] == "appstore" and doc["product"] == "qingji" and doc["kind"] == "review"
    assert doc["created_at"] == "2026-11-24T02:00:00Z" and doc["crawled_at"].endswith("Z")
    assert doc["text"].startswith("更新之后一直闪退") and " " in doc["tokens"] and "闪退" in doc["tokens"].split()
    assert doc["sentiment"] in ("negative", "neutral", "positive") and 0 < doc["sentiment_score"] <= 1
    assert doc["intent"] and doc["model_version"].startswith("rules")
    assert doc["rating"] == 1 and doc["app_version"] == "3.1.9" and doc["platform"] == "ios"
    with CrawlState(settings.resolve(settings.crawl.state_path)) as state:
        assert state.cursor("appstore", APP) == datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
        assert not state.is_locked("appstore")


def test_recrawl_updates_counters_and_stops_at_cursor(crawl_settings, replay, docs):
    votes = {"n": 0}
    serve_appstore_reviews(replay, APP, 120)
    # Page 1 is served by a handler whose vote counts change between runs (it is put first).
    newest = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)

    def page1(_req):
        entries = [review_entry(n, when=newest - timedelta(minutes=7 * n), likes=votes["n"] + n) for n in range(50)]
        return Reply(200, appstore_feed(entries), {"Content-Type": "application/json"})

    replay.add_handler(REVIEWS.format(1), page1, query={})
    replay.routes.insert(0, replay.routes.pop())
    settings = crawl_settings()
    first = run_crawl(settings, sources=["appstore"]).source("appstore")
    assert (first.new, first.updated) == (120, 0)
    before = len(replay.requests)
    votes["n"] = 1000
    second = run_crawl(settings, sources=["appstore"]).source("appstore")
    # Page 1 reaches the cursor: no further pages, its 50 items re-upserted with the new counters.
    assert (second.status, second.pages, second.new, second.updated) == ("ok", 1, 0, 50)
    assert [r.path for r in replay.requests[before:] if "/rss/" in r.path] == [REVIEWS.format(1)]
    stored = docs(settings)
    assert len(stored) == 120
    assert max(d["likes"] for d in stored.values()) == 1049
    # --since overrides the cursor and walks every page again, still without duplicates.
    third = run_crawl(settings, sources=["appstore"], since="3650d").source("appstore")
    assert (third.pages, third.new, third.updated) == (4, 0, 120)
    assert len(docs(settings)) == 120


def test_feed_limits_single_entry_empty_and_depth(crawl_settings, replay, docs):
    serve_appstore_reviews(replay, APP, 500)  # ten full pages: the walk stops at page 10, never asking for page 11
    single = "1600000002"
    replay.add(f"/cn/rss/customerreviews/page=1/id={single}/sortby=mostrecent/json",
               body=PAGES / "appstore" / "reviews_page10_single.json", content_type="application/json")
    replay.add(f"/cn/rss/customerreviews/page=2/id={single}/sortby=mostrecent/json",
               body=PAGES / "appstore" / "reviews_empty.json", content_type="application/json")
    empty = "1600000003"
    replay.add(f"/cn/rss/customerreviews/page=1/id={empty}/sortby=mostrecent/json",
               body=PAGES / "appstore" / "reviews_empty.json", content_type="application/json")
    products = [{"id": "qingji", "name": "轻记", "appstore": {"app_ids": [APP, single, empty]}}]
    settings = crawl_settings(products=products)
    run = run_crawl(settings, sources=["appstore"]).source("appstore")
    assert (run.status, run.new) == ("ok", 501), run
    paths = [r.path for r in replay.requests]
    assert REVIEWS.format(10) in paths and REVIEWS.format(11) not in paths
    assert sum(1 for d in docs(settings).values() if d["source_id"] and d["url"] and "1600000002" not in d["url"]) >= 500


def test_truncated_and_non_json_pages_are_counted_not_fatal(crawl_settings, replay):
    serve_appstore_reviews(replay, APP, 60)
    body = (PAGES / "appstore" / "reviews_page1.json").read_bytes()
    replay.add(REVIEWS.format(2), body=body, truncate_at=len(body) // 2, content_type="application/json", query={})
    replay.routes.insert(0, replay.routes.pop())
    other = "1600000009"
    replay.add(f"/cn/rss/customerreviews/page=1/id={other}/sortby=mostrecent/json", body="<html>maintenance</html>",
               content_type="text/html")
    settings = crawl_settings(products=[{"id": "qingji", "name": "轻记", "appstore": {"app_ids": [APP, other]}}])
    run = run_crawl(settings, sources=["appstore"]).source("appstore")
    assert run.new == 50 and run.status == "ok"
    assert run.dropped.get("not_json", 0) + run.dropped.get("bad_json", 0) >= 1, run.dropped
    assert run.errors >= 1
    with CrawlState(settings.resolve(settings.crawl.state_path)) as state:
        assert state.cursor("appstore", APP) is None  # the walk broke off: the cursor stays put
        assert state.cursor("appstore", other) is None


def test_lone_surrogate_escape_in_a_review_is_replaced_and_its_page_indexed(crawl_settings, replay, docs):
    # "\\ud800" alone is valid JSON but no UTF-8 text: the segmenter (and SQLite) refused it, and the review
    # was lost; the page's other reviews are indexed either way
    now = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    entries = [review_entry(n, when=now - timedelta(minutes=n), text=t)
               for n, t in enumerate(["闪退了 MARK 怎么办", "登录不上", "😀好用"])]
    body = appstore_feed(entries).replace(b"MARK", b"\\ud800").replace("😀".encode(), b"\\ud83d\\ude00")
    replay.add(REVIEWS.format(1), body=body, content_type="application/json")
    replay.add(REVIEWS.format(2), body=PAGES / "appstore" / "reviews_empty.json", content_type="application/json")
    settings = crawl_settings()
    run = run_crawl(settings, sources=["appstore"]).source("appstore")
    assert (run.status, run.new, run.errors) == ("ok", 3, 0), run
    texts = sorted(d["text"] for d in docs(settings).values())
    assert texts == ["登录不上", "闪退了 \ufffd 怎么办", "😀好用"]  # an escaped pair stays the emoji


def test_cursor_not_advanced_when_indexing_fails(crawl_settings, replay, tmp_path):
    serve_appstore_reviews(replay, APP, 80)
    settings = crawl_settings()
    # A real SQLite failure: create the index, then make every insert into it abort.
    index = open_index(settings.index, home=settings.home, tokenizer=make_tokenizer(settings), secrets=settings.secrets)
    index.close()
    db = sqlite3.connect(settings.sqlite_path())
    db.execute("CREATE TRIGGER fail_insert BEFORE INSERT ON feedback BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    db.commit()
    run = run_crawl(settings, sources=["appstore"]).source("appstore")
    assert run.status == "failed" and run.new == 0
    assert run.dropped.get("index_failed") == 80
    failures = [m for m in run.error_messages if m.startswith("index upsert failed") and "disk full" in m]
    assert len(failures) == run.errors == 2  # one per failed batch (64 + 16 items), not one per item
    with CrawlState(settings.resolve(settings.crawl.state_path)) as state:
        assert state.cursor("appstore", APP) is None
    db.execute("DROP TRIGGER fail_insert")
    db.commit()
    db.close()
    again = run_crawl(settings, sources=["appstore"]).source("appstore")
    assert (again.status, again.new) == ("ok", 80)
    with CrawlState(settings.resolve(settings.crawl.state_path)) as state:
        assert state.cursor("appstore", APP) is not None


def test_scrapy_crawl_command_exports_raw_items(crawl_settings, replay, tmp_path, docs):
    import os
    import subprocess
    import sys

    serve_appstore_reviews(replay, APP, 30)
    settings = crawl_settings()
    out = tmp_path / "items.jsonl"
    env = {**os.environ, "VOC_CONFIG_DIR": str(settings.config_dir), "VOC_HOME": str(settings.home),
           "VOC_CLASSIFIER_MODEL": "rules"}
    proc = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "appstore", "-a", "product=qingji", "-a", "since=3650d",
                           "-O", str(out)], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 30
    assert set(rows[0]) >= {"source", "source_id", "product", "target", "text", "created_at", "rating"}
    assert "doc" not in rows[0] and "digest" not in rows[0] and rows[0]["product"] == "qingji"
    assert len(docs(settings)) == 30
    # counted as items leave the last pipeline (crawlers.pipelines.ItemPipelines), not per item_scraped signal
    assert "'item_scraped_count': 30," in proc.stderr


def test_transient_errors_retry_with_backoff(crawl_settings, replay):
    import time as _time

    serve_appstore_reviews(replay, APP, 40)
    seen = []
    body = appstore_feed([review_entry(n, when=datetime(2026, 11, 24, 2, 0, tzinfo=UTC) - timedelta(minutes=n)) for n in range(40)])

    def flaky(_req):
        seen.append(_time.monotonic())
        if len(seen) <= 2:
            return Reply(503, b"<html>busy</html>", {"Content-Type": "text/html"})
        return Reply(200, body, {"Content-Type": "application/json"})

    replay.add_handler(REVIEWS.format(1), flaky)
    replay.routes.insert(0, replay.routes.pop())
    settings = crawl_settings(crawl={"retry_times": 3, "retry_backoff_base": 0.3})
    run = run_crawl(settings, sources=["appstore"]).source("appstore")
    assert (run.status, run.new, run.errors) == ("ok", 40, 0)
    assert len(seen) == 3
    assert seen[1] - seen[0] >= 0.3 and seen[2] - seen[1] >= 0.6  # 0.3 · 2^n


def test_oversized_page_is_dropped_with_a_reason(crawl_settings, replay):
    serve_appstore_reviews(replay, APP, 10)
    huge = "2000000001"
    big = appstore_feed([review_entry(n, when=datetime(2026, 11, 24, tzinfo=UTC), text="很长的评论" * 400) for n in range(20)])
    replay.add(f"/cn/rss/customerreviews/page=1/id={huge}/sortby=mostrecent/json", body=big, content_type="application/json")
    settings = crawl_settings(crawl={"max_page_bytes": 16_384},
                              products=[{"id": "qingji", "name": "轻记", "appstore": {"app_ids": [APP, huge]}}])
    run = run_crawl(settings, sources=["appstore"]).source("appstore")
    assert len(big) > 16_384
    assert run.new == 10 and run.dropped.get("too_large") == 1 and run.errors == 1, run
    with CrawlState(settings.resolve(settings.crawl.state_path)) as state:
        assert state.cursor("appstore", APP) is not None and state.cursor("appstore", huge) is None


def test_missing_model_fails_the_crawl_with_its_reason_and_keeps_the_cursor(crawl_settings, replay, docs):
    from configs import load_settings

    serve_appstore_reviews(replay, APP, 30)
    base = crawl_settings()
    settings = load_settings(base.config_dir, env={"VOC_HOME": str(base.home), "VOC_CLASSIFIER_MODEL": "models/missing"})
    run = run_crawl(settings, sources=["appstore"]).source("appstore")
    assert run.status == "failed" and run.new == 0 and run.dropped == {"classify_failed": 30}
    assert run.errors == 1 and "ModelLoadError" in run.error_messages[0] and "models/missing" in run.error_messages[0]
    with CrawlState(settings.resolve(settings.crawl.state_path)) as state:
        assert state.cursor("appstore", APP) is None


def test_classifier_in_a_worker_process_tags_like_in_process(crawl_settings, replay, docs, tmp_path):
    serve_appstore_reviews(replay, APP, 70)
    here = crawl_settings(root=tmp_path / "thread", crawl={"classify_in": "thread"})
    there = crawl_settings(root=tmp_path / "process", crawl={"classify_in": "process"})
    for settings in (here, there):
        job = start_crawl(settings, sources=["appstore"])
        assert (job.worker is not None) == (settings is there)  # started beside the crawl process, for it
        run = job.wait().source("appstore")
        assert (run.status, run.new, run.errors) == ("ok", 70, 0), run
    assert job.worker.wait(timeout=30) is not None  # and gone once the crawl is

    def tags(settings):
        return {i: (d["sentiment"], d["sentiment_score"], d["intent"], d["topics"], d["risk"], d["model_version"])
                for i, d in docs(settings).items()}

    assert tags(here) == tags(there) and len(tags(there)) == 70


def test_a_classifier_worker_that_dies_fails_the_crawl_with_its_reason_instead_of_hanging(crawl_settings, replay):
    serve_appstore_reviews(replay, APP, 30)
    settings = crawl_settings(crawl={"classify_in": "process"})
    job = start_crawl(settings, sources=["appstore"])
    job.worker.kill()  # gone before the crawl process could use it
    run = job.wait(timeout=120).source("appstore")
    assert run.status == "failed" and run.new == 0 and run.dropped == {"classify_failed": 30}
    assert run.errors == 1 and "classifier worker" in run.error_messages[0], run.error_messages
    with CrawlState(settings.resolve(settings.crawl.state_path)) as state:
        assert state.cursor("appstore", APP) is None


def test_a_corrected_document_keeps_its_labels_when_crawled_again(crawl_settings, replay, docs):
    from classifier.corrections import open_store

    votes = {"n": 0}
    newest = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)

    def page1(_req):
        entries = [review_entry(n, when=newest - timedelta(minutes=7 * n), likes=votes["n"] + n) for n in range(10)]
        return Reply(200, appstore_feed(entries), {"Content-Type": "application/json"})

    replay.add_handler(REVIEWS.format(1), page1, query={})
    settings = crawl_settings()
    run_crawl(settings, sources=["appstore"])
    before = docs(settings)
    target = max(before.values(), key=lambda d: d["likes"])  # a review of page 1, re-crawled below
    other = next(d for d in before.values() if d["id"] != target["id"])
    flipped = "positive" if target["sentiment"] == "negative" else "negative"
    with open_store(settings) as store:  # what `voc label ID sentiment=… risk=media_threat` stores
        store.add(target["id"], text=target["text"], sentiment=flipped, risk=("media_threat",))
    votes["n"] = 500
    again = run_crawl(settings, sources=["appstore"]).source("appstore")
    assert again.updated == 10
    after = docs(settings)
    kept = after[target["id"]]
    assert kept["likes"] == target["likes"] + 500  # the crawl's new counters …
    assert (kept["sentiment"], kept["sentiment_score"], kept["risk"]) == (flipped, 1.0, ["media_threat"])  # … the person's labels
    assert after[other["id"]]["sentiment"] == other["sentiment"] and after[other["id"]]["risk"] == other["risk"]
