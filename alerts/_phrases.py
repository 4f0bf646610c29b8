"""Emerging terms as phrases: terms that occur in the same posts are one group, and a group's head is
extended to the whole phrase its posts share. Pure functions over jieba tokens; no I/O.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from alerts.detect import is_generic, is_stop_word

__all__ = ["extend_phrase", "whole_phrases", "group_terms", "configured"]


def extend_phrase(term: str, docs: Sequence[Sequence[str]], *, share: float = 0.8, max_tokens: int = 6) -> str:
    """The whole phrase around ``term`` (an n-gram of jieba tokens) in the posts using it: extended by the
    neighbouring token while at least ``share`` of those posts have the same one there, so a name jieba
    cuts apart (``魔法`` ``抠`` ``图``) is reported whole (``魔法抠图``). A stop word, punctuation or a
    generic word never starts or ends the phrase."""
    spans: list[tuple[Sequence[str], int, int]] = []
    for toks in docs:
        hit = _find(toks, term, max_tokens)
        if hit is not None:
            spans.append((toks, *hit))
    if not spans:
        return term
    need = max(2, math.ceil(share * len(spans)))
    while True:
        grown = False
        for side in ("right", "left"):
            nxt = Counter(t for s in spans if (t := s[0][s[2]] if side == "right" and s[2] < len(s[0]) else
                                               s[0][s[1] - 1] if side == "left" and s[1] > 0 else None) is not None)
            if not nxt:
                continue
            tok, n = nxt.most_common(1)[0]
            if n < need or is_stop_word(tok) or (len(tok) >= 2 and is_generic(tok)) \
                    or max(s[2] - s[1] for s in spans) >= max_tokens:
                continue
            if side == "right":
                spans = [(d, i, j + 1) for d, i, j in spans if j < len(d) and d[j] == tok]
            else:
                spans = [(d, i - 1, j) for d, i, j in spans if i > 0 and d[i - 1] == tok]
            term = (term + tok) if side == "right" else (tok + term)
            grown = True
        if not grown:
            return term





def _find(toks: Sequence[str], term: str, max_tokens: int) -> tuple[int, int] | None:
    """Where the tokens spell ``term``: (start, end) of the first run, or None."""
    for i in range(len(toks)):
        if not toks[i] or not term.startswith(toks[i]):
            continue
        acc = ""
        for j in range(i, min(len(toks), i + max_tokens)):
            acc += toks[j]
            if acc == term:
                return i, j + 1
            if not term.startswith(acc):
                break
    return None


def whole_phrases(found: list[Any], related: dict[str, list[str]], term_docs: dict[str, list[str]],
                   grams: list[set[str]], toks: list[list[str]], ids: list[str]
                   ) -> tuple[list[Any], dict[str, list[str]], dict[str, list[str]]]:
    """Each group's head term extended to its whole phrase (:func:`extend_phrase`); its posts kept."""
    out, rel, docs = [], {}, dict(term_docs)
    for t in found:
        mine = [toks[i] for i, g in enumerate(grams) if t.term in g]
        whole = extend_phrase(t.term, mine)
        if whole != t.term:
            rel[whole] = [t.term, *related.get(t.term, [])]
            docs[whole] = term_docs.get(t.term, [])
            t = dataclasses.replace(t, term=whole)
        else:
            rel[t.term] = related.get(t.term, [])
        out.append(t)
    return out, rel, docs


def configured(term: str, keywords: set[str]) -> bool:
    """A topic keyword (or a pair of them) is already watched by the per-topic volume rule."""
    if term in keywords:
        return True
    return any(term[:i] in keywords and term[i:] in keywords for i in range(1, len(term)))


def group_terms(found: list[Any], grams: list[set[str]]) -> tuple[list[Any], dict[str, list[str]]]:
    """Terms that occur in (nearly) the same posts are one phrase ("新版本 打开 相册"): keep the most
    specific (longest) per group, the others listed as related. Jaccard of the post sets ≥ 0.7."""
    docs = {t.term: {i for i, g in enumerate(grams) if t.term in g} for t in found}
    groups: list[list[Any]] = []
    for t in found:
        for grp in groups:
            a, b = docs[t.term], docs[grp[0].term]
            if a and b and len(a & b) / len(a | b) >= 0.7:
                grp.append(t)
                break
        else:
            groups.append([t])
    heads, related = [], {}
    for grp in groups:
        head = max(grp, key=lambda t: (len(t.term), t.current, t.term))
        heads.append(head)
        related[head.term] = [t.term for t in grp if t is not head]
    return heads, related
