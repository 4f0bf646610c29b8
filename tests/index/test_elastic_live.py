"""Sub-word search on a real cluster: the template's analysis and the query, end to end.

Needs ``VOC_ES_URL`` (deploy/live-suite.sh sets it); skipped with that reason otherwise. Without a
cluster, test_elastic_bodies.py checks the query clauses and test_elastic_spec.py the template.
"""

from __future__ import annotations

import pytest

from index import SearchQuery
from tests.helpers import live_es_index
from tests.index.contract import make_doc

pytestmark = pytest.mark.elasticsearch


@pytest.fixture
def es_index(tmp_path, tokenizer):
    yield from live_es_index(tmp_path, tokenizer, "for the sub-word cases")


def test_the_bigram_analyzer_emits_the_two_character_windows_of_each_chinese_run(es_index):
    resp = es_index.client.indices.analyze(index=es_index.alias, analyzer="voc_grams", text="自动续费App，闪退了")
    tokens = [(t["token"], t["position"]) for t in resp["tokens"]]
    # one position apart, nothing across the latin word or the comma (no 费a, no 费闪)
    assert tokens == [("自动", 0), ("动续", 1), ("续费", 2), ("闪退", 3), ("退了", 4)]


def test_parts_of_words_are_found_and_whole_words_rank_first(es_index, tokenizer):
    texts = {"w": "一直转圈问题很严重", "s": "一直转圈圈问题很严重", "r": "自动续费扣了我两次钱",
             "v": "收不到验证码", "n": "界面很好看"}
    es_index.upsert([make_doc(tokenizer, k, t) for k, t in texts.items()])

    def ids(text: str) -> list[str]:
        return [h.doc["id"] for h in es_index.search(SearchQuery(text=text)).hits]

    assert ids("转圈") == ["w", "s"]  # the whole word 转圈 first, then 转圈 inside 转圈圈
    assert ids("转圈圈") == ["s"]
    assert ids("续费") == ["r"] and ids("动续") == ["r"]  # any run of characters, across jieba's words
    assert ids("验证") == ["v"]
    assert ids("续费 验证") == []  # every free word must match
    assert ids("圈问") == ["w", "s"] or ids("圈问") == ["s", "w"]
    assert ids("圈严") == []  # characters that never stand side by side are no substring
    assert ids("严重转圈") == ["w"]  # jieba splits it into 严重 + 转圈, both words of w (not of s)
    assert ids("转圈 -严重") == []  # -word excludes what the word would match, sub-words included
    assert set(ids("-转圈")) == {"r", "v", "n"}
