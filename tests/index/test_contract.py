"""Runs the contract suite (contract.py) against every backend: SQLite always, Elasticsearch when
``VOC_ES_URL`` points at a cluster."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.index import contract

corpus = contract.corpus  # the fixture


@pytest.fixture(params=["sqlite", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)])
def index(request, tmp_path, tokenizer):
    if request.param == "sqlite":
        from index import SqliteIndex

        ix = SqliteIndex(tmp_path / "voc.db", tokenizer=tokenizer)
        yield ix
        ix.close()
        return
    url = os.environ.get("VOC_ES_URL")
    if not url:
        pytest.skip("VOC_ES_URL is not set: no Elasticsearch cluster to run the contract against")
    from configs.index import ElasticsearchSettings, IndexSettings
    from configs.settings import Secrets
    from index.elastic import ElasticsearchIndex

    # credentials from VOC_ES_API_KEY or VOC_ES_USERNAME/VOC_ES_PASSWORD; TLS CA from VOC_ES_CA_CERTS
    es = ElasticsearchSettings(ca_certs=os.environ.get("VOC_ES_CA_CERTS") or None, number_of_replicas=0)
    settings = IndexSettings(url=url, name=f"voc-test-{uuid.uuid4().hex[:8]}", elasticsearch=es)
    ix = ElasticsearchIndex.from_settings(settings, url=url, home=tmp_path, tokenizer=tokenizer,
                                          secrets=Secrets(os.environ))
    yield ix
    ix.drop()
    ix.close()


class TestContract(contract.IndexContract):
    pass
