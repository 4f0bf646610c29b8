"""Alert store contract: runs against SQLite always, and against Elasticsearch when VOC_ES_URL is set."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from alerts.detect import Figures, Match
from alerts.lifecycle import Policy, on_match, on_quiet
from alerts.store import OutboxEntry, SqliteAlertStore
from tests.helpers import run_in_threads

T = datetime(2026, 11, 24, 6, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)


@pytest.fixture(params=["sqlite", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)])
def store(request, tmp_path):
    if request.param == "sqlite":
        st = SqliteAlertStore(tmp_path / "voc.db")
    else:
        url = os.environ.get("VOC_ES_URL")
        if not url:
            pytest.skip("VOC_ES_URL not set: no Elasticsearch cluster to test against")
        from elasticsearch import Elasticsearch

        from alerts._es_store import ElasticsearchAlertStore

        auth = {"api_key": os.environ["VOC_ES_API_KEY"]} if os.environ.get("VOC_ES_API_KEY") else {}
        if os.environ.get("VOC_ES_CA_CERTS"):
            auth["ca_certs"] = os.environ["VOC_ES_CA_CERTS"]
        st = ElasticsearchAlertStore(Elasticsearch(url, **auth), prefix=f"voc-test-{uuid.uuid4().hex[:8]}")
    yield st
    st.close()


def _match(current):
    f = Figures(current=current, expected=2, low=0, high=8, ratio=current / 2, window_start=T - 6 * H, window_end=T)
    return Match(key="login", at=T, severity="warning", figures=f)


def _open(store, current=20, now=T):
    def compute(rec):
        return on_match(rec, _match(current), rule="r", kind="volume_spike", product="demo", title="t",
                        detail={}, now=now, policy=Policy())

    def deliveries(tr):
        return [OutboxEntry(subscriber=s, channel="c", notification={"id": f"{tr.record.fingerprint}:{tr.record.version}"})
                for s in ("a", "b")]

    from alerts.lifecycle import fingerprint

    return store.apply(fingerprint("r", "demo", "login"), compute, deliveries, now=now)


def test_apply_persists_records_events_and_outbox(store):
    tr = _open(store)
    assert tr.event == "opened"
    fp = tr.record.fingerprint
    assert store.get(fp[:5]).version == 1 and [r.fingerprint for r in store.list(state="open")] == [fp]
    assert [e["event"] for e in store.events(fp)] == ["opened"]
    assert sorted(d.subscriber for d in store.outbox()) == ["a", "b"]
    again = _open(store, now=T + timedelta(minutes=5))  # nothing new to tell
    assert again.event is None and len(store.outbox()) == 2
    tr = store.apply(fp, lambda r: on_quiet(r, now=T + 7 * H, policy=Policy()), lambda t: [
        OutboxEntry(subscriber="a", channel="c", notification={"id": "x"})], now=T + 7 * H)
    assert tr.event == "resolved" and store.get(fp).state == "resolved" and len(store.outbox()) == 3


def test_claim_lease_and_sent_once(store):
    _open(store)
    first = store.claim(now=T, lease_s=60)
    second = store.claim(now=T, lease_s=60)
    assert first.id != second.id and store.claim(now=T, lease_s=60) is None
    assert store.mark_sent(first, now=T)
    # the second worker crashed: after the lease another worker takes the row over
    third = store.claim(now=T + timedelta(seconds=61), lease_s=60)
    assert third.id == second.id and third.claim_token != second.claim_token
    assert not store.mark_sent(second, now=T + timedelta(seconds=62))  # the stale claim cannot confirm
    assert store.mark_sent(third, now=T + timedelta(seconds=62))
    assert store.claim(now=T + H, lease_s=60) is None
    assert sorted(d.status for d in store.outbox()) == ["sent", "sent"]


def test_failure_defers_the_channel_and_gives_up(store):
    _open(store)
    row = store.claim(now=T, lease_s=60, skip=[("b", "c")])
    assert row.subscriber == "a"
    store.mark_failed(row, now=T, error="down", retry_at=T + H)
    assert store.claim(now=T + timedelta(minutes=1), lease_s=60).subscriber == "b"
    assert store.claim(now=T + timedelta(minutes=1), lease_s=60) is None
    row = store.claim(now=T + H, lease_s=60)
    store.mark_failed(row, now=T + H, error="bad token", retry_at=None)
    assert [d.last_error for d in store.outbox(status="failed")] == ["bad token"]
    assert store.retry_failed(now=T + 2 * H) == 1


def test_concurrent_apply_opens_once(tmp_path):
    results, errors = [], []
    barrier = threading.Barrier(4, timeout=30)

    def run():
        try:  # four stores opening one new file at once (the WAL switch must not fail) …
            st = SqliteAlertStore(tmp_path / "voc.db")
            barrier.wait()
            results.append(_open(st))
            st.close()
        except Exception as exc:  # noqa: BLE001 - asserted below; a thread's error must not hang the others
            errors.append(repr(exc))
            barrier.abort()

    run_in_threads(run, 4)
    assert errors == []
    assert sorted(str(r.event) for r in results) == ["None", "None", "None", "opened"]
    with SqliteAlertStore(tmp_path / "voc.db") as st:
        assert len(st.outbox()) == 2


def test_failed_write_rolls_back_and_the_next_write_succeeds(tmp_path):
    """Issue 26: ``mark_sent`` used to BEGIN and never roll back, so after one error the connection stayed
    inside the transaction and every later write failed ("cannot start a transaction within a
    transaction"). The error here is real: a SQLite trigger aborts the UPDATE inside ``mark_sent``."""
    import sqlite3

    from alerts.store import AlertStoreError

    st = SqliteAlertStore(tmp_path / "voc.db")
    try:
        _open(st)
        first = st.claim(now=T, lease_s=60)
        second = st.claim(now=T, lease_s=60)
        with sqlite3.connect(tmp_path / "voc.db") as other:
            other.execute("CREATE TRIGGER refuse_sent BEFORE UPDATE OF status ON alert_outbox"
                          f" WHEN NEW.status = 'sent' AND NEW.id = {first.id}"
                          " BEGIN SELECT RAISE(ABORT, 'disk said no'); END")
        with pytest.raises(AlertStoreError, match="disk said no") as err:
            st.mark_sent(first, now=T)
        assert "rolled back" in str(err.value) and str(tmp_path) in str(err.value)
        assert not st._db.in_transaction
        # the very next write on the same connection goes through, and so do the other kinds of write
        assert st.mark_sent(second, now=T)
        st.mark_failed(first, now=T, error="receiver down", retry_at=T + H)
        assert st.retry_failed(now=T) == 0
        rows = {d.id: d for d in st.outbox()}
        assert rows[second.id].status == "sent"
        failed = rows[first.id]
        assert (failed.status, failed.last_error, failed.attempts) == ("pending", "receiver down", 1)
    finally:
        st.close()


def test_an_exception_inside_apply_rolls_back_everything():
    """A failing ``deliveries`` callback (any exception, not only SQLite's) leaves no half-written state."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d, SqliteAlertStore(Path(d) / "voc.db") as st:
        from alerts.lifecycle import fingerprint

        def boom(tr):
            raise RuntimeError("subscriber table unreadable")

        def compute(rec):
            return on_match(rec, _match(20), rule="r", kind="volume_spike", product="demo", title="t", detail={},
                            now=T, policy=Policy())

        with pytest.raises(RuntimeError):
            st.apply(fingerprint("r", "demo", "login"), compute, boom, now=T)
        assert st.list() == [] and st.outbox() == []
        assert _open(st).event == "opened"  # the next write works


def test_a_schema_1_store_is_migrated_once_and_its_open_rule_alerts_closed_quietly(tmp_path):
    """A store written by the release before incidents: its open per-rule alerts would never be matched
    (or resolved) again, so migration 2 closes them, with an event and no message; the migration is
    recorded and runs once."""
    import json
    import sqlite3

    from alerts.store import _SCHEMA

    path = tmp_path / "voc.db"
    old = on_match(None, _match(40), rule="negative-volume-spike", kind="volume_spike", product="demo", title="t",
                   detail={}, now=T, policy=Policy()).record
    db = sqlite3.connect(path)
    db.executescript(_SCHEMA.replace("CREATE TABLE IF NOT EXISTS alert_migrations", "CREATE TABLE IF NOT EXISTS _unused"))
    db.execute("INSERT INTO alert_meta VALUES ('schema_version', '1')")
    db.execute("INSERT INTO alert_state VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (old.fingerprint, old.rule, old.product, old.key, "open", old.severity, 1, "2026-11-24T06:00:00Z",
                json.dumps(old.to_json())))
    db.commit()
    db.close()
    with SqliteAlertStore(path) as st:
        assert [(v, n) for v, n, _a in st.migrations()] == [(1, "initial"), (2, "incidents"), (3, "replies")]
        rec = st.get(old.fingerprint)
        assert rec.state == "resolved" and rec.version == 2 and rec.detail["superseded_by"] == "incidents"
        assert [e["event"] for e in st.events(old.fingerprint)] == ["superseded"]
        assert st.outbox() == [] and st.list(state="open") == []
        applied = st.migrations()
    with SqliteAlertStore(path) as st:  # opening again changes nothing
        assert st.migrations() == applied and st.get(old.fingerprint).version == 2
