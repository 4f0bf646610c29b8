"""SQLite-only behaviour: schema/migrations, crash safety, concurrency, and the pure SQL builder."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from index import Filters, SchemaMismatchError, SearchQuery, SqliteIndex, build_search_sql
from index.sqlite_fts import FTS_TOKENIZE, MIGRATIONS
from index.sqlite_sql import fts_match_expression, quote_fts, tag
from tests.helpers import simple_tokenizer

REPO = Path(__file__).resolve().parents[2]


def doc(i: int, **kw) -> dict:
    d = {"id": f"id{i}", "source": "weibo", "product": "demo", "text": f"word{i} common",
         "tokens": f"word{i} common", "created_at": "2026-11-24T03:05:00Z", "topics": ["t1"]}
    d.update(kw)
    return d


def test_schema_records_migrations_tokenizer_and_uses_wal(tmp_path):
    with SqliteIndex(tmp_path / "v.db", tokenizer=simple_tokenizer) as ix:
        meta = ix.metadata()
        assert meta["fts_tokenize"] == FTS_TOKENIZE
        assert meta["migrations"] == ",".join(name for name, _ in MIGRATIONS)
    conn = sqlite3.connect(tmp_path / "v.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name='feedback_fts'").fetchone()[0]
    assert "content='feedback_fts_content'" in sql and FTS_TOKENIZE in sql
    # every filter column has an index led by it, on the narrow dims table
    indexed = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    for col in ("product", "source", "sentiment", "intent", "platform", "app_version", "rating", "created"):
        assert f"feedback_dims_{col}" in indexed
    conn.close()


def test_reopening_applies_no_migration_twice_and_keeps_data(tmp_path):
    with SqliteIndex(tmp_path / "v.db", tokenizer=simple_tokenizer) as ix:
        ix.upsert([doc(1)])
    with SqliteIndex(tmp_path / "v.db", tokenizer=simple_tokenizer) as ix:
        assert ix.count() == 1
    conn = sqlite3.connect(tmp_path / "v.db")
    assert conn.execute("SELECT count(*) FROM feedback_migrations").fetchone()[0] == len(MIGRATIONS)
    conn.close()


def test_a_different_recorded_tokenizer_is_refused(tmp_path):
    SqliteIndex(tmp_path / "v.db", tokenizer=simple_tokenizer).close()
    conn = sqlite3.connect(tmp_path / "v.db")
    conn.execute("UPDATE feedback_meta SET value='trigram' WHERE key='fts_tokenize'")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaMismatchError, match="fts_tokenize='trigram'.*voc reindex"):
        SqliteIndex(tmp_path / "v.db", tokenizer=simple_tokenizer)


def test_malformed_doc_rejects_the_whole_batch(tmp_path):
    from index import BulkIndexError

    with SqliteIndex(tmp_path / "v.db", tokenizer=simple_tokenizer) as ix:
        with pytest.raises(BulkIndexError) as err:
            ix.upsert([doc(1), doc(2, created_at="yesterday"), {"text": "no id"}])
        assert [e[0] for e in err.value.errors] == ["id2", "#2"]
        assert ix.count() == 0


def test_a_batch_spans_several_upsert_statements_and_the_last_of_a_repeated_id_wins(tmp_path, monkeypatch):
    """Upserts go as multi-row statements of at most UPSERT_ROWS rows (fewer where SQLite allows fewer
    bound parameters): a batch of several statements indexes every document, searchably, once."""
    from index import sqlite_fts

    monkeypatch.setattr(sqlite_fts, "UPSERT_ROWS", 3)
    with SqliteIndex(tmp_path / "v.db", tokenizer=simple_tokenizer) as ix:
        batch = [doc(i) for i in range(8)] + [doc(7, text="again", tokens="again", likes=5)]  # id7 twice
        assert (ix.upsert(batch).new, ix.count()) == (8, 8)
        assert ix.get("id7")["likes"] == 5 and ix.search(SearchQuery(text="again")).total == 1
        assert ix.search(SearchQuery(text="word7")).total == 0  # its first tokens left the full-text index
        assert ix.search(SearchQuery(text="common")).total == 7
        result = ix.upsert([doc(3, likes=9), doc(9)])
        assert (result.new, result.updated, ix.get("id3")["likes"]) == (1, 1, 9)


def test_missing_tokens_are_computed_with_the_tokenizer(tmp_path):
    with SqliteIndex(tmp_path / "v.db", tokenizer=simple_tokenizer) as ix:
        ix.upsert([{"id": "x", "text": "alpha beta"}])
        assert ix.get("x")["tokens"] == "alpha beta"
        assert ix.search(SearchQuery(text="beta")).total == 1


def test_raw_fts_is_an_explicit_opt_in(tmp_path):
    with SqliteIndex(tmp_path / "v.db", tokenizer=simple_tokenizer) as ix:
        ix.upsert([doc(1), doc(2)])
        assert ix.search(SearchQuery(text="word1 OR word2")).total == 0
        assert ix.search(SearchQuery(text="word1 OR word2", raw=True)).total == 2


def test_build_search_sql_is_pure_and_escapes_user_words():
    q = SearchQuery(text='x', filters=Filters(product=("demo",), topic=("login",)), limit=5, sort="time")
    sql, params = build_search_sql(q, [(['闪"退'], False), (["登录", "失败"], True)])
    assert "feedback_fts MATCH ?" in sql and "ORDER BY f.created_ts DESC" in sql
    # the free words match the tokens column; the value filters are tags inside the same FTS5 expression
    # (each word also matches as the bigram phrase of its Chinese run on the grams column: sub-word recall)
    assert params[0] == ('tokens : "闪""退" AND (tokens : "登录 失败" OR (grams : "登录 录失 失败")) '
                         'AND tags : ("xp64656d6f") AND tags : ("xt6c6f67696e")')
    # no column filter where no other column can hold the token (it makes FTS5 read position lists): a
    # two-character word is its token in any column (the word on tokens OR its bigram on grams); a Chinese
    # token of another length only ever sits in tokens; latin tokens keep it (tags are latin)
    assert fts_match_expression([(["闪退"], False)]) == '"闪退"'
    assert fts_match_expression([(["性价比", "高"], True)]) == '("性价比 高" OR (grams : "性价 价比 比高"))'
    assert fts_match_expression([(["xp64656d6f"], False)]) == 'tokens : "xp64656d6f"'
    assert fts_match_expression([(["快递", "很快"], False)]) == \
        '((tokens : "快递" AND tokens : "很快") OR (grams : "快递 递很 很快"))'
    assert tag("product", "demo") == "xp64656d6f" and tag("topics", "login") == "xt6c6f67696e"
    assert params[1:] == [5, 0]
    assert quote_fts('a"b') == '"a""b"'
    assert fts_match_expression([]) == ""
    sql2, params2 = build_search_sql(SearchQuery(), [])
    assert "MATCH" not in sql2 and params2 == [20, 0]


def test_filtered_searches_use_indexes(tmp_path):
    with SqliteIndex(tmp_path / "v.db", tokenizer=simple_tokenizer):
        conn = sqlite3.connect(tmp_path / "v.db")
        for filters in (Filters(product=("demo",)), Filters(topic=("t1",)), Filters(rating=(1,))):
            from index.sqlite_sql import build_where

            where, params = build_where(filters)
            plan = " ".join(r[3] for r in conn.execute(
                f"EXPLAIN QUERY PLAN SELECT count(*) FROM feedback_dims d WHERE {where}", params))
            assert "USING" in plan and "SCAN d" not in plan.replace("SCAN d USING", ""), plan
        conn.close()


def test_concurrent_readers_while_one_writer_writes(tmp_path):
    ix = SqliteIndex(tmp_path / "v.db", tokenizer=simple_tokenizer)
    ix.upsert([doc(i) for i in range(100)])
    errors: list[BaseException] = []
    seen: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                n = ix.search(SearchQuery(text="common", limit=1)).total
                assert n % 100 == 0, n  # a batch is visible whole or not at all
                seen.append(n)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for b in range(1, 10):
        ix.upsert([doc(b * 100 + i) for i in range(100)])
    stop.set()
    for t in threads:
        t.join()
    ix.close()
    assert not errors, errors
    assert seen and max(seen) <= 1000


def test_alert_tables_in_the_same_file_coexist(tmp_path):
    ix = SqliteIndex(tmp_path / "v.db", tokenizer=simple_tokenizer)
    other = sqlite3.connect(tmp_path / "v.db", timeout=10)
    other.execute("CREATE TABLE IF NOT EXISTS alerts_state (k TEXT PRIMARY KEY, v TEXT)")
    other.execute("INSERT INTO alerts_state VALUES ('a', 'b')")
    other.commit()
    ix.upsert([doc(1)])
    assert ix.count() == 1
    other.close()
    ix.close()


KILL_CHILD = textwrap.dedent("""
    import sys
    sys.path.insert(0, {repo!r})
    from index import SqliteIndex
    ix = SqliteIndex({db!r}, tokenizer=str.split)
    ix.upsert([{{"id": f"ok{{i}}", "text": "kept", "tokens": "kept", "created_at": "2026-11-24T00:00:00Z"}}
               for i in range(50)])
    print("first batch committed", flush=True)
    docs = [{{"id": f"big{{i}}", "text": "lost " * 20, "tokens": "lost " * 20, "topics": ["t"],
              "created_at": "2026-11-24T00:00:00Z"}} for i in range(120000)]
    print("starting big batch", flush=True)
    ix.upsert(docs)
    print("big batch committed", flush=True)
""")


def test_writer_killed_mid_batch_leaves_no_partial_batch_and_no_corruption(tmp_path):
    db = str(tmp_path / "kill.db")
    child = subprocess.Popen([sys.executable, "-c", KILL_CHILD.format(repo=str(REPO), db=db)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "first batch committed"
        assert child.stdout.readline().strip() == "starting big batch"
        probe = sqlite3.connect(db, timeout=0, isolation_level=None)
        deadline = time.monotonic() + 60
        while True:  # wait until the child holds the write lock, i.e. is inside the batch transaction
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
            except sqlite3.OperationalError as exc:
                assert "locked" in str(exc)
                break
            assert time.monotonic() < deadline, "child never started writing"
            time.sleep(0.005)
        probe.close()
        time.sleep(0.3)  # let it write a good part of the batch
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    with SqliteIndex(db, tokenizer=str.split) as ix:
        assert ix.count() == 50
        assert ix.search(SearchQuery(text="lost")).total == 0
        assert ix.search(SearchQuery(text="kept")).total == 50
        assert ix.count(Filters(topic=("t",))) == 0
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.execute("INSERT INTO feedback_fts(feedback_fts) VALUES ('integrity-check')")  # raises if corrupt
        assert conn.execute("SELECT count(*) FROM feedback_topic").fetchone()[0] == 0
        conn.close()
        assert ix.upsert([{"id": "after", "text": "kept", "tokens": "kept"}]) == (1, 0)


def _expected(docs: dict, filters: dict, group_by, lo: int, hi: int, zone, interval: str) -> dict:
    from datetime import datetime as dt

    out: dict = {}
    for d in docs.values():
        ts = int(dt.fromisoformat(d["created_at"].replace("Z", "+00:00")).timestamp())
        if not lo <= ts < hi:
            continue
        if any((d.get(k) not in v) if k != "topic" else not set(d["topics"]) & set(v) for k, v in filters.items()):
            continue
        local = dt.fromtimestamp(ts, zone)
        local = local.replace(minute=0, second=0) if interval == "hour" else local.replace(hour=0, minute=0, second=0)
        keys = [None] if group_by is None else (d["topics"] if group_by == "topics" else [d.get(group_by)])
        for k in keys:
            if group_by is not None and k is None:
                continue
            out[(local, k)] = out.get((local, k), 0) + 1
    return out


def test_histograms_from_rollups_equal_counting_documents_after_updates_and_deletes(tmp_path):
    import random
    from datetime import datetime as dt
    from datetime import timezone as tz
    from zoneinfo import ZoneInfo

    rnd = random.Random(7)
    base = int(dt(2026, 11, 1, tzinfo=tz.utc).timestamp())
    docs = {}
    for i in range(400):
        docs[f"r{i}"] = {"id": f"r{i}", "text": "x", "tokens": "x", "product": rnd.choice(["a", "b", None]),
                         "source": rnd.choice(["weibo", "zhihu"]), "sentiment": rnd.choice(["negative", "positive"]),
                         "intent": rnd.choice(["bug", "other"]),
                         "topics": rnd.sample(["t1", "t2", "t3"], rnd.randrange(3)),
                         "created_at": dt.fromtimestamp(base + rnd.randrange(5 * 86400), tz.utc).strftime(
                             "%Y-%m-%dT%H:%M:%SZ")}
    with SqliteIndex(tmp_path / "r.db", tokenizer=simple_tokenizer) as ix:
        ids = list(docs)
        ix.upsert(list(docs.values()))
        for i in ids[:100]:  # move in time, change dimensions and topics
            docs[i] = dict(docs[i], sentiment="neutral", topics=["t3"], product="b",
                           created_at=dt.fromtimestamp(base + rnd.randrange(5 * 86400), tz.utc).strftime(
                               "%Y-%m-%dT%H:%M:%SZ"))
        ix.upsert([docs[i] for i in ids[:100]])
        ix.delete(ids[100:150])
        for i in ids[100:150]:
            del docs[i]
        zone = ZoneInfo("Asia/Shanghai")
        lo, hi = base + 3600 * 5 + 1234, base + 4 * 86400 + 777  # not on hour boundaries: edges read documents
        start, end = dt.fromtimestamp(lo, tz.utc), dt.fromtimestamp(hi, tz.utc)
        cases = [({}, None), ({"product": ("b",)}, None), ({}, "sentiment"), ({"source": ("weibo",)}, "product"),
                 ({}, "topics"), ({"topic": ("t3",)}, None), ({"product": ("a",)}, "topics"),
                 ({"intent": ("bug",)}, None)]  # the last one has no rollup: counted from documents
        for interval in ("hour", "day"):
            for filters, group_by in cases:
                got = {(b.start, b.key): b.count for b in ix.histogram(
                    Filters(**filters), interval=interval, tz="Asia/Shanghai", group_by=group_by,
                    start=start, end=end) if b.count}
                assert got == _expected(docs, filters, group_by, lo, hi, zone, interval), (interval, filters, group_by)
        # the 8-hour blocks (day charts in UTC+8 read them) hold the sums of their hours after every change
        blocks = ix._exec("SELECT block, product, source, sentiment, n FROM feedback_8h WHERE n != 0 ORDER BY 1, 2, 3, 4")
        sums = ix._exec("SELECT hour / 8 AS b, product, source, sentiment, sum(n) AS s FROM feedback_hourly "
                        "GROUP BY 1, 2, 3, 4 HAVING s != 0 ORDER BY 1, 2, 3, 4")
        assert [tuple(r) for r in blocks] == [tuple(r) for r in sums] and len(blocks) > 20
        # and the aligned middle really is read from the rollups, not the documents
        before = sum(b.count for b in ix.histogram(Filters(), interval="day", start=start, end=end))
        raw = sqlite3.connect(tmp_path / "r.db")
        raw.execute("INSERT INTO feedback_hourly VALUES (?, 'zz', 'zz', 'zz', 1000)", ((base + 86400) // 3600,))
        raw.commit()
        raw.close()
        assert sum(b.count for b in ix.histogram(Filters(), interval="day", start=start, end=end)) == before + 1000


def test_relevance_ranks_the_newest_window_of_filtered_matches(tmp_path):
    with SqliteIndex(tmp_path / "w.db", tokenizer=simple_tokenizer) as ix:
        ix.rank_window = 3
        # old docs of product "rare" first, then many newer matches of another product
        ix.upsert([doc(i, product="rare", tokens="common common", text="common common") for i in range(2)])
        ix.upsert([doc(100 + i, product="busy") for i in range(10)])
        rare = ix.search(SearchQuery(text="common", filters=Filters(product=("rare",))))
        assert rare.total == 2 and {h.doc["id"] for h in rare.hits} == {"id0", "id1"}
        busy = ix.search(SearchQuery(text="common", filters=Filters(product=("busy",))))
        assert busy.total == 10  # the total still counts every match
        assert {h.doc["id"] for h in busy.hits} == {"id107", "id108", "id109"}  # ranked: the newest 3
        every = ix.search(SearchQuery(text="common", sort="time", limit=50))
        assert len(every.hits) == 12  # time order is not windowed


def test_facets_of_a_huge_match_set_count_the_newest_window_and_say_so(tmp_path):
    with SqliteIndex(tmp_path / "f.db", tokenizer=simple_tokenizer) as ix:
        ix.upsert([doc(i, sentiment="negative", topics=["old"]) for i in range(6)])
        ix.upsert([doc(100 + i, sentiment="positive", topics=["new"]) for i in range(4)])
        exact = ix.search(SearchQuery(text="common", facets=("sentiment", "topics")))
        assert exact.facets_sampled is None
        assert exact.facets == {"sentiment": [("negative", 6), ("positive", 4)], "topics": [("old", 6), ("new", 4)]}
        for q in (SearchQuery(text="common", facets=("sentiment", "topics"), facet_sample=5),
                  SearchQuery(facets=("sentiment", "topics"), facet_sample=5)):  # with and without free words
            sampled = ix.search(q)
            assert sampled.total == 10 and sampled.facets_sampled == 5
            assert sampled.facets == {"sentiment": [("positive", 4), ("negative", 1)],
                                      "topics": [("new", 4), ("old", 1)]}
        small = ix.search(SearchQuery(text="common", filters=Filters(sentiment=("positive",)), facets=("topics",),
                                      facet_sample=5))
        assert small.facets_sampled is None and small.facets == {"topics": [("new", 4)]}
