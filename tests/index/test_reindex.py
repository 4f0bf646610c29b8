"""`voc reindex` both ways: SQLite → Elasticsearch → SQLite keeps ids, tags, corrections and alert state.

* through the CLI with the loopback stand-in as the cluster (always runs: the glue, the requests);
* through the library against a real cluster when ``VOC_ES_URL`` is set (deploy/live-suite.sh sets it,
  with the API key in ``VOC_ES_API_KEY`` and the CA in ``VOC_ES_CA_CERTS``); skipped, with that reason,
  otherwise. SQLite → SQLite: tests/index/test_cli.py.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from index import Filters, SqliteIndex
from index.service import reindex
from tests.index.contract import make_doc

REPO = Path(__file__).resolve().parents[2]


def _open_an_alert(store) -> None:
    from alerts.detect import Figures, Match
    from alerts.lifecycle import Policy, fingerprint, on_match
    from alerts.store import OutboxEntry

    at = datetime(2026, 11, 24, 6, 0, tzinfo=timezone.utc)
    figures = Figures(current=20, expected=2, low=0, high=8, ratio=10, window_start=at - timedelta(hours=6),
                      window_end=at)
    for key in ("login", "crash"):
        store.apply(fingerprint("r", "demo", key),
                    lambda before, key=key: on_match(before, Match(key=key, at=at, severity="warning", figures=figures),
                                                     rule="r", kind="volume_spike", product="demo", title="激增",
                                                     detail={}, now=at, policy=Policy()),
                    lambda tr: [OutboxEntry("ops", "webhook", {"title": "激增"}), OutboxEntry("pm", "email", {})],
                    now=at)
    store.mark_sent(store.claim(now=at, lease_s=60), now=at)


def _sorted(state):
    return (sorted(state.records, key=lambda r: r["fingerprint"]),
            sorted(state.events, key=lambda e: (e["fingerprint"], e["version"], e["event"])),
            sorted(state.outbox, key=lambda o: (o["fingerprint"], o["version"], o["subscriber"], o["channel"])))


def test_the_cli_reindexes_sqlite_to_elasticsearch_and_back(tmp_path, settings, tokenizer):
    from click.testing import CliRunner

    from alerts.store import SqliteAlertStore
    from app.cli import cli
    from tests.index.es_cluster import LoopbackES

    docs = [make_doc(tokenizer, f"r{i}", text, topics=["login"] if i % 2 else ["crash"], rating=i % 5 + 1)
            for i, text in enumerate(("登录失败", "自动续费扣费", "一直转圈圈", "闪退严重", "界面好看"))]
    with SqliteIndex(settings.sqlite_path(), tokenizer=tokenizer) as ix:
        ix.upsert(docs)
    with SqliteAlertStore(settings.sqlite_path()) as store:
        _open_an_alert(store)
        before = store.export_state()
    cluster = LoopbackES()
    env = {"VOC_HOME": str(tmp_path), "VOC_CLASSIFIER_MODEL": "rules", "VOC_CONFIG_DIR": ""}

    def voc(*args: str, index_url: str = ""):
        result = CliRunner().invoke(cli, ["--config", str(REPO / "configs"), *args],
                                    env={**env, "VOC_INDEX_URL": index_url}, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    try:
        out = voc("reindex", "--to", cluster.url)
        assert f"copied 5 documents to {cluster.url} (5 new, 0 updated)" in out and "copied 2 alerts" in out
        back = tmp_path / "back.db"
        out = voc("reindex", "--to", f"sqlite:///{back}", index_url=cluster.url)
        assert "copied 5 documents" in out and "copied 2 alerts" in out
    finally:
        cluster.close()
    with SqliteIndex(back, tokenizer=tokenizer) as copy, SqliteIndex(settings.sqlite_path(), tokenizer=tokenizer) as src:
        for d in docs:
            assert copy.get(d["id"]) == src.get(d["id"])
    with SqliteAlertStore(back) as copied:
        assert _sorted(copied.export_state()) == _sorted(before)
    assert {o["status"] for o in before.outbox} == {"sent", "pending"}


@pytest.mark.elasticsearch
def test_sqlite_to_elasticsearch_to_sqlite_keeps_everything(tmp_path, tokenizer):
    url = os.environ.get("VOC_ES_URL")
    if not url:
        pytest.skip("VOC_ES_URL is not set: no Elasticsearch cluster to reindex through")
    from elasticsearch import Elasticsearch

    from alerts._es_store import ElasticsearchAlertStore
    from alerts.store import SqliteAlertStore
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
    with SqliteAlertStore(tmp_path / "a.db") as store:
        _open_an_alert(store)
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
            assert _sorted(copied.export_state()) == _sorted(state)
        for d in docs:
            assert back.get(d["id"]) == first.get(d["id"])
    finally:
        cluster.drop()
        cluster.close()
        # by name: Elasticsearch 8+ refuses wildcard deletes by default
        client.options(ignore_status=404).indices.delete(index=",".join(es_store.idx.values()))
        es_store.close()
        back.close()
        first.close()
