"""Alert test fixtures: a real SQLite index in a temp home, a document factory, loopback receivers."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from classifier.normalize import segmenter_for
from configs import Settings
from configs.alerts import AlertsFile, Channel, Rule, Subscriber
from crawlers.items import doc_id

NOW = datetime(2026, 11, 24, 6, 30, tzinfo=timezone.utc)
#: The index's segmentation (no user dictionary).
tokenize = segmenter_for(())


def make_doc(n: int, *, at: datetime, product: str = "demo", sentiment: str = "negative", topics: tuple[str, ...] = (),
             text: str = "用起来还行", source: str = "weibo", **extra: Any) -> dict[str, Any]:
    sid = f"{source}-{n}"
    doc = {
        "id": doc_id(source, sid), "source": source, "source_id": sid, "url": f"https://example.com/p/{n}",
        "parent_id": None, "product": product, "kind": "post", "title": "", "text": text, "raw_text": text,
        "tokens": " ".join(tokenize(text)), "author_id": f"u{n}", "author_name": f"用户{n}",
        "created_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "crawled_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "rating": None, "app_version": None, "platform": None, "likes": 0, "replies": 0, "reposts": 0,
        "sentiment": sentiment, "sentiment_score": 0.9, "intent": "bug", "topics": list(topics), "risk": [],
        "dup_of": None, "model_version": "rules-test",
    }
    doc.update(extra)
    return doc


def with_alerts(settings: Settings, **changes: Any) -> Settings:
    return settings.replace(alerts=dataclasses.replace(settings.alerts, **changes))


@pytest.fixture
def index(settings: Settings) -> Iterator[Any]:
    from index import open_index

    idx = open_index(settings.index, home=settings.home, tokenizer=tokenize, secrets=settings.secrets)
    yield idx
    idx.close()


def baseline_docs(*, days: int = 10, per_hour: int = 1, end: datetime = NOW, topic: str = "login", start_n: int = 0,
                  text: str = "登录有点慢") -> list[dict[str, Any]]:
    """``per_hour`` negative docs every hour (even hours) for ``days`` days before ``end``'s window."""
    docs = []
    n = start_n
    t = end - timedelta(days=days)
    while t < end - timedelta(hours=7):
        if t.hour % 2 == 0:
            for _ in range(per_hour):
                docs.append(make_doc(n, at=t, topics=(topic,), text=text))
                n += 1
        t += timedelta(hours=1)
    return docs


def surge_docs(count: int, *, end: datetime = NOW, hours: int = 5, topic: str = "login", start_n: int = 100_000,
               text: str = "登录不上去，一直提示验证码错误") -> list[dict[str, Any]]:
    return [make_doc(start_n + i, at=end - timedelta(minutes=1 + (i * hours * 60) // count), topics=(topic,),
                     text=f"{text} #{i}", likes=i % 7) for i in range(count)]


def _load_receivers() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("alerts_test_receivers", Path(__file__).with_name("receivers.py"))
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


RECEIVERS = _load_receivers()


@pytest.fixture
def receiver() -> Iterator[Any]:
    r = RECEIVERS.Receiver(now_s=NOW.timestamp())
    yield r
    r.stop()


@pytest.fixture
def slow_receiver() -> Iterator[Any]:
    """Processes each request, then answers after 0.6 s."""
    r = RECEIVERS.Receiver(now_s=NOW.timestamp(), delay_s=0.6)
    yield r
    r.stop()


@pytest.fixture
def smtp() -> Iterator[Any]:
    r = RECEIVERS.SmtpReceiver()
    yield r
    r.stop()


@pytest.fixture
def kit() -> Any:
    """The helpers above (pytest's importlib mode keeps conftest out of sys.path)."""
    import types

    return types.SimpleNamespace(NOW=NOW, make_doc=make_doc, tokenize=tokenize, with_alerts=with_alerts,
                                 baseline_docs=baseline_docs, surge_docs=surge_docs,
                                 SECRET=RECEIVERS.SECRET, TOKEN=RECEIVERS.TOKEN, Rule=Rule, Channel=Channel,
                                 Subscriber=Subscriber)


__all__ = ["NOW", "make_doc", "tokenize", "with_alerts", "baseline_docs", "surge_docs", "Rule", "Channel",
           "Subscriber", "AlertsFile", "Path"]
