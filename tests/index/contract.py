"""The ONE contract every FeedbackIndex backend passes (run by test_contract.py for each backend).

Each test receives ``index`` (a fresh, empty backend) and ``tokenizer`` (jieba). Cases are written in
terms of the public interface only, so a failure here is a difference between backends.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from index import Bucket, Filters, SearchQuery, parse_query

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


def make_doc(tokenizer, id, text, **kw):
    doc = {
        "id": id, "source": "weibo", "source_id": id, "url": f"https://weibo.example/{id}", "parent_id": None,
        "product": "demo", "kind": "post", "title": "", "text": text, "raw_text": f"<p>{text}</p>",
        "tokens": " ".join(tokenizer(text)), "author_id": "u1", "author_name": "小王",
        "created_at": "2026-11-24T03:05:00Z", "crawled_at": "2026-11-24T04:00:00Z", "rating": None,
        "app_version": None, "platform": None, "likes": 3, "replies": 1, "reposts": 0,
        "sentiment": "negative", "sentiment_score": 0.91, "intent": "bug", "topics": [], "risk": [],
        "dup_of": None, "model_version": "rules-1",
    }
    doc.update(kw)
    return doc


@pytest.fixture
def corpus(tokenizer):
    return [
        make_doc(tokenizer, "d1", "登录失败，一直闪退，客服也不理人", topics=["login", "crash"],
                 created_at="2026-11-24T03:05:00Z", source="weibo"),
        make_doc(tokenizer, "d2", "更新以后闪退严重，打开就崩溃", topics=["crash"], source="appstore", rating=1,
                 app_version="5.2.0", platform="ios", created_at="2026-11-23T17:30:00Z"),
        make_doc(tokenizer, "d3", "界面很好看，用起来很流畅", topics=["ux"], sentiment="positive", intent="praise",
                 source="appstore", rating=5, app_version="5.2.0", platform="android",
                 created_at="2026-11-22T08:00:00Z"),
        make_doc(tokenizer, "d4", "希望增加夜间模式，晚上看太刺眼", topics=["ux"], sentiment="neutral",
                 intent="feature_request", source="zhihu", created_at="2026-11-20T01:00:00Z"),
        make_doc(tokenizer, "d5", "扣费不退款，我要向消费者协会投诉", topics=["billing"], intent="service_complaint",
                 risk=["regulator_threat"], source="heimao", product="other", created_at="2026-11-24T11:59:00Z"),
    ]


class IndexContract:
    # ------------------------------------------------------------------ upsert / get / delete
    def test_upsert_counts_new_then_updated_and_get_round_trips(self, index, corpus):
        assert index.upsert(corpus) == (5, 0)
        assert index.upsert(corpus[:2]) == (0, 2)
        assert index.count(Filters()) == 5
        got = index.get("d2")
        for key, value in corpus[1].items():
            assert got[key] == value, key
        assert index.get("missing") is None

    def test_reupsert_replaces_fields_and_search_sees_new_text(self, index, corpus, tokenizer):
        index.upsert(corpus)
        changed = dict(corpus[0], text="支付页面卡住", tokens=" ".join(tokenizer("支付页面卡住")), likes=99,
                       topics=["billing"])
        assert index.upsert([changed]) == (0, 1)
        assert index.get("d1")["likes"] == 99
        assert index.search(SearchQuery(text="登录")).total == 0
        assert [h.doc["id"] for h in index.search(SearchQuery(text="支付")).hits] == ["d1"]
        assert index.count(Filters(topic=("login",))) == 0
        assert index.count(Filters(topic=("billing",))) == 2

    def test_upsert_empty_batch_is_a_no_op(self, index):
        assert index.upsert([]) == (0, 0)

    def test_delete(self, index, corpus):
        index.upsert(corpus)
        assert index.delete(["d1", "d2", "nope"]) == 2
        assert index.get("d1") is None
        assert index.count(Filters()) == 3
        assert index.search(SearchQuery(text="闪退")).total == 0

    # ------------------------------------------------------------------ search
    def test_free_words_must_all_match(self, index, corpus):
        index.upsert(corpus)
        assert {h.doc["id"] for h in index.search(SearchQuery(text="闪退")).hits} == {"d1", "d2"}
        assert [h.doc["id"] for h in index.search(SearchQuery(text="闪退 登录")).hits] == ["d1"]
        assert index.search(SearchQuery(text="闪退 夜间")).total == 0

    def test_free_word_is_segmented_like_the_tokens(self, index, corpus):
        index.upsert(corpus)
        # "登录闪退" is not in any text, but segments into 登录 + 闪退, both in d1
        assert [h.doc["id"] for h in index.search(SearchQuery(text="登录闪退")).hits] == ["d1"]

    def test_quoted_phrase_needs_adjacent_tokens(self, index, corpus):
        index.upsert(corpus)
        assert [h.doc["id"] for h in index.search(SearchQuery(text='"登录 失败"')).hits] == ["d1"]
        assert index.search(SearchQuery(text='"失败 登录"')).total == 0

    def test_user_input_cannot_inject_query_syntax(self, index, corpus):
        index.upsert(corpus)
        expected = {
            "闪退 OR 夜间": 0,  # OR is a word to match, not an operator
            "NEAR(闪退": 0, "tokens:闪退": 0, "AND": 0,
            "闪退*": 2, "闪退^": 2, "(闪退)": 2,  # operator characters are dropped, the word stays
            "-闪退": 3, "-(闪退": 3,  # a leading '-' excludes the word (see test_excluded_words)
            '"': 5, "(((": 5, "\\": 5, "'": 5,  # nothing searchable left: no text constraint
        }
        for text, total in expected.items():
            assert index.search(SearchQuery(text=text)).total == total, text

    # ------------------------------------------------------------------ sub-word recall
    def test_a_run_of_chinese_characters_finds_the_words_it_is_part_of(self, index, tokenizer):
        """jieba keeps 转圈圈 and 验证码 as one word each; every run of two or more Chinese characters that
        occurs in a text (title or text) still finds it, and never across punctuation."""
        assert tokenizer("一直转圈圈") == ["一直", "转圈圈"] and tokenizer("验证码") == ["验证码"]
        index.upsert([
            make_doc(tokenizer, "s1", "页面一直转圈圈，进不去"),
            make_doc(tokenizer, "s2", "收不到验证码"),
            make_doc(tokenizer, "s3", "登录，失败了"),
            make_doc(tokenizer, "s4", "好用", title="验证码太慢"),
        ])
        def found(text):
            return {h.doc["id"] for h in index.search(SearchQuery(text=text, limit=50)).hits}

        assert found("转圈") == {"s1"} and found("圈圈") == {"s1"} and found("直转圈") == {"s1"}
        assert found("验证") == {"s2", "s4"} and found("证码") == {"s2", "s4"}
        assert found("录失") == set()  # 登录，失败: the comma splits the runs
        assert found("转圈 进不") == {"s1"} and found("转圈 验证") == set()  # every word must match
        # a run jieba cuts into single characters (卡了 → 卡 + 了) matches where they are adjacent only
        assert tokenizer("卡了") == ["卡", "了"]
        index.upsert([make_doc(tokenizer, "s5", "打开卡了好久"), make_doc(tokenizer, "s6", "老是卡，我卸载了")])
        assert found("卡了") == {"s5"} and found("卡") == {"s5", "s6"}
        assert found('"一直转圈圈"') == {"s1"} and found('"转圈 一直"') == set()
        assert index.search(SearchQuery(text="验证", filters=Filters(source=("weibo",)))).total == 2
        hit = index.search(SearchQuery(text="转圈")).hits[0]
        assert "".join(s for s, _ in hit.highlight) == "页面一直转圈圈，进不去"
        assert [s for s, m in hit.highlight if m] == ["转圈"]

    def test_relevance_favours_whole_words_and_phrases(self, index, tokenizer):
        index.upsert([
            # the sub-word match is the shorter text, which bm25 alone would favour
            make_doc(tokenizer, "w1", "验证码"),
            make_doc(tokenizer, "w2", "短信验证一直不通过，换了手机也不行，客服说再等等看，已经等了三天"),
        ])
        assert [h.doc["id"] for h in index.search(SearchQuery(text="验证")).hits] == ["w2", "w1"]
        index.upsert([
            make_doc(tokenizer, "p1", "登录了一下，然后提示失败"),
            make_doc(tokenizer, "p2", "昨天晚上到现在一直登录失败，重装了好几次都不行，真的很烦人"),
        ])
        assert [h.doc["id"] for h in index.search(SearchQuery(text="登录失败")).hits] == ["p2", "p1"]

    # ------------------------------------------------------------------ excluded words
    def test_excluded_words(self, index, corpus, tokenizer):
        index.upsert(corpus)
        def found(text, **kw):
            return {h.doc["id"] for h in index.search(SearchQuery(text=text, limit=50, **kw)).hits}

        assert found("-闪退") == {"d3", "d4", "d5"}
        assert found("闪退 -登录") == {"d2"} and found("-登录 闪退") == {"d2"}
        assert found('-"登录 失败"') == {"d2", "d3", "d4", "d5"} and found('-"失败 登录"') == {f"d{i}" for i in range(1, 6)}
        assert found("-闪退 -夜间") == {"d3", "d5"}
        assert found("-间模", sort="time") == {"d1", "d2", "d3", "d5"}  # a sub-word (of 夜间模式) excludes too
        assert found("-闪退", filters=Filters(source=("appstore",))) == {"d3"}
        assert index.search(SearchQuery(text="-闪退", filters=Filters(source=("appstore",)))).total == 1
        result = index.search(SearchQuery(text="-闪退", facets=("source",)))
        assert result.total == 3 and dict(result.facets["source"]) == {"appstore": 1, "zhihu": 1, "heimao": 1}
        start, end = NOW - timedelta(days=5), NOW
        assert sum(b.count for b in index.histogram(interval="day", tz="UTC", start=start, end=end, text="-闪退")) == 3
        assert sum(b.count for b in index.histogram(interval="day", tz="UTC", start=start, end=end,
                                                    text="闪退 -登录")) == 1
        by_topic = index.histogram(interval="day", tz="UTC", group_by="topics", start=start, end=end, text="-闪退")
        assert {b.key for b in by_topic if b.count} == {"ux", "billing"}

    def test_explain_shows_what_a_search_sends_the_backend(self, index, corpus):
        index.upsert(corpus)
        text = index.explain(SearchQuery(text="闪退 -登录", filters=Filters(source=("appstore",))))
        assert isinstance(text, str) and "闪退" in text and "登录" in text  # (SQL and parameters, or a JSON body)

    def test_punctuation_only_query_matches_everything(self, index, corpus):
        index.upsert(corpus)
        assert index.search(SearchQuery(text="，！")).total == 5

    def test_highlight_segments_join_to_the_text_and_mark_the_terms(self, index, corpus):
        index.upsert(corpus)
        hit = index.search(SearchQuery(text="闪退 登录")).hits[0]
        assert "".join(s for s, _ in hit.highlight) == corpus[0]["text"]
        assert {s for s, m in hit.highlight if m} == {"登录", "闪退"}

    def test_filters_on_every_field(self, index, corpus):
        index.upsert(corpus)
        cases = {
            Filters(product=("other",)): {"d5"},
            Filters(source=("appstore", "zhihu")): {"d2", "d3", "d4"},
            Filters(sentiment=("positive",)): {"d3"},
            Filters(topic=("crash",)): {"d1", "d2"},
            Filters(topic=("login", "ux")): {"d1", "d3", "d4"},
            Filters(intent=("feature_request",)): {"d4"},
            Filters(risk=("regulator_threat",)): {"d5"},
            Filters(platform=("ios",)): {"d2"},
            Filters(app_version=("5.2.0",)): {"d2", "d3"},
            Filters(rating=(1, 2)): {"d2"},
            Filters(since=datetime(2026, 11, 23, 17, 30, tzinfo=timezone.utc)): {"d1", "d2", "d5"},
            Filters(until=datetime(2026, 11, 23, 17, 30, tzinfo=timezone.utc)): {"d3", "d4"},
            Filters(source=("appstore",), topic=("ux",)): {"d3"},
        }
        for filters, expected in cases.items():
            found = {h.doc["id"] for h in index.search(SearchQuery(filters=filters, limit=50)).hits}
            assert found == expected, filters
            assert index.count(filters) == len(expected), filters

    def test_text_and_filters_combine(self, index, corpus):
        index.upsert(corpus)
        q = SearchQuery(text="闪退", filters=Filters(source=("appstore",)))
        assert [h.doc["id"] for h in index.search(q).hits] == ["d2"]

    def test_documents_without_created_at_match_topic_and_risk_filters_but_no_time_bound(self, index, tokenizer):
        undated = make_doc(tokenizer, "u1", "登录失败，一直闪退", created_at=None, topics=["login"], risk=["viral"])
        dated = make_doc(tokenizer, "u2", "登录失败", topics=["login"])
        index.upsert([undated, dated])
        index.upsert([dict(undated, topics=["login", "crash"])])  # a label correction re-upserts it
        for q in (SearchQuery(filters=Filters(topic=("crash",))), SearchQuery(text="闪退", filters=Filters(topic=("crash",))),
                  SearchQuery(filters=Filters(risk=("viral",))), SearchQuery(text="登录", filters=Filters(risk=("viral",)))):
            assert [h.doc["id"] for h in index.search(q).hits] == ["u1"], q
        assert index.count(Filters(topic=("login",))) == 2
        result = index.search(SearchQuery(text="登录", facets=("topics",)))
        assert dict(result.facets["topics"]) == {"login": 2, "crash": 1}
        for bound in (Filters(topic=("crash",), since=NOW - timedelta(days=9999)),
                      Filters(topic=("crash",), until=NOW)):
            assert index.count(bound) == 0
            assert index.search(SearchQuery(text="闪退", filters=bound)).total == 0
        buckets = index.histogram(Filters(topic=("login",)), interval="day", tz="UTC", group_by="topics",
                                  start=NOW - timedelta(days=2), end=NOW)
        assert sum(b.count for b in buckets) == 1  # the dated one only

    def test_query_language_end_to_end(self, index, corpus):
        index.upsert(corpus)
        q = parse_query("闪退 source:weibo,appstore topic:crash sentiment:negative since:2d", now=NOW)
        assert {h.doc["id"] for h in index.search(q).hits} == {"d1", "d2"}
        q = parse_query("rating:5 version:5.2.0", now=NOW)
        assert [h.doc["id"] for h in index.search(q).hits] == ["d3"]

    def test_sort_by_time_limit_offset_and_total(self, index, corpus):
        index.upsert(corpus)
        first = index.search(SearchQuery(sort="time", limit=2))
        assert [h.doc["id"] for h in first.hits] == ["d5", "d1"]
        assert first.total == 5
        second = index.search(SearchQuery(sort="time", limit=2, offset=2))
        assert [h.doc["id"] for h in second.hits] == ["d2", "d3"]
        assert index.search(SearchQuery(limit=0)).total == 5

    def test_relevance_ranks_the_denser_match_first(self, index, tokenizer):
        index.upsert([
            make_doc(tokenizer, "x1", "闪退 闪退 闪退，每次都闪退"),
            make_doc(tokenizer, "x2", "今天天气不错，出去走了走，回来发现应用闪退了一次，然后就好了"),
        ])
        hits = index.search(SearchQuery(text="闪退")).hits
        assert [h.doc["id"] for h in hits] == ["x1", "x2"]
        assert hits[0].score > hits[1].score

    def test_facets_count_the_matched_set(self, index, corpus):
        index.upsert(corpus)
        result = index.search(SearchQuery(facets=("topics", "source", "sentiment")))
        assert dict(result.facets["topics"]) == {"crash": 2, "ux": 2, "login": 1, "billing": 1}
        assert result.facets["topics"][:2] == [("crash", 2), ("ux", 2)]
        assert dict(result.facets["source"]) == {"appstore": 2, "weibo": 1, "zhihu": 1, "heimao": 1}
        result = index.search(SearchQuery(text="闪退", facets=("sentiment", "rating")))
        assert result.facets == {"sentiment": [("negative", 2)], "rating": [("1", 1)]}

    # ------------------------------------------------------------------ histogram
    def test_hourly_histogram_in_shanghai_time_with_empty_buckets(self, index, corpus):
        index.upsert(corpus)
        start = datetime(2026, 11, 24, 0, 0, tzinfo=SH)
        buckets = index.histogram(Filters(), interval="hour", tz="Asia/Shanghai", start=start,
                                  end=start + timedelta(hours=24))
        assert len(buckets) == 24
        assert all(b.start.utcoffset() == timedelta(hours=8) for b in buckets)
        counts = {b.start.hour: b.count for b in buckets if b.count}
        # d2 17:30Z → 01:30 local, d1 03:05Z → 11:05, d5 11:59Z → 19:59
        assert counts == {1: 1, 11: 1, 19: 1}
        assert buckets[0] == Bucket(start, None, 0)

    def test_daily_histogram_uses_local_days(self, index, corpus):
        index.upsert(corpus)
        start = datetime(2026, 11, 20, tzinfo=SH)
        buckets = index.histogram(Filters(), interval="day", start=start, end=datetime(2026, 11, 25, tzinfo=SH))
        assert [(b.start.day, b.count) for b in buckets] == [(20, 1), (21, 0), (22, 1), (23, 0), (24, 3)]
        utc = index.histogram(Filters(), interval="day", tz="UTC", start=datetime(2026, 11, 23, tzinfo=timezone.utc),
                              end=datetime(2026, 11, 25, tzinfo=timezone.utc))
        assert [(b.start.day, b.count) for b in utc] == [(23, 1), (24, 2)]

    def test_histogram_grouped_by_field_and_by_topic(self, index, corpus):
        index.upsert(corpus)
        start = datetime(2026, 11, 20, tzinfo=SH)
        end = datetime(2026, 11, 25, tzinfo=SH)
        by_topic = index.histogram(Filters(), interval="day", group_by="topics", start=start, end=end)
        nonzero = {(b.start.day, b.key): b.count for b in by_topic if b.count}
        assert nonzero == {(20, "ux"): 1, (22, "ux"): 1, (24, "crash"): 2, (24, "login"): 1, (24, "billing"): 1}
        assert len(by_topic) == 5 * 4  # every day for every key seen
        by_sent = index.histogram(Filters(source=("appstore",)), interval="day", group_by="sentiment",
                                  start=start, end=end)
        assert {(b.start.day, b.key): b.count for b in by_sent if b.count} == {(22, "positive"): 1, (24, "negative"): 1}

    def test_histogram_respects_filters_and_minute_interval(self, index, corpus):
        index.upsert(corpus)
        since = datetime(2026, 11, 24, 11, 58, tzinfo=timezone.utc)
        buckets = index.histogram(Filters(topic=("billing",), since=since,
                                          until=since + timedelta(minutes=3)), interval="minute")
        assert [(b.start.astimezone(timezone.utc).minute, b.count) for b in buckets] == [(58, 0), (59, 1), (0, 0)]

    # ------------------------------------------------------------------ scan
    def test_histogram_counts_only_documents_matching_the_free_words(self, index, corpus):
        index.upsert(corpus)
        start, end = NOW - timedelta(days=5), NOW
        def per_key(buckets):
            out: dict = {}
            for b in buckets:
                out[b.key] = out.get(b.key, 0) + b.count
            return {k: n for k, n in out.items() if n}

        total = per_key(index.histogram(interval="day", tz="UTC", group_by="source", start=start, end=end, text="闪退"))
        assert total == {"weibo": 1, "appstore": 1}  # d1, d2
        hourly = [(b.start, b.count) for b in index.histogram(Filters(source=("appstore",)), interval="hour", tz="UTC",
                                                              start=start, end=end, text="闪退") if b.count]
        assert hourly == [(datetime(2026, 11, 23, 17, tzinfo=timezone.utc), 1)]
        topics = per_key(index.histogram(interval="day", tz="UTC", group_by="topics", start=start, end=end, text="闪退"))
        assert topics == {"crash": 2, "login": 1}
        assert not [b for b in index.histogram(interval="day", tz="UTC", start=start, end=end,
                                               text='"闪退 夜间模式"') if b.count]
        # punctuation only: no text constraint (as in search)
        assert sum(b.count for b in index.histogram(interval="day", tz="UTC", start=start, end=end, text="，")) == 5

    def test_scan_yields_every_matching_doc_across_batches(self, index, tokenizer):
        docs = [make_doc(tokenizer, f"s{i:03d}", f"第{i}条反馈", product="a" if i % 3 else "b") for i in range(25)]
        index.upsert(docs)
        ids = [d["id"] for d in index.scan(Filters(product=("a",)), batch_size=4)]
        assert sorted(ids) == sorted(d["id"] for d in docs if d["product"] == "a")
        assert len(ids) == len(set(ids))
        slim = next(iter(index.scan(Filters(), fields=["id", "topics"])))
        assert set(slim) == {"id", "topics"}
