"""Sub-word recall: the Chinese character bigrams indexed beside the jieba words.

jieba keeps ``自动续费``, ``转圈圈`` or ``验证码`` as one word, so a search for ``续费``, ``转圈`` or ``验证``
would miss them. Every backend therefore also indexes the character bigrams of each run of Chinese
characters in a document's title and text (:func:`doc_grams`), and a query word's runs become phrases of
bigrams (:func:`query_runs`): any run of two or more Chinese characters that occurs in a text finds it.

Bigrams of different runs are kept apart by :data:`RUN_BREAK`, a token no query phrase contains, so a
phrase never matches across punctuation or a non-Chinese word (``登录，失败`` does not hold ``录失``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["is_cjk", "cjk_runs", "bigrams", "doc_grams", "query_runs", "RUN_BREAK", "GRAMS_VERSION", "CJK_RANGES"]

#: Recorded with an index's schema: which sub-word analysis built its grams.
GRAMS_VERSION = "cjk-bigrams-v1: character bigrams of each run of Chinese characters in title and text"
#: The token between the bigrams of two runs (never part of a query phrase, which holds bigrams only).
RUN_BREAK = "x"

#: The Chinese characters, as the ranges of a regex character class (Elasticsearch's analysis uses it too).
CJK_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN = re.compile(f"[{CJK_RANGES}]{{2,}}")
_ONE = re.compile(f"[{CJK_RANGES}]")


def is_cjk(ch: str) -> bool:
    """A Chinese character (CJK unified ideographs, extension A, compatibility ideographs)."""
    return bool(_ONE.fullmatch(ch))


def cjk_runs(text: str) -> list[str]:
    """The runs of two or more Chinese characters in ``text``, in order."""
    return _RUN.findall(text) if text else []


def bigrams(run: str) -> list[str]:
    return [run[i:i + 2] for i in range(len(run) - 1)]


def doc_grams(*texts: str | None) -> str:
    """The space-separated bigrams of every run in ``texts`` (title, text), runs apart by RUN_BREAK.

    Pure and deterministic: SQLite calls it from its triggers (``voc_grams``) both to index a document
    and to remove exactly those tokens again."""
    runs = [" ".join(bigrams(r)) for t in texts if t for r in _RUN.findall(t)]
    return f" {RUN_BREAK} ".join(runs)


def query_runs(tokens: Sequence[str]) -> tuple[list[str], list[str]]:
    """A query word's tokens → ``(runs, others)``: adjacent all-Chinese tokens joined back into runs of
    two or more characters (to match as bigram phrases) and every other token (a single Chinese
    character, a latin word, a number), to match as a word."""
    runs: list[str] = []
    others: list[str] = []
    cur = ""
    for tok in [*tokens, ""]:
        if tok and all(is_cjk(c) for c in tok):
            cur += tok
            continue
        if len(cur) >= 2:
            runs.append(cur)
        elif cur:
            others.append(cur)
        cur = ""
        if tok:
            others.append(tok)
    return runs, others
