"""SQLite: sub-word recall's schema (the grams column, its migration and its recorded analysis), the query
cost bound and time limit, and the one transaction helper."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from index import QueryError, SchemaMismatchError, SearchQuery, SqliteIndex
from index import BackendUnavailableError, IndexBackendError, QueryTimeoutError
from index._grams import GRAMS_VERSION, RUN_BREAK, doc_grams, query_runs
from index.sqlite_schema import MIGRATIONS


@pytest.fixture(scope="module")
def demo_tokenizer():
    """The crawl's segmenter with the demo taxonomy's keywords as user words, as `voc demo` builds it:
    自动续费 and 闪退 are single words there (which is why 续费 used to find nothing)."""
    from classifier.normalize import segmenter_for

    seg = segmenter_for(("自动续费", "老是闪退"))

    def tokenize(text: str) -> list[str]:
        return seg(text)

    return tokenize


def doc(tok, id: str, text: str, **kw) -> dict:
    d = {"id": id, "source": "appstore", "product": "demo", "text": text, "tokens": " ".join(tok(text)),
         "created_at": "2026-11-24T03:05:00Z", "topics": []}
    d.update(kw)
    return d


DEMO = ["开通了自动续费，取消不了", "老是闪退，没法用", "同步一直转圈圈", "收不到验证码", "续费以后还是不能用"]


def test_grams_are_bigrams_of_each_chinese_run_kept_apart():
    assert doc_grams("标题", "自动续费，iOS闪退") == f"标题 {RUN_BREAK} 自动 动续 续费 {RUN_BREAK} 闪退"
    assert doc_grams(None, "单") == "" and doc_grams("", "") == ""
    assert query_runs(["自动", "续费"]) == (["自动续费"], [])
    assert query_runs(["ios", "闪退", "了", "a"]) == (["闪退了"], ["ios", "a"])
    assert query_runs(["卡"]) == ([], ["卡"])


def test_the_demo_fragments_find_their_posts(tmp_path, demo_tokenizer):
    assert demo_tokenizer("开通了自动续费") == ["开通", "了", "自动续费"]
    with SqliteIndex(tmp_path / "v.db", tokenizer=demo_tokenizer) as ix:
        ix.upsert([doc(demo_tokenizer, f"d{i}", t) for i, t in enumerate(DEMO)])
        def found(text):
            return [h.doc["id"] for h in ix.search(SearchQuery(text=text)).hits]

        assert found("续费") == ["d4", "d0"]  # the whole word first, then 自动续费
        assert found("转圈") == ["d2"] and found("验证") == ["d3"] and found("闪退") == ["d1"]
        assert sorted(found("-续费")) == ["d1", "d2", "d3"]


def test_an_index_from_before_sub_word_recall_is_upgraded(tmp_path, demo_tokenizer, monkeypatch, caplog):
    from index import sqlite_fts

    db = tmp_path / "old.db"
    before = [name for name, _ in MIGRATIONS].index("0009_cjk_bigrams_for_sub_word_recall")
    monkeypatch.setattr(sqlite_fts, "MIGRATIONS", MIGRATIONS[:before])
    monkeypatch.setattr(sqlite_fts, "SCHEMA_META", {k: v for k, v in sqlite_fts.SCHEMA_META.items()
                                                    if k != "grams_source"})
    with SqliteIndex(db, tokenizer=demo_tokenizer) as ix:
        ix.upsert([doc(demo_tokenizer, f"d{i}", t) for i, t in enumerate(DEMO)])
        assert "grams_source" not in ix.metadata()
    monkeypatch.undo()
    with caplog.at_level("WARNING", logger="voc.index"), SqliteIndex(db, tokenizer=demo_tokenizer) as ix:
        assert any("0009_cjk_bigrams_for_sub_word_recall" in r.getMessage() for r in caplog.records)
        meta = ix.metadata()
        assert meta["grams_source"] == GRAMS_VERSION
        assert meta["migrations"].endswith(MIGRATIONS[-1][0])
        assert ix.search(SearchQuery(text="转圈")).total == 1 and ix.search(SearchQuery(text="续费")).total == 2
        # updates and deletes keep the grams in step (the triggers remove exactly what they indexed)
        ix.upsert([doc(demo_tokenizer, "d2", "同步很快")])
        assert ix.search(SearchQuery(text="转圈")).total == 0 and ix.search(SearchQuery(text="步很")).total == 1
        ix.delete(["d0"])
        assert ix.search(SearchQuery(text="续费")).total == 1
    # the full-text index is consistent, and a connection without VOC's function cannot write the
    # documents (its triggers need voc_grams): an error, never a silently stale index
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO feedback_fts(feedback_fts) VALUES ('integrity-check')")
    with pytest.raises(sqlite3.OperationalError, match="no such function: voc_grams"):
        conn.execute("UPDATE feedback SET text = '改了' WHERE id = 'd1'")
    conn.close()


def test_another_recorded_sub_word_analysis_is_refused(tmp_path):
    SqliteIndex(tmp_path / "v.db", tokenizer=str.split).close()
    conn = sqlite3.connect(tmp_path / "v.db")
    conn.execute("UPDATE feedback_meta SET value='cjk-trigrams' WHERE key='grams_source'")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaMismatchError, match="grams_source='cjk-trigrams'.*voc reindex"):
        SqliteIndex(tmp_path / "v.db", tokenizer=str.split)


# ---------------------------------------------------------------- cost bound and time limit (issue 23, finding 5)
def corpus(tok, n: int = 400) -> list[dict]:
    return [doc(tok, f"c{i}", f"第{i}条：登录失败 闪退 转圈圈 验证码 续费 同步 {i % 7}") for i in range(n)]


def test_a_search_past_the_time_limit_is_stopped_with_a_clear_error(tmp_path, demo_tokenizer):
    with SqliteIndex(tmp_path / "v.db", tokenizer=demo_tokenizer) as ix:
        ix.upsert(corpus(demo_tokenizer))
        ordinary = SearchQuery(text="登录 失败", facets=("source", "topics"))
        expected = ix.search(ordinary).total
        ix.query_timeout_s = 0.0  # every search now runs past its limit
        with pytest.raises(QueryTimeoutError) as err:
            ix.search(ordinary)
        assert isinstance(err.value, QueryError)  # the API answers it 400 with the message
        assert "ran longer than 0 s and was stopped" in str(err.value)
        with pytest.raises(QueryTimeoutError):
            ix.histogram(text="登录", interval="day", tz="UTC")
        assert ix.count() == 400  # counts for reports and alerts have no limit
        ix.query_timeout_s = 2.0  # the connection is not left interrupted
        assert ix.search(ordinary).total == expected


def test_a_100kb_repeated_word_query_is_refused_and_an_ordinary_search_beside_it_answers(tmp_path, demo_tokenizer):
    with SqliteIndex(tmp_path / "v.db", tokenizer=demo_tokenizer) as ix:
        ix.upsert(corpus(demo_tokenizer))
        results: dict[str, object] = {}

        def costly() -> None:
            try:
                ix.search(SearchQuery(text="2 " * 50_000))
            except QueryError as exc:
                results["costly"] = exc

        def ordinary() -> None:
            results["ordinary"] = ix.search(SearchQuery(text="续费", facets=("source",))).total

        threads = [threading.Thread(target=costly), threading.Thread(target=ordinary)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert "at most 500 are searched" in str(results["costly"])
        assert results["ordinary"] == 400
        # the same words up to the length limit count once: the query is answered, not refused
        assert ix.search(SearchQuery(text="续费 " * 150)).total == 400


# ---------------------------------------------------------------- the transaction helper (issue 26)
def test_a_failed_write_rolls_back_and_the_next_write_succeeds(tmp_path, demo_tokenizer):
    with SqliteIndex(tmp_path / "v.db", tokenizer=demo_tokenizer) as ix:
        ix.upsert([doc(demo_tokenizer, "a", "第一条")])
        ix._writer.execute("CREATE TRIGGER boom BEFORE INSERT ON feedback WHEN new.id = 'bad' "
                           "BEGIN SELECT RAISE(ABORT, 'forced failure'); END")
        with pytest.raises(IndexBackendError, match="upsert of 2 documents: forced failure"):
            ix.upsert([doc(demo_tokenizer, "b", "第二条"), doc(demo_tokenizer, "bad", "坏的")])
        assert not ix._writer.in_transaction
        assert ix.count() == 1 and ix.get("b") is None  # nothing of the failed batch
        assert ix.upsert([doc(demo_tokenizer, "c", "第三条")]).new == 1
        assert ix.delete(["a"]) == 1 and ix.count() == 1


def test_an_index_locked_by_another_writer_fails_to_open_with_the_reason(tmp_path):
    SqliteIndex(tmp_path / "v.db", tokenizer=str.split).close()
    other = sqlite3.connect(tmp_path / "v.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(BackendUnavailableError, match="opening the index .*database is locked"):
            SqliteIndex(tmp_path / "v.db", tokenizer=str.split, busy_timeout_ms=50)
    finally:
        other.execute("ROLLBACK")
        other.close()
    with pytest.raises(BackendUnavailableError, match="cannot create the folder of the SQLite index"):
        SqliteIndex(tmp_path / "v.db" / "nested.db", tokenizer=str.split)  # a file where a folder must be
