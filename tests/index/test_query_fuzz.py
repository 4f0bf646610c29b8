"""Property-based fuzz of the query language end to end (issue 23): whatever the text, parse_query and a
search answer a result or a QueryError naming what to fix — never another exception."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index import QueryError, SqliteIndex, parse_query
from index.query import FIELDS

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
TOPICS = {"login": "登录/账号", "crash": "闪退/崩溃"}

_value = st.one_of(
    st.text(min_size=0, max_size=12),
    st.sampled_from(["¹", "٣", "５", "999999d", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "1e9",
                     "-1", "2026-02-30", "24h", "7d", "登录", "负面", "forum:", '"', ",,", "5,1"]),
)
_word = st.one_of(
    st.builds(lambda f, v, neg: ("-" if neg else "") + f + ":" + v, st.sampled_from(sorted(FIELDS)), _value,
              st.booleans()),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=8),
    st.sampled_from(["续费", "-登录", '"登录 失败"', '-"', "NEAR(", "AND", "OR", "*", "^", "-", "--", '"']),
)


@pytest.fixture(scope="module")
def ix(tmp_path_factory, tokenizer):
    index = SqliteIndex(tmp_path_factory.mktemp("fuzz") / "v.db", tokenizer=tokenizer)
    index.upsert([{"id": f"d{i}", "text": t, "source": "weibo", "product": "demo", "sentiment": "negative",
                   "created_at": "2026-11-24T03:05:00Z", "topics": ["login"]}
                  for i, t in enumerate(["登录失败，一直转圈圈", "自动续费取消不了", "收不到验证码 iOS 17"])])
    yield index
    index.close()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(_word, max_size=6))
def test_any_query_answers_or_names_the_problem(ix, words):
    text = " ".join(words)
    try:
        query = parse_query(text, now=NOW, topics=TOPICS, facets=("topics", "source"))
        result = ix.search(query)
    except QueryError as exc:
        assert str(exc)  # a message to show; the API answers it 400
        return
    assert result.total >= len(result.hits)
    ix.histogram(query.filters, interval="day", tz="UTC", text=query.text)
