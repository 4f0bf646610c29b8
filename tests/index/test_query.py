"""The query language parser (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from index import Filters, QueryError, parse_query
from index._highlight import highlight_segments
from index.query import MAX_TERMS, excluded_terms, has_free_text, query_terms, split_terms

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


def test_design_example():
    q = parse_query("闪退 登录 product:demo source:weibo,appstore sentiment:negative topic:login intent:bug since:7d",
                    now=NOW)
    assert q.text == "闪退 登录"
    assert q.filters == Filters(product=("demo",), source=("weibo", "appstore"), sentiment=("negative",),
                                topic=("login",), intent=("bug",), since=NOW - timedelta(days=7))


@pytest.mark.parametrize("value,delta", [("30m", timedelta(minutes=30)), ("24h", timedelta(hours=24)),
                                         ("7d", timedelta(days=7)), ("2w", timedelta(weeks=2))])
def test_relative_times(value, delta):
    assert parse_query(f"since:{value}", now=NOW).filters.since == NOW - delta
    assert parse_query(f"until:{value}", now=NOW).filters.until == NOW - delta


def test_dates_are_local_days_and_until_includes_the_day():
    f = parse_query("since:2026-11-01 until:2026-11-20", now=NOW).filters
    assert f.since == datetime(2026, 10, 31, 16, 0, tzinfo=timezone.utc)
    assert f.until == datetime(2026, 11, 20, 16, 0, tzinfo=timezone.utc)
    f = parse_query("since:2026-11-01T08:00:00Z", now=NOW).filters
    assert f.since == datetime(2026, 11, 1, 8, tzinfo=timezone.utc)


def test_version_rating_risk_platform_and_forum_sources():
    f = parse_query("version:5.2.0 rating:1,2 risk:legal_threat platform:ios source:forum:bbs", now=NOW).filters
    assert f.app_version == ("5.2.0",) and f.rating == (1, 2) and f.risk == ("legal_threat",)
    assert f.platform == ("ios",) and f.source == ("forum:bbs",)


def test_repeated_fields_merge():
    assert parse_query("source:weibo source:zhihu,weibo", now=NOW).filters.source == ("weibo", "zhihu")


def test_phrases_are_kept_quoted_and_split():
    q = parse_query('"登录 失败" 闪退', now=NOW)
    assert q.text == '"登录 失败" 闪退'
    assert split_terms(q.text) == [("登录 失败", True), ("闪退", False)]


# Query errors name the field; the test for these and the hostile values below is after both lists.
_FIELD_ERRORS = [
    ("colour:red", "colour", "unknown field 'colour'"),
    ("sentiment:angry", "sentiment", "unknown value 'angry'"),
    ("intent:complain", "intent", "unknown value 'complain'"),
    ("risk:scary", "risk", "unknown value 'scary'"),
    ("source:facebook", "source", "unknown value 'facebook'"),
    ("rating:7", "rating", "bad value '7'"),
    ("rating:x", "rating", "bad value 'x'"),
    ("since:yesterday", "since", "bad time 'yesterday'"),
    ("until:2026-13-01", "until", "bad time"),
    ("product:", "product", "empty value"),
    ("since:1d until:3d", "since", "since must be before until"),
]


def test_non_field_colons_are_words():
    assert parse_query("12:30 闪退", now=NOW).text == "12:30 闪退"


def test_query_terms_segment_and_drop_punctuation():
    def tok(s):
        return {"登录失败": ["登录", "失败"], "！！": ["！", "！"]}.get(s, [s])

    assert query_terms("登录失败 ！！ APP", tok) == [(["登录", "失败"], False), (["app"], False)]


def test_highlight_segments():
    assert highlight_segments("登录失败，又闪退了", ["闪退", "登录"]) == [
        ("登录", True), ("失败，又", False), ("闪退", True), ("了", False)]
    assert highlight_segments("App crash", ["app"]) == [("App", True), (" crash", False)]
    assert highlight_segments("", ["x"]) == []
    assert highlight_segments("abc", []) == [("abc", False)]


# ---------------------------------------------------------------- hostile input (issue 23, findings 3, 5, 7, 9)
_HOSTILE_VALUES = [
    ("rating:¹", "rating", "bad value '¹'"),  # '¹'.isdigit() is True; int('¹') raised a bare ValueError (500)
    ("rating:٣", "rating", "ASCII digits"),  # an Arabic-Indic 3: int() would take it
    ("rating:５", "rating", "bad value"),  # full-width
    ("since:999999d", "since", "at most 100 years"),  # was OverflowError
    ("since:99999999999999999999w", "since", "at most 100 years"),
    ("since:9999-12-31T23:59:59-23:59", "since", "between 1970 and 2100"),  # was OverflowError
    ("until:0001-01-01T00:00:00+23:59", "until", "bad time"),
    ("since:1900-01-01", "since", "between 1970 and 2100"),
    ("since:٣d", "since", "ASCII"),
    ("since:２０２６-01-01", "since", "ASCII"),
    ("-topic:crash", "topic", "cannot be excluded"),
]


@pytest.mark.parametrize("text,field,fragment", _FIELD_ERRORS + _HOSTILE_VALUES)
def test_errors_and_hostile_values_are_query_errors_naming_the_field(text, field, fragment):
    with pytest.raises(QueryError) as err:
        parse_query(text, now=NOW)
    assert err.value.field == field
    assert fragment in str(err.value)


def test_a_leading_minus_excludes_the_word_instead_of_requiring_it():
    q = parse_query('闪退 -登录 -"自动 续费" a-b', now=NOW)
    assert q.text == '闪退 -登录 -"自动 续费" a-b'
    assert split_terms(q.text) == [("闪退", False), ("a-b", False)]

    def tok(s):
        return s.replace("-", " ").split()

    assert query_terms(q.text, tok) == [(["闪退"], False), (["a", "b"], False)]
    assert excluded_terms(q.text, tok) == [(["登录"], False), (["自动", "续费"], True)]
    assert query_terms("-登录", tok) == [] and has_free_text("-登录") and not has_free_text("  ")


def test_repeated_words_count_once_and_the_query_size_is_bounded():
    def tok(s):
        return s.split()

    assert query_terms("2 " * 200, tok) == [(["2"], False)]  # 200 copies of one word: one term
    with pytest.raises(QueryError, match="100,000 characters long; at most 500"):
        parse_query("2 " * 50_000, now=NOW)  # the 100 KB query of finding 5
    with pytest.raises(QueryError, match="at most 500"):
        query_terms("2 " * 50_000, tok)  # the backends' own entry point checks too
    words = " ".join(f"w{i}" for i in range(MAX_TERMS + 1))
    with pytest.raises(QueryError, match=f"{MAX_TERMS + 1} different words; at most {MAX_TERMS}"):
        query_terms(words, tok)
    assert len(query_terms(" ".join(f"w{i}" for i in range(MAX_TERMS)), tok)) == MAX_TERMS


# ---------------------------------------------------------------- Chinese names (issue 22)
TOPICS = {"crash": "闪退/崩溃", "login": "登录/账号", "sync": "网络/同步", "network": "网络"}


def test_sentiment_intent_risk_and_topic_accept_their_chinese_names():
    f = parse_query("sentiment:负面,Positive intent:功能建议,bug risk:监管投诉 topic:登录,crash", now=NOW,
                    topics=TOPICS).filters
    assert f.sentiment == ("negative", "positive") and f.intent == ("feature_request", "bug")
    assert f.risk == ("regulator_threat",) and f.topic == ("login", "crash")
    assert parse_query("topic:闪退/崩溃", now=NOW, topics=TOPICS).filters.topic == ("crash",)
    # a name part two topics share stands for both
    assert parse_query("topic:网络", now=NOW, topics=TOPICS).filters.topic == ("sync", "network")


@pytest.mark.parametrize("text,known", [
    ("topic:支付宝", "crash (闪退/崩溃), login (登录/账号)"),
    ("sentiment:生气", "negative (负面), neutral (中性), positive (正面)"),
    ("intent:吐槽", "bug (缺陷), feature_request (功能建议)"),
])
def test_unknown_values_list_the_known_ones(text, known):
    with pytest.raises(QueryError) as err:
        parse_query(text, now=NOW, topics=TOPICS)
    assert "unknown value" in str(err.value) and known in str(err.value)


def test_without_a_taxonomy_topic_ids_pass_through():
    assert parse_query("topic:anything", now=NOW).filters.topic == ("anything",)


def test_parse_time_turns_an_overflowing_offset_into_a_value_error():
    """The API's since=/until= parameters and crawled created_at go through parse_time: an ISO time whose
    offset leaves the years 1-9999 was an OverflowError (500 / a crashed batch), now a ValueError."""
    from index._docs import normalize_batch
    from index.base import parse_time
    from index import BulkIndexError

    for value in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"):
        with pytest.raises(ValueError, match="out of range"):
            parse_time(value)
    with pytest.raises(BulkIndexError) as err:
        normalize_batch([{"id": "x", "created_at": "9999-12-31T23:59:59-23:59"}], None, "test")
    assert err.value.errors == [("x", "time out of range: '9999-12-31T23:59:59-23:59'")]
