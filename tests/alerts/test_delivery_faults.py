"""Findings 2, 8 and 9 of the attack-and-fault review (issue 23), against real loopback receivers.

2. One bad outbox row stopped all delivery for good: a crawled app version containing a newline reached
   an email ``Subject``, ``EmailMessage`` raised ``ValueError``, ``deliver`` caught only notifier errors,
   and every row after it — a critical 12315 threat included — was never sent.
8. Webhook delivery is at least once, not once: a receiver slower than the timeout got the same alert
   state once per attempt, with the same ``X-VOC-Delivery`` id.
9. Slack's top-level ``text`` carried the raw headline: ``<!channel>`` from a crawled version pinged a channel.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import httpx
import pytest

import alerts
from alerts.message import Notification
from alerts.notifiers import NOTIFIERS, Target, render, send
from alerts.store import OutboxEntry, open_store
from configs.alerts import Channel, Subscriber
from configs.settings import Secrets
from tests.alerts.receivers import SECRET, TOKEN
from tests.helpers import ALERTS_NOW as NOW, reviews_then_a_threat

INJECTED = "3.1\r\nBcc: attacker@example.com\r\nX-Evil: <!channel>"


def _settings(settings, receiver, smtp, *, kinds=("rating_drop", "high_risk"), max_attempts=8, timeout=10.0):
    rules = tuple(r for r in settings.alerts.rules if r.kind in kinds)
    channels = (Channel(name="mail", kind="email", host="127.0.0.1", port=smtp.port if smtp else 25, starttls=False,
                        sender="voc@example.com", recipients=("oncall@example.com",)),
                Channel(name="hook", kind="webhook", url=receiver.url + "/hook", secret_env="HOOK_SECRET",
                        timeout=timeout))
    subs = (Subscriber(name="oncall", channels=("mail", "hook") if smtp else ("hook",)),)
    al = dataclasses.replace(settings.alerts, rules=rules, channels=channels, subscribers=subs,
                             outbox=dataclasses.replace(settings.alerts.outbox, max_attempts=max_attempts))
    return settings.replace(alerts=al, secrets=Secrets({"HOOK_SECRET": SECRET}))


def _reviews_then_a_threat(version):
    return reviews_then_a_threat(version, before="3.0")


def test_newline_in_a_crawled_version_neither_injects_a_header_nor_stops_later_alerts(settings, index, receiver,
                                                                                     smtp):
    """The exact finding 2 (and finding 9's class in mail headers). On the old code ``deliver`` raised
    ValueError on the rating-drop email and the critical 12315 alert after it was never sent."""
    s = _settings(settings, receiver, smtp)
    index.upsert(_reviews_then_a_threat(INJECTED))
    report = alerts.evaluate(s, index, now=NOW)
    assert [r.rule for r in report.raised] == ["rating-drop", "high-risk-post"]  # queued in this order
    sent = alerts.deliver(s, now=NOW)
    assert sent.failed == [] and len(sent.sent) == 4
    assert smtp.rejected == [] and len(smtp.messages) == 2  # no injected header got past the strict receiver
    subjects = [m["Subject"] for m in smtp.messages]
    assert "3.1 Bcc: attacker@example.com X-Evil: <!channel> 版本评分下降" in subjects[0]
    assert all("\n" not in x and "\r" not in x for x in subjects)
    assert all(m["Bcc"] is None and m["X-Evil"] is None for m in smtp.messages)
    assert all(b"=?utf-8?" in raw.split(b"\r\n\r\n", 1)[0] for raw in smtp.raw)  # RFC 2047 encoded, not raw UTF-8
    assert "高风险反馈" in subjects[1] and smtp.messages[1]["X-VOC-Delivery"].endswith(":1")
    critical = [r["body"] for r in receiver.received if r["body"]["rule"] == "high-risk-post"]
    assert len(critical) == 1 and critical[0]["severity"] == "critical"


def _alert_and_a_broken_row(s, index):
    """A row whose stored notification this version cannot read (queued by an older release, or hand-edited),
    queued before a real critical alert for the same subscriber on the same channel."""
    with open_store(s) as st:
        st.enqueue("legacy", 1, [OutboxEntry(subscriber="oncall", channel="hook",
                                             notification={"id": "legacy:1", "headline": "old schema"})], now=NOW)
    index.upsert(_reviews_then_a_threat("3.1")[-1:])
    alerts.evaluate(s, index, now=NOW)


def test_any_exception_on_one_row_is_recorded_retried_then_dead_lettered_and_later_rows_go_on(settings, index,
                                                                                              receiver):
    s = _settings(settings, receiver, None, kinds=("high_risk",), max_attempts=3)
    _alert_and_a_broken_row(s, index)
    first = alerts.deliver(s, now=NOW)
    assert [d.id for d in first.sent] == [next(iter(receiver.processed))]  # the alert behind the broken row
    (bad,) = first.failed
    assert bad.id == "legacy:1" and bad.retry and bad.error == (
        "ValueError while delivering: the stored notification has another shape: unknown field(s) headline; "
        "missing event, title")
    with open_store(s) as st:
        row = next(r for r in st.outbox() if r.fingerprint == "legacy")
        assert (row.status, row.attempts, row.last_error) == ("pending", 1, bad.error)
    # backoff: 30s, then 60s; the third attempt is the last (max_attempts: 3) and dead-letters the row
    assert alerts.deliver(s, now=NOW + timedelta(seconds=10)).failed == []
    assert alerts.deliver(s, now=NOW + timedelta(seconds=31)).failed[0].retry
    last = alerts.deliver(s, now=NOW + timedelta(minutes=5)).failed
    assert len(last) == 1 and not last[0].retry
    with open_store(s) as st:
        row = next(r for r in st.outbox() if r.fingerprint == "legacy")
        assert (row.status, row.attempts) == ("failed", 3)
    assert alerts.deliver(s, now=NOW + timedelta(hours=5)).failed == []  # given up: not retried by itself
    assert len(receiver.received) == 1


def test_slow_webhook_receiver_gets_the_same_delivery_id_once_per_attempt(settings, index, slow_receiver):
    """At least once, told truthfully: a receiver that processes each request but answers after the
    channel's timeout (0.3 s here; ``timeout`` per channel in alerts.yaml) gets the alert state once per
    attempt — ``max_attempts`` (3) times — always with the same ``X-VOC-Delivery``; de-duplicating on
    it, the receiver handles the alert once."""
    s = _settings(settings, slow_receiver, None, kinds=("high_risk",), max_attempts=3, timeout=0.3)
    index.upsert(_reviews_then_a_threat("3.1")[-1:])
    alerts.evaluate(s, index, now=NOW)
    reports = [alerts.deliver(s, now=NOW + at) for at in (timedelta(0), timedelta(seconds=31), timedelta(minutes=2),
                                                               timedelta(hours=1))]
    assert [len(r.failed) for r in reports] == [1, 1, 1, 0] and [len(r.sent) for r in reports] == [0, 0, 0, 0]
    assert all("timed out after 0.3s" in r.failed[0].error for r in reports[:3])
    assert [r.failed[0].retry for r in reports[:3]] == [True, True, False]  # the third attempt was the last
    ids = [r["delivery"] for r in slow_receiver.received]
    assert len(ids) == 3 and len(set(ids)) == 1 and ids[0].endswith(":1")  # three times, one id
    assert [r["body"]["id"] for r in slow_receiver.received] == ids  # the id is in the body too
    assert list(slow_receiver.processed) == ids[:1]  # a receiver that de-duplicates acts once


def _hostile_note() -> Notification:
    title = ("轻记 3.1\r\n<!channel> <@all> <at id=all></at> [点我](javascript:alert(1)) **x** \u202egnp.exe\x1b[31m"
             " 版本评分下降")
    return Notification(id="fp0123456789abcd:2", event="opened", title=title, severity="critical", product="qingji",
                        rule="rating-drop", samples=[{"text": "<!here> 回复\n换行", "url": "https://x.example/1",
                                                      "source": "appstore"}])


#: Per kind: (fields read as markup by the platform, fields shown as one header line).
_FIELDS = {
    "dingtalk": (lambda p: [p["actionCard"]["text"], p["actionCard"]["title"]], lambda p: [p["actionCard"]["title"]]),
    "wecom": (lambda p: [p["markdown"]["content"]], lambda p: []),
    "feishu": (lambda p: [p["card"]["elements"][0]["text"]["content"]],
               lambda p: [p["card"]["header"]["title"]["content"]]),
    "slack": (lambda p: [p["text"], *(b["text"]["text"] for b in p["blocks"])], lambda p: [p["text"]]),
    "email": (lambda p: [p["html"]], lambda p: [p["subject"]]),
    "webhook": (lambda p: [p["markdown"]], lambda p: []),
    "log": (lambda p: [], lambda p: []),
}


@pytest.mark.parametrize("kind", sorted(NOTIFIERS))
def test_crawled_text_is_inert_in_every_notifier(kind):
    """Finding 9 and its class: every field a platform reads as markup escapes its mention, link and
    HTML syntax, and every header-like field is one line without control characters."""
    target = Target(channel="c", kind=kind, style="actionCard" if kind == "dingtalk" else "markdown")
    payload = render(kind, _hostile_note(), target)
    markup, heads = _FIELDS[kind]
    for field in markup(payload):
        assert "<!channel>" not in field and "<@all>" not in field and "<at id=all>" not in field
        assert "<!here>" not in field
        if kind in ("dingtalk", "wecom", "feishu", "webhook"):  # Markdown: no link syntax survives
            assert "](javascript:" not in field
    for field in [*heads(payload), *markup(payload)]:
        assert "\u202e" not in field and "\x1b" not in field and "\r" not in field
    for head in heads(payload):
        assert head and "\n" not in head
    if kind == "slack":
        assert payload["text"].startswith("[严重] 新告警: 轻记 3.1 &lt;!channel&gt; &lt;@all&gt;")
    assert set(_FIELDS) == set(NOTIFIERS)  # a new channel kind must say which of its fields are markup


def test_slack_receives_an_inert_channel_mention(receiver):
    t = Target(channel="slack", kind="slack", url=receiver.url + f"/services/T0/B0/{TOKEN}")
    with httpx.Client() as client:
        send("slack", render("slack", _hostile_note(), t), target=t, client=client, now=NOW)
    (got,) = receiver.received
    assert "&lt;!channel&gt;" in got["body"]["text"] and "<!channel>" not in json.dumps(got["body"], ensure_ascii=False)


def test_every_attempt_of_one_email_delivery_has_the_same_message_id(smtp):
    """Email's idempotency key: ``Message-ID`` derives from the delivery id (it was random per attempt),
    so a mail store that drops repeated ids shows a re-sent alert once."""
    t = Target(channel="mail", kind="email", host="127.0.0.1", port=smtp.port, starttls=False, sender="voc@example.com",
               recipients=("oncall@example.com",))
    for _ in range(2):
        send("email", render("email", _hostile_note(), t), target=t, client=None, now=NOW)
    assert smtp.rejected == [] and len(smtp.messages) == 2
    ids = {m["Message-ID"] for m in smtp.messages}
    assert ids == {"<fp0123456789abcd.2@voc.local>"}
    assert {m["X-VOC-Delivery"] for m in smtp.messages} == {"fp0123456789abcd:2"}


def test_a_damaged_row_is_claimed_recorded_and_skipped(settings, index, receiver):
    """A row whose stored JSON is damaged used to raise inside ``claim`` itself, before any error handling."""
    import sqlite3

    s = _settings(settings, receiver, None, kinds=("high_risk",), max_attempts=1)
    _alert_and_a_broken_row(s, index)
    with sqlite3.connect(s.sqlite_path()) as db:
        db.execute("UPDATE alert_outbox SET notification = '{\"id\": \"legacy:1\", trunc' WHERE fingerprint = 'legacy'")
    report = alerts.deliver(s, now=NOW)
    assert len(report.sent) == 1 and len(receiver.received) == 1
    (bad,) = report.failed
    assert bad.id == "legacy:1" and not bad.retry
    assert bad.error == "ValueError while delivering: the stored notification is not valid JSON: '{\"id\": \"legacy:1\", trunc'"


def test_error_text_recorded_on_a_row_never_carries_the_channel_secrets():
    from alerts._deliver import _redact

    t = Target(channel="ding", kind="dingtalk", url="https://oapi.dingtalk.com/robot/send?access_token=0123abcdTOKEN",
               secret="SECxyz-signing", password="mail-pass-1")
    text = _redact("ValueError: bad https://oapi.dingtalk.com/robot/send?access_token=0123abcdTOKEN&sign=x "
                   "token 0123abcdTOKEN secret SECxyz-signing pw mail-pass-1", t)
    assert "0123abcdTOKEN" not in text and "SECxyz" not in text and "mail-pass-1" not in text
    assert text.startswith("ValueError: bad …")
    feishu = Target(channel="f", kind="feishu", url="https://open.feishu.cn/open-apis/bot/v2/hook/5f1e-hook-token-99")
    assert "5f1e-hook-token-99" not in _redact("at /open-apis/bot/v2/hook/5f1e-hook-token-99", feishu)
