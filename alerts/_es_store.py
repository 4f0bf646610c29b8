"""The alert store on Elasticsearch (for ``http(s)://`` index URLs): same methods as the SQLite store.

Indices ``<index.name>-alerts`` (one doc per fingerprint), ``<index.name>-alert-events`` and
``<index.name>-alert-outbox`` (id ``fingerprint:version:subscriber:channel``, written with
``op_type=create`` so a second evaluator's duplicate is rejected by the cluster). ``apply`` uses optimistic
concurrency (``if_seq_no``/``if_primary_term``) and recomputes on a version conflict, so two evaluators
serialize on each fingerprint like SQLite's ``BEGIN IMMEDIATE``. ``claim`` takes a row with a conditional
update as well. Writes use ``refresh="wait_for"`` so the next reader sees them.

``export_state``/``restore_state`` move everything to another store (``voc reindex``).

Tested without a cluster by sending every method's requests through the official client to a loopback
server and checking each against Elastic's API specification (tests/index/test_elastic_spec.py); its
semantics are tested against a real cluster by tests/alerts/test_store.py when ``VOC_ES_URL`` is set
(deploy/live-suite.sh). The SQLite store is the reference.
"""

from __future__ import annotations

import builtins

import json
import secrets as _secrets
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from alerts.lifecycle import AlertRecord, Transition
from alerts.store import OUTBOX_FIELDS, AlertState, AlertStoreError, OutboxEntry, PendingDelivery
from configs.closing import Closeable
from configs.times import format_utc

if TYPE_CHECKING:
    from configs import Settings

__all__ = ["ElasticsearchAlertStore"]

_KEYWORDS = {"type": "keyword"}
_MAPPINGS = {
    "alerts": {"properties": {"fingerprint": _KEYWORDS, "rule": _KEYWORDS, "product": _KEYWORDS, "key": _KEYWORDS,
                              "kind": _KEYWORDS, "opened_at": {"type": "date"},
                              "state": _KEYWORDS, "severity": _KEYWORDS, "version": {"type": "integer"},
                              "updated_at": {"type": "date"}, "data": {"type": "object", "enabled": False}}},
    "alert-events": {"properties": {"fingerprint": _KEYWORDS, "version": {"type": "integer"}, "event": _KEYWORDS,
                                    "at": {"type": "date"}, "data": {"type": "object", "enabled": False}}},
    "alert-outbox": {"properties": {"fingerprint": _KEYWORDS, "version": {"type": "integer"}, "subscriber": _KEYWORDS,
                                    "channel": _KEYWORDS, "status": _KEYWORDS, "attempts": {"type": "integer"},
                                    "next_attempt_at": {"type": "double"}, "claimed_until": {"type": "double"},
                                    "claim_token": _KEYWORDS, "created_at": {"type": "double"},
                                    "sent_at": {"type": "double"}, "last_error": {"type": "text"},
                                    "notification": {"type": "object", "enabled": False}}},
}


class ElasticsearchAlertStore(Closeable):
    def __init__(self, client: Any, *, prefix: str) -> None:
        self.es = client
        self.prefix = prefix
        self.idx = {k: f"{prefix}-{k}" for k in _MAPPINGS}
        try:
            for key, mapping in _MAPPINGS.items():
                if not self.es.indices.exists(index=self.idx[key]):
                    self.es.indices.create(index=self.idx[key], mappings=mapping)
                elif key == "alerts":  # an index created before incidents: add the new fields (additive)
                    self.es.indices.put_mapping(index=self.idx[key], properties=mapping["properties"])
        except Exception as exc:  # elasticsearch.ApiError / TransportError; no URL or credentials in the message
            raise AlertStoreError(f"cannot prepare the alert indices {prefix}-*: {type(exc).__name__}") from exc

    @classmethod
    def from_settings(cls, settings: Settings, *, url: str | None = None, name: str | None = None) -> ElasticsearchAlertStore:
        """The store on the configured cluster (or on ``url``, indices prefixed ``name``: a reindex target)."""
        from elasticsearch import Elasticsearch

        from index.elastic import client_kwargs

        ix = settings.index
        client = Elasticsearch(url or ix.url, **client_kwargs(ix.elasticsearch, settings.secrets, settings.home))
        return cls(client, prefix=name or ix.name)

    def __repr__(self) -> str:
        return f"ElasticsearchAlertStore(prefix={self.prefix!r})"

    # --- alert records -----------------------------------------------------------------------------------
    def apply(self, fingerprint: str, compute: Callable[[AlertRecord | None], Transition | None],
              deliveries: Callable[[Transition], Sequence[OutboxEntry]], *, now: datetime) -> Transition | None:
        from elasticsearch import ConflictError, NotFoundError

        for _attempt in range(8):
            try:
                got = self.es.get(index=self.idx["alerts"], id=fingerprint)
                before, seq = AlertRecord.from_json(got["_source"]["data"]), (got["_seq_no"], got["_primary_term"])
            except NotFoundError:
                before, seq = None, None
            tr = compute(before)
            if tr is None:
                return None
            rec = tr.record
            body = {"fingerprint": rec.fingerprint, "rule": rec.rule, "product": rec.product, "key": rec.key,
                    "kind": rec.kind, "opened_at": rec.to_json()["opened_at"], "state": rec.state, "severity": rec.severity, "version": rec.version,
                    "updated_at": rec.to_json()["updated_at"], "data": rec.to_json()}
            try:
                if seq is None:
                    self.es.index(index=self.idx["alerts"], id=fingerprint, document=body, op_type="create",
                                  refresh="wait_for")
                else:
                    self.es.index(index=self.idx["alerts"], id=fingerprint, document=body, if_seq_no=seq[0],
                                  if_primary_term=seq[1], refresh="wait_for")
            except ConflictError:
                continue  # another evaluator changed it first: re-read and recompute
            if tr.event:
                self._create(self.idx["alert-events"], f"{rec.fingerprint}:{rec.version}:{tr.event}",
                             {"fingerprint": rec.fingerprint, "version": rec.version, "event": tr.event,
                              "at": format_utc(now), "data": rec.figures.as_dict()})
            if tr.notify:
                self.enqueue(rec.fingerprint, rec.version, deliveries(tr), now=now)
            return tr
        raise AlertStoreError(f"alert {fingerprint} kept changing concurrently; try again")

    def _create(self, index: str, id: str, doc: dict[str, Any]) -> bool:
        from elasticsearch import ConflictError

        try:
            self.es.index(index=index, id=id, document=doc, op_type="create", refresh="wait_for")
            return True
        except ConflictError:
            return False

    def enqueue(self, fingerprint: str, version: int, entries: Sequence[OutboxEntry], *, now: datetime) -> int:
        added = 0
        for e in entries:
            added += self._create(self.idx["alert-outbox"], f"{fingerprint}:{version}:{e.subscriber}:{e.channel}", {
                "fingerprint": fingerprint, "version": version, "subscriber": e.subscriber, "channel": e.channel,
                "notification": e.notification, "status": "pending", "attempts": 0,
                "next_attempt_at": max(now.timestamp(), e.not_before.timestamp()) if e.not_before else now.timestamp(),
                "claimed_until": 0.0, "claim_token": None, "created_at": now.timestamp(), "sent_at": None,
                "last_error": None})
        return added

    def get(self, fingerprint: str) -> AlertRecord | None:
        res = self.es.search(index=self.idx["alerts"], query={"prefix": {"fingerprint": fingerprint}}, size=2)
        hits = res["hits"]["hits"]
        return AlertRecord.from_json(hits[0]["_source"]["data"]) if len(hits) == 1 else None

    def list(self, *, state: str | None = None, rule: str | None = None, product: str | None = None,
             limit: int = 100) -> list[AlertRecord]:
        must = [{"term": {k: v}} for k, v in (("state", state), ("rule", rule), ("product", product)) if v]
        res = self.es.search(index=self.idx["alerts"], query={"bool": {"filter": must}}, size=min(limit, 10_000),
                             sort=[{"updated_at": "desc"}, {"fingerprint": "asc"}])
        return [AlertRecord.from_json(h["_source"]["data"]) for h in res["hits"]["hits"]]

    def events(self, fingerprint: str) -> builtins.list[dict[str, Any]]:
        res = self.es.search(index=self.idx["alert-events"], query={"term": {"fingerprint": fingerprint}}, size=1000,
                             sort=[{"version": "asc"}])
        return [{"version": s["version"], "event": s["event"], "at": s["at"], "figures": s["data"]}
                for s in (h["_source"] for h in res["hits"]["hits"])]

    # --- outbox -------------------------------------------------------------------------------------------
    def _delivery(self, hit: dict[str, Any]) -> PendingDelivery:
        s = hit["_source"]
        return PendingDelivery(id=hit["_id"], fingerprint=s["fingerprint"], version=s["version"],
                               subscriber=s["subscriber"], channel=s["channel"], notification=s["notification"],
                               status=s["status"], attempts=s["attempts"], next_attempt_at=s["next_attempt_at"],
                               last_error=s.get("last_error"), claim_token=s.get("claim_token"), sent_at=s.get("sent_at"))

    def claim(self, *, now: datetime, lease_s: float, skip: Iterable[tuple[str, str]] = ()) -> PendingDelivery | None:
        from elasticsearch import ConflictError

        t = now.timestamp()
        must_not = [{"bool": {"filter": [{"term": {"subscriber": s}}, {"term": {"channel": c}}]}} for s, c in skip]
        query = {"bool": {"filter": [{"term": {"status": "pending"}}, {"range": {"next_attempt_at": {"lte": t}}},
                                     {"range": {"claimed_until": {"lte": t}}}], "must_not": must_not}}
        res = self.es.search(index=self.idx["alert-outbox"], query=query, size=20, seq_no_primary_term=True,
                             sort=[{"created_at": "asc"}, {"version": "asc"}])
        for hit in res["hits"]["hits"]:
            token = _secrets.token_hex(8)
            try:
                self.es.update(index=self.idx["alert-outbox"], id=hit["_id"], if_seq_no=hit["_seq_no"],
                               if_primary_term=hit["_primary_term"], refresh="wait_for",
                               doc={"claimed_until": t + lease_s, "claim_token": token})
            except ConflictError:
                continue
            hit["_source"]["claim_token"] = token
            return self._delivery(hit)
        return None

    def _update_claimed(self, delivery: PendingDelivery, doc: dict[str, Any]) -> bool:
        from elasticsearch import ConflictError

        got = self.es.get(index=self.idx["alert-outbox"], id=delivery.id)
        if got["_source"].get("claim_token") != delivery.claim_token:
            return False
        try:
            self.es.update(index=self.idx["alert-outbox"], id=delivery.id, if_seq_no=got["_seq_no"],
                           if_primary_term=got["_primary_term"], doc=doc, refresh="wait_for")
        except ConflictError:
            return False
        return True

    def mark_sent(self, delivery: PendingDelivery, *, now: datetime) -> bool:
        return self._update_claimed(delivery, {"status": "sent", "sent_at": now.timestamp(), "claimed_until": 0.0,
                                               "attempts": delivery.attempts + 1, "last_error": None})

    def mark_failed(self, delivery: PendingDelivery, *, now: datetime, error: str, retry_at: datetime | None,
                    hold_channel: bool = True) -> None:
        doc: dict[str, Any] = {"attempts": delivery.attempts + 1, "last_error": error, "claimed_until": 0.0}
        if retry_at is None:
            doc["status"] = "failed"
        else:
            doc["next_attempt_at"] = retry_at.timestamp()
        if self._update_claimed(delivery, doc) and retry_at is not None and hold_channel:
            self.es.update_by_query(index=self.idx["alert-outbox"], refresh=True, conflicts="proceed", query={"bool": {
                "filter": [{"term": {"status": "pending"}}, {"term": {"subscriber": delivery.subscriber}},
                           {"term": {"channel": delivery.channel}}, {"range": {"next_attempt_at": {"lt": retry_at.timestamp()}}}],
                "must_not": [{"ids": {"values": [delivery.id]}}]}},
                script={"source": "ctx._source.next_attempt_at = params.t", "params": {"t": retry_at.timestamp()}})

    def retry_failed(self, *, now: datetime) -> int:
        res = self.es.update_by_query(index=self.idx["alert-outbox"], refresh=True, conflicts="proceed",
                                      query={"term": {"status": "failed"}},
                                      script={"source": "ctx._source.status = 'pending'; ctx._source.attempts = 0; "
                                                        "ctx._source.next_attempt_at = params.t",
                                              "params": {"t": now.timestamp()}})
        return int(res.get("updated", 0))

    def outbox(self, *, status: str | None = None) -> builtins.list[PendingDelivery]:
        query = {"term": {"status": status}} if status else {"match_all": {}}
        res = self.es.search(index=self.idx["alert-outbox"], query=query, size=10_000,
                             sort=[{"created_at": "asc"}, {"version": "asc"}])
        return [self._delivery(h) for h in res["hits"]["hits"]]

    # --- moving the state (voc reindex) ---------------------------------------------------------------
    def _all(self, key: str) -> builtins.list[dict[str, Any]]:
        from elasticsearch import helpers

        return [h["_source"] for h in helpers.scan(self.es, index=self.idx[key], query={"query": {"match_all": {}}},
                                                   size=1000)]

    def export_state(self) -> AlertState:
        events = sorted(self._all("alert-events"), key=lambda s: (s["fingerprint"], s["version"]))
        outbox = sorted(self._all("alert-outbox"), key=lambda s: (s["created_at"], s["version"]))
        return AlertState(records=[s["data"] for s in sorted(self._all("alerts"), key=lambda s: s["fingerprint"])],
                          events=[{"fingerprint": s["fingerprint"], "version": s["version"], "event": s["event"],
                                   "at": s["at"], "figures": s["data"]} for s in events],
                          outbox=[{k: s.get(k) for k in OUTBOX_FIELDS} for s in outbox])

    def restore_state(self, state: AlertState) -> int:
        """Bulk-write records (replacing), events and outbox rows (``create``: kept if present)."""
        from elasticsearch import helpers

        def actions() -> Iterable[dict[str, Any]]:
            for d in state.records:
                rec = AlertRecord.from_json(d)
                yield {"_op_type": "index", "_index": self.idx["alerts"], "_id": rec.fingerprint, "_source": {
                    "fingerprint": rec.fingerprint, "rule": rec.rule, "product": rec.product, "key": rec.key,
                    "state": rec.state, "severity": rec.severity, "version": rec.version,
                    "updated_at": rec.to_json()["updated_at"], "data": d}}
            for e in state.events:
                yield {"_op_type": "create", "_index": self.idx["alert-events"],
                       "_id": f"{e['fingerprint']}:{e['version']}:{e['event']}", "_source": {
                           "fingerprint": e["fingerprint"], "version": e["version"], "event": e["event"],
                           "at": e["at"], "data": e["figures"]}}
            for o in state.outbox:
                yield {"_op_type": "create", "_index": self.idx["alert-outbox"],
                       "_id": f"{o['fingerprint']}:{o['version']}:{o['subscriber']}:{o['channel']}",
                       "_source": {**o, "claimed_until": 0.0, "claim_token": None}}

        for ok, item in helpers.streaming_bulk(self.es, actions(), raise_on_error=False, refresh="wait_for"):
            info = next(iter(item.values()))
            if not ok and info.get("status") != 409:  # 409: an event or delivery already there is kept
                raise AlertStoreError(f"cannot restore alert state into {self.prefix}-*: {info.get('error')}")
        return len(state.records)

    def close(self) -> None:
        self.es.close()


_ = json
