"""Reposts: identical text under another id is linked with ``dup_of`` to the first document that had it —
in the same run, and in a later run (the crawl state remembers the texts of indexed documents)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crawlers.replay_data import PAGE_DEPTH_TEXT, appstore_feed, review_entry, reviews_path
from crawlers.runner import run_crawl

NEWEST = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
COPIED = "更新到3.2.0以后一打开就闪退，客服也联系不上，大家别更新！"


def serve(replay, app_id: str, texts: dict[int, str]) -> None:
    entries = [review_entry(n, when=NEWEST - timedelta(minutes=7 * i), text=t, app_id=app_id)
               for i, (n, t) in enumerate(texts.items())]
    replay.add(reviews_path(app_id, 1), body=appstore_feed(entries), content_type="application/json; charset=utf-8")
    for page in range(2, 12):
        replay.add(reviews_path(app_id, page), body=appstore_feed([]) if page < 11 else PAGE_DEPTH_TEXT,
                   content_type="application/json; charset=utf-8" if page < 11 else "text/plain")


def by_source_id(docs: dict) -> dict[str, dict]:
    return {d["source_id"]: d for d in docs.values()}


def test_a_repost_is_linked_to_the_first_post_in_the_same_run_and_in_later_runs(crawl_settings, replay, stored_docs):
    serve(replay, "1600000001", {1: COPIED, 2: "界面很清爽，同步也快，好评", 3: "  " + COPIED + "!!"})
    serve(replay, "1600000002", {11: COPIED.replace("，", " "), 12: "希望增加夜间模式，晚上看着刺眼"})
    products = [{"id": "demo", "name": "演示银行", "appstore": {"app_ids": ["1600000001"]}}]
    first = crawl_settings(products=products)
    assert run_crawl(first, sources=["appstore"]).source("appstore").status == "ok"
    docs = by_source_id(stored_docs(first))
    original = docs["7000000001"]
    assert original["dup_of"] is None and docs["7000000002"]["dup_of"] is None
    assert docs["7000000003"]["dup_of"] == original["id"]  # same words, other spaces and punctuation

    # a later run, another target: the repost links to the first run's post
    products[0]["appstore"]["app_ids"].append("1600000002")
    later = crawl_settings(products=products)
    assert run_crawl(later, sources=["appstore"]).source("appstore").status == "ok"
    docs = by_source_id(stored_docs(later))
    assert docs["7000000011"]["dup_of"] == original["id"]
    assert docs["7000000012"]["dup_of"] is None
    assert docs["7000000001"]["dup_of"] is None  # the original, seen again, is not its own duplicate


def test_another_product_with_the_same_text_is_not_a_repost(crawl_settings, replay, stored_docs):
    serve(replay, "1600000001", {1: COPIED})
    serve(replay, "1600000002", {2: COPIED})
    products = [{"id": "demo", "name": "演示银行", "appstore": {"app_ids": ["1600000001"]}},
                {"id": "other", "name": "别的产品", "appstore": {"app_ids": ["1600000002"]}}]
    settings = crawl_settings(products=products)
    assert run_crawl(settings, sources=["appstore"], product="demo").source("appstore").status == "ok"
    assert run_crawl(settings, sources=["appstore"], product="other").source("appstore").status == "ok"
    docs = by_source_id(stored_docs(settings))
    assert docs["7000000001"]["dup_of"] is None and docs["7000000002"]["dup_of"] is None
