"""SQLite histograms equal counting the documents themselves, on every path: the hourly rollups summed per
hour and value (``pivot_keys``), the rollups sorted by bucket and value (``pivot_keys = 0``, and a group with
more values than ``pivot_keys``), partial edge hours, 15-minute buckets regrouped across a DST change, zones
with half-hour offsets, multi-valued topics, filters, after moves, relabels and deletes (rollup rows at 0).

The reference is plain Python over the documents as written (no SQL, no rollups), so a wrong bucket, a
missing or extra value, or a count off by one fails.
"""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from index import Filters, SqliteIndex
from tests.helpers import simple_tokenizer

#: Four days before and three after New York leaves daylight saving time (2026-11-01 06:00 UTC).
BASE = datetime(2026, 10, 28, 0, 0, tzinfo=timezone.utc)
DAYS = 7
GROUPS = (None, "sentiment", "source", "product", "app_version", "rating", "intent", "platform", "topics")
FILTERS = ({}, {"product": ("p1",)}, {"source": ("appstore", "weibo"), "sentiment": ("negative",)},
           {"topic": ("t2",)}, {"rating": (1, 5)}, {"intent": ("bug",)}, {"product": ("p2",), "topic": ("t1", "t4")})


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def corpus(n: int = 700, seed: int = 11) -> dict[str, dict]:
    rnd = random.Random(seed)
    docs = {}
    for i in range(n):
        store = rnd.random() < 0.45
        # most documents inside the week, a few just around its ends and around midnight in Shanghai / UTC
        if i % 9 == 0:
            day = rnd.randrange(DAYS + 1)
            created = BASE + timedelta(days=day, hours=rnd.choice((-8, 0, 16)), seconds=rnd.randrange(-90, 90))
        else:
            created = BASE + timedelta(seconds=rnd.randrange(DAYS * 86400))
        docs[f"d{i}"] = {
            "id": f"d{i}", "text": "w", "tokens": "w",
            "source": rnd.choice(("appstore", "huawei")) if store else rnd.choice(("weibo", "zhihu", "tieba")),
            "product": rnd.choice(("p1", "p2", "p3", None)),
            "sentiment": rnd.choice(("negative", "positive", "neutral", None)),
            "intent": rnd.choice(("bug", "praise", "question")), "platform": rnd.choice(("ios", "android", None)),
            "rating": rnd.choice((1, 2, 3, 5)) if store else None,
            "app_version": rnd.choice(("1.0", "1.1", "2.0", "2.0.1")) if store else None,
            "topics": rnd.sample(["t1", "t2", "t3", "t4", "t5"], rnd.choice((0, 1, 1, 2, 3))),
            "created_at": _stamp(created) if i % 50 else None,  # a few undated: never in a bucket
        }
    return docs


def expected(docs: dict[str, dict], filters: dict, group_by: str | None, lo: int, hi: int, zone: ZoneInfo,
             interval: str) -> Counter:
    out: Counter = Counter()
    for d in docs.values():
        if not d["created_at"]:
            continue
        ts = int(datetime.fromisoformat(d["created_at"].replace("Z", "+00:00")).timestamp())
        if not lo <= ts < hi:
            continue
        if any(not set(d["topics"]) & set(v) if k == "topic" else d[k] not in v for k, v in filters.items()):
            continue
        local = datetime.fromtimestamp(ts, zone)
        if interval == "day":
            local = datetime(local.year, local.month, local.day, tzinfo=zone)
        else:
            local = local.replace(minute=0, second=0)
        values = [None] if group_by is None else d["topics"] if group_by == "topics" else [d[group_by]]
        for v in values:
            if group_by is None or v is not None:
                out[(int(local.timestamp()), None if v is None else str(v))] += 1
    return out


def got(ix: SqliteIndex, filters: dict, group_by: str | None, lo: int, hi: int, tz: str, interval: str) -> Counter:
    buckets = ix.histogram(Filters(**filters), interval=interval, tz=tz, group_by=group_by,
                           start=datetime.fromtimestamp(lo, timezone.utc), end=datetime.fromtimestamp(hi, timezone.utc))
    assert all(b.count >= 0 for b in buckets)
    assert all(b.start.tzinfo is not None and b.start.utcoffset() == ZoneInfo(tz).utcoffset(b.start.replace(tzinfo=None))
               for b in buckets)
    return Counter({(int(b.start.timestamp()), b.key): b.count for b in buckets if b.count})


def edit(ix: SqliteIndex, docs: dict[str, dict], seed: int = 5) -> None:
    """Move documents in time, relabel them, delete some: the rollups keep rows whose count fell to 0."""
    rnd = random.Random(seed)
    ids = sorted(docs)
    moved = []
    for i in rnd.sample(ids, 120):
        d = dict(docs[i], sentiment=rnd.choice(("negative", "neutral")), topics=rnd.sample(["t1", "t3"], 1),
                 product="p2", created_at=_stamp(BASE + timedelta(seconds=rnd.randrange(DAYS * 86400))))
        docs[i] = d
        moved.append(d)
    ix.upsert(moved)
    gone = rnd.sample(sorted(set(ids) - {d["id"] for d in moved}), 60)
    ix.delete(gone)
    for i in gone:
        del docs[i]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    docs = corpus()
    path = tmp_path_factory.mktemp("hist") / "h.db"
    with SqliteIndex(path, tokenizer=simple_tokenizer) as ix:
        ix.upsert(list(docs.values()))
        edit(ix, docs)
        yield ix, docs, path


RANGES = {
    "whole hours": (int((BASE + timedelta(hours=3)).timestamp()), int((BASE + timedelta(days=6, hours=5)).timestamp())),
    "partial edge hours": (int((BASE + timedelta(hours=7, minutes=41, seconds=13)).timestamp()),
                           int((BASE + timedelta(days=5, hours=22, minutes=9)).timestamp())),
    "beyond the data": (int((BASE - timedelta(days=2)).timestamp()), int((BASE + timedelta(days=DAYS + 2)).timestamp())),
}


@pytest.mark.parametrize("pivot_keys", [16, 0], ids=["per-hour sums", "sorted rollup rows"])
@pytest.mark.parametrize("tz", ["Asia/Shanghai", "UTC", "America/New_York", "Asia/Kolkata"])
@pytest.mark.parametrize("span", list(RANGES))
def test_histograms_equal_counting_the_documents(indexed, pivot_keys, tz, span):
    ix, docs, _ = indexed
    ix.pivot_keys = pivot_keys
    try:
        lo, hi = RANGES[span]
        zone = ZoneInfo(tz)
        for interval in ("hour", "day"):
            for group_by in GROUPS:
                for filters in FILTERS:
                    want = expected(docs, filters, group_by, lo, hi, zone, interval)
                    assert got(ix, filters, group_by, lo, hi, tz, interval) == want, (interval, group_by, filters)
    finally:
        ix.pivot_keys = type(ix).pivot_keys


def test_grouped_histograms_are_read_from_the_rollups_summed_per_hour(tmp_path):
    """A count written straight into a rollup shows in its bucket and value: the rollup path answered (the
    equality test above then covers it), and a value the range holds only at count 0 stays out."""
    docs = corpus(200, seed=3)
    with SqliteIndex(tmp_path / "r.db", tokenizer=simple_tokenizer) as ix:
        ix.upsert(list(docs.values()))
        lo, hi = RANGES["whole hours"]
        hour = (lo + 86400) // 3600
        before = got(ix, {}, "sentiment", lo, hi, "UTC", "day")
        raw = sqlite3.connect(tmp_path / "r.db")
        raw.execute("INSERT INTO feedback_hourly VALUES (?, 'p1', 'weibo', 'positive', 7) "
                    "ON CONFLICT DO UPDATE SET n = n + 7", (hour,))
        raw.execute("INSERT INTO feedback_hourly VALUES (?, 'p1', 'weibo', 'neutral', 0) "
                    "ON CONFLICT DO NOTHING", (hour + 24,))
        raw.commit()
        raw.close()
        after = got(ix, {}, "sentiment", lo, hi, "UTC", "day")
        day = hour * 3600 // 86400 * 86400
        assert after - before == Counter({(day, "positive"): 7})
        assert before - after == Counter()


@pytest.mark.parametrize("pivot_keys", [16, 0])
def test_grouping_by_a_field_no_document_has_gives_no_series(tmp_path, pivot_keys):
    docs = {i: dict(d, app_version=None, rating=None) for i, d in corpus(50, seed=2).items()}
    with SqliteIndex(tmp_path / "e.db", tokenizer=simple_tokenizer) as ix:
        ix.pivot_keys = pivot_keys
        ix.upsert(list(docs.values()))
        lo, hi = RANGES["partial edge hours"]
        for group_by in ("app_version", "rating"):
            assert got(ix, {}, group_by, lo, hi, "Asia/Shanghai", "day") == Counter()
        assert sum(got(ix, {}, None, lo, hi, "Asia/Shanghai", "day").values()) == \
            sum(expected(docs, {}, None, lo, hi, ZoneInfo("Asia/Shanghai"), "day").values()) > 0
