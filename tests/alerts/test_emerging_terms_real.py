"""Emerging terms on real text: a new complaint phrase injected into real App Store reviews is found,
reported with its posts, and names the incident; stop words and generic words never lead a title."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import alerts
from alerts.detect import is_generic
from alerts.incidents import title_for
from tests.helpers import ALERTS_NOW as NOW, make_doc

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "alerts" / "appstore_negative_sample.jsonl"
#: Constructed for this test: a new feature's name next to 闪退, in a user's words.
INJECTED = ("更新后用魔法抠图就闪退", "魔法抠图一点就闪退，什么鬼", "新出的魔法抠图闪退，图都没保存",
            "魔法抠图功能闪退好几次了", "一用魔法抠图就闪退，垃圾")


def _only_terms(settings):
    rules = tuple(r for r in settings.alerts.rules if r.kind == "emerging_terms")
    return settings.replace(alerts=dataclasses.replace(settings.alerts, rules=rules))


def _background(now, texts):
    """The real reviews spread evenly over the ten days before ``now`` (the usual complaints)."""
    span = timedelta(days=10)
    return [make_doc(i, at=now - span + span * i / len(texts), text=t, source="appstore")
            for i, t in enumerate(texts)]


def test_a_new_feature_crashing_is_found_in_real_background_text(settings, index):
    s = _only_terms(settings)
    now = NOW
    texts = [json.loads(x)["text"] for x in FIXTURE.read_text("utf-8").splitlines()]
    index.upsert(_background(now, texts))
    injected = [make_doc(50_000 + i, at=now - timedelta(hours=5) + timedelta(minutes=25 * i),
                             text=INJECTED[i % len(INJECTED)] + "。" + texts[i], source="appstore" if i % 2 else "weibo")
                for i in range(12)]
    index.upsert(injected)
    [sig] = alerts.collect_signals(s.alerts.rules[0], s, index, now=now)
    terms = sig.detail["terms"]
    assert "魔法抠图" in terms[0]  # the new phrase leads: found, and named by its most specific form
    assert not any(is_generic(t) for t in terms)  # no 不行 / 提示 / 里面 / wifi
    # reported with its posts: exactly the twelve injected ones
    assert set(sig.detail["post_ids"]) >= {d["id"] for d in injected}
    assert len(sig.detail["post_ids"]) <= 14
    report = alerts.evaluate(s, index, now=now)
    [inc] = report.raised
    assert "魔法抠图" in inc.title and inc.detail["terms"][0] == terms[0]


def test_the_real_background_alone_raises_nothing(settings, index):
    s = _only_terms(settings)
    texts = [json.loads(x)["text"] for x in FIXTURE.read_text("utf-8").splitlines()]
    index.upsert(_background(NOW, texts))
    assert alerts.collect_signals(s.alerts.rules[0], s, index, now=NOW) == []


def test_generic_and_stop_words_never_lead_a_title():
    title = title_for(product_name="轻记", version="3.2.0", topic_names=["登录/账号"],
                      terms=["不行", "提示", "里面", "wifi", "登录失败", "收不到验证码"], kinds=["volume_spike", "emerging_terms"],
                      risk=[])
    assert title == "3.2.0 登录失败激增：收不到验证码"
    only_noise = title_for(product_name="轻记", version="", topic_names=[], terms=["不行", "提示", "一直", "4g"],
                           kinds=["emerging_terms"], risk=[])
    assert not any(w in only_noise for w in ("不行", "提示", "一直", "4g"))
