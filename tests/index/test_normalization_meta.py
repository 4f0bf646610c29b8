"""The index records the text normalization its tokens were built with and refuses a different one."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from classifier.normalize import Segmenter
from index import SqliteIndex
from index._errors import SchemaMismatchError


class Tokenizer:
    def __init__(self, **config: str) -> None:
        self.config = {"version": "1", "opencc_profile": "t2s", "dict_hash": "aaa", **config}

    def __call__(self, text: str) -> list[str]:
        return text.split()


def test_normalization_is_recorded_and_a_different_version_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "voc.db"
    SqliteIndex(db, tokenizer=Tokenizer()).close()
    SqliteIndex(db, tokenizer=Tokenizer()).close()  # same normalization: opens
    with pytest.raises(SchemaMismatchError, match="normalization version='1' but this code uses '2'.*voc reindex"):
        SqliteIndex(db, tokenizer=Tokenizer(version="2"))
    with pytest.raises(SchemaMismatchError, match="opencc_profile"):
        SqliteIndex(db, tokenizer=Tokenizer(opencc_profile="tw2s"))


def test_a_changed_dictionary_only_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "voc.db"
    SqliteIndex(db, tokenizer=Tokenizer()).close()
    with caplog.at_level(logging.WARNING, logger="voc.index"):
        index = SqliteIndex(db, tokenizer=Tokenizer(dict_hash="bbb"))
    assert "voc reindex" in caplog.text
    assert '"dict_hash": "bbb"' in index.metadata()["normalization"]
    index.close()


def test_the_classifier_segmenter_carries_its_normalization(tmp_path: Path) -> None:
    seg = Segmenter(["轻记"])
    index = SqliteIndex(tmp_path / "voc.db", tokenizer=seg)
    assert index.metadata()["normalization"].count(seg.dict_hash) == 1
    index.close()
