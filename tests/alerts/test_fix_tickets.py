"""Tickets: an incident filed to Jira (basic e-mail:API token, and bearer), GitHub issues and a ticket
webhook, each a real loopback server checking the documented request format and auth
(tests/alerts/receivers.py); the ticket URL is stored on the incident and shown; once per tracker."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
import pytest

import alerts
from alerts.tickets import TicketError, file_ticket
from alerts.store import open_store
from alerts.view import incident_view
from configs.alerts import Tracker
from configs.settings import Secrets
from tests.alerts.receivers import GITHUB_TOKEN, JIRA_EMAIL, JIRA_TOKEN, SECRET
from tests.helpers import ALERTS_NOW as NOW, baseline_docs, make_doc, surge_docs


def _settings(settings, receiver, env):
    rules = tuple(r for r in settings.alerts.rules if r.kind == "volume_spike")
    trackers = (
        Tracker(name="jira", kind="jira", url=receiver.url, project="APP", email_env="JIRA_EMAIL",
                token_env="JIRA_TOKEN"),
        Tracker(name="jira-dc", kind="jira", url=receiver.url, project="OPS", token_env="JIRA_TOKEN"),
        Tracker(name="github", kind="github", url=receiver.url, repo="acme/app", token_env="GH_TOKEN"),
        Tracker(name="webhook", kind="webhook", url=f"{receiver.url}/ticket", secret_env="TICKET_SECRET"),
    )
    al = dataclasses.replace(settings.alerts, rules=rules, channels=(), subscribers=(), trackers=trackers)
    return settings.replace(alerts=al, secrets=Secrets(env))


ENV = {"JIRA_EMAIL": JIRA_EMAIL, "JIRA_TOKEN": JIRA_TOKEN, "GH_TOKEN": GITHUB_TOKEN, "TICKET_SECRET": SECRET}


def _incident(s, index):
    index.upsert(baseline_docs())
    index.upsert(surge_docs(39))
    # a crawled post trying Markdown/wiki markup and a mention
    index.upsert([make_doc(777_777, at=NOW - timedelta(minutes=3), topics=("login",),
                           text="登录失败 [点我](http://evil.example) @everyone {noformat}h1. 注入")])
    [inc] = alerts.evaluate(s, index, now=NOW).raised
    return inc


def test_jira_github_and_webhook_receive_well_formed_authenticated_create_requests(settings, index, receiver):
    s = _settings(settings, receiver, ENV)
    inc = _incident(s, index)
    jira = file_ticket(s, inc.fingerprint, to="jira", now=NOW)
    assert jira["url"] == f"{receiver.url}/browse/APP-1" and jira["key"] == "APP-1"
    dc = file_ticket(s, inc.fingerprint, to="jira-dc", now=NOW)  # no e-mail: the token as a bearer token
    assert dc["key"] == "OPS-2"
    gh = file_ticket(s, inc.fingerprint, to="github", now=NOW)
    assert gh["url"] == "https://github.com/acme/app/issues/1"
    hook = file_ticket(s, inc.fingerprint, to="webhook", now=NOW)
    assert hook["url"].startswith("https://tickets.example.com/T-")
    assert receiver.rejected == []
    kinds = [r["platform"] for r in receiver.received]
    assert kinds == ["jira", "jira", "github", "ticket"]
    auth = [h["Authorization"] for h in receiver.headers[:3]]
    assert auth[0].startswith("Basic ") and auth[1] == f"Bearer {JIRA_TOKEN}" and auth[2] == f"Bearer {GITHUB_TOKEN}"
    fields = receiver.received[0]["body"]["fields"]
    assert fields["summary"].startswith("[VOC] ") and fields["issuetype"] == {"name": "Bug"}
    # crawled markup stays inert: inside {noformat}, never closing it early; GitHub: escaped, no mention
    assert "{noformat}登录失败 [点我](http://evil.example) @everyone h1. 注入{noformat}" in fields["description"]
    body = receiver.received[2]["body"]["body"]
    assert "@everyone" not in body and "](http://evil" not in body
    # stored and shown; filing again returns the stored ticket without a second request
    again = file_ticket(s, inc.fingerprint, to="jira", now=NOW)
    assert again["url"] == jira["url"] and len(receiver.received) == 4
    with open_store(s) as st:
        view = incident_view(st.get(inc.fingerprint))
    assert [t["url"] for t in view["tickets"]] == [jira["url"], dc["url"], gh["url"], hook["url"]]
    # the tickets stay with the incident when it is updated by a later evaluation
    index.upsert(surge_docs(40, start_n=600_000))
    alerts.evaluate(s, index, now=NOW + timedelta(minutes=20))
    with open_store(s) as st:
        assert len(incident_view(st.get(inc.fingerprint))["tickets"]) == 4


def test_a_wrong_token_is_a_clear_error_naming_the_tracker_not_the_token(settings, index, receiver):
    s = _settings(settings, receiver, {**ENV, "JIRA_TOKEN": "wrong-secret-value", "GH_TOKEN": "nope-value"})
    inc = _incident(s, index)
    for name in ("jira", "github"):
        with pytest.raises(TicketError, match=f"tracker {name}: HTTP 401") as err:
            file_ticket(s, inc.fingerprint, to=name, now=NOW)
        assert "wrong-secret-value" not in str(err.value) and "nope-value" not in str(err.value)
    assert receiver.rejected == ["jira", "github"]
    with open_store(s) as st:
        assert incident_view(st.get(inc.fingerprint))["tickets"] == []
    with pytest.raises(TicketError, match="unknown tracker 'trello'"):
        file_ticket(s, inc.fingerprint, to="trello", now=NOW)
    unset = _settings(settings, receiver, {})
    with pytest.raises(TicketError, match="set JIRA_TOKEN"):
        file_ticket(unset, inc.fingerprint, to="jira", now=NOW)


def test_tracker_config_is_checked():
    with pytest.raises(ValueError, match="needs repo"):
        Tracker(name="g", kind="github", repo="not a repo", token_env="T")
    with pytest.raises(ValueError, match="needs project"):
        Tracker(name="j", kind="jira", url="https://x", token_env="T")


def test_cli_ticket_to_the_shipped_webhook_tracker_stores_and_shows_the_url(settings, index, receiver, tmp_path):
    from click.testing import CliRunner

    from app.cli import cli

    import time

    inc = _incident(_settings(settings, receiver, ENV), index)
    index.close()
    receiver.now_s = time.time()  # the CLI signs with the wall clock
    env = {"VOC_HOME": str(tmp_path), "VOC_CLASSIFIER_MODEL": "rules", "VOC_WEBHOOK_URL": "", "VOC_CONFIG_DIR": "",
           "VOC_TICKET_WEBHOOK_URL": f"{receiver.url}/ticket", "VOC_TICKET_WEBHOOK_SECRET": SECRET}
    r = CliRunner().invoke(cli, ["alerts", "ticket", inc.fingerprint[:10], "--to", "webhook"], env=env)
    assert r.exit_code == 0, r.output
    assert "https://tickets.example.com/T-1" in r.output and receiver.rejected == []
    r = CliRunner().invoke(cli, ["alerts", "show", inc.fingerprint], env=env)
    assert "ticket: webhook T-1 https://tickets.example.com/T-1" in r.output
    r = CliRunner().invoke(cli, ["alerts", "ticket", inc.fingerprint, "--to", "github"], env=env)
    assert r.exit_code == 1 and "tracker github: set VOC_GITHUB_TOKEN" in r.output and "Traceback" not in r.output
