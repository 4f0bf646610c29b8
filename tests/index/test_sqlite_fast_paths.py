"""SQLite fast paths stay exact: one-pass facets, counts from the hourly rollups, the app-version rollup."""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from index import Filters, SearchQuery, SqliteIndex
from index.sqlite_sql import build_where
from tests.helpers import simple_tokenizer

BASE = datetime(2026, 11, 1, 0, 0, tzinfo=timezone.utc)
FIELDS = ("sentiment", "source", "intent", "platform", "product", "app_version", "rating", "kind", "topics")


def corpus(n: int = 240) -> list[dict]:
    rnd = random.Random(7)
    docs = []
    for i in range(n):
        store = rnd.random() < 0.5
        created = BASE + timedelta(minutes=rnd.randrange(5 * 24 * 60)) if i % 37 else None
        words = " ".join(rnd.sample(["alpha", "beta", "gamma", "delta"], 2))
        docs.append({
            "id": f"d{i}", "source": rnd.choice(("appstore", "huawei")) if store else rnd.choice(("weibo", "zhihu")),
            "product": rnd.choice(("p1", "p2")), "kind": "review" if store else "post", "text": words, "tokens": words,
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ") if created else None,
            "rating": rnd.choice((1, 2, 5)) if store else None,
            "app_version": rnd.choice(("1.0", "1.1", "2.0")) if store else None,
            "platform": rnd.choice(("ios", "android", None)), "sentiment": rnd.choice(("negative", "positive", "neutral")),
            "intent": rnd.choice(("bug", "praise")), "topics": rnd.sample(["t1", "t2", "t3"], rnd.randrange(3)),
        })
    return docs


def expected_facets(docs: list[dict], field: str) -> list[tuple[str, int]]:
    counts: Counter = Counter()
    for d in docs:
        values = d.get(field) if field == "topics" else [d.get(field)]
        counts.update(v for v in values if v is not None)
    return [(str(v), n) for v, n in sorted(counts.items(), key=lambda kv: (-kv[1], isinstance(kv[0], str), kv[0]))]


def matches(d: dict, words: tuple[str, ...], product: str | None = None) -> bool:
    return all(w in d["tokens"].split() for w in words) and (product is None or d["product"] == product)


@pytest.fixture
def ix(tmp_path):
    with SqliteIndex(tmp_path / "fast.db", tokenizer=simple_tokenizer) as index:
        index.upsert(corpus())
        yield index


@pytest.mark.parametrize("text,product", [("", None), ("alpha", None), ("alpha", "p1"), ("", "p2")])
def test_one_pass_facets_equal_counting_each_field_alone(ix, text, product):
    docs = [d for d in corpus() if matches(d, tuple(text.split()), product)]
    filters = Filters(product=(product,)) if product else Filters()
    result = ix.search(SearchQuery(text=text, filters=filters, facets=FIELDS))
    assert result.total == len(docs) and result.facets_sampled is None
    assert list(result.facets) == list(FIELDS)  # in the order asked
    for field in FIELDS:
        assert result.facets[field] == expected_facets(docs, field), field


@pytest.mark.parametrize("text", ["", "beta"])
@pytest.mark.parametrize("rank_window", [25, 40, 2000])  # the sample: the whole window, part of it, all matches
def test_sampled_facets_count_exactly_the_newest_window_of_matches(ix, text, rank_window):
    """With free words, the facets come with the ranking candidates (one statement) when the sample is no
    larger than the rank window: equal to counting the newest matches themselves."""
    ix.rank_window = rank_window
    docs = [d for d in corpus() if matches(d, tuple(text.split()), "p1")]
    result = ix.search(SearchQuery(text=text, filters=Filters(product=("p1",)), facets=FIELDS, facet_sample=25))
    assert result.total == len(docs) > 25 and result.facets_sampled == 25
    newest = docs[-25:]  # inserted in this order: highest rowids last
    for field in FIELDS:
        assert result.facets[field] == expected_facets(newest, field), field
    only_topics = ix.search(SearchQuery(text=text, filters=Filters(product=("p1",)), facets=("topics",), facet_sample=25))
    assert only_topics.facets == {"topics": expected_facets(newest, "topics")}


@pytest.mark.parametrize("flt", [
    {},
    {"product": ("p1",)},
    {"source": ("weibo", "appstore"), "sentiment": ("negative",)},
    {"topic": ("t2",)},
    {"topic": ("t1", "t2")},  # two topics: a document may carry both, so the rollup must not answer it
    {"topic": ("t3",), "product": ("p2",), "sentiment": ("positive",)},
    {"app_version": ("1.1",), "rating": (1, 2)},
    {"rating": (5,)},
    {"intent": ("bug",)},  # no rollup holds intent
])
@pytest.mark.parametrize("since,until", [
    (None, None),
    (BASE + timedelta(hours=5, minutes=17), None),
    (BASE + timedelta(hours=2, minutes=1), BASE + timedelta(days=3, hours=4, minutes=59)),
    (None, BASE + timedelta(days=2, minutes=30)),
    (BASE + timedelta(hours=3, minutes=10), BASE + timedelta(hours=9, minutes=20)),  # short: counted directly
])
def test_counts_without_free_words_from_rollups_equal_counting_documents(ix, flt, since, until):
    filters = Filters(**flt, since=since, until=until)
    where, params = build_where(filters)  # the documents themselves, no rollup
    expected = ix._exec("SELECT count(*) FROM feedback_dims d" + (" WHERE " + where if where else ""), params)[0][0]
    assert ix.search(SearchQuery(filters=filters, limit=0)).total == expected
    assert ix.count(filters) == expected


def test_rollup_counts_follow_updates_and_deletes(ix):
    since = BASE + timedelta(minutes=30)
    filters = Filters(product=("p1",), since=since)
    before = ix.search(SearchQuery(filters=filters, limit=0)).total
    moved = [dict(d, product="p2") for d in corpus() if d["product"] == "p1" and d["created_at"]][:10]
    ix.upsert(moved)
    assert ix.search(SearchQuery(filters=filters, limit=0)).total == ix.count(filters) < before
    ix.delete([d["id"] for d in moved[:4]])
    assert ix.search(SearchQuery(filters=Filters(product=("p2",), since=since), limit=0)).total == \
        ix.count(Filters(product=("p2",), since=since))


def _raw_version_counts(docs, start, end, flt=lambda d: True):
    counts: Counter = Counter()
    for d in docs:
        if d["created_at"] and d["app_version"] and flt(d):
            t = datetime.fromisoformat(d["created_at"].replace("Z", "+00:00"))
            if start <= t < end:
                counts[(t.astimezone(timezone.utc).date(), d["app_version"])] += 1
    return counts


def test_app_version_trends_read_the_version_rollup_and_stay_exact(tmp_path):
    docs = corpus()
    start, end = BASE, BASE + timedelta(days=6)
    with SqliteIndex(tmp_path / "v.db", tokenizer=simple_tokenizer) as ix:
        ix.upsert(docs)

        def hist(filters=Filters()):
            return Counter({(b.start.date(), b.key): b.count for b in ix.histogram(
                filters, interval="day", tz="UTC", group_by="app_version", start=start, end=end) if b.count})

        assert hist() == _raw_version_counts(docs, start, end)
        assert hist(Filters(rating=(1, 2))) == _raw_version_counts(docs, start, end, lambda d: d["rating"] in (1, 2))
        # a label correction / re-crawl moves documents between versions; a delete removes them
        changed = [dict(d, app_version="2.0") for d in docs if d["app_version"] == "1.0"][:8]
        ix.upsert(changed)
        ix.delete([docs[1]["id"], docs[2]["id"]])
        now_docs = {d["id"]: d for d in docs}
        now_docs.update({d["id"]: d for d in changed})
        for gone in (docs[1]["id"], docs[2]["id"]):
            now_docs.pop(gone)
        assert hist() == _raw_version_counts(list(now_docs.values()), start, end)
        # it is the rollup that answers (a count written straight into it shows up)
        day = (BASE + timedelta(days=1)).date()
        before = hist()[(day, "2.0")]
        raw = sqlite3.connect(tmp_path / "v.db")
        raw.execute("INSERT INTO feedback_version_hourly VALUES (?, 'p1', 'appstore', '2.0', 5, 7) "
                    "ON CONFLICT DO UPDATE SET n = n + 7", (int((BASE + timedelta(days=1)).timestamp()) // 3600,))
        raw.commit()
        raw.close()
        assert hist()[(day, "2.0")] == before + 7


def test_relevance_among_the_candidates_ranks_as_the_whole_expression(tmp_path):
    """The page is ranked by the free words' bm25 among the newest matches found first (no tags in that
    MATCH): the same hits and scores as ranking the whole expression (words, tags, excluded words) over
    the newest rank_window matches in one statement, as the search did before."""
    from index.sqlite_sql import BM25, _match

    rnd = random.Random(3)
    vocab = ["续费", "自动续费", "闪退", "登录", "失败", "同步", "转圈圈", "验证码"]
    docs = []
    for i in range(300):
        text = " ".join(rnd.choices(vocab, k=rnd.randint(1, 9)))
        docs.append({"id": f"r{i}", "source": "weibo", "product": rnd.choice(("p1", "p2")), "text": text,
                     "tokens": text, "sentiment": rnd.choice(("negative", "positive")),
                     "created_at": (BASE + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")})
    with SqliteIndex(tmp_path / "rank.db", tokenizer=simple_tokenizer) as ix:
        ix.upsert(docs)
        ix.rank_window = 60
        conn = sqlite3.connect(tmp_path / "rank.db")
        for text, filters in [("续费", Filters(product=("p1",))), ("续费 -闪退", Filters()), ("转圈", Filters()),
                              ("登录 失败", Filters(sentiment=("negative",), since=BASE + timedelta(hours=1))),
                              ("续费", Filters()), ("验证码 -同步", Filters(product=("p2",)))]:
            query = SearchQuery(text=text, filters=filters, limit=15)
            got = ix.search(query)
            terms, exclude = ix._terms(query)
            match, _ = _match(query, terms, exclude)
            since = "" if filters.since is None else f" AND f.created_ts >= {int(filters.since.timestamp())}"
            expected = conn.execute(
                f"SELECT f.id, r.score FROM (SELECT rid, score FROM (SELECT feedback_fts.rowid AS rid, -{BM25} AS score "
                f"FROM feedback_fts JOIN feedback f ON f.rowid = feedback_fts.rowid WHERE feedback_fts MATCH ?{since} "
                f"ORDER BY feedback_fts.rowid DESC LIMIT ?) ORDER BY score DESC, rid DESC LIMIT 15) r "
                "JOIN feedback f ON f.rowid = r.rid ORDER BY r.score DESC, r.rid DESC", [match, 60]).fetchall()
            assert len(expected) == 15, text
            assert [h.doc["id"] for h in got.hits] == [i for i, _ in expected], (text, filters)
            assert [h.score for h in got.hits] == pytest.approx([s for _, s in expected]), (text, filters)
        conn.close()


def test_time_bounded_word_searches_follow_time_updates_and_deletes(tmp_path):
    """A match's time is read from the narrow feedback_time table (migration 0010): its triggers keep it in
    step with the documents through inserts, upserts that move a document in time, and deletes."""
    def at(i: int, hours: int) -> dict:
        return {"id": f"t{i}", "source": "weibo", "text": "alpha", "tokens": "alpha",
                "created_at": (BASE + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")}

    with SqliteIndex(tmp_path / "t.db", tokenizer=simple_tokenizer) as ix:
        ix.upsert([at(i, i) for i in range(10)])
        late = SearchQuery(text="alpha", filters=Filters(since=BASE + timedelta(hours=5)), facets=("source",))
        assert ix.search(late).total == 5
        ix.upsert([at(0, 8), at(9, 1)])  # t0 moves into the window, t9 out of it
        result = ix.search(late)
        assert result.total == 5 and {h.doc["id"] for h in result.hits} == {"t0", "t5", "t6", "t7", "t8"}
        ix.delete(["t0", "t5"])
        assert ix.search(late).total == 3 and ix.search(late).facets == {"source": [("weibo", 3)]}
        conn = sqlite3.connect(tmp_path / "t.db")
        assert conn.execute("SELECT rowid, created_ts FROM feedback_time ORDER BY rowid").fetchall() == \
            conn.execute("SELECT rowid, created_ts FROM feedback ORDER BY rowid").fetchall()
        conn.close()


ROLLED = ("sentiment", "topics", "rating", "source", "platform", "app_version", "intent", "product")


def in_filters(d: dict, flt: dict, since: datetime, until: datetime) -> bool:
    if d["created_at"] is None:
        return False
    created = datetime.strptime(d["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    if not since <= created < until:
        return False
    for field, values in flt.items():
        if field == "topic":
            if not set(values) & set(d["topics"]):
                return False
        elif d.get(field) not in values:
            return False
    return True


@pytest.mark.parametrize("flt,fields,rolled", [
    ({}, ROLLED, True),
    ({"product": ("p1",)}, ROLLED, True),  # the overview's question
    ({"product": ("p2",), "sentiment": ("negative",)}, ("topics", "source"), True),
    ({"source": ("appstore", "huawei"), "rating": (1, 5)}, ("app_version", "product"), True),
    ({"topic": ("t2",)}, ("sentiment", "product"), True),
    ({"product": ("p2",), "sentiment": ("negative",)}, ("topics", "platform"), False),  # platform: no such rollup
])
@pytest.mark.parametrize("since,until", [
    (BASE + timedelta(hours=2, minutes=1), BASE + timedelta(days=3, hours=4, minutes=59)),  # edges and 8-hour blocks
    (BASE, BASE + timedelta(days=5)),
    (BASE + timedelta(hours=3, minutes=10), BASE + timedelta(hours=9, minutes=20)),  # under a day: the documents
])
def test_facets_without_words_over_a_day_or_more_are_exact_from_the_rollups(ix, flt, fields, rolled, since, until):
    """The overview's question (a product's facets over a period): counted from the hourly rollups where they
    answer every field, exact (not sampled however many match) and equal to counting the documents;
    otherwise the documents are counted, sampled as asked."""
    docs = [d for d in corpus() if in_filters(d, flt, since, until)]
    result = ix.search(SearchQuery(filters=Filters(**flt, since=since, until=until), facets=tuple(fields),
                                   facet_sample=5, limit=0))
    assert result.total == len(docs)
    if rolled and until - since >= timedelta(days=1):
        assert len(docs) > 5 and result.facets_sampled is None
        for field in fields:
            assert result.facets[field] == expected_facets(docs, field), field
    else:
        assert result.facets_sampled == (5 if len(docs) > 5 else None)
