"""The backend parses answers Elasticsearch really gave (tests/fixtures/es_responses, sources in its README).

Each recorded answer is served by a loopback HTTP server to the official client; every one of them also
validates against the specification's response type, so the validator is checked on real answers too.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from configs.index import ElasticsearchSettings, IndexSettings
from configs.settings import Secrets
from index import BulkIndexError, Filters, SearchQuery
from index.elastic import ElasticsearchIndex
from index.elastic_bodies import SCHEMA_VERSION
from tests.index.es_cluster import cluster_with_a_new_index
from tests.index.es_spec import Spec

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "es_responses"
SPEC = Spec.load()
V = f"/voc-r-v{SCHEMA_VERSION}"


def recorded(name: str) -> dict:
    return json.loads((RECORDED / name).read_text(encoding="utf-8"))


def with_aggregations(name: str, rename: str) -> dict:
    """A recorded ``aggregations`` part inside the recorded search answer (the page elides the rest)."""
    (aggs,) = recorded(name)["aggregations"].values()
    return {**recorded("search-hits.json"), "aggregations": {rename: aggs}}


@pytest.fixture
def cluster():
    with cluster_with_a_new_index("voc-r", V) as c:
        yield c


def open_es(cluster, tokenizer) -> ElasticsearchIndex:
    settings = IndexSettings(url=cluster.url, name="voc-r", elasticsearch=ElasticsearchSettings(max_retries=0))
    return ElasticsearchIndex.from_settings(settings, url=cluster.url, home=Path("."), tokenizer=tokenizer,
                                           secrets=Secrets({}))


@pytest.mark.parametrize("name,endpoint", [
    ("search-hits.json", "search"), ("count.json", "count"), ("bulk-mixed.json", "bulk"),
    ("bulk-failed.json", "bulk"), ("get-found.json", "get"), ("index-created.json", "index"),
    ("create-api-key.json", "security.create_api_key"),
])
def test_recorded_answers_match_the_specification(name, endpoint):
    SPEC.check_response(endpoint, recorded(name))


def test_recorded_aggregations_match_their_aggregate_types():
    (hist,) = recorded("date-histogram-time-zone.json")["aggregations"].values()
    (terms,) = recorded("terms.json")["aggregations"].values()
    assert not SPEC.check_type(hist, "_types.aggregations", "DateHistogramAggregate")
    assert not SPEC.check_type(terms, "_types.aggregations", "StringTermsAggregate")
    SPEC.check_response("search", with_aggregations("terms.json", "facet_platform"))


def test_search_reads_a_recorded_answer(cluster, tokenizer):
    cluster.routes[("POST", "/voc-r/_search")] = recorded("search-hits.json")
    ix = open_es(cluster, tokenizer)
    result = ix.search(SearchQuery(text="kimchy", limit=20, offset=40))
    assert result.total == 20
    (hit,) = result.hits
    assert hit.score == pytest.approx(1.3862942)
    # a document indexed by someone else: its id comes from _id, its own fields are kept
    assert hit.doc["id"] == "0" and hit.doc["message"] == "GET /search HTTP/1.1 200 1070000"
    assert hit.doc["topics"] == [] and hit.doc["risk"] == []
    ix.close()


def test_facets_read_a_recorded_terms_aggregation(cluster, tokenizer):
    cluster.routes[("POST", "/voc-r/_search")] = with_aggregations("terms.json", "facet_platform")
    ix = open_es(cluster, tokenizer)
    result = ix.search(SearchQuery(facets=("platform",)))
    assert result.facets == {"platform": [("Sunday", 4), ("Thursday", 3)]}
    ix.close()


def test_histogram_reads_recorded_buckets_in_their_time_zone(cluster, tokenizer):
    cluster.routes[("POST", "/voc-r/_search")] = with_aggregations("date-histogram-time-zone.json", "h")
    ix = open_es(cluster, tokenizer)
    tz = "Etc/GMT+1"  # UTC−01:00, the page's time_zone
    buckets = ix.histogram(Filters(), interval="day", tz=tz)
    zone = ZoneInfo(tz)
    # key_as_string 2015-09-30T00:00:00.000-01:00 and 2015-10-01T00:00:00.000-01:00: local midnights
    assert [(b.start, b.count) for b in buckets] == [(datetime(2015, 9, 30, tzinfo=zone), 1),
                                                    (datetime(2015, 10, 1, tzinfo=zone), 1)]
    assert buckets[0].start.utcoffset() == timedelta(hours=-1)
    assert buckets[0].start.astimezone(timezone.utc) == datetime(2015, 9, 30, 1, tzinfo=timezone.utc)
    ix.close()


def test_count_and_get_read_recorded_answers(cluster, tokenizer):
    cluster.routes[("POST", "/voc-r/_count")] = recorded("count.json")
    cluster.routes[("GET", "/voc-r/_doc/0")] = recorded("get-found.json")
    ix = open_es(cluster, tokenizer)
    assert ix.count(Filters(sentiment=("negative",))) == 1
    doc = ix.get("0")
    assert doc["id"] == "0" and doc["user"] == {"id": "kimchy"}
    ix.close()


def test_bulk_reads_recorded_item_results(cluster, tokenizer):
    mixed = recorded("bulk-mixed.json")
    by_op = {next(iter(item)): item for item in mixed["items"]}
    # the recorded items of the operation we send (index, then delete), in a recorded envelope
    cluster.routes[("PUT", "/_bulk")] = {**mixed, "items": [by_op["index"]]}
    ix = open_es(cluster, tokenizer)
    assert ix.upsert([{"id": "1", "text": "登录失败"}]) == (1, 0)  # result "created"
    cluster.routes[("PUT", "/_bulk")] = {**mixed, "items": [by_op["delete"]]}
    assert ix.delete(["2"]) == 0  # result "not_found", status 404: nothing deleted, no error
    ix.close()


def test_bulk_reports_each_recorded_failure(cluster, tokenizer):
    failed = recorded("bulk-failed.json")  # two updates of missing documents fail, one create succeeds
    # the backend sends index actions, so each recorded item is answered under our op key
    items = [{"index": next(iter(item.values()))} for item in failed["items"]]
    cluster.routes[("PUT", "/_bulk")] = {**failed, "items": items}
    ix = open_es(cluster, tokenizer)
    ids = [item["index"]["_id"] for item in items]
    with pytest.raises(BulkIndexError, match="2 of 3 documents were rejected") as err:
        ix.upsert([{"id": i, "text": "x"} for i in ids])
    assert [e[0] for e in err.value.errors] == ids[:2]
    assert all("document_missing_exception" in e[1] for e in err.value.errors)
    ix.close()
