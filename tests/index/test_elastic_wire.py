"""ElasticsearchIndex over real HTTP against a loopback stand-in that answers like Elasticsearch.

No cluster exists here, so this checks the glue, not Elasticsearch's semantics (the contract suite does
that when VOC_ES_URL is set): which requests the official client sends (paths, NDJSON bulk bodies,
query bodies) and how the backend reads the answers (bulk item results and errors, hits, highlights,
aggregations, date_histogram keys, 404s, scroll). Every answer the stand-in gives is checked against the
response types of Elastic's API specification when the test ends, so the answers parsed here have the
documented shape (answers recorded from real nodes: test_elastic_recorded.py).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from configs.index import ElasticsearchSettings, IndexSettings
from configs.settings import Secrets
from index import BulkIndexError, Filters, SchemaMismatchError, SearchQuery
from index.elastic import ElasticsearchIndex
from index.elastic_bodies import HL_POST, HL_PRE, SCHEMA_VERSION
from tests.index.es_cluster import SHARDS, cluster_with_a_new_index
from tests.index.es_spec import Spec

SPEC = Spec.load()

V = f"/voc-t-v{SCHEMA_VERSION}"  # the versioned index behind the alias voc-t


@pytest.fixture
def cluster():
    with cluster_with_a_new_index("voc-t", V) as c:
        yield c
    # the stand-in's answers have the documented shapes (so what the backend parsed here is realistic)
    for method, path, status, payload in c.responses:
        if method != "HEAD" and status < 300:
            SPEC.check_response(SPEC.endpoint_for(method, path.split("?", 1)[0])[0]["name"], payload)


def open_es(cluster, tokenizer, **es) -> ElasticsearchIndex:
    settings = IndexSettings(url=cluster.url, name="voc-t", elasticsearch=ElasticsearchSettings(max_retries=0, **es))
    return ElasticsearchIndex.from_settings(settings, url=cluster.url, home=__import__("pathlib").Path("."),
                                           tokenizer=tokenizer, secrets=Secrets({"VOC_ES_API_KEY": "s3cret"}))


def test_open_installs_the_template_and_creates_the_versioned_index_behind_the_alias(cluster, tokenizer):
    ix = open_es(cluster, tokenizer)
    template = json.loads(cluster.sent("PUT", "/_index_template/voc-t")[0])
    assert template["index_patterns"] == ["voc-t-v*"]
    assert template["template"]["mappings"]["properties"]["tokens"]["analyzer"] == "voc_tokens"
    assert json.loads(cluster.sent("PUT", V)[0]) == {"aliases": {"voc-t": {"is_write_index": True}}}
    ix.close()


def test_the_api_key_is_sent_and_never_shown(cluster, tokenizer):
    ix = open_es(cluster, tokenizer)
    assert all(h.get("authorization") == "ApiKey s3cret" for h in cluster.headers)
    assert "s3cret" not in repr(ix)
    ix.close()


def test_an_alias_on_an_older_schema_is_refused(cluster, tokenizer):
    cluster.routes[("HEAD", "/_alias/voc-t")] = (200, {})
    cluster.routes[("GET", "/voc-t/_mapping")] = {"voc-t-v0": {"mappings": {"_meta": {"voc_schema": 0}}}}
    with pytest.raises(SchemaMismatchError, match="voc reindex"):
        open_es(cluster, tokenizer)
    cluster.routes[("GET", "/voc-t/_mapping")] = {V[1:]: {"mappings": {"_meta": {"voc_schema": SCHEMA_VERSION}}}}
    open_es(cluster, tokenizer).close()
    assert not cluster.sent("PUT", V)  # the existing index is used


class NormalizingTokenizer:
    """A tokenizer carrying its text normalization, like the classifier's segmenter."""

    def __init__(self, **config: str) -> None:
        self.config = {"version": "1", "opencc_profile": "t2s", "dict_hash": "aaa", **config}

    def __call__(self, text: str) -> list[str]:
        return text.split()


def test_a_new_index_records_the_normalization_of_its_tokens(cluster):
    open_es(cluster, NormalizingTokenizer()).close()
    created = json.loads(cluster.sent("PUT", V)[0])
    assert created["mappings"]["_meta"] == {"voc_schema": SCHEMA_VERSION, "voc_normalization": {
        "version": "1", "opencc_profile": "t2s", "dict_hash": "aaa"}}


def test_an_index_built_with_another_normalization_is_refused(cluster):
    cluster.routes[("HEAD", "/_alias/voc-t")] = (200, {})
    cluster.routes[("PUT", V + "/_mapping")] = {"acknowledged": True}
    saved = {"voc_schema": SCHEMA_VERSION, "voc_normalization": {"version": "1", "opencc_profile": "t2s",
                                                                  "dict_hash": "aaa"}}
    cluster.routes[("GET", "/voc-t/_mapping")] = {V[1:]: {"mappings": {"_meta": saved}}}
    with pytest.raises(SchemaMismatchError, match="normalization version='1' but this code uses '2'.*voc reindex"):
        open_es(cluster, NormalizingTokenizer(version="2"))
    with pytest.raises(SchemaMismatchError, match="opencc_profile"):
        open_es(cluster, NormalizingTokenizer(opencc_profile="tw2s"))
    open_es(cluster, NormalizingTokenizer()).close()  # the same normalization opens and writes nothing
    assert not cluster.sent("PUT", V + "/_mapping")
    # an index from before (no normalization recorded) gets it recorded, keeping its schema version
    cluster.routes[("GET", "/voc-t/_mapping")] = {V[1:]: {"mappings": {"_meta": {"voc_schema": SCHEMA_VERSION}}}}
    open_es(cluster, NormalizingTokenizer(dict_hash="bbb")).close()
    assert json.loads(cluster.sent("PUT", V + "/_mapping")[0]) == {"_meta": {
        "voc_schema": SCHEMA_VERSION, "voc_normalization": {"version": "1", "opencc_profile": "t2s", "dict_hash": "bbb"}}}


def test_upsert_sends_ndjson_index_actions_and_counts_created_and_updated(cluster, tokenizer):
    def bulk(body: bytes):
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        items = []
        for action in lines[0::2]:
            _id = action["index"]["_id"]
            items.append({"index": {"_index": V[1:], "_id": _id, "status": 201 if _id == "a" else 200,
                                    "result": "created" if _id == "a" else "updated"}})
        return {"took": 1, "errors": False, "items": items}

    cluster.routes[("PUT", "/_bulk")] = bulk
    cluster.routes[("POST", "/_bulk")] = bulk
    ix = open_es(cluster, tokenizer)
    result = ix.upsert([{"id": "a", "text": "登录失败", "created_at": "2026-11-24T03:05:00+00:00"},
                        {"id": "b", "text": "闪退"}])
    assert result == (1, 1)
    method_path = [(m, p) for m, p, _ in cluster.requests if "_bulk" in p][0]
    assert "refresh=wait_for" in method_path[1]
    body = (cluster.sent("PUT", "/_bulk") + cluster.sent("POST", "/_bulk"))[0].decode().splitlines()
    assert json.loads(body[0]) == {"index": {"_index": "voc-t", "_id": "a"}}
    source = json.loads(body[1])
    assert source["created_at"] == "2026-11-24T03:05:00Z" and source["tokens"] == "登录 失败"
    assert source["topics"] == [] and set(source) >= {"sentiment", "risk", "dup_of"}
    ix.close()


def test_rejected_items_are_reported_per_document(cluster, tokenizer):
    answer = {"took": 1, "errors": True, "items": [
        {"index": {"_index": V[1:], "_id": "a", "status": 201, "result": "created"}},
        {"index": {"_index": V[1:], "_id": "b", "status": 400, "error": {"type": "mapper_parsing_exception",
                                                        "reason": "failed to parse field [rating]"}}}]}
    cluster.routes[("PUT", "/_bulk")] = answer
    cluster.routes[("POST", "/_bulk")] = answer
    ix = open_es(cluster, tokenizer)
    with pytest.raises(BulkIndexError) as err:
        ix.upsert([{"id": "a", "text": "x"}, {"id": "b", "text": "y"}])
    assert err.value.errors[0][0] == "b" and "mapper_parsing_exception" in err.value.errors[0][1]
    ix.close()


def test_search_reads_hits_highlights_total_and_facets(cluster, tokenizer):
    cluster.routes[("POST", "/voc-t/_search")] = {
        "took": 3, "timed_out": False, "_shards": SHARDS,
        "hits": {"total": {"value": 42, "relation": "eq"}, "max_score": 2.5, "hits": [
            {"_index": V[1:], "_id": "a", "_score": 2.5, "_source": {"id": "a", "text": "登录失败，闪退了", "topics": ["login"]},
             "highlight": {"tokens": [f"{HL_PRE}登录{HL_POST} 失败 ， {HL_PRE}闪退{HL_POST} 了"]}}]},
        "aggregations": {"facet_sentiment": {"buckets": [{"key": "negative", "doc_count": 40},
                                                         {"key": "neutral", "doc_count": 2}]},
                         "facet_rating": {"buckets": [{"key": 1, "doc_count": 7}]}},
    }
    ix = open_es(cluster, tokenizer)
    result = ix.search(SearchQuery(text="闪退 登录", filters=Filters(product=("demo",)),
                                   facets=("sentiment", "rating")))
    sent = json.loads(cluster.sent("POST", "/voc-t/_search")[0])
    assert [clause["bool"]["should"][1]["bool"]["must"] for clause in sent["query"]["bool"]["must"]] == [
        [{"match_phrase": {"grams": "闪退"}}], [{"match_phrase": {"grams": "登录"}}]]
    assert sent["query"]["bool"]["filter"] == [{"terms": {"product": ["demo"]}}]
    assert result.total == 42 and result.hits[0].score == 2.5
    assert result.hits[0].doc["id"] == "a" and result.hits[0].doc["risk"] == []
    assert result.hits[0].highlight == [("登录", True), ("失败，", False), ("闪退", True), ("了", False)]
    assert result.facets == {"sentiment": [("negative", 40), ("neutral", 2)], "rating": [("1", 7)]}
    ix.close()


def test_histogram_reads_date_histogram_buckets_in_the_time_zone(cluster, tokenizer):
    sh = ZoneInfo("Asia/Shanghai")
    day = datetime(2026, 11, 24, tzinfo=sh)
    key = int(day.timestamp() * 1000)
    cluster.routes[("POST", "/voc-t/_search")] = {"took": 2, "timed_out": False, "_shards": SHARDS, "hits": {
        "total": {"value": 3, "relation": "eq"}, "hits": []}, "aggregations": {
        "g": {"buckets": [{"key": "crash", "doc_count": 3, "h": {"buckets": [
            {"key": key, "key_as_string": "2026-11-24T00:00:00.000+08:00", "doc_count": 3}]}}]}}}
    ix = open_es(cluster, tokenizer)
    buckets = ix.histogram(Filters(), interval="day", tz="Asia/Shanghai", group_by="topics",
                           start=day, end=datetime(2026, 11, 25, tzinfo=sh))
    assert [(b.start, b.key, b.count) for b in buckets] == [(day, "crash", 3)]
    assert buckets[0].start.utcoffset().total_seconds() == 8 * 3600
    sent = json.loads(cluster.sent("POST", "/voc-t/_search")[0])
    assert sent["aggs"]["g"]["aggs"]["h"]["date_histogram"]["time_zone"] == "Asia/Shanghai"
    ix.close()


def test_get_count_delete_and_scan(cluster, tokenizer):
    cluster.routes[("GET", "/voc-t/_doc/a")] = {"_index": V[1:], "_id": "a", "found": True,
                                                "_source": {"id": "a", "text": "x"}}
    cluster.routes[("GET", "/voc-t/_doc/nope")] = (404, {"_index": V[1:], "_id": "nope", "found": False})
    cluster.routes[("POST", "/voc-t/_count")] = {"count": 7, "_shards": SHARDS}
    delete = {"took": 1, "errors": False, "items": [
        {"delete": {"_index": V[1:], "_id": "a", "status": 200, "result": "deleted"}},
        {"delete": {"_index": V[1:], "_id": "z", "status": 404, "result": "not_found"}}]}
    cluster.routes[("PUT", "/_bulk")] = delete
    cluster.routes[("POST", "/_bulk")] = delete
    cluster.routes[("POST", "/voc-t/_search")] = {"took": 1, "timed_out": False, "_scroll_id": "s1", "_shards": SHARDS,
                                                  "hits": {"total": {"value": 2, "relation": "eq"}, "hits": [
        {"_index": V[1:], "_id": "a", "_source": {"id": "a", "topics": ["x"]}},
        {"_index": V[1:], "_id": "b", "_source": {"id": "b"}}]}}
    cluster.routes[("POST", "/_search/scroll")] = {"took": 1, "timed_out": False, "_scroll_id": "s1", "_shards": SHARDS,
                                                   "hits": {"hits": []}}
    cluster.routes[("DELETE", "/_search/scroll")] = {"succeeded": True, "num_freed": 1}
    ix = open_es(cluster, tokenizer)
    assert ix.get("a")["text"] == "x" and ix.get("a")["topics"] == []
    assert ix.get("nope") is None
    assert ix.count(Filters(sentiment=("negative",))) == 7
    assert json.loads(cluster.sent("POST", "/voc-t/_count")[0]) == {
        "query": {"bool": {"filter": [{"terms": {"sentiment": ["negative"]}}]}}}
    assert ix.delete(["a", "z"]) == 1
    assert list(ix.scan(Filters(), fields=["id", "topics"])) == [{"id": "a", "topics": ["x"]},
                                                                  {"id": "b", "topics": []}]
    ix.close()


def test_an_unreachable_cluster_is_a_backend_error(tokenizer):
    from index import IndexBackendError

    settings = IndexSettings(url="http://127.0.0.1:9", name="voc-t",
                             elasticsearch=ElasticsearchSettings(max_retries=0, request_timeout_s=2))
    with pytest.raises(IndexBackendError, match="cannot reach the cluster"):
        ElasticsearchIndex.from_settings(settings, url=settings.url, home=__import__("pathlib").Path("."),
                                         tokenizer=tokenizer, secrets=None)


_ = timezone
