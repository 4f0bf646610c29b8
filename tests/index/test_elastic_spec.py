"""Every request the Elasticsearch backend and alert store send, checked against Elastic's API specification.

The official client sends each request to a loopback stand-in (``LoopbackES``) that records it; each
recorded request (method, URL path, query string, JSON or NDJSON body) is validated against the
vendored extract of elastic/elasticsearch-specification (``tests/fixtures/es_spec``, see its README),
and so is every answer the stand-in gave (so the answers our code parsed had the documented shape).
The requests are enumerated from the query language's cases, every contract-suite call, every alert
store method, and the fields our code reads from the answers are looked up in the response types.
"""

from __future__ import annotations

import inspect
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from configs.index import ElasticsearchSettings, IndexSettings
from configs.settings import Secrets
from index import Filters, SearchQuery, parse_query
from index.elastic import ElasticsearchIndex
from index.base import FACET_FIELDS
from index.elastic_bodies import SCHEMA_VERSION, index_template
from tests.index import contract
from tests.index.es_cluster import LoopbackES, parse_body
from tests.index.es_spec import Spec, SpecError

SPEC = Spec.load()
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)

#: The query language's cases (README, index/query.py, test_query.py and the contract suite's texts).
QUERIES = (
    "", "闪退", "闪退 登录", "登录闪退", '"登录 失败"', '闪退 "登录 失败"', "续费", "转圈圈", "app闪退", "iOS 17 卡顿",
    "闪退 登录 product:demo source:weibo,appstore sentiment:negative topic:login intent:bug since:7d",
    "topic:crash,login", "intent:feature_request,praise", "risk:regulator_threat,viral", "platform:ios",
    "version:5.2.0", "rating:1,2", "rating:5 version:5.2.0", "source:forum:bbs", "since:24h", "until:30m",
    "since:2026-11-01 until:2026-11-20", "since:2026-11-01T08:00:00Z", "sentiment:positive 界面",
    "闪退 -登录", "-闪退", '-"登录 失败"', '闪退 -"登录 失败" -广告', "没法用", "iOS闪退", '"iOS 闪退"',
    "sentiment:负面 intent:缺陷,功能建议", "topic:登录,crash risk:监管投诉", "自动续费 -退款 rating:1 since:30d",
)
#: The taxonomy parse_query resolves Chinese topic names with (as configs/topics.yaml would give it).
TOPICS = {"login": "登录/账号", "crash": "闪退/崩溃", "billing": "付费"}
#: Free text given to SearchQuery directly (the contract suite's injection attempts).
TEXTS = ("闪退 OR 夜间", "NEAR(闪退", "tokens:闪退", "AND", "闪退*", "-闪退", "闪退^", '"', "(((", "\\", "'", "，！")
FILTERS = (
    Filters(), Filters(product=("other",)), Filters(source=("appstore", "zhihu")), Filters(sentiment=("positive",)),
    Filters(topic=("login", "ux")), Filters(intent=("feature_request",)), Filters(risk=("regulator_threat",)),
    Filters(platform=("ios",)), Filters(app_version=("5.2.0",)), Filters(rating=(1, 2)),
    Filters(since=NOW - timedelta(days=7)), Filters(until=NOW), Filters(source=("appstore",), topic=("ux",),
                                                                        since=NOW - timedelta(days=30), until=NOW),
)


def open_index(cluster: LoopbackES, tokenizer, name: str = "voc-s") -> ElasticsearchIndex:
    settings = IndexSettings(url=cluster.url, name=name, elasticsearch=ElasticsearchSettings(max_retries=0))
    return ElasticsearchIndex.from_settings(settings, url=cluster.url, home=Path("."), tokenizer=tokenizer,
                                           secrets=Secrets({"VOC_ES_API_KEY": "k"}))


def assert_conforms(cluster: LoopbackES) -> set[str]:
    """Validate every recorded request and every answer; return the endpoints exercised."""
    return SPEC.assert_exchanges_conform(
        [(m, p, parse_body(b)) for m, p, b in cluster.requests],
        [(m, p, payload) for m, p, status, payload in cluster.responses if m != "HEAD" and status < 300])


@pytest.fixture
def cluster():
    c = LoopbackES()
    yield c
    c.close()


# ---------------------------------------------------------------------------------------------- the validator
def test_the_validator_fails_on_a_wrong_field_name_type_and_enum_value():
    good = {"query": {"bool": {"must": [{"match_phrase": {"tokens": "闪退"}}]}},
            "aggs": {"t": {"terms": {"field": "topics", "size": 5, "order": [{"_count": "desc"}]}}}, "size": 3}
    SPEC.check_request("POST", "/voc/_search", good)
    wrong = {
        "field name": ({**good, "query": {"bool": {"must": [{"match_phrse": {"tokens": "闪退"}}]}}}, "match_phrse"),
        "type": ({**good, "size": "3"}, "$.size: expected an integer"),
        "enum value": ({**good, "aggs": {"t": {"terms": {"field": "topics", "order": [{"_count": "dsc"}]}}}},
                       "'dsc' is not one of ['asc', 'desc']"),
        "nested type": ({**good, "query": {"bool": {"filter": [{"terms": {"product": "demo"}}]}}}, "expected an array"),
        "two variants": ({**good, "query": {"match_all": {}, "bool": {}}}, "needs exactly one of its variants"),
    }
    for what, (body, message) in wrong.items():
        with pytest.raises(SpecError, match=message.replace("[", r"\[").replace("]", r"\]").replace("$", r"\$")):
            SPEC.check_request("POST", "/voc/_search", body)
        assert what
    # a filters aggregation (none of our requests builds one yet: the overview may) is checked the same way
    filters_agg = {"f": {"filters": {"filters": {"neg": {"term": {"sentiment": "negative"}}}}}}
    SPEC.check_request("POST", "/voc/_search", {"size": 0, "aggs": filters_agg})
    with pytest.raises(SpecError, match="filtres"):
        SPEC.check_request("POST", "/voc/_search", {"size": 0, "aggs": {"f": {"filters": {"filtres": {}}}}})
    with pytest.raises(SpecError, match="no endpoint"):
        SPEC.check_request("POST", "/voc/_serach", good)
    with pytest.raises(SpecError, match="unknown query parameter"):
        SPEC.check_request("POST", "/voc/_search?refresh_now=true", good)
    with pytest.raises(SpecError, match="tokenizer"):  # an analysis component of an unknown type
        SPEC.check_request("PUT", "/_index_template/x", {"index_patterns": ["x-*"], "template": {"settings": {
            "analysis": {"tokenizer": {"t": {"type": "ngrams", "min_gram": 2}}}}}})
    with pytest.raises(SpecError, match="min_gram: expected an integer"):
        SPEC.check_request("PUT", "/_index_template/x", {"index_patterns": ["x-*"], "template": {"settings": {
            "analysis": {"tokenizer": {"t": {"type": "ngram", "min_gram": "2"}}}}}})


#: Elastic's own examples the validator rejects, and why (it is stricter than Elasticsearch, or the example
#: and the specification disagree); every other example of our endpoints must pass.
STRICTER = {
    "DeleteByQueryRequestExample3.yaml": "slice.id is an Id (string); Elasticsearch also takes the number 0",
    "SearchRequestExample3.yaml": "slice.id is an Id (string); Elasticsearch also takes the number 0",
    "UpdateByQueryRequestExample3.yaml": "slice.id is an Id (string); Elasticsearch also takes the number 0",
    "BulkRequestExample2.yaml": "the update action's _source is not in the specification's UpdateOperation",
    "IndexRequestExample1.yaml": "POST /<index>/_doc/ with a trailing slash is no URL of the specification",
}


def test_the_validator_accepts_elastics_own_request_examples():
    import json

    examples = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "es_spec" / "request-examples.json")
                          .read_text(encoding="utf-8"))
    assert len(examples) > 40
    rejected = {}
    for e in examples:
        try:
            SPEC.check_request(e["method"], e["path"], e["body"])
        except SpecError as exc:
            rejected[e["source"].rsplit("/", 1)[1]] = exc.errors
    assert set(rejected) == set(STRICTER), rejected


def test_the_index_template_with_its_analysis_conforms():
    body = index_template("voc-feedback", shards=1, replicas=0)
    SPEC.check_request("PUT", "/_index_template/voc-feedback", body)
    analysis = body["template"]["settings"]["analysis"]
    for name, analyzer in analysis["analyzer"].items():
        assert not SPEC.check_type(analyzer, "_types.analysis", "Analyzer"), name
    for name, tokenizer in analysis["tokenizer"].items():
        assert not SPEC.check_type(tokenizer, "_types.analysis", "TokenizerDefinition"), name
    for name, prop in body["template"]["mappings"]["properties"].items():
        assert not SPEC.check_type(prop, "_types.mapping", "Property"), name


# ---------------------------------------------------------------------------------------------- the backend
def test_every_request_of_the_backend_conforms(cluster, tokenizer):
    from tests.index.contract import make_doc

    ix = open_index(cluster, tokenizer)
    docs = [make_doc(tokenizer, f"d{i}", text, topics=["crash"], rating=i % 5 + 1)
            for i, text in enumerate(("登录失败，一直闪退", "自动续费扣费", "转圈圈转了很久", "界面很好看"))]
    ix.upsert(docs)
    ix.upsert(docs[:1])
    for text in QUERIES:
        q = parse_query(text, now=NOW, facets=FACET_FIELDS, topics=TOPICS)
        for sort in ("relevance", "time"):
            ix.search(SearchQuery(text=q.text, filters=q.filters, limit=5, offset=1, sort=sort, facets=q.facets))
        ix.histogram(q.filters, interval="hour", text=q.text)
    for text in TEXTS:
        ix.search(SearchQuery(text=text, facets=("topics",)))
        ix.histogram(Filters(), interval="day", text=text)
    ix.search(SearchQuery(text="闪退 OR 卡顿", raw=True))
    for interval in ("minute", "hour", "day"):
        for group_by in (None, *FACET_FIELDS):
            ix.histogram(Filters(), interval=interval, tz="Asia/Shanghai", group_by=group_by,
                         start=NOW - timedelta(days=2), end=NOW)
    for filters in FILTERS:
        ix.count(filters)
        ix.histogram(filters, interval="day", tz="UTC", group_by="topics", start=NOW - timedelta(days=7))
        ix.histogram(filters, interval="hour", tz="UTC")
        list(ix.scan(filters, batch_size=2))
        list(ix.scan(filters, fields=["id", "topics"]))
    ix.get("d1")
    ix.get("missing")
    ix.delete(["d1", "missing"])
    ix.close()
    open_index(cluster, tokenizer).close()  # the alias exists now: mapping checked, not recreated
    open_index(cluster, tokenizer).drop()
    seen = assert_conforms(cluster)
    assert seen >= {"indices.put_index_template", "indices.exists_alias", "indices.create", "bulk", "search",
                    "count", "get", "scroll", "clear_scroll", "indices.get_mapping", "indices.delete",
                    "indices.delete_index_template"}


def test_recording_the_normalization_conforms(cluster):
    class Normalizing:
        config = {"version": "1", "opencc_profile": "t2s", "dict_hash": "aaa"}

        def __call__(self, text: str) -> list[str]:
            return text.split()

    open_index(cluster, Normalizing()).close()
    cluster.indices[f"voc-s-v{SCHEMA_VERSION}"]["mappings"]["_meta"].pop("voc_normalization")
    open_index(cluster, Normalizing()).close()  # an index from before: its normalization is recorded
    assert "indices.put_mapping" in assert_conforms(cluster)


corpus = contract.corpus  # the contract's fixtures, for its cases below


@pytest.mark.parametrize("case", [name for name in dir(contract.IndexContract) if name.startswith("test_")])
def test_every_contract_call_conforms(case, tokenizer, request):
    """Each contract-suite case, run on the Elasticsearch backend against the loopback: its assertions about
    results mean nothing here (the loopback has no query semantics), its requests must all conform."""
    cluster = LoopbackES()
    try:
        ix = open_index(cluster, tokenizer)
        method = getattr(contract.IndexContract(), case)
        kwargs = {p: ix if p == "index" else request.getfixturevalue(p) for p in inspect.signature(method).parameters}
        try:
            method(**kwargs)
        except AssertionError:
            pass  # a result assertion; only the requests are checked here
        ix.close()
        assert len(cluster.requests) >= 3  # at least the template, the alias check and the index
        assert_conforms(cluster)
    finally:
        cluster.close()


# ---------------------------------------------------------------------------------------------- the alert store
def test_every_request_of_the_alert_store_conforms(cluster):
    from alerts._es_store import ElasticsearchAlertStore
    from alerts.detect import Figures, Match
    from alerts.lifecycle import Policy, fingerprint, on_match
    from alerts.store import OutboxEntry
    from elasticsearch import Elasticsearch

    store = ElasticsearchAlertStore(Elasticsearch(cluster.url, max_retries=0), prefix="voc-s")
    figures = Figures(current=20, expected=2, low=0, high=8, ratio=10, window_start=NOW - timedelta(hours=6),
                      window_end=NOW)

    def opened(before):
        return on_match(before, Match(key="login", at=NOW, severity="warning", figures=figures), rule="r",
                        kind="volume_spike", product="demo", title="登录失败激增", detail={}, now=NOW, policy=Policy())

    fp = fingerprint("r", "demo", "login")
    entries = [OutboxEntry("ops", "webhook", {"title": "登录失败激增"}), OutboxEntry("pm", "email", {"title": "x"})]
    store.apply(fp, opened, lambda tr: entries, now=NOW)
    store.apply(fp, opened, lambda tr: [], now=NOW)  # an existing record: optimistic concurrency
    store.apply(fp, lambda before: None, lambda tr: [], now=NOW)
    store.enqueue("digest:day", 1, entries[:1], now=NOW)
    store.get(fp[:8])
    store.list()
    store.list(state="open", rule="r", product="demo", limit=5)
    store.events(fp)
    first = store.claim(now=NOW + timedelta(seconds=1), lease_s=60)
    assert first is not None
    store.mark_failed(first, now=NOW, error="HTTP 502", retry_at=NOW + timedelta(minutes=1))
    second = store.claim(now=NOW + timedelta(hours=1), lease_s=60, skip=[("ops", "webhook")])
    assert second is not None
    store.mark_sent(second, now=NOW)
    third = store.claim(now=NOW + timedelta(hours=2), lease_s=60)
    if third is not None:
        store.mark_failed(third, now=NOW, error="HTTP 400", retry_at=None)
    store.retry_failed(now=NOW)
    store.outbox()
    store.outbox(status="pending")
    state = store.export_state()  # voc reindex moves it
    assert state.records and state.events and len(state.outbox) == 3
    store.restore_state(state)
    store.close()
    seen = assert_conforms(cluster)
    assert seen >= {"indices.exists", "indices.create", "get", "index", "search", "update", "update_by_query"}


# ---------------------------------------------------------------------------------------------- what we read
#: Every field path our code reads from an answer: index/elastic.py, alerts/_es_store.py and the client's
#: helpers (streaming_bulk reads items[].<op>.status/error; scan reads _scroll_id and hits.hits).
READS = {
    "search": ("hits.hits[]._source", "hits.hits[]._score", "hits.hits[]._id", "hits.hits[].highlight.*[]",
               "hits.hits[]._seq_no", "hits.hits[]._primary_term", "hits.total.value", "aggregations.*",
               "_scroll_id", "_shards.successful", "_shards.skipped", "_shards.total"),
    "scroll": ("hits.hits[]._source", "_scroll_id", "_shards.successful", "_shards.total", "_shards.skipped"),
    "count": ("count",),
    "get": ("_source", "_seq_no", "_primary_term"),
    "bulk": ("items[].index.result", "items[].index._id", "items[].index.error", "items[].index.status",
             "items[].delete.result", "items[].delete.status", "errors"),
    "indices.get_mapping": ("*.mappings._meta",),
    "update_by_query": ("updated",),
    "security.create_api_key": ("encoded", "id", "api_key"),
}
#: Aggregations our code reads, by the aggregate type Elasticsearch answers them with.
AGG_READS = {
    "StringTermsAggregate": ("buckets[].key", "buckets[].doc_count", "buckets[].h.buckets[].key",
                             "buckets[].h.buckets[].doc_count"),
    "LongTermsAggregate": ("buckets[].key", "buckets[].key_as_string", "buckets[].doc_count"),
    "DateHistogramAggregate": ("buckets[].key", "buckets[].doc_count"),
    "FiltersAggregate": ("buckets.*.doc_count",),
}


def test_the_fields_our_code_reads_exist_in_the_response_types():
    missing = [f"{e}: {p}" for e, paths in READS.items() for p in paths if not SPEC.response_has(e, p)]
    missing += [f"{t}: {p}" for t, paths in AGG_READS.items() for p in paths
                if not SPEC.type_has("_types.aggregations", t, p)]
    assert not missing
    # and the check can fail: a misspelt field is not found
    assert not SPEC.response_has("search", "hits.total.count")
    assert not SPEC.type_has("_types.aggregations", "StringTermsAggregate", "buckets[].count")


def test_the_live_suite_api_key_request_conforms():
    """deploy/live-suite.sh creates VOC's API key with this body (the README documents the same privileges)."""
    import json
    import re

    script = (Path(__file__).resolve().parents[2] / "deploy" / "live-suite.sh").read_text(encoding="utf-8")
    body = json.loads(re.search(r"/_security/api_key\" -d '(\{.*?\})'", script, re.S).group(1))
    SPEC.check_request("POST", "/_security/api_key", body)
    assert body["role_descriptors"]["voc"]["indices"][0]["names"] == ["voc-test-*", "voc-live-*"]


# ---------------------------------------------------------------------------------------------- the demo
@pytest.mark.slow
def test_the_demo_cycle_on_elasticsearch_sends_only_conforming_requests(cluster, tmp_path):
    """`voc demo` with the index URL pointing at the loopback: crawl, classify, index, alerts, delivery.
    The loopback has no query semantics, so the demo's figures mean nothing here; its requests must conform."""
    import os

    from app.demo.cycle import run_demo_cycle
    from configs import load_settings

    repo = Path(__file__).resolve().parents[2]
    settings = load_settings(repo / "configs", env={**os.environ, "VOC_HOME": str(tmp_path), "VOC_INDEX_URL": cluster.url,
                                                    "VOC_CLASSIFIER_MODEL": "rules"})
    report = run_demo_cycle(settings)
    assert report.crawl.returncode == 0
    indexed = sum(len(ix["docs"]) for name, ix in cluster.indices.items() if name.startswith("voc-feedback-v"))
    assert indexed >= 300  # every crawled item reached the cluster through the bulk API
    seen = assert_conforms(cluster)
    assert seen >= {"indices.put_index_template", "bulk", "search", "count", "indices.create", "index", "get"}
