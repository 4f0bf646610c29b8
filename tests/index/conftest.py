"""Fixtures for the index tests: the jieba tokenizer (the contract corpus lives in contract.py)."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(scope="session")
def tokenizer():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()

    def tokenize(text: str) -> list[str]:
        return [t for t in jieba.lcut(text) if t.strip()]

    return tokenize
