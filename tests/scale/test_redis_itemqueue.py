"""The item stream: an entry nobody can read is dead-lettered with its reason, and never blocks the others."""

from __future__ import annotations

import json
import threading

from crawlers.frontier import Keys
from crawlers.itemqueue import ensure_group, queue_drained, run_tag_worker


def doc(i: int) -> dict:
    return {"id": f"d{i:019d}", "source": "appstore", "source_id": str(i), "url": "", "parent_id": None,
            "product": "qingji", "kind": "review", "title": "", "text": "更新之后一直闪退，根本打不开",
            "raw_text": "更新之后一直闪退", "tokens": "更新 之后 一直 闪退", "author_id": None, "author_name": None,
            "created_at": "2026-11-24T02:00:00Z", "crawled_at": "2026-11-24T02:00:00Z", "rating": 1,
            "app_version": None, "platform": None, "likes": 0, "replies": 0, "reposts": 0, "sentiment": None,
            "sentiment_score": None, "intent": None, "topics": [], "risk": [], "dup_of": None, "model_version": None}


def test_unreadable_entries_are_dead_lettered_and_the_rest_indexed(crawl_settings, stored_docs, redis_server):
    settings = crawl_settings()
    client = redis_server.client()
    ensure_group(client, "voc")
    entries = [{"doc": json.dumps(doc(1)), "round": "r1", "source": "appstore", "target": "app", "created": "1764122400"},
               {"doc": "{not json", "round": "r1", "source": "appstore", "target": "app", "created": ""},
               {"doc": json.dumps({"no": "id"}), "round": "r1", "source": "appstore", "target": "app", "created": ""},
               {"doc": json.dumps(doc(2)), "round": "r1", "source": "appstore", "target": "app", "created": "1764122460"}]
    for e in entries:
        client.xadd("voc:items", e)
    stop = threading.Event()
    stats = run_tag_worker(settings, redis_server.url, stop=stop, idle_exit=1.0, block_ms=200)
    assert (stats.indexed, stats.dead) == (2, 2)
    docs = stored_docs(settings)
    assert sorted(docs) == [doc(1)["id"], doc(2)["id"]] and all(d["sentiment"] == "negative" for d in docs.values())
    dead = client.xrange("voc:items:dead")
    assert [f[b"reason"].decode().split(":")[0] for _, f in dead] == ["unreadable", "unreadable"]
    assert queue_drained(client, "voc")
    assert client.zscore(Keys("voc", "r1").marks, "appstore\tapp") == 1764122460  # the target's newest indexed
