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
from index.sqlite_sql import fts_match_expression, quote_fts

REPO = Path(__file__).resolve().parents[2]


def simple_tokenizer(text: str) -> list[str]:
    return text.split()


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
    assert "content='feedback'" in sql and FTS_TOKENIZE in sql
    # every filter column has an index led by it
    indexed = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    for col in ("product", "source", "sentiment", "intent", "platform", "app_version", "rating", "created"):
        assert f"feedback_{col}" in indexed
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
    assert params[0] == '"闪""退" AND "登录 失败"'
    assert params[1:] == ["demo", "login", 5, 0]
    assert quote_fts('a"b') == '"a""b"'
    assert fts_match_expression([]) == ""
    sql2, params2 = build_search_sql(SearchQuery(), [])
    assert "MATCH" not in sql2 and params2 == [20, 0]


def test_filtered_searches_use_indexes(tmp_path):
    with SqliteIndex(tmp_path / "v.db", tokenizer=simple_tokenizer) as ix:
        conn = sqlite3.connect(tmp_path / "v.db")
        for filters in (Filters(product=("demo",)), Filters(topic=("t1",)), Filters(rating=(1,))):
            from index.sqlite_sql import build_where

            where, params = build_where(filters)
            plan = " ".join(r[3] for r in conn.execute(
                f"EXPLAIN QUERY PLAN SELECT count(*) FROM feedback f WHERE {where}", params))
            assert "USING" in plan and "SCAN f" not in plan.replace("SCAN f USING", ""), plan
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
