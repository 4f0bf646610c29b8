"""Runs the contract suite (contract.py) against every backend: SQLite always, Elasticsearch when
``VOC_ES_URL`` points at a cluster."""

from __future__ import annotations

import pytest

from tests.helpers import live_es_index
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
    yield from live_es_index(tmp_path, tokenizer, "to run the contract against")


class TestContract(contract.IndexContract):
    pass
