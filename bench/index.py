"""Benchmark the SQLite index at scale: 1,000,000 documents built from real Chinese review sentences.

    .venv/bin/python bench/index.py --data ../shared/data [--docs 1000000] [--db /tmp/voc-bench.db [--reuse]]

``--reuse`` searches an existing ``--db`` of ``--docs`` documents built from the same data (by this bench or
bench/api.py) instead of building it again (after one untimed pass of the searches, as a build leaves the
file in the page cache); everything but the upsert figures is measured.

Prints upserts/s, p50/p95 latency of 20 typical searches and of 20 hourly histograms over 30 days, and
the database size — each against its target (≥ 5,000 upserts/s, search p95 ≤ 50 ms, histogram p95 ≤
100 ms) and as a ratio against a peer measured in the same run on the same data:

* upserts: plain ``INSERT`` of the same rows into a bare table (no FTS, no indexes, no triggers);
* search: the naive way, ``text LIKE '%word%'`` for each word (a full scan) on the same database;
* histogram: the naive way, ``strftime`` on the ISO ``created_at`` string with ``GROUP BY``.

Sub-word recall (``--recall 200``): 200 random 2–4-character runs of Chinese characters drawn from the
indexed texts, each searched as a free word; the documents the index matches are compared with a
``text LIKE '%…%'`` scan of the same database, which must be found in full (exact recall 100%). Matches
beyond the scan are the documents holding all of the word's jieba tokens apart (the word alternative).

Peer index (``--peer tantivy``, PyPI ``tantivy``): the same documents with the same tokens (the jieba
words and the character bigrams, whitespace-tokenized) in a tantivy index, queried with the same boolean
shape (each word: its tokens, or its bigram phrase), for the text-only searches and the recall words:
its build time, search p50/p95 and match counts beside SQLite's, measured in the same run.

What sub-word recall costs: the 20 searches with this code's match expression and with the whole-word
expression before it, alternating on the same database.

Query cost bound (issue 23, finding 5): how fast the 100 KB repeated-word query is refused, and the p95 of
the ordinary searches while another thread loops over the costliest queries the bound allows.
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
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from configs.web import WebSettings  # noqa: E402
from app.progress import reporter_for  # noqa: E402
from index import Filters, SearchQuery, SqliteIndex, parse_query  # noqa: E402
from index._grams import bigrams, cjk_runs, doc_grams, is_cjk, query_runs  # noqa: E402
from index.query import query_terms  # noqa: E402
from index.sqlite_sql import fts_match_expression  # noqa: E402
from configs.times import format_utc

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
            "text": text, "tokens": toks, "created_at": format_utc(ts),
            "crawled_at": format_utc(NOW),
            "rating": (5 if label else rnd.choice((1, 2, 3))) if source in ("appstore", "huawei") else None,
            "app_version": f"5.{rnd.randrange(4)}.0" if source in ("appstore", "huawei") else None,
            "platform": rnd.choice(("ios", "android", "web")), "likes": rnd.randrange(50), "replies": rnd.randrange(10),
            "reposts": rnd.randrange(5), "sentiment": sentiment, "sentiment_score": 0.5 + rnd.random() / 2,
            "intent": rnd.choice(("bug", "feature_request", "question", "service_complaint", "praise", "other")),
            "topics": topics, "risk": ["viral"] if rnd.random() < 0.01 else [], "model_version": "bench",
        })
    return docs


def draw_substrings(docs: list[dict], n: int, seed: int = 7) -> list[str]:
    """``n`` distinct random 2–4-character runs of Chinese characters, each from a random document's text."""
    rnd = random.Random(seed)
    out: dict[str, None] = {}
    while len(out) < n:
        runs = cjk_runs(docs[rnd.randrange(len(docs))]["text"])
        if not runs:
            continue
        run = runs[rnd.randrange(len(runs))]
        k = rnd.randint(2, min(4, len(run)))
        i = rnd.randrange(len(run) - k + 1)
        out[run[i:i + k]] = None
    return list(out)


def recall_check(ix: SqliteIndex, db: Path, subs: list[str], tokenizer) -> dict:
    """Per substring: the rowids the index's MATCH expression finds and the rowids a LIKE scan finds."""
    conn = sqlite3.connect(db)
    conn.create_function("voc_grams", 2, doc_grams, deterministic=True)
    found_all = like_all = hit = extra = 0
    missed: list[str] = []
    totals: dict[str, int] = {}
    like_s = 0.0
    for sub in subs:
        terms = query_terms(sub, tokenizer)
        found = {r[0] for r in conn.execute("SELECT rowid FROM feedback_fts WHERE feedback_fts MATCH ?",
                                            [fts_match_expression(terms)])}
        t0 = time.perf_counter()
        like = {r[0] for r in conn.execute("SELECT rowid FROM feedback WHERE text LIKE ?", [f"%{sub}%"])}
        like_s += time.perf_counter() - t0
        total = ix.search(SearchQuery(text=sub, limit=0)).total
        assert total == len(found), (sub, total, len(found))  # the search counts exactly these
        totals[sub] = total
        found_all += len(found)
        like_all += len(like)
        hit += len(found & like)
        extra += len(found - like)
        if like - found:
            missed.append(sub)
    conn.close()
    return {"recall": hit / like_all if like_all else 1.0, "like": like_all, "found": found_all, "extra": extra,
            "missed": missed, "totals": totals, "like_ms": like_s * 1000 / max(1, len(subs))}


def tantivy_peer(docs: list[dict], texts: list[str], subs: list[str], tokenizer, repeat: int) -> dict | None:
    """The same documents and tokens in tantivy; latencies of ``texts`` and match counts of ``subs``."""
    try:
        import tantivy
    except ImportError:
        print("(peer skipped: pip install tantivy)")
        return None
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("tokens", stored=False, tokenizer_name="whitespace", index_option="position")
    sb.add_text_field("grams", stored=False, tokenizer_name="whitespace", index_option="position")
    sb.add_integer_field("rid", stored=True, indexed=False)
    schema = sb.build()
    folder = tempfile.TemporaryDirectory(prefix="voc-tantivy-")
    index = tantivy.Index(schema, path=folder.name)
    t0 = time.perf_counter()
    writer = index.writer(heap_size=256_000_000, num_threads=1)  # one thread, as SQLite's one writer
    for i, d in enumerate(docs):
        writer.add_document(tantivy.Document(tokens=d["tokens"], grams=doc_grams(d.get("title"), d["text"]), rid=i))
    writer.commit()
    writer.wait_merging_threads()
    build_s = time.perf_counter() - t0
    index.reload()
    searcher = index.searcher()
    Occur = tantivy.Occur

    def term(field: str, tok: str):
        return tantivy.Query.term_query(schema, field, tok)

    def query_for(text: str):
        musts = []
        for toks, phrase in query_terms(text, tokenizer):
            if phrase and len(toks) > 1:
                words = tantivy.Query.phrase_query(schema, "tokens", toks)
            else:
                words = tantivy.Query.boolean_query([(Occur.Must, term("tokens", t)) for t in dict.fromkeys(toks)])
            runs, others = query_runs(toks)
            alts = [(Occur.Should, words)]
            if not phrase and runs and any(len(t) == 1 and is_cjk(t) for t in toks if t not in others):
                alts = []  # (as SQLite: a run cut into single characters matches as the run only)
            if runs and not (phrase and (len(runs) > 1 or others)):
                parts = []
                for r in dict.fromkeys(runs):
                    grams = bigrams(r)
                    q = term("grams", grams[0]) if len(grams) == 1 else tantivy.Query.phrase_query(schema, "grams", grams)
                    parts.append((Occur.Must, q))
                parts += [(Occur.Must, term("tokens", t)) for t in dict.fromkeys(others)]
                alts.append((Occur.Should, tantivy.Query.boost_query(tantivy.Query.boolean_query(parts), 0.25)))
            musts.append((Occur.Must, tantivy.Query.boolean_query(alts)))
        return tantivy.Query.boolean_query(musts)

    ms = []
    for _ in range(repeat):
        for text in texts:
            t0 = time.perf_counter()
            result = searcher.search(query_for(text), 20, count=True)
            [searcher.doc(addr)["rid"] for _, addr in result.hits]
            ms.append((time.perf_counter() - t0) * 1000)
    counts = {sub: searcher.search(query_for(sub), 1, count=True).count for sub in subs}
    size = sum(f.stat().st_size for f in Path(folder.name).rglob("*") if f.is_file())
    folder.cleanup()
    return {"build_s": build_s, "ms": ms, "counts": counts, "size": size}


def cost_bound(ix: SqliteIndex, docs: list[dict], queries, rounds: int = 3) -> dict:
    """Finding 5 of issue 23: the 100 KB repeated-word query, and the costliest queries the bound allows
    (a pasted 500-character review; 64 frequent words) run in a loop on one thread while the ordinary
    searches run on another; their latencies beside the costly ones."""
    import threading
    from collections import Counter

    from index import QueryError

    t0 = time.perf_counter()
    try:
        ix.search(SearchQuery(text="2 " * 50_000))
        refused = "answered"
    except QueryError as exc:
        refused = type(exc).__name__
    refuse_ms = (time.perf_counter() - t0) * 1000
    common = [w for w, _ in Counter(t for d in docs[:20_000] for t in d["tokens"].split()).most_common(64)]
    pasted = "".join(d["text"] for d in docs[:40])[:500]
    costly = [" ".join(common), pasted, " ".join(common[:32])]
    outcomes: list[tuple[str, float]] = []
    done = threading.Event()

    def hog() -> None:
        while not done.is_set():
            for text in costly:
                t = time.perf_counter()
                try:
                    ix.search(SearchQuery(text=text, facets=("sentiment", "topics")))
                    outcome = "answered"
                except QueryError as exc:
                    outcome = type(exc).__name__
                outcomes.append((outcome, (time.perf_counter() - t) * 1000))

    thread = threading.Thread(target=hog)
    thread.start()
    beside = []
    for _ in range(rounds):
        for q in queries:
            t = time.perf_counter()
            ix.search(q)
            beside.append((time.perf_counter() - t) * 1000)
    done.set()
    thread.join()
    return {"refused": refused, "refuse_ms": refuse_ms, "beside": beside, "costly": outcomes}


def whole_words_peer(ix: SqliteIndex, queries, repeat: int) -> tuple[list[float], list[float]]:
    """What sub-word recall costs: the same searches with this code's match expression and with the one
    before it (each word's tokens only), alternating on the same database. Bench-only: the older expression
    is swapped in for the peer's turns."""
    from index import sqlite_sql
    from index.sqlite_sql import quote_fts

    current = sqlite_sql.term_expression

    def words_only(tokens, phrase):
        words = quote_fts(" ".join(tokens)) if phrase else " AND ".join(quote_fts(t) for t in dict.fromkeys(tokens))
        return f"tokens : ({words})"

    runs: dict[str, list[float]] = {"sub": [], "words": []}
    try:
        for r in range(max(2, repeat)):
            for name in (("sub", "words") if r % 2 == 0 else ("words", "sub")):
                sqlite_sql.term_expression = current if name == "sub" else words_only
                for q in queries:
                    t0 = time.perf_counter()
                    ix.search(q)
                    runs[name].append((time.perf_counter() - t0) * 1000)
    finally:
        sqlite_sql.term_expression = current
    return runs["sub"], runs["words"]


def documents(db: Path) -> int:
    """Documents in the index file ``db`` (0 when it is not an index; bench/api.py reuses this)."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return conn.execute("SELECT count(*) FROM feedback").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def build(ix: SqliteIndex, db: Path, docs: list[dict], batch: int) -> tuple[float, float]:
    """Upsert ``docs`` in batches; ``(upserts/s, the peer's bare INSERTs/s)``."""
    t0 = time.perf_counter()
    with reporter_for().task("upsert", total=len(docs), unit="docs") as task:  # stderr; one call per batch
        for i in range(0, len(docs), batch):
            ix.upsert(docs[i:i + batch])
            task(min(i + batch, len(docs)))
    rate = len(docs) / (time.perf_counter() - t0)
    # peer: bare INSERT of the same rows into a table with no FTS, no indexes, no triggers
    sample = docs[: min(len(docs), 100_000)]
    peer_db = sqlite3.connect(Path(db).with_name("peer.db"), isolation_level=None)
    peer_db.execute("PRAGMA journal_mode=WAL")
    cols = ("id", "source", "product", "text", "tokens", "created_at", "sentiment", "topics")
    peer_db.execute(f"CREATE TABLE plain ({', '.join(cols)})")
    t0 = time.perf_counter()
    for i in range(0, len(sample), batch):
        peer_db.execute("BEGIN")
        peer_db.executemany(f"INSERT INTO plain VALUES ({','.join('?' * len(cols))})",
                            [tuple(str(d[c]) for c in cols) for d in sample[i:i + batch]])
        peer_db.execute("COMMIT")
    peer_rate = len(sample) / (time.perf_counter() - t0)
    peer_db.close()
    Path(db).with_name("peer.db").unlink()
    return rate, peer_rate


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
    ap.add_argument("--reuse", action="store_true",
                    help="search --db as it is when it already holds --docs documents (built by this bench or "
                         "bench/api.py from the same data): no build, so no upsert figures")
    ap.add_argument("--repeat", type=int, default=3, help="runs per search/histogram (latencies over all runs)")
    ap.add_argument("--recall", type=int, default=200, help="random 2–4-character substrings checked against LIKE")
    ap.add_argument("--peer", choices=("tantivy", "none"), default="tantivy", help="peer index over the same tokens")
    args = ap.parse_args()
    data = Path(args.data)
    if not (data / "online_shopping_10_cats.csv").is_file() or not (data / "waimai_10k.csv").is_file():
        print(f"error: no benchmark data in {data.resolve()} (need online_shopping_10_cats.csv and waimai_10k.csv); "
              "pass --data PATH to the shared data folder", file=sys.stderr)
        return 2
    from classifier.normalize import segmenter_for

    tokenizer = segmenter_for(())

    tmp = None
    reuse = False
    if args.db is None:
        tmp = tempfile.TemporaryDirectory(prefix="voc-bench-")
        db = Path(tmp.name) / "bench.db"
    else:
        db = Path(args.db)
        reuse = args.reuse and db.is_file() and documents(db) == args.docs
        if args.reuse and not reuse:
            print(f"{db} does not hold {args.docs:,} documents: building it")
        for suffix in ("", "-wal", "-shm") if not reuse else ():
            Path(str(db) + suffix).unlink(missing_ok=True)
    t0 = time.perf_counter()
    sentences = load_sentences(data)
    tokens = [" ".join(tokenizer(s[0])) for s in sentences]
    docs = make_docs(args.docs, sentences, tokens)
    print(f"built {len(docs):,} docs from {len(sentences):,} real sentences in {time.perf_counter() - t0:.1f}s "
          f"(sqlite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs)")

    ix = SqliteIndex(db, tokenizer=tokenizer)
    rate = peer_rate = 0.0
    if not reuse:
        rate, peer_rate = build(ix, db, docs, args.batch)
        # a fresh process would read from disk: checkpoint so the WAL does not count twice
        ix._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        print(f"searching {db} as it is (--reuse): no upsert figures")
    size = sum(os.path.getsize(str(db) + s) for s in ("", "-wal") if os.path.exists(str(db) + s))

    # every 5th search also asks for facets, sampled as the web page and API ask for them (web.facet_sample)
    sample = WebSettings().facet_sample
    queries = [dataclasses.replace(
        parse_query(q.replace(" sort:time", ""), now=NOW, sort="time" if "sort:time" in q else "relevance",
                    facets=("sentiment", "topics") if i % 5 == 0 else ()), facet_sample=sample)
        for i, q in enumerate(SEARCHES)]
    if reuse:  # a fresh build leaves the index in the page cache; a reused file may not be there yet
        for q in queries:
            ix.search(q)
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
                       [format_utc(start)]).fetchall()
        naive_ms.append((time.perf_counter() - t0) * 1000)
    reader.close()

    # text-only searches (also run by the peer) and the sub-word recall check
    texts = [q for q in SEARCHES if ":" not in q]
    subs = draw_substrings(docs, args.recall) if args.recall else []
    text_ms = []
    for _ in range(args.repeat):
        for text in [*texts, *subs[:20]]:
            t0 = time.perf_counter()
            ix.search(SearchQuery(text=text))
            text_ms.append((time.perf_counter() - t0) * 1000)
    rec = recall_check(ix, db, subs, tokenizer) if subs else None
    cost = cost_bound(ix, docs, queries, rounds=args.repeat)
    with_sub, words_only = whole_words_peer(ix, queries, args.repeat)
    ix.close()
    peer = tantivy_peer(docs, [*texts, *subs[:20]], subs, tokenizer, args.repeat) if args.peer == "tantivy" else None

    load = os.getloadavg()
    print(f"\n{len(docs):,} documents, batches of {args.batch}, synchronous=FULL, WAL; "
          f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} CPUs "
          "(other work on the machine slows every figure alike; the ratios compare within this run)")
    if rate:
        line("upserts/s", f"{rate:,.0f}", "≥ 5,000", rate >= 5000,
             f"vs bare INSERT (no FTS/indexes) {peer_rate:,.0f}/s: ratio {rate / peer_rate:.2f}")
    else:
        print(f"{'upserts/s':<28} {'-':>14}   (--reuse: the index was not built in this run)")
    p50, p95 = pct(search_ms, 50), pct(search_ms, 95)
    line("search p50 / p95 (ms)", f"{p50:.1f} / {p95:.1f}", "p95 ≤ 50", p95 <= 50,
         f"vs LIKE scan median {statistics.median(like_ms):.0f} ms: {statistics.median(like_ms) / p50:.0f}x faster (p50)")
    h50, h95 = pct(hist_ms, 50), pct(hist_ms, 95)
    line("histogram p50 / p95 (ms)", f"{h50:.1f} / {h95:.1f}", "p95 ≤ 100", h95 <= 100,
         f"vs strftime GROUP BY {statistics.median(naive_ms):.0f} ms: {statistics.median(naive_ms) / h50:.0f}x faster (p50)")
    line("database size", f"{size / 2**20:,.0f} MiB", "-", True, f"{size / len(docs):,.0f} bytes/doc")
    t50, t95 = pct(text_ms, 50), pct(text_ms, 95)
    if peer is not None:
        p50, p95 = pct(peer["ms"], 50), pct(peer["ms"], 95)
        same = sum(1 for s in subs if peer["counts"][s] == rec["totals"][s]) if rec else 0
        line("text search p50/p95 (ms)", f"{t50:.1f} / {t95:.1f}", "-", True,
             f"vs tantivy (same tokens) {p50:.1f} / {p95:.1f}: ratio {t50 / p50:.1f}x (p50), {t95 / p95:.1f}x (p95)")
        print(f"{'':<28} tantivy: built in {peer['build_s']:.0f} s (one thread), {peer['size'] / 2**20:,.0f} MiB; "
              f"match counts equal to SQLite's for {same} of {len(subs)} recall words")
    else:
        line("text search p50/p95 (ms)", f"{t50:.1f} / {t95:.1f}", "-", True, "(no peer)")
    if rec is not None:
        line("sub-word exact recall", f"{rec['recall']:.2%}", "100%", rec["recall"] == 1.0,
             f"{len(subs)} random 2–4-char runs: {rec['like']:,} LIKE matches, all found"
             if not rec["missed"] else f"MISSED in: {', '.join(rec['missed'][:10])}")
        print(f"{'':<28} beyond the LIKE scan: {rec['extra']:,} matches of {rec['found']:,} hold the word's jieba "
              f"tokens apart; LIKE scan {rec['like_ms']:.0f} ms per word")
    line("sub-word cost p50/p95 (ms)", f"{pct(with_sub, 50):.1f} / {pct(with_sub, 95):.1f}", "-", True,
         f"vs whole words only {pct(words_only, 50):.1f} / {pct(words_only, 95):.1f}: ratio "
         f"{pct(with_sub, 50) / pct(words_only, 50):.2f} (p50), {pct(with_sub, 95) / pct(words_only, 95):.2f} (p95)")
    b95 = pct(cost["beside"], 95)
    worst = max(ms for _, ms in cost["costly"])
    kinds = Counter(o for o, _ in cost["costly"])
    line("search p95 beside costly (ms)", f"{b95:.1f}", "≤ 500", b95 <= 500,
         f"while another thread ran {len(cost['costly'])} of the costliest allowed queries "
         f"({', '.join(f'{n} {k}' for k, n in kinds.items())}; slowest {worst:.0f} ms, limit "
         f"{SqliteIndex.query_timeout_s:g} s)")
    line("100 KB repeated-word query", f"{cost['refuse_ms']:.1f} ms", "≤ 2,000", cost["refuse_ms"] <= 2000,
         f"{cost['refused']} (query length and word caps)")
    slow = sorted(zip(search_ms[: len(queries)], SEARCHES, totals), reverse=True)[:3]
    print(f"searches with facets (every 5th) count the newest {sample:,} matches when more match (web.facet_sample)")
    print("slowest searches (first run): " + "; ".join(f"{q!r} {ms:.0f} ms ({n:,} hits)" for ms, q, n in slow))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
