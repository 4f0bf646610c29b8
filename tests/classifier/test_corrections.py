from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from classifier.corrections import CorrectionError, CorrectionStore, open_store, parse_assignments
from classifier.train import prepare_rows

T0 = datetime(2026, 11, 24, 3, 5, tzinfo=timezone.utc)


def test_parse_assignments() -> None:
    assert parse_assignments(["sentiment=negative", "topics=login,payment"], topic_ids=["login", "payment"]) == {
        "sentiment": "negative", "topics": ("login", "payment")}
    assert parse_assignments(["topics="]) == {"topics": ()}  # clears topics
    for bad, msg in [(["sentiment=angry"], "sentiment"), (["mood=bad"], "unknown field"), (["sentiment"], "FIELD=VALUE"),
                     (["intent=rant"], "intent"), ([], "nothing")]:
        with pytest.raises(CorrectionError, match=msg):
            parse_assignments(bad)
    with pytest.raises(CorrectionError, match="unknown topic 'shipping'"):
        parse_assignments(["topics=shipping"], topic_ids=["login"])


def test_store_add_list_and_training_rows(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "labels.db"
    with CorrectionStore(path) as store:
        store.add("d1", text="登录不上", sentiment="negative", now=T0)
        store.add("d2", text="挺好", sentiment="positive", intent="praise", now=T0)
        store.add("d1", text="登录不上", topics=("login",), now=T0)
    with CorrectionStore(path) as store:  # durable
        listed = store.list()
        assert [c.doc_id for c in listed] == ["d1", "d2", "d1"]
        assert listed[0].created_at == "2026-11-24T03:05:00Z"
        assert [c.doc_id for c in store.list(doc_id="d2")] == ["d2"]
        rows = sorted(store.training_rows(), key=lambda r: r["text"])
    assert rows == [{"text": "挺好", "sentiment": "positive", "intent": "praise"},
                    {"text": "登录不上", "sentiment": "negative", "topics": ["login"]}]


def test_store_validates(tmp_path: Path) -> None:
    with CorrectionStore(tmp_path / "l.db") as store:
        with pytest.raises(CorrectionError):
            store.add("d", text="x", sentiment="meh")
        with pytest.raises(CorrectionError):
            store.add("d", text="x")
        assert store.list() == []


def test_open_store_uses_configured_path(settings) -> None:
    with open_store(settings) as store:
        store.add("d", text="x", sentiment="neutral")
    assert (settings.home / "data" / "labels.db").is_file()


def test_corrections_override_corpus_labels_in_training_data(settings) -> None:
    raw = [{"text": "这次更新真是绝了", "sentiment": "positive", "domain": "x"},
           {"text": "这次更新真是绝了", "sentiment": "negative", "intent": "bug", "topics": ["update"],
            "domain": "corrections", "correction": True}]
    rows, stats = prepare_rows(raw, settings.topics.topics)
    assert stats["conflicting_dropped"] == 0
    assert [(r["sentiment"], r["intent"], r["topics"]) for r in rows] == [("negative", "bug", ["update"])]


def test_risk_flags_are_corrected_kept_out_of_training_and_merged_per_document(tmp_path: Path) -> None:
    assert parse_assignments(["risk=media_threat,legal_threat"]) == {"risk": ("media_threat", "legal_threat")}
    assert parse_assignments(["risk="]) == {"risk": ()}  # a false alarm: no flags
    with pytest.raises(CorrectionError, match="risk: 'rumour'"):
        parse_assignments(["risk=rumour"])
    with CorrectionStore(tmp_path / "labels.db") as store:
        store.add("d1", text="要去12315投诉", risk=(), now=T0)
        store.add("d1", text="要去12315投诉", sentiment="negative", now=T0)
        store.add("d2", text="挺好", sentiment="positive", now=T0)
        assert store.latest_labels(["d1", "d2", "d3"]) == {"d1": {"risk": [], "sentiment": "negative"},
                                                           "d2": {"sentiment": "positive"}}
        store.add("d3", text="only risk", risk=("viral",), now=T0)
        rows = store.training_rows()
        assert all("risk" not in r for r in rows) and {r["text"] for r in rows} == {"要去12315投诉", "挺好"}


def test_a_store_from_before_risk_corrections_is_upgraded(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE corrections (id INTEGER PRIMARY KEY AUTOINCREMENT, doc_id TEXT NOT NULL, text TEXT NOT NULL, "
                 "sentiment TEXT, intent TEXT, topics TEXT, author TEXT, created_at TEXT NOT NULL)")
    conn.execute("INSERT INTO corrections (doc_id, text, sentiment, created_at) VALUES ('d1', 't', 'negative', '2026-11-01T00:00:00Z')")
    conn.commit()
    conn.close()
    with CorrectionStore(path) as store:
        store.add("d1", text="t", risk=("media_threat",), now=T0)
        assert store.latest_labels(["d1"]) == {"d1": {"sentiment": "negative", "risk": ["media_threat"]}}
