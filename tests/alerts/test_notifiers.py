"""Notifiers: pure renders with Chinese text, and sends to a real loopback receiver that verifies each
platform's signature scheme; email to a real aiosmtpd server."""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
import pytest

from alerts.message import Notification, md_escape, safe_url
from alerts.notifiers import NOTIFIERS, PermanentNotifierError, Target, TransientNotifierError, render, send
from alerts.notifiers import dingtalk, feishu, webhook
from tests.alerts.receivers import SECRET, TOKEN
from tests.helpers import ALERTS_NOW as NOW



def note(**kw) -> Notification:
    base = dict(
        id="abc123:1", event="opened", title="演示 App · 登录/账号 负面反馈激增", severity="critical",
        fingerprint="abc123", version=1, rule="negative-volume-spike", kind="volume_spike", product="demo", key="login",
        state="open", at="2026-11-24T06:30:00Z",
        figures={"current": 40, "expected": 3.0, "low": 0.0, "high": 9.93, "ratio": 13.333,
                 "window_start": "2026-11-24T01:00:00Z", "window_end": "2026-11-24T06:30:00Z", "unit": "items",
                 "score": 21.6, "samples": 9},
        sources=[["weibo", 30], ["appstore", 10]],
        samples=[{"text": "登录不上去 [点我](javascript:alert(1)) <script>x</script> **加粗**", "url": "https://weibo.com/1/a b(c)",
                  "source": "weibo"},
                 {"text": "验证码一直收不到", "url": "javascript:alert(2)", "source": "appstore"},
                 {"text": "第三条\n换行", "url": "https://tieba.baidu.com/p/3", "source": "tieba"},
                 {"text": "第四条不显示", "url": "https://x/4", "source": "tieba"}],
        search_url="http://127.0.0.1:8080/?q=product%3Ademo%20topic%3Alogin")
    base.update(kw)
    return Notification(**base)


def target(kind: str, url: str | None, secret: str | None = None, **kw) -> Target:
    return Target(channel=f"my-{kind}", kind=kind, url=url, secret=secret, timeout=5.0, **kw)


def test_markdown_render_escapes_crawled_text_and_links():
    payload = dingtalk.render(note())
    text = payload["markdown"]["text"]
    assert payload["msgtype"] == "markdown"
    assert "当前 40条，基线 3（正常范围 0–9.93），比值 ×13.33，窗口 2026-11-24 01:00:00 – 2026-11-24 06:30:00 UTC" in text
    assert "weibo 30、appstore 10" in text
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "\\[点我\\]\\(javascript:alert\\(1\\)\\)" in text  # inert, not a link
    assert "(https://weibo.com/1/a%20b%28c%29)" in text  # link target cannot break out
    assert "javascript:alert(2)" not in text  # non-http link dropped
    assert "第四条" not in text  # three representative posts
    assert "[查看全部相关反馈](http://127.0.0.1:8080/?q=product%3Ademo%20topic%3Alogin)" in text


def test_escape_helpers():
    assert md_escape("a*b_[c](d)\n#e <b>") == "a\\*b\\_\\[c\\]\\(d\\) #e &lt;b&gt;"
    assert safe_url("javascript:alert(1)") == "" and safe_url("https://a/b c") == "https://a/b%20c"


def test_each_render_is_pure_and_shaped_per_platform():
    n = note()
    assert render("webhook", n) == render("webhook", n)
    assert render("wecom", n)["msgtype"] == "markdown"
    card = render("feishu", n)
    assert card["msg_type"] == "interactive" and card["card"]["header"]["template"] == "red"
    assert card["card"]["elements"][1]["actions"][0]["url"].startswith("http://127.0.0.1:8080/?q=")
    slack = render("slack", n)
    assert slack["text"].startswith("[严重] 新告警: 演示 App") and "&lt;script&gt;" in slack["blocks"][1]["text"]["text"]
    ac = dingtalk.render(n, target("dingtalk", None, style="actionCard"))  # the channel option, via its Target
    assert ac["msgtype"] == "actionCard" and ac["actionCard"]["singleURL"].startswith("http://127.0.0.1:8080/")
    mail = render("email", n)
    assert "&lt;script&gt;" in mail["html"] and "<script>" not in mail["html"] and "登录不上去" in mail["text"]
    assert set(NOTIFIERS) == {"webhook", "dingtalk", "wecom", "feishu", "slack", "email", "log"}


def test_signatures_match_the_documented_schemes():
    # DingTalk: base64(HMAC-SHA256(secret, "timestamp\nsecret")); Feishu: base64(HMAC-SHA256(key="timestamp\nsecret", ""))
    assert dingtalk.sign("SECxyz", 1700000000000) == "0PUR1j8g85Xg3vlFV/UrEcxXfF5HpCAGzcjrNfyJoyg="
    assert feishu.sign("SECxyz", 1700000000) == "GnU9dobz1WousiKlH0LX6FYP8yrWNCgoJOvRhpMc8HY="
    assert webhook.signature("s", 1, b"{}") == "sha256=b253639bcd705ed1cda3073f66104f16988bd40272584dea7d0d345ae93e61cc"


@pytest.mark.parametrize("kind,path", [
    ("webhook", "/hook"),
    ("dingtalk", "/robot/send?access_token={token}"),
    ("wecom", "/cgi-bin/webhook/send?key={token}"),
    ("feishu", "/open-apis/bot/v2/hook/{token}"),
    ("slack", "/services/T0/B0/{token}"),
])
def test_send_to_loopback_receiver_verifying_signatures(receiver, kind, path):
    url = receiver.url + path.format(token=TOKEN)
    t = target(kind, url, SECRET)
    with httpx.Client() as client:
        send(kind, render(kind, note(), t), target=t, client=client, now=NOW)
    assert [r["platform"] for r in receiver.received] == [kind]
    assert receiver.rejected == []
    body = receiver.received[0]["body"]
    assert "登录" in str(body)


@pytest.mark.parametrize("kind,path", [
    ("webhook", "/hook"), ("dingtalk", "/robot/send?access_token={token}"), ("feishu", "/open-apis/bot/v2/hook/{token}"),
])
def test_wrong_secret_or_stale_clock_is_rejected(receiver, kind, path, caplog):
    url = receiver.url + path.format(token=TOKEN)
    bad = target(kind, url, "WRONG-secret-value")
    with httpx.Client() as client, caplog.at_level(logging.DEBUG):
        with pytest.raises(PermanentNotifierError) as err:
            send(kind, render(kind, note(), bad), target=bad, client=client, now=NOW)
        good = target(kind, url, SECRET)
        with pytest.raises(PermanentNotifierError):  # right secret, clock two hours off
            send(kind, render(kind, note(), good), target=good, client=client, now=NOW + timedelta(hours=2))
    assert receiver.rejected == [kind, kind] and receiver.received == []
    for text in (str(err.value), repr(bad), repr(good), caplog.text):
        assert "WRONG-secret-value" not in text and SECRET not in text and TOKEN not in text


def test_success_needs_http_ok_and_zero_error_code(receiver):
    t = target("dingtalk", receiver.url + "/robot/send?access_token=nope", SECRET)
    with httpx.Client() as client:
        with pytest.raises(PermanentNotifierError, match="errcode=300001"):
            send("dingtalk", render("dingtalk", note()), target=t, client=client, now=NOW)
        receiver.fail_next["/cgi-bin"] = (200, {"errcode": 45009, "errmsg": "api freq out of limit"})
        w = target("wecom", receiver.url + f"/cgi-bin/webhook/send?key={TOKEN}")
        with pytest.raises(TransientNotifierError, match="45009"):
            send("wecom", render("wecom", note()), target=w, client=client, now=NOW)
        receiver.fail_next["/hook"] = (503, "busy")
        h = target("webhook", receiver.url + "/hook", SECRET)
        with pytest.raises(TransientNotifierError, match="HTTP 503"):
            send("webhook", render("webhook", note()), target=h, client=client, now=NOW)
        s = target("slack", receiver.url + "/services/T/B/X")
        with pytest.raises(PermanentNotifierError, match="HTTP 400"):
            send("slack", {"blocks": []}, target=s, client=client, now=NOW)


def test_unreachable_receiver_is_transient_and_hides_the_url(receiver):
    url = receiver.url + f"/robot/send?access_token={TOKEN}"
    receiver.stop()
    t = target("dingtalk", url, SECRET)
    with httpx.Client() as client, pytest.raises(TransientNotifierError) as err:
        send("dingtalk", render("dingtalk", note()), target=t, client=client, now=NOW)
    assert TOKEN not in str(err.value)


def test_email_over_smtp_plain_and_html(tmp_path):
    from aiosmtpd.controller import Controller

    class Handler:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(envelope)
            return "250 OK"

    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    handler = Handler()
    ctl = Controller(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        t = target("email", None, host="127.0.0.1", port=port, starttls=False, sender="voc@example.com",
                   recipients=("pm@example.com", "qa@example.com"))
        send("email", render("email", note()), target=t, client=None, now=NOW)
    finally:
        ctl.stop()
    assert len(handler.messages) == 1
    env = handler.messages[0]
    assert env.rcpt_tos == ["pm@example.com", "qa@example.com"]
    import email

    msg = email.message_from_bytes(env.content, policy=email.policy.default)
    assert "新告警" in msg["Subject"] and msg["X-VOC-Delivery"] == "abc123:1"
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "当前 40条" in plain and "&lt;script&gt;" in html and "<script>" not in html


def test_email_to_closed_port_is_transient():
    t = target("email", None, host="127.0.0.1", port=1, starttls=False, sender="a@b", recipients=("c@d",))
    with pytest.raises(TransientNotifierError):
        send("email", render("email", note()), target=t, client=None, now=NOW)


def test_log_channel_appends_json_lines(tmp_path):
    import json

    t = target("log", None, path=tmp_path / "a" / "alerts.log")
    send("log", render("log", note()), target=t, client=None, now=NOW)
    send("log", render("log", note(version=2, id="abc123:2", event="updated")), target=t, client=None, now=NOW)
    lines = [json.loads(x) for x in (tmp_path / "a" / "alerts.log").read_text("utf-8").splitlines()]
    assert [(x["id"], x["event"]) for x in lines] == [("abc123:1", "opened"), ("abc123:2", "updated")]
