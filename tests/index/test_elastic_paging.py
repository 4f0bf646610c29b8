"""Pages past Elasticsearch's result window (``from + size`` ≤ 10,000 by default) through ``search_after``.

An export of a text query reads every page in order (``index.service.iter_matches``); on a cluster a
``from`` past the window is an error, so the backend walks there with ``search_after`` instead. Run on
the loopback stand-in (which sorts and honours ``search_after`` as Elasticsearch does) with the window
shrunk to 5, every request checked against the specification.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from index import Filters, SearchQuery
from index.service import iter_matches
from tests.index.contract import make_doc
from configs.index import ElasticsearchSettings, IndexSettings
from configs.settings import Secrets
from index.elastic import ElasticsearchIndex
from tests.index.es_cluster import LoopbackES, parse_body
from tests.index.es_spec import Spec

SPEC = Spec.load()

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


@pytest.fixture
def paged(tokenizer):
    cluster = LoopbackES()
    settings = IndexSettings(url=cluster.url, name="voc-p", elasticsearch=ElasticsearchSettings(max_retries=0))
    ix = ElasticsearchIndex.from_settings(settings, url=cluster.url, home=Path("."), tokenizer=tokenizer,
                                          secrets=Secrets({}))
    ix.max_result_window = cluster.max_result_window = 5  # the stand-in refuses deeper pages, as a cluster does
    docs = [make_doc(tokenizer, f"p{i:02d}", f"第{i}条登录失败", created_at=(T0 + timedelta(hours=i)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")) for i in range(23)]
    docs.append(make_doc(tokenizer, "undated", "没有时间的登录失败", created_at=None))
    ix.upsert(docs)
    yield cluster, ix
    ix.close()
    cluster.close()


def deepest(cluster: LoopbackES) -> int:
    """The largest ``from + size`` any search asked for."""
    out = 0
    for _method, path, body in cluster.requests:
        if path.split("?", 1)[0].endswith("/_search") and body:
            b = parse_body(body)
            out = max(out, int(b.get("from", 0)) + int(b.get("size", 10)))
    return out


def test_an_export_reads_every_match_past_the_window_in_order(paged):
    cluster, ix = paged
    newest_first = [f"p{i:02d}" for i in reversed(range(23))] + ["undated"]
    got = [d["id"] for d in iter_matches(ix, SearchQuery(text="登录"), page=3)]
    assert got == newest_first
    assert deepest(cluster) <= 5  # no request past the window
    # search_after, _source: false … as the specification has them
    SPEC.assert_exchanges_conform([(m, p, parse_body(b)) for m, p, b in cluster.requests],
                                  [(m, p, r) for m, p, status, r in cluster.responses if m != "HEAD" and status < 300])


def test_a_deep_page_equals_that_slice_of_the_whole_order(paged):
    cluster, ix = paged
    whole = [h.doc["id"] for h in ix.search(SearchQuery(text="登录", sort="time", limit=5)).hits]
    assert whole == ["p22", "p21", "p20", "p19", "p18"]
    page = ix.search(SearchQuery(text="登录", sort="time", offset=17, limit=4))  # no cursor: walks from the start
    assert [h.doc["id"] for h in page.hits] == ["p05", "p04", "p03", "p02"] and page.total == 24
    past = ix.search(SearchQuery(text="登录", sort="time", offset=40, limit=4))
    assert past.hits == [] and past.total == 24
    only = ix.search(SearchQuery(text="登录", filters=Filters(until=T0 + timedelta(hours=3)), sort="time", offset=2,
                                 limit=4))
    assert [h.doc["id"] for h in only.hits] == ["p00"]
    assert deepest(cluster) <= 5
    # every page of the walk asked for the same query and sort, with the last hit's sort values
    walks = [parse_body(b) for m, p, b in cluster.requests if b and b"search_after" in b]
    assert walks and all(json.dumps(w["sort"]) == json.dumps(walks[0]["sort"]) for w in walks)
