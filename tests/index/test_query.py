"""The query language parser (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from index import Filters, QueryError, parse_query
from index._highlight import highlight_segments
from index.query import query_terms, split_terms

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


@pytest.mark.parametrize("text,field,fragment", [
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
])
def test_errors_name_the_field(text, field, fragment):
    with pytest.raises(QueryError) as err:
        parse_query(text, now=NOW)
    assert err.value.field == field
    assert fragment in str(err.value)


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
