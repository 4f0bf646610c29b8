"""`voc alerts …` and `voc digest` through click's CliRunner, against a real index in a temp home."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

from app.cli import cli
from tests.helpers import ALERTS_NOW as NOW, baseline_docs, make_doc, surge_docs



def _run(tmp_path, *args):
    runner = CliRunner()
    return runner.invoke(cli, list(args), env={"VOC_HOME": str(tmp_path), "VOC_CLASSIFIER_MODEL": "rules",
                                               "VOC_WEBHOOK_URL": "", "VOC_CONFIG_DIR": ""}, catch_exceptions=False)


def _seed(settings, index):
    index.upsert(baseline_docs())
    index.upsert(surge_docs(40))


def test_evaluate_list_show_ack_resolve(settings, index, tmp_path):
    _seed(settings, index)
    index.close()
    r = _run(tmp_path, "alerts", "evaluate", "--rule", "negative-volume-spike", "--now", "2026-11-24T06:30:00Z")
    assert r.exit_code == 0, r.output
    assert "1 raised, 0 updated, 0 resolved" in r.output  # the product's and the topic's spike: one incident
    assert "40 in 6h vs baseline 3" in r.output
    assert "Delivered: 1 sent, 0 failed" in r.output  # alert-log; team-webhook has no URL, nothing queued
    r = _run(tmp_path, "alerts", "list", "--json")
    recs = [json.loads(x) for x in r.output.splitlines()]
    assert len(recs) == 1 and recs[0]["state"] == "open"
    inc = recs[0]
    for key in ("id", "state", "title", "severity", "product", "opened_at", "topics", "terms", "versions", "sources",
                "count", "baseline", "query"):
        assert key in inc, key
    assert inc["topics"] == ["login"] and inc["count"] == 40 and inc["baseline"] == 3
    assert inc["sources"] == [["weibo", 40]] and inc["opened_at"] == "2026-11-24T06:30:00Z"
    assert inc["query"].startswith("product:demo topic:login sentiment:negative since:2026-11-24T01:00:00Z")
    fp = inc["id"]
    r = _run(tmp_path, "alerts", "show", fp, "--json")
    shown = json.loads(r.output)
    assert {k: shown[k] for k in inc} == inc  # the list object, plus its posts and history
    assert len(shown["posts"]) == 40 and all(p["text"].startswith("登录不上去") for p in shown["posts"])
    assert [h["event"] for h in shown["history"]] == ["opened"]
    r = _run(tmp_path, "alerts", "show", fp[:6])
    assert r.exit_code == 0 and "why: 40 in 6h vs baseline 3" in r.output and "v1 opened" in r.output
    assert "search: http://127.0.0.1:8080/?q=product%3Ademo%20topic%3Alogin" in r.output
    assert "→ v1 product-team/alert-log: sent" in r.output
    r = _run(tmp_path, "alerts", "ack", fp, "--by", "alice")
    assert r.exit_code == 0 and r.output.startswith(f"Acknowledged {fp}")
    r = _run(tmp_path, "alerts", "resolve", fp)
    assert r.exit_code == 0 and r.output.startswith(f"Resolved {fp}")
    r = _run(tmp_path, "alerts", "list", "--state", "resolved")
    assert f"{fp}  resolved acked [warning] v2" in r.output
    r = _run(tmp_path, "alerts", "show", "zzzz")
    assert r.exit_code == 1 and "no single alert matches 'zzzz' — see `voc alerts list`" in r.output


def test_backtest_series_csv_json(tmp_path):
    rows = ["timestamp,value"]
    t0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
    for h in range(24 * 10):
        t = t0 + timedelta(hours=h)
        v = 3 if t.hour % 2 else 5
        if 24 * 8 + 3 <= h < 24 * 8 + 9:
            v = 30
        rows.append(f"{t:%Y-%m-%dT%H:%M:%SZ},{v}")
    csv = tmp_path / "counts.csv"
    csv.write_text("\n".join(rows))
    r = _run(tmp_path, "alerts", "backtest", "negative-volume-spike", "--series", str(csv), "--json")
    assert r.exit_code == 0, r.output
    firings = [json.loads(x) for x in r.output.splitlines()]
    assert len(firings) == 1
    f = firings[0]
    # one bucket of 30 (at 03:00) is not yet ×3 the 6h baseline of 24; the second one is
    assert f["timestamp"] == "2026-11-09T05:00:00Z" and f["new"] is True
    assert (f["current"], f["expected"], f["high"], f["window_start"]) == (76, 24, 43.596, "2026-11-08T23:00:00Z")
    r = _run(tmp_path, "alerts", "backtest", "negative-volume-spike", "--series", str(csv))
    assert "1 alert(s) would have fired" in r.output


def test_backtest_errors(tmp_path):
    r = _run(tmp_path, "alerts", "backtest", "nope", "--from", "2026-11-01")
    assert r.exit_code == 1 and "unknown rule 'nope' — configured rules: negative-volume-spike" in r.output
    r = _run(tmp_path, "alerts", "backtest", "negative-volume-spike")
    assert r.exit_code == 2 and "give --from DATE" in r.output


def test_digest_print_and_send(settings, index, tmp_path):
    _seed(settings, index)
    index.upsert([make_doc(9_000_000, at=NOW - timedelta(hours=2), topics=("payment",), text="扣费了没到账")])
    index.close()
    r = _run(tmp_path, "digest", "--period", "day", "--print", "--now", "2026-11-24T06:30:00Z")
    assert r.exit_code == 0, r.output
    assert "用户反馈日报 2026-11-23" in r.output
    assert "登录/账号](http" in r.output and "：40+ 条" not in r.output
    assert "新出现的问题**：支付/退款（payment）" in r.output
    r = _run(tmp_path, "digest", "--period", "day", "--now", "2026-11-24T06:30:00Z")
    assert r.exit_code == 0 and "queued 1 deliveries; 1 sent" in r.output
    r = _run(tmp_path, "digest", "--period", "day", "--now", "2026-11-24T06:30:00Z")
    assert "queued 0 deliveries; 0 sent" in r.output  # the same digest is delivered once
    log = (tmp_path / "data" / "alerts.log").read_text("utf-8").splitlines()
    assert len(log) == 1 and json.loads(log[0])["event"] == "digest"


def test_rules_deliver_retry_commands(settings, index, tmp_path):
    r = _run(tmp_path, "alerts", "rules")
    assert r.exit_code == 0
    assert "negative-volume-spike        volume_spike    enabled   window 6h" in r.output
    assert "channel alert-log            log       ready" in r.output
    assert "channel team-webhook         webhook   not configured (set VOC_WEBHOOK_URL)" in r.output
    r = _run(tmp_path, "alerts", "deliver")
    assert r.exit_code == 0 and "Delivered: 0 sent, 0 failed (0 will be retried)" in r.output
    r = _run(tmp_path, "alerts", "retry")
    assert r.exit_code == 0 and r.output.startswith("Re-queued 0 deliveries")
    r = _run(tmp_path, "alerts", "evaluate", "--rule", "nope")
    assert r.exit_code == 1 and "unknown rule 'nope'" in r.output


def test_backtest_against_the_index(settings, index, tmp_path):
    _seed(settings, index)
    index.close()
    r = _run(tmp_path, "alerts", "backtest", "negative-volume-spike", "--from", "2026-11-24T00:30:00Z",
             "--to", "2026-11-24T06:30:00Z", "--json")
    assert r.exit_code == 0, r.output
    firings = [json.loads(x) for x in r.output.splitlines()]
    assert sorted((f["product"], f["key"]) for f in firings) == [("demo", ""), ("demo", "login")]
    first = min(f["timestamp"] for f in firings)
    # the surge starts at 01:31; the first hourly replay step with ≥ 10 items and ×3 the baseline fires
    assert "2026-11-24T01:30:00Z" < first <= "2026-11-24T04:30:00Z" and all(f["new"] for f in firings)
    with open_store_for(tmp_path) as st:
        assert st.list() == []  # a backtest stores and sends nothing


def open_store_for(tmp_path):
    from alerts.store import SqliteAlertStore

    return SqliteAlertStore(tmp_path / "data" / "voc.db")
