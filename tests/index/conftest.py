"""Fixtures for the index tests: a jieba tokenizer and a small corpus of real-looking feedback."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

# The editable install was made while index/ was still empty, so its finder registered ``index`` as a
# namespace package (``from index import …`` then fails outside the repo root). Putting the repo root
# first makes the real package win until the venv is refreshed with ``pip install -e . --no-deps``.
_REPO = str(Path(__file__).resolve().parents[2])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)


@pytest.fixture(scope="session")
def tokenizer():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()

    def tokenize(text: str) -> list[str]:
        return [t for t in jieba.lcut(text) if t.strip()]

    return tokenize
