"""`voc search / export / prune / reindex` through click's CliRunner against a real SQLite index."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import cli
from index import Filters, SqliteIndex
from tests.helpers import REPO



@pytest.fixture
def home(tmp_path, settings):
    from classifier import make_tokenizer

    now = datetime.now(timezone.utc)
    old = (now - timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    docs = [
        {"id": "c1", "source": "weibo", "product": "demo", "text": "登录失败，一直闪退", "created_at": recent,
         "sentiment": "negative", "topics": ["login"], "url": "https://weibo.example/1"},
        {"id": "c2", "source": "appstore", "product": "demo", "text": "闪退\x1b[31mEVIL\x1b]0;pwned\x07 \u202e反转",
         "created_at": recent, "sentiment": "negative", "rating": 1, "url": "https://apps.example/2"},
        {"id": "c3", "source": "zhihu", "product": "demo", "text": "=cmd|' /C calc'!A0 很好用", "created_at": old,
         "sentiment": "positive", "topics": ["ux"]},
    ]
    ix = SqliteIndex(settings.sqlite_path(), tokenizer=make_tokenizer(settings))
    ix.upsert(docs)
    ix.close()
    return tmp_path


def run(home: Path, *args: str, color: bool = False):
    env = {"VOC_HOME": str(home), "VOC_CLASSIFIER_MODEL": "rules", "VOC_INDEX_URL": "", "VOC_CONFIG_DIR": ""}
    return CliRunner().invoke(cli, ["--config", str(REPO / "configs"), *args], env=env, color=color,
                              catch_exceptions=False)


def test_search_prints_hits_and_total(home):
    result = run(home, "search", "闪退", "source:weibo")
    assert result.exit_code == 0, result.output
    assert "登录失败，一直闪退" in result.output
    assert "https://weibo.example/1" in result.output
    assert "weibo" in result.output and "negative" in result.output and "login" in result.output
    assert result.output.rstrip().endswith("1–1 of 1 hits")
    assert "\x1b" not in result.output  # not a terminal: no colour


def test_search_highlights_on_a_terminal_but_strips_escapes_from_crawled_text(home):
    result = run(home, "search", "闪退", "rating:1", color=True)
    assert result.exit_code == 0, result.output
    assert "\x1b[1m\x1b[33m闪退" in result.output.replace("\x1b[33m\x1b[1m", "\x1b[1m\x1b[33m")  # our highlight
    assert "EVIL" in result.output
    assert "[31m" not in result.output and "]0;pwned" not in result.output and "\x07" not in result.output
    assert "\u202e" not in result.output


def test_search_json(home):
    result = run(home, "search", "--json", "--sort", "time", "闪退")
    data = json.loads(result.output)
    assert data["total"] == 2 and {h["doc"]["id"] for h in data["hits"]} == {"c1", "c2"}
    assert ["闪退", True] in data["hits"][0]["highlight"]


def test_search_limit_and_facets(home):
    result = run(home, "search", "--limit", "1", "--facet", "sentiment", "product:demo")
    assert result.exit_code == 0
    assert "sentiment: negative 2, positive 1" in result.output
    assert result.output.rstrip().endswith("1–1 of 3 hits")


def test_bad_query_names_the_field_and_exits_2(home):
    result = run(home, "search", "colour:red")
    assert result.exit_code == 2
    assert "bad query: colour: unknown field 'colour'" in result.output


def test_topic_names_from_the_taxonomy_and_sub_words_and_excluded_words(home):
    result = run(home, "search", "topic:登录")  # the name the page shows (登录/账号 in configs/topics.yaml)
    assert result.exit_code == 0, result.output
    assert "登录失败，一直闪退" in result.output and result.output.rstrip().endswith("1–1 of 1 hits")
    result = run(home, "search", "topic:支付宝")
    assert result.exit_code == 2
    assert "bad query: topic: unknown value '支付宝' (one of: crash (闪退/崩溃), login (登录/账号)" in result.output
    assert run(home, "search", "录失").output.rstrip().endswith("1–1 of 1 hits")  # a run inside 登录失败
    result = run(home, "search", "--", "-登录", "sentiment:负面")  # excludes, never requires, 登录
    assert result.exit_code == 0 and "登录失败" not in result.output
    assert result.output.rstrip().endswith("1–1 of 1 hits")


def test_export_of_excluded_words_only_leaves_their_posts_out(home):
    result = run(home, "export", "--format", "jsonl", "--", "-登录")
    assert result.exit_code == 0, result.output
    assert sorted(json.loads(line)["id"] for line in result.stdout.splitlines()) == ["c2", "c3"]


def test_search_sql_shows_the_escaped_query(home):
    result = run(home, "search", "--sql", "闪退", "product:demo")
    assert result.exit_code == 0
    assert "feedback_fts MATCH ?" in result.output and '"闪退"' in result.output
    assert 'tags : ("xp64656d6f")' in result.output  # product:demo, as its FTS tag (hex of the value)


def test_export_jsonl_and_csv(home, tmp_path):
    out = tmp_path / "x.jsonl"
    result = run(home, "export", "product:demo", "--format", "jsonl", "--output", str(out))
    assert result.exit_code == 0
    assert sorted(json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()) == ["c1", "c2", "c3"]
    result = run(home, "export", "闪退", "--format", "csv")
    assert result.stdout_bytes.startswith(b"\xef\xbb\xbfid,source,")  # UTF-8 BOM: Excel reads Chinese right
    rows = list(csv.DictReader(io.StringIO(result.stdout_bytes.decode("utf-8-sig"))))
    assert sorted(r["id"] for r in rows) == ["c1", "c2"]
    result = run(home, "export", "sentiment:positive", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout_bytes.decode("utf-8-sig"))))
    assert rows[0]["text"].startswith("'=cmd")  # never a spreadsheet formula
    assert rows[0]["topics"] == "ux"


def test_prune_deletes_only_old_documents(home, settings):
    result = run(home, "prune", "--older-than", "365d", "--dry-run")
    assert result.output.startswith("would delete 1 documents")
    result = run(home, "prune", "--older-than", "365d")
    assert result.exit_code == 0 and result.output.startswith("deleted 1 documents")
    with SqliteIndex(settings.sqlite_path(), tokenizer=str.split) as ix:
        assert ix.count(Filters()) == 2 and ix.get("c3") is None
    bad = run(home, "prune", "--older-than", "forever")
    assert bad.exit_code == 2 and "365d" in bad.output


def test_prune_reads_durations_in_the_query_grammar(home):
    # since:30m works in a query, so --older-than 30m does too (it was refused: days, hours, weeks only)
    result = run(home, "prune", "--older-than", "30m", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("would delete 3 documents")
    for bad in ("0d", "30x", "３０m", "1y"):
        assert run(home, "prune", "--older-than", bad).exit_code == 2


def _open_an_alert(store) -> None:
    from alerts.detect import Figures, Match
    from alerts.lifecycle import Policy, fingerprint, on_match
    from alerts.store import OutboxEntry

    at = datetime(2026, 11, 24, 6, 0, tzinfo=timezone.utc)
    figures = Figures(current=20, expected=2, low=0, high=8, ratio=10, window_start=at - timedelta(hours=6),
                      window_end=at)
    store.apply(fingerprint("r", "demo", "login"),
                lambda before: on_match(before, Match(key="login", at=at, severity="warning", figures=figures),
                                        rule="r", kind="volume_spike", product="demo", title="登录失败激增", detail={},
                                        now=at, policy=Policy()),
                lambda tr: [OutboxEntry("ops", "webhook", {"title": "登录失败激增"})], now=at)
    sent = store.claim(now=at, lease_s=60)
    store.mark_sent(sent, now=at)


def test_reindex_keeps_ids_tags_corrections_and_alert_state(home, tmp_path, settings):
    from alerts.store import SqliteAlertStore

    assert run(home, "label", "c1", "sentiment=positive", "topics=crash").exit_code == 0
    with SqliteAlertStore(settings.sqlite_path()) as store:
        _open_an_alert(store)
        before = store.export_state()
    target = tmp_path / "copy.db"
    result = run(home, "reindex", "--to", f"sqlite:///{target}")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"copied 3 documents to sqlite:///{target} (3 new, 0 updated)"
    assert "copied 1 alerts" in result.output
    with SqliteIndex(target, tokenizer=str.split) as ix, SqliteIndex(settings.sqlite_path(), tokenizer=str.split) as src:
        assert ix.count(Filters()) == 3
        for doc_id in ("c1", "c2", "c3"):
            assert ix.get(doc_id) == src.get(doc_id)  # same id, text, tags and everything else
        assert ix.get("c1")["topics"] == ["crash"] and ix.get("c1")["sentiment"] == "positive"  # the correction
    with SqliteAlertStore(target) as copied:
        after = copied.export_state()
    assert after == before and after.records and after.events and after.outbox[0]["status"] == "sent"
    again = run(home, "reindex", "--to", f"sqlite:///{target}")
    assert "(0 new, 3 updated)" in again.output
    with SqliteAlertStore(target) as copied:
        assert copied.export_state() == before  # re-running duplicates nothing
    same = run(home, "reindex", "--to", "sqlite:///data/voc.db")
    assert same.exit_code == 2 and "configured index itself" in same.output
