"""Benchmark the SQLite index at scale: 1,000,000 documents built from real Chinese review sentences.

    .venv/bin/python bench/index.py --data ../shared/data [--docs 1000000] [--db /tmp/voc-bench.db]

Prints upserts/s, p50/p95 latency of 20 typical searches and of 20 hourly histograms over 30 days, and
the database size — each against its target (≥ 5,000 upserts/s, search p95 ≤ 50 ms, histogram p95 ≤
100 ms) and as a ratio against a peer measured in the same run on the same data:

* upserts: plain ``INSERT`` of the same rows into a bare table (no FTS, no indexes, no triggers);
* search: the naive way, ``text LIKE '%word%'`` for each word (a full scan) on the same database;
* histogram: the naive way, ``strftime`` on the ISO ``created_at`` string with ``GROUP BY``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from configs.web import WebSettings  # noqa: E402
from app.progress import reporter_for  # noqa: E402
from index import Filters, SqliteIndex, parse_query  # noqa: E402

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
PRODUCTS = ("phone", "pad", "shop")
SOURCES = ("appstore", "huawei", "weibo", "zhihu", "tieba", "heimao", "v2ex")
CATEGORY_TOPIC = {"书籍": "content", "平板": "device", "手机": "device", "水果": "quality", "洗发水": "quality",
                  "热水器": "install", "蒙牛": "quality", "衣服": "size", "计算机": "performance"}
EXTRA_TOPICS = ("logistics", "service", "price", "login", "crash", "billing")

SEARCHES = [
    "质量", "物流", "客服", "退货", "电池", "屏幕", "包装", "快递 很快", "不错 质量", '"性价比 高"',
    "质量 product:phone", "客服 sentiment:negative", "退货 since:7d", "物流 source:weibo,tieba",
    "屏幕 topic:device sentiment:negative", "电池 rating:1,2", "product:pad sentiment:negative since:3d",
    "发货 慢 sort:time", "味道 好吃 since:14d", "售后 服务 product:shop topic:service",
]
HISTOGRAMS = [
    ({}, None), ({"product": ("phone",)}, None), ({"topic": ("crash",)}, None), ({"sentiment": ("negative",)}, None),
    ({"source": ("weibo",)}, None), ({}, "sentiment"), ({}, "source"), ({"product": ("pad",)}, "sentiment"),
    ({"topic": ("login",)}, None), ({"product": ("shop",), "sentiment": ("negative",)}, None),
    ({}, "topics"), ({"product": ("phone",)}, "topics"), ({"intent": ("bug",)}, None), ({"rating": (1,)}, None),
    ({"risk": ("viral",)}, None), ({"source": ("appstore",)}, "app_version"), ({"topic": ("service",)}, "product"),
    ({"platform": ("ios",)}, None), ({"product": ("pad",), "topic": ("device",)}, None), ({}, "product"),
]


def load_sentences(data: Path, limit: int = 80_000) -> list[tuple[str, str, int]]:
    rows: list[tuple[str, str, int]] = []
    with open(data / "online_shopping_10_cats.csv", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            text = (r.get("review") or "").replace("\ufeff", "").strip()
            if text:
                rows.append((text[:300], r["cat"], int(r["label"])))
    with open(data / "waimai_10k.csv", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            text = (r.get("review") or "").strip()
            if text:
                rows.append((text[:300], "外卖", int(r["label"])))
    return rows[:limit]


def make_docs(n: int, sentences, tokens) -> list[dict]:
    rnd = random.Random(42)
    span = 30 * 86400
    docs = []
    m = len(sentences)
    for i in range(n):
        a, b = rnd.randrange(m), rnd.randrange(m)
        text_a, cat, label = sentences[a]
        text = text_a if i < m else text_a + " " + sentences[b][0][:60]
        toks = tokens[a] if i < m else tokens[a] + " " + tokens[b]
        ts = NOW - timedelta(seconds=rnd.randrange(span))
        source = SOURCES[i % len(SOURCES)]
        topics = [CATEGORY_TOPIC.get(cat, "taste")]
        if rnd.random() < 0.4:
            topics.append(EXTRA_TOPICS[rnd.randrange(len(EXTRA_TOPICS))])
        sentiment = "positive" if label else ("negative" if rnd.random() < 0.8 else "neutral")
        docs.append({
            "id": f"b{i:08d}", "source": source, "source_id": str(i), "url": f"https://example.com/{i}",
            "product": PRODUCTS[i % 3], "kind": "review" if source in ("appstore", "huawei") else "post",
            "text": text, "tokens": toks, "created_at": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "crawled_at": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "rating": (5 if label else rnd.choice((1, 2, 3))) if source in ("appstore", "huawei") else None,
            "app_version": f"5.{rnd.randrange(4)}.0" if source in ("appstore", "huawei") else None,
            "platform": rnd.choice(("ios", "android", "web")), "likes": rnd.randrange(50), "replies": rnd.randrange(10),
            "reposts": rnd.randrange(5), "sentiment": sentiment, "sentiment_score": 0.5 + rnd.random() / 2,
            "intent": rnd.choice(("bug", "feature_request", "question", "service_complaint", "praise", "other")),
            "topics": topics, "risk": ["viral"] if rnd.random() < 0.01 else [], "model_version": "bench",
        })
    return docs


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


def line(name: str, value: str, target: str, ok: bool, peer: str) -> None:
    print(f"{name:<28} {value:>14}   target {target:<12} {'PASS' if ok else 'MISS':<5} {peer}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data", help="folder with online_shopping_10_cats.csv, waimai_10k.csv")
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--db", default=None, help="database file (default: a temporary folder, removed afterwards)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per search/histogram (latencies over all runs)")
    args = ap.parse_args()
    data = Path(args.data)
    if not (data / "online_shopping_10_cats.csv").is_file() or not (data / "waimai_10k.csv").is_file():
        print(f"error: no benchmark data in {data.resolve()} (need online_shopping_10_cats.csv and waimai_10k.csv); "
              "pass --data PATH to the shared data folder", file=sys.stderr)
        return 2
    from classifier.normalize import segmenter_for

    tokenizer = segmenter_for(())

    tmp = None
    if args.db is None:
        tmp = tempfile.TemporaryDirectory(prefix="voc-bench-")
        db = Path(tmp.name) / "bench.db"
    else:
        db = Path(args.db)
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
    t0 = time.perf_counter()
    sentences = load_sentences(data)
    tokens = [" ".join(tokenizer(s[0])) for s in sentences]
    docs = make_docs(args.docs, sentences, tokens)
    print(f"built {len(docs):,} docs from {len(sentences):,} real sentences in {time.perf_counter() - t0:.1f}s "
          f"(sqlite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs)")

    ix = SqliteIndex(db, tokenizer=tokenizer)
    t0 = time.perf_counter()
    with reporter_for().task("upsert", total=len(docs), unit="docs") as task:  # stderr; one call per batch
        for i in range(0, len(docs), args.batch):
            ix.upsert(docs[i:i + args.batch])
            task(min(i + args.batch, len(docs)))
    upsert_s = time.perf_counter() - t0
    rate = len(docs) / upsert_s
    # peer: bare INSERT of the same rows into a table with no FTS, no indexes, no triggers
    sample = docs[: min(len(docs), 100_000)]
    peer_db = sqlite3.connect(Path(db).with_name("peer.db"), isolation_level=None)
    peer_db.execute("PRAGMA journal_mode=WAL")
    cols = ("id", "source", "product", "text", "tokens", "created_at", "sentiment", "topics")
    peer_db.execute(f"CREATE TABLE plain ({', '.join(cols)})")
    t0 = time.perf_counter()
    for i in range(0, len(sample), args.batch):
        peer_db.execute("BEGIN")
        peer_db.executemany(f"INSERT INTO plain VALUES ({','.join('?' * len(cols))})",
                            [tuple(str(d[c]) for c in cols) for d in sample[i:i + args.batch]])
        peer_db.execute("COMMIT")
    peer_rate = len(sample) / (time.perf_counter() - t0)
    peer_db.close()
    Path(db).with_name("peer.db").unlink()

    # a fresh process would read from disk: checkpoint so the WAL does not count twice
    ix._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = sum(os.path.getsize(str(db) + s) for s in ("", "-wal") if os.path.exists(str(db) + s))

    # every 5th search also asks for facets, sampled as the web page and API ask for them (web.facet_sample)
    sample = WebSettings().facet_sample
    queries = [dataclasses.replace(
        parse_query(q.replace(" sort:time", ""), now=NOW, sort="time" if "sort:time" in q else "relevance",
                    facets=("sentiment", "topics") if i % 5 == 0 else ()), facet_sample=sample)
        for i, q in enumerate(SEARCHES)]
    search_ms, totals = [], []
    for _ in range(args.repeat):
        for q in queries:
            t0 = time.perf_counter()
            r = ix.search(q)
            search_ms.append((time.perf_counter() - t0) * 1000)
            totals.append(r.total)
    # peer: LIKE scan for each word of the text-only queries (3 of them, once each: a full scan is slow)
    reader = sqlite3.connect(db)
    like_ms = []
    for words in (["质量"], ["客服"], ["快递", "很快"]):
        t0 = time.perf_counter()
        reader.execute("SELECT count(*) FROM feedback WHERE " + " AND ".join("text LIKE ?" for _ in words),
                       [f"%{w}%" for w in words]).fetchone()
        reader.execute("SELECT * FROM feedback WHERE " + " AND ".join("text LIKE ?" for _ in words)
                       + " ORDER BY created_ts DESC LIMIT 20", [f"%{w}%" for w in words]).fetchall()
        like_ms.append((time.perf_counter() - t0) * 1000)

    start = NOW - timedelta(days=30)
    hist_ms = []
    for _ in range(args.repeat):
        for flt, group in HISTOGRAMS:
            t0 = time.perf_counter()
            ix.histogram(Filters(**flt), interval="hour", tz="Asia/Shanghai", group_by=group, start=start, end=NOW)
            hist_ms.append((time.perf_counter() - t0) * 1000)
    naive_ms = []
    for _ in range(2):
        t0 = time.perf_counter()
        reader.execute("SELECT strftime('%Y-%m-%d %H', created_at, '+8 hours') AS h, count(*) FROM feedback "
                       "WHERE created_at >= ? AND product = 'phone' GROUP BY h",
                       [start.strftime("%Y-%m-%dT%H:%M:%SZ")]).fetchall()
        naive_ms.append((time.perf_counter() - t0) * 1000)
    reader.close()
    ix.close()

    load = os.getloadavg()
    print(f"\n{len(docs):,} documents, batches of {args.batch}, synchronous=FULL, WAL; "
          f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} CPUs "
          "(other work on the machine slows every figure alike; the ratios compare within this run)")
    line("upserts/s", f"{rate:,.0f}", "≥ 5,000", rate >= 5000,
         f"vs bare INSERT (no FTS/indexes) {peer_rate:,.0f}/s: ratio {rate / peer_rate:.2f}")
    p50, p95 = pct(search_ms, 50), pct(search_ms, 95)
    line("search p50 / p95 (ms)", f"{p50:.1f} / {p95:.1f}", "p95 ≤ 50", p95 <= 50,
         f"vs LIKE scan median {statistics.median(like_ms):.0f} ms: {statistics.median(like_ms) / p50:.0f}x faster (p50)")
    h50, h95 = pct(hist_ms, 50), pct(hist_ms, 95)
    line("histogram p50 / p95 (ms)", f"{h50:.1f} / {h95:.1f}", "p95 ≤ 100", h95 <= 100,
         f"vs strftime GROUP BY {statistics.median(naive_ms):.0f} ms: {statistics.median(naive_ms) / h50:.0f}x faster (p50)")
    line("database size", f"{size / 2**20:,.0f} MiB", "-", True, f"{size / len(docs):,.0f} bytes/doc")
    slow = sorted(zip(search_ms[: len(queries)], SEARCHES, totals), reverse=True)[:3]
    print(f"searches with facets (every 5th) count the newest {sample:,} matches when more match (web.facet_sample)")
    print("slowest searches (first run): " + "; ".join(f"{q!r} {ms:.0f} ms ({n:,} hits)" for ms, q, n in slow))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
