"""Fixtures for the index tests: the crawl's jieba segmenter (the contract corpus lives in contract.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tokenizer():
    from classifier.normalize import segmenter_for

    segment = segmenter_for(())

    def tokenize(text: str) -> list[str]:  # a plain function: the index records no normalization for it
        return segment(text)

    return tokenize
