"""Keyword rules: taxonomy topic matching (used by every classifier), and the ``rules`` stand-in classifier.

:func:`keyword_topics` tags a text with every taxonomy topic one of whose keywords occurs in it — a topic a
user adds to topics.yaml is tagged at once, with no retraining. :class:`RulesClassifier` adds lexicon
sentiment and rule intent; it is fast and dependency-free, the fallback and the test stand-in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from classifier._base import Tags
from classifier.intent import intent_of
from classifier.topics import TopicMatcher, TopicTagger
from classifier.normalize import classification_text, normalize_text
from classifier.risk import risk_flags

__all__ = ["RULES_VERSION", "TopicMatcher", "keyword_topics", "rule_sentiment", "rule_intent", "RulesClassifier"]

RULES_VERSION = "rules-1"

NEGATIVE_WORDS = (
    "闪退", "崩溃", "卡死", "卡顿", "打不开", "白屏", "黑屏", "垃圾", "差评", "太差", "很差", "真差", "差劲", "烂", "坑",
    "骗", "失望", "无语", "恶心", "愤怒", "生气", "气死", "后悔", "难用", "不好用", "不能用", "用不了", "没法用",
    "登不上", "登录不上", "失败", "bug", "问题", "故障", "扣费", "乱扣", "退款", "不退", "投诉", "没人管", "没人回复",
    "不回复", "不处理", "敷衍", "太慢", "很慢", "耗电", "发烫", "广告太多", "流氓", "删了", "卸载", "退货", "质量差",
    "不满意", "不行", "毛病", "糟糕", "难吃", "不值", "别买", "上当", "坑爹", "卡", "慢", "差",
)
POSITIVE_WORDS = (
    "好用", "不错", "很好", "非常好", "满意", "喜欢", "赞", "给力", "流畅", "方便", "好评", "推荐", "完美", "感谢",
    "谢谢", "优秀", "漂亮", "好看", "棒", "实用", "靠谱", "贴心", "清爽", "稳定", "快", "超值", "划算", "五星", "好吃",
    "开心", "爱了", "良心",
)
NEGATORS = ("不", "没", "没有", "别", "无法", "不太", "不怎么", "并不")



def keyword_topics(text: str, topics: Iterable[Any]) -> tuple[str, ...]:
    """Topic ids of ``topics`` (taxonomy entries) whose keywords occur in ``text``."""
    return TopicMatcher(topics)(normalize_text(text))


def _count(text: str, words: Sequence[str]) -> tuple[int, int]:
    hits = negated = 0
    for w in words:
        start = text.find(w)
        while start != -1:
            before = text[max(0, start - 3): start]
            if any(before.endswith(n) for n in NEGATORS):
                negated += 1
            else:
                hits += 1
            start = text.find(w, start + len(w))
    return hits, negated


def rule_sentiment(text: str) -> tuple[str, float]:
    """Lexicon sentiment of a normalized text: (label, a rough confidence)."""
    low = text.lower()
    neg, neg_negated = _count(low, NEGATIVE_WORDS)
    pos, pos_negated = _count(low, POSITIVE_WORDS)
    score = (pos + neg_negated * 0.5) - (neg + pos_negated)
    if score < 0:
        return "negative", min(0.95, 0.6 + 0.1 * -score)
    if score > 0:
        return "positive", min(0.95, 0.6 + 0.1 * score)
    return "neutral", 0.5


def rule_intent(text: str, sentiment: str) -> str:
    """Rule intent of a normalized text, given its sentiment (:func:`classifier.intent.intent_of`)."""
    return intent_of(text, sentiment)


class RulesClassifier:
    """The ``rules`` stand-in: lexicon sentiment, rule intent, taxonomy keyword topics, risk patterns."""

    def __init__(self, topics: Iterable[Any]) -> None:
        self.model_version = RULES_VERSION
        self.match_topics = TopicTagger(tuple(topics))

    def predict(self, texts: Sequence[str], *, normalized: bool = False) -> list[Tags]:
        out = []
        for raw in texts:
            text = classification_text(raw or "", normalized=normalized)
            sentiment, score = rule_sentiment(text)
            out.append(Tags(sentiment=sentiment, sentiment_score=round(score, 4), intent=rule_intent(text, sentiment),
                            topics=self.match_topics(text), risk=risk_flags(text), model_version=self.model_version))
        return out
