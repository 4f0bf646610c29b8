"""`voc reindex` both ways: SQLite → Elasticsearch → SQLite keeps ids, tags, corrections and alert state.

Runs against a real cluster when ``VOC_ES_URL`` is set (deploy/live-suite.sh sets it, with the API key
in ``VOC_ES_API_KEY`` and the CA in ``VOC_ES_CA_CERTS``); skipped, with that reason, otherwise. The
SQLite → SQLite case runs always (tests/index/test_cli.py).
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from index import Filters, SqliteIndex
from index.service import reindex
from tests.index.contract import make_doc

pytestmark = pytest.mark.elasticsearch


def test_sqlite_to_elasticsearch_to_sqlite_keeps_everything(tmp_path, tokenizer):
    url = os.environ.get("VOC_ES_URL")
    if not url:
        pytest.skip("VOC_ES_URL is not set: no Elasticsearch cluster to reindex through")
    from elasticsearch import Elasticsearch

    from alerts._es_store import ElasticsearchAlertStore
    from alerts.detect import Figures, Match
    from alerts.lifecycle import Policy, fingerprint, on_match
    from alerts.store import OutboxEntry, SqliteAlertStore
    from classifier.corrections import apply_labels
    from configs.index import ElasticsearchSettings, IndexSettings
    from configs.settings import Secrets
    from index.elastic import ElasticsearchIndex, client_kwargs

    name = f"voc-test-{uuid.uuid4().hex[:8]}"
    es = ElasticsearchSettings(ca_certs=os.environ.get("VOC_ES_CA_CERTS") or None, number_of_replicas=0)
    secrets = Secrets(os.environ)
    docs = [make_doc(tokenizer, f"r{i}", text, topics=["login"] if i % 2 else ["crash"], rating=i % 5 + 1)
            for i, text in enumerate(("登录失败", "自动续费扣费", "一直转圈圈", "闪退严重", "界面好看"))]
    docs[0] = apply_labels(docs[0], {"sentiment": "positive", "topics": ["billing"], "risk": []})  # a correction
    first = SqliteIndex(tmp_path / "a.db", tokenizer=tokenizer)
    first.upsert(docs)
    at = datetime(2026, 11, 24, 6, 0, tzinfo=timezone.utc)
    figures = Figures(current=20, expected=2, low=0, high=8, ratio=10, window_start=at - timedelta(hours=6),
                      window_end=at)
    with SqliteAlertStore(tmp_path / "a.db") as store:
        store.apply(fingerprint("r", "demo", "login"),
                    lambda before: on_match(before, Match(key="login", at=at, severity="warning", figures=figures),
                                            rule="r", kind="volume_spike", product="demo", title="登录失败激增",
                                            detail={}, now=at, policy=Policy()),
                    lambda tr: [OutboxEntry("ops", "webhook", {"title": "登录失败激增"})], now=at)
        state = store.export_state()

    cluster = ElasticsearchIndex.from_settings(IndexSettings(url=url, name=name, elasticsearch=es), url=url,
                                              home=tmp_path, tokenizer=tokenizer, secrets=secrets)
    client = Elasticsearch(url, **client_kwargs(es, secrets, tmp_path))
    es_store = ElasticsearchAlertStore(client, prefix=name)
    back = SqliteIndex(tmp_path / "b.db", tokenizer=tokenizer)
    try:
        assert reindex(first, cluster).copied == 5
        es_store.restore_state(state)
        assert cluster.count(Filters()) == 5 and cluster.get("r0")["topics"] == ["billing"]
        assert reindex(cluster, back).copied == 5
        with SqliteAlertStore(tmp_path / "b.db") as copied:
            copied.restore_state(es_store.export_state())
            assert copied.export_state() == state
        for d in docs:
            assert back.get(d["id"]) == first.get(d["id"])
    finally:
        cluster.drop()
        cluster.close()
        client.options(ignore_status=404).indices.delete(index=f"{name}-alert*")
        es_store.close()
        back.close()
        first.close()
