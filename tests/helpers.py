"""Test data and helpers shared by the test packages, imported as ``from tests.helpers import ...``.

Conftest modules cannot be imported under ``--import-mode=importlib``; what more than one test module needs lives
here instead of in a fixture that hands helpers around or a constant copied into each module.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from classifier.normalize import segmenter_for
from configs import Settings
from configs.times import format_utc
from crawlers.items import doc_id

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
#: The parser tests' pages (``<source>/<name>``), the clock their constructed pages were written for (11:05 in
#: Shanghai) and the replay server's base URL in their page URLs.
PARSER_PAGES = FIXTURES / "pages"
PARSER_NOW = datetime(2026, 11, 24, 3, 5, tzinfo=timezone.utc)
REPLAY_BASE = "http://127.0.0.1:8765"


def utc(*args: int) -> datetime:
    """``datetime(*args)`` in UTC."""
    return datetime(*args, tzinfo=timezone.utc)


def parser_page(source: str, name: str | bytes) -> bytes:
    """The bytes of the parser fixture ``tests/fixtures/pages/<source>/<name>``; bytes (a test's own body) pass."""
    return (PARSER_PAGES / source / name).read_bytes() if isinstance(name, str) else name


def simple_tokenizer(text: str) -> list[str]:
    """Whitespace tokens: the index tests' tokenizer where Chinese segmentation is beside the point."""
    return text.split()


def run_in_threads(target: Callable[..., object], n: int, *args: object) -> None:
    """Run ``target(*args)`` in ``n`` threads at once and wait for all of them (a test collects their errors)."""
    threads = [threading.Thread(target=target, args=args) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def live_es_index(tmp_path: Path, tokenizer: Callable[[str], list[str]], what: str) -> Iterator[Any]:
    """A fresh index on the cluster at ``VOC_ES_URL`` (credentials from VOC_ES_API_KEY or
    VOC_ES_USERNAME/VOC_ES_PASSWORD, TLS CA from VOC_ES_CA_CERTS), dropped afterwards; the test is skipped
    without a cluster, ``what`` saying what it was for. For a fixture: ``yield from live_es_index(...)``."""
    url = os.environ.get("VOC_ES_URL")
    if not url:
        pytest.skip(f"VOC_ES_URL is not set: no Elasticsearch cluster {what}")
    from configs.index import ElasticsearchSettings, IndexSettings
    from configs.settings import Secrets
    from index.elastic import ElasticsearchIndex

    es = ElasticsearchSettings(ca_certs=os.environ.get("VOC_ES_CA_CERTS") or None, number_of_replicas=0)
    settings = IndexSettings(url=url, name=f"voc-test-{uuid.uuid4().hex[:8]}", elasticsearch=es)
    ix = ElasticsearchIndex.from_settings(settings, url=url, home=tmp_path, tokenizer=tokenizer,
                                          secrets=Secrets(os.environ))
    yield ix
    ix.drop()
    ix.close()


# -- API and web page tests --------------------------------------------------------------------------------
#: The fixed "now" of the API and web page tests (Tuesday 2026-11-24 11:00 in Shanghai).
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">闪退了'
#: The web page tests' hostile text: each payload would set ``window.__pwned`` if it ever ran.
HOSTILE_PAGE = ('<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
                '<svg onload="window.__pwned=3"></svg>闪退了')


def indexed_doc(tokenizer: Callable[[str], list[str]], n: int, text: str, *, created: datetime,
                source: str = "appstore", sentiment: str = "negative", topics: tuple[str, ...] = (),
                intent: str = "bug", rating: int | None = None, app_version: str | None = None,
                platform: str | None = "ios", url: str | None = None, product: str = "qingji", id_prefix: str = "s",
                kind: str | None = None) -> dict[str, Any]:
    """A fully tagged document of ``product`` as the index stores it, crawled at :data:`NOW`; ``kind`` defaults
    to ``review`` for the App Store and ``post`` elsewhere."""
    sid = f"{id_prefix}{n}"
    return {
        "id": doc_id(source, sid), "source": source, "source_id": sid,
        "url": url if url is not None else f"https://example.com/post/{n}", "parent_id": None, "product": product,
        "kind": kind or ("review" if source == "appstore" else "post"), "title": "", "text": text, "raw_text": text,
        "tokens": " ".join(tokenizer(text)), "author_id": f"a{n}", "author_name": f"用户{n}",
        "created_at": format_utc(created), "crawled_at": format_utc(NOW), "rating": rating,
        "app_version": app_version, "platform": platform, "likes": 0, "replies": 0, "reposts": 0,
        "sentiment": sentiment, "sentiment_score": 0.9, "intent": intent, "topics": list(topics), "risk": [],
        "dup_of": None, "model_version": "rules-test",
    }



def calm_days_and_a_login_spike(tokenizer: Callable[[str], list[str]], *, ui_text: str, spike_text: str,
                                hostile: str, hostile_url: str, **doc: Any) -> list[dict[str, Any]]:
    """The API and web page tests' corpus: 3 calm days (11-21..23 at 12:00 Shanghai, 2 positive + 1 neutral a
    day), a negative login spike of 6 reviews on 11-24 09:00–09:25 Shanghai (``spike_text`` formatted with
    ``i``), and one hostile Weibo post at the spike. ``doc`` goes to every :func:`indexed_doc`."""
    docs: list[dict[str, Any]] = []

    def add(text: str, **fields: Any) -> None:
        docs.append(indexed_doc(tokenizer, len(docs) + 1, text, **doc, **fields))

    base = datetime(2026, 11, 21, 4, 0, tzinfo=timezone.utc)
    for d in range(3):
        for text, sentiment, topics, intent, rating in (
            (ui_text, "positive", ("ui",), "praise", 5),
            ("手写笔记很好用", "positive", (), "praise", 5),
            ("请问怎么导出PDF", "neutral", ("feature_request",), "question", 3),
        ):
            add(text, created=base + timedelta(days=d), sentiment=sentiment, topics=topics, intent=intent,
                rating=rating, app_version="3.1.0")
    spike = datetime(2026, 11, 24, 1, 0, tzinfo=timezone.utc)
    for i in range(6):
        add(spike_text.format(i=i), created=spike + timedelta(minutes=5 * i), topics=("login",), rating=1,
            app_version="3.2.0", platform="android" if i % 3 else "ios")
    add(hostile, created=spike, source="weibo", topics=("crash",), platform="web", url=hostile_url)
    return docs

# -- alert tests -------------------------------------------------------------------------------------------
#: The fixed "now" of the alert tests (2026-11-24 14:30 in Shanghai).
ALERTS_NOW = datetime(2026, 11, 24, 6, 30, tzinfo=timezone.utc)
#: The index's segmentation (no user dictionary).
tokenize = segmenter_for(())


def make_doc(n: int, *, at: datetime, product: str = "demo", sentiment: str = "negative",
             topics: tuple[str, ...] = (), text: str = "用起来还行", source: str = "weibo", **extra: Any) -> dict[str, Any]:
    """A fully tagged indexed document ``n`` of ``source``, created and crawled at ``at``; ``extra`` overrides."""
    sid = f"{source}-{n}"
    doc = {
        "id": doc_id(source, sid), "source": source, "source_id": sid, "url": f"https://example.com/p/{n}",
        "parent_id": None, "product": product, "kind": "post", "title": "", "text": text, "raw_text": text,
        "tokens": " ".join(tokenize(text)), "author_id": f"u{n}", "author_name": f"用户{n}",
        "created_at": format_utc(at), "crawled_at": format_utc(at),
        "rating": None, "app_version": None, "platform": None, "likes": 0, "replies": 0, "reposts": 0,
        "sentiment": sentiment, "sentiment_score": 0.9, "intent": "bug", "topics": list(topics), "risk": [],
        "dup_of": None, "model_version": "rules-test",
    }
    doc.update(extra)
    return doc


def adopter_docs(start_n: int, count: int, *, version: str, end: datetime) -> list[dict[str, Any]]:
    """Ordinary five-star App Store reviews of ``version`` up to ``end`` (not an incident's signal): people run it."""
    return [make_doc(start_n + i, at=end - timedelta(minutes=3 + i * 7), source="appstore", kind="review", rating=5,
                     app_version=version, sentiment="positive", topics=("sync",), text=f"同步很快，界面清爽 #{i}")
            for i in range(count)]


def with_alerts(settings: Settings, **changes: Any) -> Settings:
    """``settings`` with fields of its alerts section replaced."""
    return settings.replace(alerts=dataclasses.replace(settings.alerts, **changes))


def baseline_docs(*, days: int = 10, per_hour: int = 1, end: datetime = ALERTS_NOW, topic: str = "login",
                  start_n: int = 0, text: str = "登录有点慢") -> list[dict[str, Any]]:
    """``per_hour`` negative docs every hour (even hours) for ``days`` days before ``end``'s window."""
    docs: list[dict[str, Any]] = []
    n = start_n
    t = end - timedelta(days=days)
    while t < end - timedelta(hours=7):
        if t.hour % 2 == 0:
            for _ in range(per_hour):
                docs.append(make_doc(n, at=t, topics=(topic,), text=text))
                n += 1
        t += timedelta(hours=1)
    return docs


def surge_docs(count: int, *, end: datetime = ALERTS_NOW, hours: int = 5, topic: str = "login",
               start_n: int = 100_000, text: str = "登录不上去，一直提示验证码错误") -> list[dict[str, Any]]:
    return [make_doc(start_n + i, at=end - timedelta(minutes=1 + (i * hours * 60) // count), topics=(topic,),
                     text=f"{text} #{i}", likes=i % 7) for i in range(count)]


def reviews_then_a_threat(version: str, *, before: str) -> list[dict[str, Any]]:
    """25 five-star App Store reviews of version ``before`` 20 days ago, 25 one-star reviews of ``version`` two
    days ago (a rating drop), and a 黑猫 complaint threatening the regulator an hour ago (a high risk)."""
    now = ALERTS_NOW
    docs = [make_doc(i, at=now - timedelta(days=20, hours=i), source="appstore", kind="review", rating=5,
                     app_version=before, sentiment="positive", text="好用") for i in range(25)]
    docs += [make_doc(100 + i, at=now - timedelta(days=2, hours=i), source="appstore", kind="review", rating=1,
                      app_version=version, text=f"更新后闪退 {i}") for i in range(25)]
    docs.append(make_doc(999, at=now - timedelta(hours=1), source="heimao", text="再不退款我就去12315投诉",
                         risk=["regulator_threat"]))
    return docs
