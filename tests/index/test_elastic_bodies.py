"""Elasticsearch request bodies, checked against the documented REST API and the client's signatures.

No cluster is needed: the bodies are pure data. The Python client's methods are generated from the
Elasticsearch API specification, so "every key is a parameter of the matching client method" checks
the body against the documented API; the expected shapes come from the REST reference.
"""

from __future__ import annotations

import inspect
from datetime import datetime, timezone
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from configs.index import ElasticsearchSettings
from configs.settings import Secrets
from index import Filters, SearchQuery
from index.base import DOC_FIELDS
from index.elastic import client_kwargs
from index.elastic_bodies import (
    HL_PRE, SCHEMA_VERSION, as_client_kwargs, bulk_actions, count_body, delete_actions, histogram_body,
    index_template, search_body,
)

CLIENT = Elasticsearch("http://127.0.0.1:9")  # never contacted: only its method signatures are read
#: A sub-word match (the run's bigrams, as a phrase on ``grams``), weighed a quarter of a whole word.
def sub(*clauses):
    return {"bool": {"must": list(clauses), "boost": 0.25}}


def either(words, subword):
    return {"bool": {"should": [words, subword], "minimum_should_match": 1}}


#: The free word 闪退: the whole token, or its characters anywhere in title or text.
SHANTUI = either({"match_phrase": {"tokens": "闪退"}}, sub({"match_phrase": {"grams": "闪退"}}))
#: The phrase "登录 失败": the adjacent tokens, or the run 登录失败 in title or text.
DENGLU_SHIBAI = either({"match_phrase": {"tokens": "登录 失败"}}, sub({"match_phrase": {"grams": "登录失败"}}))


def accepted(method) -> set[str]:
    return set(inspect.signature(method).parameters)


def test_index_template_matches_the_put_index_template_api():
    body = index_template("voc-feedback", shards=2, replicas=0)
    assert set(as_client_kwargs(body)) <= accepted(CLIENT.indices.put_index_template)
    assert body["index_patterns"] == ["voc-feedback-v*"]
    settings = body["template"]["settings"]
    assert settings["number_of_shards"] == 2 and settings["number_of_replicas"] == 0
    analyzer = settings["analysis"]["analyzer"]["voc_tokens"]
    assert analyzer == {"type": "custom", "tokenizer": "voc_split", "filter": ["lowercase"]}
    # sub-word recall: every two-character window of the text, one position apart
    # sub-word recall: everything but Chinese characters becomes a space, then every two-character window
    assert settings["analysis"]["analyzer"]["voc_grams"] == {"type": "custom", "char_filter": ["voc_cjk_only"],
                                                             "tokenizer": "voc_bigram"}
    assert settings["analysis"]["char_filter"]["voc_cjk_only"] == {
        "type": "pattern_replace", "pattern": "[^\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+", "replacement": " "}
    assert settings["analysis"]["tokenizer"]["voc_bigram"] == {"type": "ngram", "min_gram": 2, "max_gram": 2,
                                                               "token_chars": ["letter"]}
    mappings = body["template"]["mappings"]
    assert mappings["dynamic"] is False and mappings["_meta"]["voc_schema"] == SCHEMA_VERSION
    props = mappings["properties"]
    assert set(props) == {*DOC_FIELDS, "grams"}
    assert props["tokens"] == {"type": "text", "analyzer": "voc_tokens", "index_options": "offsets"}
    assert props["text"] == props["title"] == {"type": "text", "copy_to": "grams"}
    assert props["grams"] == {"type": "text", "analyzer": "voc_grams"}
    assert props["created_at"]["type"] == "date" and props["topics"] == {"type": "keyword"}
    assert props["rating"] == {"type": "integer"} and props["sentiment_score"] == {"type": "float"}
    valid_types = {"keyword", "text", "integer", "float", "date"}
    assert {p["type"] for p in props.values()} <= valid_types


def test_search_body_is_a_bool_query_with_filters_highlight_and_terms_aggs():
    q = SearchQuery(text='闪退 "登录 失败"', filters=Filters(product=("demo",), topic=("login", "crash"),
                                                         rating=(1, 2),
                                                         since=datetime(2026, 11, 1, tzinfo=timezone.utc)),
                    limit=10, offset=20, facets=("sentiment", "topics"))
    body = search_body(q, [(["闪退"], False), (["登录", "失败"], True)])
    assert set(as_client_kwargs(body)) <= accepted(CLIENT.search)
    assert body["query"] == {"bool": {
        "must": [SHANTUI, DENGLU_SHIBAI],
        "filter": [{"terms": {"product": ["demo"]}}, {"terms": {"topics": ["login", "crash"]}},
                   {"terms": {"rating": [1, 2]}}, {"range": {"created_at": {"gte": "2026-11-01T00:00:00Z"}}}],
    }}
    assert body["from"] == 20 and body["size"] == 10 and body["track_total_hits"] is True
    assert body["sort"][0] == "_score"
    assert body["highlight"]["fields"] == {"tokens": {"number_of_fragments": 0}}
    assert body["highlight"]["pre_tags"] == [HL_PRE]
    assert body["aggs"]["facet_topics"] == {"terms": {"field": "topics", "size": 50,
                                                      "order": [{"_count": "desc"}, {"_key": "asc"}]}}


def test_search_body_without_text_sorts_by_time_and_matches_all():
    body = search_body(SearchQuery(), [])
    assert body["query"] == {"match_all": {}}
    assert body["sort"][0] == {"created_at": {"order": "desc", "missing": "_last", "unmapped_type": "date"}}
    assert "highlight" not in body and "aggs" not in body


def test_raw_query_uses_query_string_only_when_asked():
    body = search_body(SearchQuery(text="闪退 OR 卡顿", raw=True), [])
    assert body["query"] == {"bool": {"must": [{"query_string": {"query": "闪退 OR 卡顿", "default_field": "tokens"}}]}}


def test_count_body_matches_the_count_api():
    body = count_body(Filters(until=datetime(2026, 11, 2, tzinfo=timezone.utc)))
    assert set(as_client_kwargs(body)) <= accepted(CLIENT.count)
    assert body == {"query": {"bool": {"filter": [{"range": {"created_at": {"lt": "2026-11-02T00:00:00Z"}}}]}}}


def test_histogram_body_uses_calendar_interval_time_zone_and_extended_bounds():
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    end = datetime(2026, 11, 2, tzinfo=timezone.utc)
    body = histogram_body(Filters(product=("demo",)), interval="hour", tz="Asia/Shanghai", start=start, end=end)
    assert set(as_client_kwargs(body)) <= accepted(CLIENT.search)
    assert body["size"] == 0
    hist = body["aggs"]["h"]["date_histogram"]
    assert hist == {"field": "created_at", "calendar_interval": "hour", "time_zone": "Asia/Shanghai",
                    "min_doc_count": 0, "extended_bounds": {"min": 1793491200000, "max": 1793577599999}}
    assert {"range": {"created_at": {"gte": "2026-11-01T00:00:00Z", "lt": "2026-11-02T00:00:00Z"}}} \
        in body["query"]["bool"]["filter"]
    grouped = histogram_body(Filters(), interval="day", tz="UTC", group_by="topics")
    assert grouped["aggs"]["g"]["terms"] == {"field": "topics", "size": 1000}
    assert grouped["aggs"]["g"]["aggs"]["h"]["date_histogram"]["min_doc_count"] == 1
    with pytest.raises(ValueError):
        histogram_body(Filters(), interval="week", tz="UTC")


def test_histogram_body_with_free_words_requires_every_token_and_keeps_the_filters():
    body = histogram_body(Filters(source=("weibo",)), interval="day", tz="UTC",
                          terms=[(["闪退"], False), (["登录", "失败"], True)])
    assert set(as_client_kwargs(body)) <= accepted(CLIENT.search)
    assert body["query"] == {"bool": {
        "must": [SHANTUI, DENGLU_SHIBAI],
        "filter": [{"terms": {"source": ["weibo"]}}, {"exists": {"field": "created_at"}}]}}
    # the same must clauses as a search for the same words
    assert body["query"]["bool"]["must"] == search_body(
        SearchQuery(text="x"), [(["闪退"], False), (["登录", "失败"], True)])["query"]["bool"]["must"]


def test_bulk_actions_are_idempotent_index_ops_by_id_last_one_wins():
    docs = [{"id": "a", "text": "1"}, {"id": "b", "text": "2"}, {"id": "a", "text": "3"}]
    actions = list(bulk_actions(docs, "voc-feedback"))
    assert actions == [
        {"_op_type": "index", "_index": "voc-feedback", "_id": "a", "_source": {"id": "a", "text": "3"}},
        {"_op_type": "index", "_index": "voc-feedback", "_id": "b", "_source": {"id": "b", "text": "2"}},
    ]
    assert list(delete_actions(["a", "a"], "x")) == [{"_op_type": "delete", "_index": "x", "_id": "a"}]


def test_client_kwargs_take_credentials_from_the_named_variables():
    es = ElasticsearchSettings(ca_certs="certs/ca.crt")
    kw = client_kwargs(es, Secrets({"VOC_ES_API_KEY": "k3y"}), Path("/srv/voc"))
    assert kw["api_key"] == "k3y" and kw["ca_certs"] == "/srv/voc/certs/ca.crt" and "basic_auth" not in kw
    kw = client_kwargs(ElasticsearchSettings(username_env="U", password_env="P"), Secrets({"U": "elastic", "P": "pw"}),
                       Path("/srv"))
    assert kw["basic_auth"] == ("elastic", "pw") and "api_key" not in kw
    kw = client_kwargs(ElasticsearchSettings(verify_certs=False), Secrets({}), Path("/srv"))
    assert kw["verify_certs"] is False and "api_key" not in kw and "basic_auth" not in kw
    assert set(kw) <= accepted(Elasticsearch.__init__)


def test_free_chinese_words_also_match_as_substrings_and_whole_words_weigh_more():
    body = search_body(SearchQuery(text="x"), [(["续费"], False), (["自动", "续费"], False), (["卡"], False),
                                               (["app"], False), (["ios", "闪退"], False), (["没法", "用"], False),
                                               (["登录", "失败"], True), (["ios", "闪退"], True)])
    续费, 自动续费, 卡, app, ios闪退, 没法用, phrase, mixed_phrase = body["query"]["bool"]["must"]
    assert 续费 == either({"match_phrase": {"tokens": "续费"}}, sub({"match_phrase": {"grams": "续费"}}))
    # a word jieba splits: all its tokens anywhere, or the whole run as a substring
    assert 自动续费 == either({"bool": {"must": [{"match_phrase": {"tokens": "自动"}}, {"match_phrase": {"tokens": "续费"}}]}},
                          sub({"match_phrase": {"grams": "自动续费"}}))
    # one character or a latin word: tokens only (a lone character has no bigram)
    assert 卡 == {"match_phrase": {"tokens": "卡"}} and app == {"match_phrase": {"tokens": "app"}}
    # a mixed word: its tokens, or its Chinese run as a substring together with its latin token
    assert ios闪退 == either({"bool": {"must": [{"match_phrase": {"tokens": "ios"}}, {"match_phrase": {"tokens": "闪退"}}]}},
                           sub({"match_phrase": {"grams": "闪退"}}, {"match_phrase": {"tokens": "ios"}}))
    # a run jieba cut into a lone character: only the characters side by side, never scattered
    assert 没法用 == sub({"match_phrase": {"grams": "没法用"}})
    assert phrase == DENGLU_SHIBAI
    assert mixed_phrase == {"match_phrase": {"tokens": "ios 闪退"}}  # a phrase of more than one run: tokens only


def test_excluded_words_are_must_not_clauses_of_the_same_shape():
    body = search_body(SearchQuery(text="x"), [(["闪退"], False)], exclude=[(["登录"], False), (["广告"], True)])
    assert body["query"]["bool"]["must"] == [SHANTUI]
    assert body["query"]["bool"]["must_not"] == [
        either({"match_phrase": {"tokens": "登录"}}, sub({"match_phrase": {"grams": "登录"}})),
        either({"match_phrase": {"tokens": "广告"}}, sub({"match_phrase": {"grams": "广告"}}))]
    # excluded words alone: everything else (no must), still sorted by time, no highlight
    only = search_body(SearchQuery(text="x"), [], exclude=[(["闪退"], False)])
    assert only["query"] == {"bool": {"must_not": [SHANTUI]}}
    assert "highlight" not in only and only["sort"][0] != "_score"
    hist = histogram_body(Filters(), interval="day", tz="UTC", exclude=[(["闪退"], False)])
    assert hist["query"]["bool"]["must_not"] == [SHANTUI]
