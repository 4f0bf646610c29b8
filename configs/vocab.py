"""The shared vocabulary: the one definition of the labels every package speaks.

The classifier tags documents with these sentiments, intents and risk flags; the query language
(:mod:`index.query`) and the alert rules (:mod:`configs.alerts`) accept exactly these values; crawled
documents name these sources. Each label also has the Chinese name the web page shows, which the query
language accepts as well (``sentiment:负面``, ``intent:功能建议``).

Add a label here and nowhere else. Modules that read it import the names from this module at call time
or at import time (``from configs.vocab import INTENTS``); none keeps its own copy.
"""

from __future__ import annotations

__all__ = ["SENTIMENTS", "INTENTS", "RISKS", "SOURCES", "SENTIMENT_NAMES", "INTENT_NAMES", "RISK_NAMES",
           "SOURCE_NAMES", "FORUM_PREFIX", "is_source"]

#: Sentiment labels, in the classifier's output order.
SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")
#: Intent labels, in the classifier's output order.
INTENTS: tuple[str, ...] = ("bug", "feature_request", "question", "service_complaint", "praise", "other")
#: Risk flags (a document carries any number of them).
RISKS: tuple[str, ...] = ("media_threat", "regulator_threat", "legal_threat", "viral")
#: Sources with a spider of their own; Discuz!-style forums are ``forum:<name>``.
SOURCES: tuple[str, ...] = ("appstore", "huawei", "xiaomi", "yyb", "weibo", "zhihu", "tieba", "heimao", "v2ex")
FORUM_PREFIX = "forum:"

#: The Chinese names the web page shows (app/web/static/app.js mirrors them for display).
SENTIMENT_NAMES: dict[str, str] = {"negative": "负面", "neutral": "中性", "positive": "正面"}
INTENT_NAMES: dict[str, str] = {"bug": "缺陷", "feature_request": "功能建议", "question": "咨询",
                                "service_complaint": "服务投诉", "praise": "表扬", "other": "其他"}
RISK_NAMES: dict[str, str] = {"media_threat": "媒体曝光", "regulator_threat": "监管投诉", "legal_threat": "法律威胁",
                              "viral": "高传播"}
SOURCE_NAMES: dict[str, str] = {"appstore": "App Store", "huawei": "华为应用市场", "xiaomi": "小米应用商店",
                                "yyb": "应用宝", "weibo": "微博", "zhihu": "知乎", "tieba": "贴吧",
                                "heimao": "黑猫投诉", "v2ex": "V2EX"}


def is_source(value: str) -> bool:
    """A known source name, or ``forum:<name>``."""
    return value in SOURCES or (value.startswith(FORUM_PREFIX) and len(value) > len(FORUM_PREFIX))
