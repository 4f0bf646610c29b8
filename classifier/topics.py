"""Taxonomy topics from keywords *and* example sentences, at once — no training (issue 17, Build 4).

A topic in topics.yaml has keywords and a few example sentences. :class:`TopicTagger` tags a text with a
topic when

* one of its keywords occurs in the text (as :class:`classifier.rules.TopicMatcher` always did), or
* the text shares enough *distinctive* character n-grams with the topic's examples and keywords: each
  2- and 3-character n-gram of a topic's examples is a weak cue for that topic, weighted by how specific it
  is to the topic within the taxonomy (``log(1 + topics / topics containing it) / log(1 + topics)``: 1 for an
  n-gram of one topic only, whatever the taxonomy's size; n-grams of function
  characters only, digits and punctuation carry nothing). A text's evidence for a topic is the summed
  weight of the cues it contains; the topic is tagged when the evidence reaches ``min_evidence`` (3.2: more than three
  n-grams specific to the topic) and is the best topic's (``relative``). Both were chosen on the taxonomy
  protocol (``bench/taxonomy.py``) and the app-feedback set: lower thresholds cost precision there and gained
  nothing (model card).

So a topic added with examples tags texts that share none of its keywords but talk like its examples, the
moment the taxonomy is loaded — in ``voc classify --topics FILE``, the crawl and ``voc reindex --retag``
alike, since they all build their classifier from the taxonomy. ``exclude`` cues of a topic (optional,
topics.yaml) veto its example evidence (keywords still count): the shipped ``crash`` topic excludes login
words, so "登录后退回登录页" is not a crash by resemblance to "点进去就白屏然后退出".
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from classifier.normalize import normalize_text

__all__ = ["TopicMatcher", "TopicTagger", "grams"]

#: Characters that alone say nothing about a topic (function words, pronouns, common verbs and adverbs).
_FUNCTION = set("的了是我你他她它们很也都就还不没有在这那个一吗呢吧啊呀哦哈和与及或但而且就把被给让对从到为以上下中里后前能会要想说去来用得地着过再又才更最太好真挺非常已经一直直接然")
_SKIP = re.compile(r"[\W\d_a-z]", re.UNICODE)


class TopicMatcher:
    """Keyword → topic id matching over normalized, lower-cased text."""

    def __init__(self, topics: Iterable[Any]) -> None:
        self.topic_ids = tuple(t.id for t in topics)
        self._keywords = [(t.id, tuple(normalize_text(k).lower() for k in t.keywords if k.strip())) for t in topics]
        # one alternation per topic: "does any keyword occur" in a single scan (longest first; any hit counts)
        self._patterns = [(tid, re.compile("|".join(re.escape(k) for k in sorted(set(kws), key=len, reverse=True))))
                          for tid, kws in self._keywords if kws]

    def __call__(self, text: str) -> tuple[str, ...]:
        low = text.lower()
        return tuple(tid for tid, pat in self._patterns if pat.search(low))


def grams(text: str) -> set[str]:
    """Distinct 2- and 3-character n-grams of a normalized, lower-cased text that can carry a topic."""
    out = set()
    for n in (2, 3):
        for i in range(len(text) - n + 1):
            g = text[i: i + n]
            if _SKIP.search(g) or all(c in _FUNCTION for c in g):
                continue
            out.add(g)
    return out


class TopicTagger:
    """Keyword topics plus example-sentence evidence (see the module docstring). Deterministic: a text's
    topics depend on the text and the taxonomy only."""

    def __init__(self, topics: Iterable[Any], *, min_evidence: float = 3.2, relative: float = 1.0) -> None:
        topics = tuple(topics)
        self.topic_ids = tuple(t.id for t in topics)
        self.keywords = TopicMatcher(topics)
        self.min_evidence = min_evidence
        self.relative = relative
        per_topic: dict[str, set[str]] = {}
        for t in topics:
            docs = [normalize_text(x).lower() for x in tuple(getattr(t, "examples", ())) + tuple(t.keywords)]
            per_topic[t.id] = set().union(*(grams(d) for d in docs)) if docs else set()
        df: dict[str, int] = defaultdict(int)
        for gs in per_topic.values():
            for g in gs:
                df[g] += 1
        n = max(1, len(per_topic))
        self._cues: dict[str, list[tuple[str, float]]] = defaultdict(list)  # n-gram → [(topic, weight)]
        for tid, gs in per_topic.items():
            for g in gs:
                self._cues[g].append((tid, math.log(1 + n / df[g]) / math.log(1 + n)))
        excludes = [(t.id, [normalize_text(x).lower() for x in getattr(t, "exclude", ()) if x.strip()]) for t in topics]
        self._exclude = [(tid, re.compile("|".join(re.escape(x) for x in xs))) for tid, xs in excludes if xs]

    def evidence(self, text: str) -> dict[str, float]:
        """Summed cue weight per topic for a normalized text (topics with none are absent)."""
        low = text.lower()
        score: dict[str, float] = defaultdict(float)
        for g in grams(low):
            for tid, w in self._cues.get(g, ()):
                score[tid] += w
        for tid, pat in self._exclude:
            if tid in score and pat.search(low):
                del score[tid]
        return dict(score)

    def __call__(self, text: str) -> tuple[str, ...]:
        hits = set(self.keywords(text))
        ev = self.evidence(text)
        if ev:
            top = max(ev.values())
            hits |= {tid for tid, v in ev.items() if v >= self.min_evidence and v >= self.relative * top}
        return tuple(t for t in self.topic_ids if t in hits)
