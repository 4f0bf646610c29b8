"""Loopback HTTP stand-ins for Elasticsearch that record every request the official client sends.

* :class:`FakeCluster` answers from a route table the test fills in (``routes[(method, path)]``).
* :class:`LoopbackES` keeps documents per index in memory and answers every endpoint VOC calls with a
  response of the documented shape. It evaluates the filter part of queries (``bool``, ``term``,
  ``terms``, ``range``, ``exists``, ``prefix``, ``ids``) but no full-text query (``match_phrase`` matches
  everything), sorts by fields (every ``_score`` is equal) with ``search_after``, and aggregations get
  buckets from the matched documents' values. It exists to drive every code path of
  the backend and the alert store so that each request can be checked against the specification
  (test_elastic_spec.py); the contract suite checks semantics against a real cluster.

Neither is Elasticsearch; both speak real HTTP to the real client.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

SHARDS = {"total": 1, "successful": 1, "skipped": 0, "failed": 0}

Answer = tuple[int, Any]


class _Server:
    """Records ``(method, path with query, body bytes)`` and headers; answers through ``self.answer``."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        self.headers: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.requests.append((self.command, self.path, body))
                server.headers.append({k.lower(): v for k, v in self.headers.items()})
                status, payload = server.answer(self.command, self.path, body)
                data = b"" if self.command == "HEAD" else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, method: str, path: str, body: bytes) -> Answer:  # pragma: no cover - overridden
        raise NotImplementedError

    def sent(self, method: str, path_start: str) -> list[bytes]:
        return [b for m, p, b in self.requests if m == method and p.startswith(path_start)]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeCluster(_Server):
    """Answers from ``routes[(method, path)]``: a payload, ``(status, payload)`` or a callable(body)."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], object] = {}
        self.responses: list[tuple[str, str, int, Any]] = []  # (method, path, status, payload) answered
        super().__init__()

    def route_a_new_index(self, alias: str, versioned: str) -> None:
        """Answer what opening index ``alias`` for the first time asks: its template is put, the alias does not
        exist yet, and the versioned index (path ``versioned``) is created."""
        self.routes[("PUT", f"/_index_template/{alias}")] = {"acknowledged": True}
        self.routes[("HEAD", f"/_alias/{alias}")] = (404, {})
        self.routes[("PUT", versioned)] = {"acknowledged": True, "shards_acknowledged": True, "index": versioned[1:]}

    def answer(self, method: str, path: str, body: bytes) -> Answer:
        answer = self.routes.get((method, path.split("?", 1)[0]), (404, {"error": "no route", "status": 404}))
        if callable(answer):
            answer = answer(body)
        status, payload = answer if isinstance(answer, tuple) else (200, answer)
        self.responses.append((method, path, status, payload))
        return status, payload


def parse_body(body: bytes) -> Any:
    """A recorded body as JSON: an object, or a list of NDJSON lines (bulk); None when empty."""
    if not body:
        return None
    text = body.decode("utf-8")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) > 1 or text.endswith("\n"):
        return [json.loads(ln) for ln in lines]
    return json.loads(text)


def _error(status: int, kind: str, reason: str) -> Answer:
    return status, {"error": {"type": kind, "reason": reason, "root_cause": [{"type": kind, "reason": reason}]},
                    "status": status}


@contextmanager
def cluster_with_a_new_index(alias: str, versioned: str) -> Iterator[FakeCluster]:
    """A :class:`FakeCluster` routed for opening ``alias`` the first time (:meth:`FakeCluster.route_a_new_index`),
    closed on the way out."""
    c = FakeCluster()
    c.route_a_new_index(alias, versioned)
    try:
        yield c
    finally:
        c.close()


class LoopbackES(_Server):
    """Documents per index in memory; every answer has the shape the specification gives its endpoint."""

    def __init__(self) -> None:
        self.indices: dict[str, dict[str, Any]] = {}  # name → {"docs": {id: (source, seq)}, "mappings", "aliases"}
        self.templates: dict[str, Any] = {}
        self.responses: list[tuple[str, str, int, Any]] = []  # (method, path, status, payload) answered
        self._seq = 0
        self._lock = threading.Lock()
        super().__init__()

    # ------------------------------------------------------------------ helpers
    def _resolve(self, name: str) -> list[str]:
        if name in self.indices:
            return [name]
        pattern = re.compile("^" + ".*".join(map(re.escape, name.split("*"))) + "$")
        return [n for n, ix in self.indices.items() if name in ix["aliases"] or ("*" in name and pattern.match(n))]

    def _hit(self, index: str, doc_id: str, source: dict, seq: int, body: dict, i: int) -> dict:
        hit: dict[str, Any] = {"_index": index, "_id": doc_id, "_score": 1.0 / (i + 1), "_source": source}
        if body.get("seq_no_primary_term"):
            hit.update(_seq_no=seq, _primary_term=1)
        if "sort" in body:
            hit["sort"] = _sort_values(_sort_spec(body["sort"]), source)
        if "highlight" in body:
            hit["highlight"] = {f: [str(source.get(f) or "")] for f in body["highlight"]["fields"]}
        return hit

    def _aggs(self, aggs: dict, docs: list[dict]) -> dict:
        out: dict[str, Any] = {}
        for name, agg in aggs.items():
            sub = agg.get("aggs") or agg.get("aggregations") or {}
            if "terms" in agg:
                field = agg["terms"]["field"]
                groups: dict[Any, list[dict]] = {}
                for d in docs:
                    values = d.get(field)
                    for v in values if isinstance(values, list) else [values]:
                        if v is not None:
                            groups.setdefault(v, []).append(d)
                buckets = [{"key": k, "doc_count": len(g), **self._aggs(sub, g)} for k, g in groups.items()]
                if any(isinstance(k, int) for k in groups):
                    for b in buckets:
                        b["key_as_string"] = str(b["key"])
                out[name] = {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0, "buckets": buckets}
            elif "date_histogram" in agg:
                dated = [d for d in docs if d.get("created_at")]
                out[name] = {"buckets": [{"key": 1795392000000, "key_as_string": "2026-11-24T00:00:00.000+08:00",
                                          "doc_count": len(dated), **self._aggs(sub, dated)}] if dated else []}
            elif "filters" in agg:
                out[name] = {"buckets": {k: {"doc_count": len(docs), **self._aggs(sub, docs)}
                                         for k in agg["filters"]["filters"]}}
        return out

    # ------------------------------------------------------------------ endpoints
    def answer(self, method: str, path: str, body: bytes) -> Answer:
        with self._lock:
            status, payload = self._answer(method, path, body)
        self.responses.append((method, path, status, payload))
        return status, payload

    def _answer(self, method: str, raw_path: str, raw: bytes) -> Answer:
        parts = urlsplit(raw_path)
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        seg = [unquote(s) for s in parts.path.strip("/").split("/")] if parts.path.strip("/") else []
        body = parse_body(raw)
        ack = {"acknowledged": True}
        if method == "GET" and not seg:
            return 200, {"name": "loopback", "cluster_name": "voc", "cluster_uuid": "x",
                         "version": {"number": "9.1.5", "build_flavor": "default", "build_type": "docker",
                                     "build_hash": "x", "build_date": "2026-01-01T00:00:00Z", "build_snapshot": False,
                                     "lucene_version": "10.2.2", "minimum_wire_compatibility_version": "8.19.0",
                                     "minimum_index_compatibility_version": "8.0.0"}, "tagline": "You Know, for Search"}
        if seg[:1] == ["_index_template"]:
            if method == "PUT":
                self.templates[seg[1]] = body
                return 200, ack
            if method == "DELETE":
                return (200, ack) if self.templates.pop(seg[1], None) is not None else _error(
                    404, "index_template_missing_exception", f"index_template [{seg[1]}] missing")
        if seg[:1] == ["_alias"] and method == "HEAD":
            return (200, {}) if self._resolve(seg[1]) else (404, {})
        if seg == ["_bulk"]:
            return self._bulk(body or [], params)
        if seg[:2] == ["_search", "scroll"]:
            if method == "DELETE":
                return 200, {"succeeded": True, "num_freed": 1}
            return 200, {"_scroll_id": "scroll-1", "took": 1, "timed_out": False, "_shards": SHARDS,
                         "hits": {"total": {"value": 0, "relation": "eq"}, "max_score": None, "hits": []}}
        if len(seg) == 1:
            name = seg[0]
            if method == "HEAD":
                return (200, {}) if self._resolve(name) else (404, {})
            if method == "PUT":
                if name in self.indices:
                    return _error(400, "resource_already_exists_exception", f"index [{name}] already exists")
                template = next((t for t in self.templates.values()
                                 if any(re.match(p.replace("*", ".*"), name) for p in t["index_patterns"])), {})
                mappings = json.loads(json.dumps(template.get("template", {}).get("mappings", {})))
                mappings.update((body or {}).get("mappings", {}))
                self.indices[name] = {"docs": {}, "mappings": mappings, "aliases": set((body or {}).get("aliases", {}))}
                return 200, {"acknowledged": True, "shards_acknowledged": True, "index": name}
            if method == "GET":
                return 200, {n: {"aliases": {a: {} for a in self.indices[n]["aliases"]},
                                 "mappings": self.indices[n]["mappings"], "settings": {}} for n in self._resolve(name)}
            if method == "DELETE":
                if "*" in name:  # Elasticsearch 8+ default: action.destructive_requires_name
                    return _error(400, "illegal_argument_exception",
                                  "Wildcard expressions or all indices are not allowed")
                for part in name.split(","):
                    for n in self._resolve(part):
                        del self.indices[n]
                return 200, ack
        if len(seg) >= 2:
            names = self._resolve(seg[0])
            op = seg[1]
            if op == "_mapping":
                if method == "GET":
                    return 200, {n: {"mappings": self.indices[n]["mappings"]} for n in names}
                for n in names:
                    self.indices[n]["mappings"].update(body or {})
                return 200, ack
            if op == "_count":
                query = (body or {}).get("query", {"match_all": {}})
                return 200, {"count": sum(1 for n in names for i, (src, _) in self.indices[n]["docs"].items()
                                          if _matches(query, i, src)), "_shards": SHARDS}
            if op == "_search":
                return self._search(names, body or {}, params)
            if op == "_update_by_query":
                return 200, {"took": 1, "timed_out": False, "total": 0, "updated": 0, "deleted": 0, "batches": 0,
                             "version_conflicts": 0, "noops": 0, "failures": [], "throttled_millis": 0,
                             "requests_per_second": -1.0, "throttled_until_millis": 0,
                             "retries": {"bulk": 0, "search": 0}}
            if op == "_delete_by_query":
                return 200, {"took": 1, "timed_out": False, "total": 0, "deleted": 0, "batches": 0,
                             "version_conflicts": 0, "noops": 0, "failures": [], "throttled_millis": 0,
                             "requests_per_second": -1.0, "throttled_until_millis": 0,
                             "retries": {"bulk": 0, "search": 0}}
            if op in ("_doc", "_create", "_update") and len(seg) == 3:
                return self._doc(method, seg[0], names, op, seg[2], body, params)
        return _error(400, "illegal_argument_exception", f"loopback has no route for {method} {parts.path}")

    def _write(self, index: str, doc_id: str, source: dict) -> tuple[str, int]:
        docs = self.indices[index]["docs"]
        self._seq += 1
        result = "updated" if doc_id in docs else "created"
        docs[doc_id] = (source, self._seq)
        return result, self._seq

    def _result(self, index: str, doc_id: str, result: str, seq: int) -> dict:
        return {"_index": index, "_id": doc_id, "_version": 1, "result": result, "_shards": SHARDS,
                "_seq_no": seq, "_primary_term": 1}

    def _doc(self, method: str, target: str, names: list[str], op: str, doc_id: str, body: Any,
             params: dict) -> Answer:
        index = names[0] if names else target
        if op == "_doc" and method == "GET":
            if index not in self.indices or doc_id not in self.indices[index]["docs"]:
                return 404, {"_index": index, "_id": doc_id, "found": False}
            source, seq = self.indices[index]["docs"][doc_id]
            return 200, {"_index": index, "_id": doc_id, "_version": 1, "_seq_no": seq, "_primary_term": 1,
                         "found": True, "_source": source}
        if index not in self.indices:
            self.indices[index] = {"docs": {}, "mappings": {}, "aliases": set()}
        docs = self.indices[index]["docs"]
        if "if_seq_no" in params and (doc_id not in docs or str(docs[doc_id][1]) != params["if_seq_no"]):
            return _error(409, "version_conflict_engine_exception", f"[{doc_id}]: version conflict")
        if op == "_create" or params.get("op_type") == "create":
            if doc_id in docs:
                return _error(409, "version_conflict_engine_exception", f"[{doc_id}]: document already exists")
        if op == "_update":
            if doc_id not in docs:
                return _error(404, "document_missing_exception", f"[{doc_id}]: document missing")
            source = {**docs[doc_id][0], **body.get("doc", {})}
        else:
            source = body
        result, seq = self._write(index, doc_id, source)
        return (201 if result == "created" else 200), self._result(index, doc_id, result, seq)

    def _bulk(self, lines: list[dict], params: dict) -> Answer:
        items = []
        i = 0
        while i < len(lines):
            (op, meta), = lines[i].items()
            index = (self._resolve(meta["_index"]) or [meta["_index"]])[0]
            if op in ("index", "create"):
                source = lines[i + 1]
                i += 2
                if index not in self.indices:
                    self.indices[index] = {"docs": {}, "mappings": {}, "aliases": set()}
                result, seq = self._write(index, meta["_id"], source)
                items.append({op: {**self._result(index, meta["_id"], result, seq),
                                   "status": 201 if result == "created" else 200}})
            elif op == "delete":
                i += 1
                docs = self.indices.get(index, {"docs": {}})["docs"]
                found = docs.pop(meta["_id"], None) is not None
                self._seq += 1
                items.append({"delete": {**self._result(index, meta["_id"], "deleted" if found else "not_found",
                                                        self._seq), "status": 200 if found else 404}})
            else:
                i += 2
                items.append({op: {"_index": index, "_id": meta["_id"], "status": 400,
                                   "error": {"type": "illegal_argument_exception", "reason": "not supported here"}}})
        return 200, {"took": 1, "errors": any(it[next(iter(it))]["status"] >= 300 and
                                             it[next(iter(it))].get("result") != "not_found" for it in items),
                     "items": items}

    #: index.max_result_window: a search whose ``from + size`` passes it is refused, as by Elasticsearch
    max_result_window = 10_000

    def _search(self, names: list[str], body: dict, params: dict) -> Answer:
        deepest = int(body.get("from", 0)) + int(params.get("size", body.get("size", 10)))
        if deepest > self.max_result_window and "scroll" not in params:
            return _error(400, "illegal_argument_exception",
                          f"Result window is too large, from + size must be less than or equal to: "
                          f"[{self.max_result_window}] but was [{deepest}]. See the scroll api for a more "
                          "efficient way to request large data sets.")
        query = body.get("query", {"match_all": {}})
        rows = [(n, doc_id, src, seq) for n in names for doc_id, (src, seq) in self.indices[n]["docs"].items()
                if _matches(query, doc_id, src)]
        total = len(rows)  # as Elasticsearch counts it: search_after leaves the total alone
        order = _sort_spec(body.get("sort"))
        if order:
            rows.sort(key=functools.cmp_to_key(lambda a, b: _compare(_sort_values(order, a[2]),
                                                                    _sort_values(order, b[2]), order)))
            if "search_after" in body:
                rows = [r for r in rows if _compare(_sort_values(order, r[2]), body["search_after"], order) > 0]
        size = int(params.get("size", body.get("size", 10)))
        start = int(body.get("from", 0))
        hits = [self._hit(n, doc_id, src, seq, body, i) for i, (n, doc_id, src, seq) in enumerate(rows)]
        if body.get("_source") is not None and isinstance(body["_source"], list):
            for h in hits:
                h["_source"] = {k: v for k, v in h["_source"].items() if k in body["_source"]}
        resp: dict[str, Any] = {"took": 1, "timed_out": False, "_shards": SHARDS,
                                "hits": {"total": {"value": total, "relation": "eq"},
                                         "max_score": 1.0 if hits else None, "hits": hits[start:start + size]}}
        aggs = body.get("aggs") or body.get("aggregations")
        if aggs:
            resp["aggregations"] = self._aggs(aggs, [src for _, _, src, _ in rows])
        if "scroll" in params:
            resp["_scroll_id"] = "scroll-1"
        return 200, resp


def _sort_spec(sort: Any) -> list[tuple[str, str]]:
    """``sort`` of a search body → ``[(field, "asc"|"desc"), …]`` (``_score``: every score is equal here)."""
    out = []
    for item in sort if isinstance(sort, list) else ([sort] if sort else []):
        if isinstance(item, str):
            out.append((item, "desc" if item == "_score" else "asc"))
        else:
            (field, spec), = item.items()
            out.append((field, spec if isinstance(spec, str) else spec.get("order", "asc")))
    return out


def _sort_values(order: list[tuple[str, str]], doc: dict) -> list[Any]:
    return [0.0 if field == "_score" else (None if field == "_doc" else doc.get(field)) for field, _ in order]


def _compare(a: list[Any], b: list[Any], order: list[tuple[str, str]]) -> int:
    """Order of two rows' sort values (a missing value sorts last, as ``missing: _last``)."""
    for x, y, (_, direction) in zip(a, b, order):
        if x == y:
            continue
        if x is None or y is None:
            return 1 if x is None else -1
        c = (x > y) - (x < y)
        return -c if direction == "desc" else c
    return 0


def _values(doc: dict, field: str) -> list[Any]:
    value = doc.get(field)
    return [v for v in (value if isinstance(value, list) else [value]) if v is not None]


def _in_range(values: list[Any], bounds: dict) -> bool:
    checks = {"gte": lambda v, b: v >= b, "gt": lambda v, b: v > b, "lte": lambda v, b: v <= b, "lt": lambda v, b: v < b}
    return any(all(checks[k](v, b) for k, b in bounds.items() if k in checks) for v in values
               if all(type(v) is type(b) or isinstance(v, (int, float)) and isinstance(b, (int, float))
                      for k, b in bounds.items() if k in checks))


def _matches(query: dict, doc_id: str, doc: dict) -> bool:
    """The filter part of the Query DSL (bool, term, terms, range, exists, prefix, ids, match_all) on one
    document; full-text queries (match_phrase, query_string) match everything: no text analysis here."""
    (kind, arg), = query.items()
    if kind == "bool":
        def each(key: str) -> list[dict]:
            clauses = arg.get(key, [])
            return clauses if isinstance(clauses, list) else [clauses]

        if not all(_matches(q, doc_id, doc) for q in each("must") + each("filter")):
            return False
        if any(_matches(q, doc_id, doc) for q in each("must_not")):
            return False
        should = each("should")
        return not should or not (arg.get("minimum_should_match") or not (each("must") or each("filter"))) \
            or any(_matches(q, doc_id, doc) for q in should)
    if kind in ("term", "terms", "range", "prefix"):
        (field, value), = arg.items()
        values = _values(doc, field)
        if kind == "term":
            return (value.get("value") if isinstance(value, dict) else value) in values
        if kind == "terms":
            return any(v in values for v in value)
        if kind == "prefix":
            prefix = value.get("value") if isinstance(value, dict) else value
            return any(str(v).startswith(prefix) for v in values)
        return _in_range(values, value)
    if kind == "exists":
        return bool(_values(doc, arg["field"]))
    if kind == "ids":
        return doc_id in arg["values"]
    return True


Route = Callable[[bytes], Answer]
