"""Value filters live inside the FTS index as tags: searches with free words and filters stay exact."""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from index import Filters, SearchQuery, SqliteIndex
from index.sqlite_fts import MIGRATIONS
from index.sqlite_sql import tag
from tests.helpers import simple_tokenizer

BASE = datetime(2026, 11, 1, tzinfo=timezone.utc)
#: hostile values: FTS5 syntax, quotes, Chinese, the empty string, a value that looks like a tag
PRODUCTS = ('质"量 OR x', "p1", "", "xp7031", "NEAR(a b)")
WORDS = ("alpha", "beta", "gamma", "xp7031", "AND")


def corpus(n: int = 300) -> list[dict]:
    rnd = random.Random(11)
    docs = []
    for i in range(n):
        words = " ".join(rnd.sample(WORDS, 2))
        created = BASE + timedelta(minutes=rnd.randrange(3 * 24 * 60)) if i % 9 else None
        store = rnd.random() < 0.5
        docs.append({
            "id": f"t{i}", "product": rnd.choice(PRODUCTS), "source": rnd.choice(("appstore", "weibo")),
            "text": words, "tokens": words, "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ") if created else None,
            "sentiment": rnd.choice(("negative", "positive", None)), "intent": rnd.choice(("bug", "praise")),
            "platform": rnd.choice(("ios", None)), "app_version": rnd.choice(("1.0", "1.0-β", None)) if store else None,
            "rating": rnd.choice((1, 2, 5)) if store else None,
            "topics": rnd.sample(["登录", "t2", 'q"t'], rnd.randrange(3)), "risk": ["viral"] if i % 7 == 0 else [],
        })
    return docs


def wanted(d: dict, words: tuple[str, ...], f: Filters) -> bool:
    if not all(w in d["tokens"].split() for w in words):
        return False
    for name, field in (("product", "product"), ("source", "source"), ("sentiment", "sentiment"),
                        ("intent", "intent"), ("platform", "platform"), ("app_version", "app_version"),
                        ("rating", "rating")):
        values = getattr(f, name)
        if values and d[field] not in values:
            return False
    if f.topic and not set(f.topic) & set(d["topics"]):
        return False
    if f.risk and not set(f.risk) & set(d["risk"]):
        return False
    if f.since or f.until:
        if not d["created_at"]:
            return False
        t = datetime.fromisoformat(d["created_at"].replace("Z", "+00:00"))
        if (f.since and t < f.since) or (f.until and t >= f.until):
            return False
    return True


FILTERS = [
    Filters(product=('质"量 OR x',)),
    Filters(product=("", "xp7031")),
    Filters(product=("NEAR(a b)",), sentiment=("negative",)),
    Filters(topic=("登录",)),
    Filters(topic=('q"t', "t2"), risk=("viral",)),
    Filters(app_version=("1.0-β",), rating=(1, 2)),
    Filters(rating=(5,), platform=("ios",), intent=("praise",), source=("appstore",)),
    Filters(product=("p1",), since=BASE + timedelta(hours=7, minutes=3), until=BASE + timedelta(days=2)),
    Filters(product=("no such product",)),
]


@pytest.fixture
def ix(tmp_path):
    with SqliteIndex(tmp_path / "tags.db", tokenizer=simple_tokenizer) as index:
        index.upsert(corpus())
        yield index


@pytest.mark.parametrize("text", ["alpha", "beta gamma", "xp7031", "AND"])
@pytest.mark.parametrize("filters", FILTERS)
@pytest.mark.parametrize("sort", ["time", "relevance"])
def test_free_words_with_filters_match_exactly_what_brute_force_finds(ix, text, filters, sort):
    expected = {d["id"] for d in corpus() if wanted(d, tuple(text.split()), filters)}
    result = ix.search(SearchQuery(text=text, filters=filters, sort=sort, limit=500))
    assert result.total == len(expected)
    assert {h.doc["id"] for h in result.hits} == expected


def test_free_words_never_match_a_tag(ix):
    # many documents carry these tags; no document's text holds these words
    for word in (tag("source", "weibo"), tag("topics", "t2"), tag("sentiment", "negative")):
        assert ix.search(SearchQuery(text=word)).total == 0
        assert ix.search(SearchQuery(text=word, raw=True)).total == 0
    # a word that is also product p1's tag finds the texts holding it, not the documents of p1
    assert tag("product", "p1") == "xp7031"
    in_text = {d["id"] for d in corpus() if "xp7031" in d["tokens"].split()}
    assert {h.doc["id"] for h in ix.search(SearchQuery(text="xp7031", limit=500)).hits} == in_text


def test_filters_do_not_change_relevance_scores(ix):
    unfiltered = {h.doc["id"]: h.score for h in ix.search(SearchQuery(text="alpha", limit=500)).hits}
    filtered = ix.search(SearchQuery(text="alpha", filters=Filters(product=("p1",), topic=("t2",)), limit=500)).hits
    assert filtered
    for hit in filtered:
        assert hit.score == pytest.approx(unfiltered[hit.doc["id"]], rel=1e-12)


def test_tags_follow_re_upserts_and_deletes(ix, tmp_path):
    docs = {d["id"]: d for d in corpus()}
    changed = [dict(d, product="p1", topics=["登录"], rating=None, tokens="alpha moved", text="alpha moved")
               for d in list(docs.values())[:40]]
    ix.upsert(changed)
    docs.update({d["id"]: d for d in changed})
    gone = [d["id"] for d in list(docs.values())[40:60]]
    ix.delete(gone)
    for g in gone:
        docs.pop(g)
    for text, filters in (("alpha", Filters(product=("p1",))), ("alpha", Filters(topic=("登录",))),
                          ("moved", Filters(rating=(1, 2, 5))), ("beta", Filters(product=('质"量 OR x',)))):
        expected = {d["id"] for d in docs.values() if wanted(d, tuple(text.split()), filters)}
        assert {h.doc["id"] for h in ix.search(SearchQuery(text=text, filters=filters, limit=500)).hits} == expected
    conn = sqlite3.connect(tmp_path / "tags.db")
    conn.execute("INSERT INTO feedback_fts(feedback_fts) VALUES ('integrity-check')")  # index == content view
    conn.close()


def test_an_index_from_before_the_tags_migration_is_migrated(tmp_path, caplog):
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE TABLE feedback_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    conn.execute("CREATE TABLE feedback_meta (key TEXT PRIMARY KEY, value TEXT)")
    old = [(name, statements) for name, statements in MIGRATIONS if name < "0006"]
    for name, statements in old:
        for stmt in statements:
            conn.execute(stmt)
        conn.execute("INSERT INTO feedback_migrations VALUES (?, '2026-11-24')", (name,))
    docs = corpus(120)
    conn.execute("BEGIN")
    for d in docs:
        created = d["created_at"]
        ts = int(datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()) if created else None
        conn.execute("INSERT INTO feedback (id, product, source, tokens, text, created_at, created_ts, sentiment, "
                     "intent, platform, app_version, rating, topics, risk) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,json(?),json(?))",
                     (d["id"], d["product"], d["source"], d["tokens"], d["text"], created, ts, d["sentiment"],
                      d["intent"], d["platform"], d["app_version"], d["rating"],
                      json.dumps(d["topics"], ensure_ascii=False), json.dumps(d["risk"])))
    conn.execute("COMMIT")
    conn.close()
    # before: the undated documents' topics are missing from the side table
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(DISTINCT doc) FROM feedback_topic").fetchone()[0] < sum(1 for d in docs if d["topics"])
    conn.close()
    with caplog.at_level("WARNING", logger="voc.index"), SqliteIndex(db, tokenizer=simple_tokenizer) as ix:
        # the user is told a long upgrade is running, per migration, with the document count
        upgrades = [r.getMessage() for r in caplog.records if "upgrading the index schema" in r.getMessage()]
        assert len(upgrades) == len(MIGRATIONS) - 5 and "0006_filter_tags_in_fts" in upgrades[0] and "120 documents" in upgrades[0]
        assert ix.count(Filters(topic=("登录", "t2", 'q"t'))) == sum(1 for d in docs if d["topics"])
        assert ix.metadata()["migrations"].split(",")[5:] == [name for name, _ in MIGRATIONS[5:]]
        for filters in FILTERS:
            expected = {d["id"] for d in docs if wanted(d, ("alpha",), filters)}
            assert {h.doc["id"] for h in ix.search(SearchQuery(text="alpha", filters=filters, limit=500)).hits} == expected
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO feedback_fts(feedback_fts) VALUES ('integrity-check')")
    conn.close()
