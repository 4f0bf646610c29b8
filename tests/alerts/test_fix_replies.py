"""Replies to reviewers: a fix-verified incident's App Store reviews of the broken version get drafts from
the product's template; nothing is sent without approval; approved replies go to a loopback App Store
Connect server that verifies the ES256 JWT (a test key generated here) and the JSON:API body; sending twice
sends each reply once."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import alerts
from alerts.fixes import mark_fixed
from alerts.replies import ReplyError, approve, list_replies, send_approved
from alerts.store import open_store
from configs.alerts import ReplySettings
from configs.settings import Secrets
from tests.helpers import ALERTS_NOW as NOW, adopter_docs, baseline_docs, make_doc

KID, ISS = "2X9R4HXF34", "57246542-96fe-1a63-e053-0824d011072a"


def _key():
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return key, pem


def _settings(settings, receiver, pem):
    rules = tuple(r for r in settings.alerts.rules if r.kind == "volume_spike")
    replies = ReplySettings(templates={"demo": "您好！{problem}问题已在 {version} 修复，请更新后再试。"}, api_url=receiver.url)
    al = dataclasses.replace(settings.alerts, rules=rules, channels=(), subscribers=(), replies=replies)
    env = {"VOC_ASC_KEY_ID": KID, "VOC_ASC_ISSUER_ID": ISS, "VOC_ASC_PRIVATE_KEY": pem}
    return settings.replace(alerts=al, secrets=Secrets(env))


def _reviews(start_n, count, *, version, end, hours=5):
    return [make_doc(start_n + i, at=end - timedelta(minutes=1 + (i * hours * 60) // count), source="appstore",
                     kind="review", rating=1, app_version=version, topics=("login",),
                     text=f"登录不上去，一直提示验证码错误 #{i}") for i in range(count)]


def _verified(s, index, receiver):
    index.upsert(baseline_docs())
    index.upsert(_reviews(100_000, 40, version="3.2.0", end=NOW))
    [inc] = alerts.evaluate(s, index, now=NOW).raised
    mark_fixed(s, inc.fingerprint, version="3.2.1", date=NOW, now=NOW)
    later = NOW + timedelta(days=1, minutes=5)
    index.upsert(_reviews(200_000, 1, version="3.2.1", end=later, hours=20))
    index.upsert(adopter_docs(250_000, 10, version="3.2.1", end=NOW + timedelta(days=1)))
    report = alerts.evaluate(s, index, now=later)
    assert report.verdicts[0].state == "fix_verified"
    receiver.now_s = later.timestamp()  # the server checks the token's iat against its clock
    return inc, report, later


def _trusted_and_verified(settings, index, receiver):
    """A key the receiver trusts in the settings, and a verified fix with 40 drafted replies (:func:`_verified`)."""
    key, pem = _key()
    receiver.asc = {"public_key": key.public_key(), "kid": KID, "iss": ISS}
    s = _settings(settings, receiver, pem)
    return (s, *_verified(s, index, receiver))


def test_drafts_need_approval_then_each_review_is_answered_once(settings, index, receiver):
    s, inc, report, later = _trusted_and_verified(settings, index, receiver)
    assert report.drafted == 40
    with open_store(s) as st:
        drafts = list_replies(st)
        assert len(drafts) == 40 and {d["status"] for d in drafts} == {"draft"}
        assert {d["app_version"] for d in drafts} == {"3.2.0"}  # the 3.2.1 review is not answered with "fixed"
        assert drafts[0]["body"] == "您好！登录/账号问题已在 3.2.1 修复，请更新后再试。"
        assert drafts[0]["source_id"].startswith("appstore-")
        # nothing is sent without approval
        assert send_approved(s, st, now=later).sent == [] and receiver.received == []
        assert approve(st, reviews=(drafts[0]["review"],), by="客服小王", now=later) == 1
        assert approve(st, incident=inc.fingerprint[:8], by="客服小王", now=later) == 39
        first = send_approved(s, st, now=later)
        second = send_approved(s, st, now=later + timedelta(minutes=1))
        rows = list_replies(st)
    assert len(first.sent) == 40 and first.failed == {} and second.sent == [] and second.failed == {}
    assert receiver.rejected == [] and len(receiver.received) == 40 and len(receiver.responses) == 40
    assert {r["status"] for r in rows} == {"sent"} and all(r["response_id"].startswith("resp-") for r in rows)
    body = receiver.received[0]["body"]["data"]
    assert body["relationships"]["review"]["data"]["type"] == "customerReviews"
    # a later evaluation drafts nothing again for reviews already answered
    assert alerts.evaluate(s, index, now=later + timedelta(hours=1)).drafted == 0


def test_a_key_the_server_does_not_know_is_refused_and_recorded(settings, index, receiver):
    key, _pem = _key()
    _other, wrong_pem = _key()
    receiver.asc = {"public_key": key.public_key(), "kid": KID, "iss": ISS}
    s = _settings(settings, receiver, wrong_pem)
    inc, _report, later = _verified(s, index, receiver)
    with open_store(s) as st:
        approve(st, incident=inc.fingerprint, by="x", now=later)
        report = send_approved(s, st, now=later)
        failed = list_replies(st, status="failed")
    assert report.sent == [] and len(report.failed) == 40 and receiver.rejected[0] == "appstoreconnect"
    assert len(failed) == 40 and failed[0]["last_error"].startswith("HTTP 401: Authentication credentials")
    assert "PRIVATE KEY" not in report.summary()


def test_missing_credentials_or_a_bad_key_are_clear_errors(settings, index, receiver):
    s = _settings(settings, receiver, "not a key")
    inc, _r, later = _verified(s, index, receiver)
    with open_store(s) as st:
        approve(st, incident=inc.fingerprint, by="x", now=later)
        with pytest.raises(ReplyError, match="not a readable .p8"):
            send_approved(s, st, now=later)
        unset = s.replace(secrets=Secrets({}))
        with pytest.raises(ReplyError, match="set VOC_ASC_KEY_ID, VOC_ASC_ISSUER_ID, VOC_ASC_PRIVATE_KEY"):
            send_approved(unset, st, now=later)
        assert {r["status"] for r in list_replies(st)} == {"approved"}  # nothing lost
    with pytest.raises(ValueError, match="unknown field"):
        ReplySettings(templates={"demo": "{name} 你好"})


def test_a_server_error_leaves_the_reply_approved_for_the_next_run(settings, index, receiver):
    s, inc, _r, later = _trusted_and_verified(settings, index, receiver)
    receiver.fail_next["/v1/customerReviewResponses"] = (503, {"errors": []})
    with open_store(s) as st:
        approve(st, incident=inc.fingerprint, by="x", now=later)
        first = send_approved(s, st, now=later, client=httpx.Client())
        assert len(first.retry) == 1 and len(first.sent) == 39
        second = send_approved(s, st, now=later)
    assert len(second.sent) == 1 and len(receiver.responses) == 40


def test_a_rate_limit_stops_the_run_and_the_rest_wait_approved(settings, index, receiver):
    s, inc, _r, later = _trusted_and_verified(settings, index, receiver)
    receiver.fail_next["/v1/customerReviewResponses"] = (429, {"errors": [{"status": "429", "code": "RATE_LIMIT_EXCEEDED"}]})
    with open_store(s) as st:
        approve(st, incident=inc.fingerprint, by="x", now=later)
        first = send_approved(s, st, now=later)
        assert first.sent == [] and "rate limit" in first.stopped and len(first.retry) == 1
        assert {r["status"] for r in list_replies(st)} == {"approved"}
        second = send_approved(s, st, now=later + timedelta(minutes=30))
    assert len(second.sent) == 40 and len(receiver.responses) == 40


def test_two_senders_at_once_answer_each_review_once(settings, index, receiver):
    from tests.helpers import run_in_threads

    s, inc, _r, later = _trusted_and_verified(settings, index, receiver)
    with open_store(s) as st:
        approve(st, incident=inc.fingerprint, by="x", now=later)
    sent: list[str] = []

    def sender():
        with open_store(s) as own:  # each its own connection, as two `voc replies send` processes
            sent.extend(send_approved(s, own, now=later).sent)

    run_in_threads(sender, 3)
    assert sorted(sent) == sorted(set(sent)) and len(sent) == 40
    assert len(receiver.received) == 40 and len(receiver.responses) == 40
