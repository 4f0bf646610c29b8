"""``ElasticsearchIndex``: the cluster backend, on the official ``elasticsearch`` client.

* An index template (``PUT _index_template/<name>``) with an explicit mapping applies to every
  ``<name>-v<N>`` index; the alias ``<name>`` points at the current one, so the mapping can change by
  creating ``-v<N+1>`` and reindexing (``voc reindex``) without clients noticing.
* Upserts go through ``helpers.streaming_bulk`` with retries on 429 and per-item error reporting
  (:class:`BulkIndexError` lists every rejected id). Elasticsearch has no multi-document transactions:
  a failed batch may be partly written — re-upserting it is safe because writes are idempotent by id.
* Free words match the jieba ``tokens`` or, for runs of two or more Chinese characters, any substring of
  title or text through ``grams`` (character bigrams), as SQLite does; ``-word`` excludes; whole-word
  matches weigh more (:func:`index.elastic_bodies.term_clause`).
* ``refresh`` (``wait_for`` by default) makes a returned upsert searchable, matching SQLite.
* Credentials come from the environment variables named in ``index.elasticsearch`` (API key, or user
  and password) via ``settings.secrets``; a CA certificate path for TLS.
Request bodies are built by the pure functions in :mod:`index.elastic_bodies`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from configs.index import ElasticsearchSettings, IndexSettings
from index._docs import normalize_batch, normalize_doc
from index._errors import BackendUnavailableError, BulkIndexError, IndexBackendError, SchemaMismatchError
from index._highlight import highlight_segments
from index._normalization import check_normalization, tokenizer_normalization
from index.base import Doc, DOC_FIELDS, Bucket, Filters, Hit, SearchQuery, SearchResult, UpsertResult
from index.elastic_bodies import (
    HL_POST, HL_PRE, SCHEMA_VERSION, as_client_kwargs, bulk_actions, count_body, delete_actions, histogram_body, index_template,
    mapping_meta, query_body, search_body, versioned_index,
)
from index.query import Term, excluded_terms, query_terms

__all__ = ["ElasticsearchIndex", "client_kwargs"]


def client_kwargs(es: ElasticsearchSettings, secrets: Any, home: Path) -> dict[str, Any]:
    """Keyword arguments for ``Elasticsearch(url, **kwargs)`` from settings and named secrets (pure)."""
    kwargs: dict[str, Any] = {"request_timeout": es.request_timeout_s, "verify_certs": es.verify_certs,
                              "retry_on_timeout": True, "max_retries": es.max_retries}
    get = secrets.get if secrets is not None else (lambda name: None)
    api_key = get(es.api_key_env)
    user = get(es.username_env)
    if api_key:
        kwargs["api_key"] = api_key
    elif user:
        kwargs["basic_auth"] = (user, get(es.password_env) or "")
    if es.ca_certs:
        ca = Path(es.ca_certs).expanduser()
        kwargs["ca_certs"] = str(ca if ca.is_absolute() else Path(home) / ca)
    if not es.verify_certs:
        kwargs["ssl_show_warn"] = False
    return kwargs


def _hl_terms(hit: Doc) -> list[str]:
    out = []
    for fragment in hit.get("highlight", {}).get("tokens", []):
        parts = fragment.split(HL_PRE)
        for part in parts[1:]:
            out.append(part.split(HL_POST, 1)[0])
    return out


def _doc(source: Doc, fields: Sequence[str] | None = None) -> Doc:
    doc = normalize_doc(source) if fields is None else dict(source)
    if fields is not None:
        for f in fields:
            doc.setdefault(f, [] if f in ("topics", "risk") else None)
    return doc


class ElasticsearchIndex:
    """The Elasticsearch backend. Build it with :meth:`from_settings` (or pass a ready ``client``)."""

    def __init__(self, client: Any, *, name: str, tokenizer: Callable[[str], Sequence[str]],
                 es: ElasticsearchSettings = ElasticsearchSettings(), url: str = "") -> None:
        self.client = client
        self.name = name
        self.alias = name
        self.tokenizer = tokenizer
        self.es = es
        self.backend = url or "elasticsearch"
        self.refresh: Any = {"true": True, "false": False}.get(es.refresh, es.refresh)
        self._cursors: dict[str, dict[int, Any]] = {}  # query → {offset: search_after values} (see _page)
        self._cursor_lock = threading.Lock()
        self.ensure_schema()

    @classmethod
    def from_settings(cls, settings: IndexSettings, *, url: str, home: Path,
                      tokenizer: Callable[[str], Sequence[str]], secrets: Any) -> ElasticsearchIndex:
        from elasticsearch import Elasticsearch

        client = Elasticsearch(url, **client_kwargs(settings.elasticsearch, secrets, home))
        return cls(client, name=settings.name, tokenizer=tokenizer, es=settings.elasticsearch, url=url)

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        from elasticsearch import ApiError, TransportError

        try:
            return fn(*args, **kwargs)
        except TransportError as exc:
            raise BackendUnavailableError(f"{what}: cannot reach the cluster: {exc}", backend=self.backend) from exc
        except ApiError as exc:
            raise IndexBackendError(f"{what} failed: {exc}", backend=self.backend) from exc

    def ensure_schema(self) -> None:
        """Install the index template; create ``<name>-v<N>`` behind the alias unless the alias exists."""
        c = self.client
        es = self.es
        self._call("put index template", c.indices.put_index_template, name=self.name,
                   **as_client_kwargs(index_template(self.name, shards=es.number_of_shards, replicas=es.number_of_replicas)))
        normalization = tokenizer_normalization(self.tokenizer)
        if self._call("check alias", c.indices.exists_alias, name=self.alias):
            current = self._call("get mapping", c.indices.get_mapping, index=self.alias)
            for index_name, body in dict(current).items():
                meta = body.get("mappings", {}).get("_meta", {})
                version = meta.get("voc_schema")
                if version != SCHEMA_VERSION:
                    raise SchemaMismatchError(
                        f"alias {self.alias} points at {index_name} with schema {version}, this code writes "
                        f"schema {SCHEMA_VERSION}; create {versioned_index(self.name)} with `voc reindex`",
                        backend=self.backend)
                # the normalization the tokens were built with lives in the mapping's _meta (as in SQLite's
                # feedback_meta): a different one is refused, a first or changed-dictionary one recorded
                if normalization is not None and check_normalization(meta.get("voc_normalization"), normalization,
                                                                     self.backend):
                    self._call("record normalization", c.indices.put_mapping, index=index_name,
                               meta={**meta, "voc_normalization": normalization})
            return
        extra = {"mappings": {"_meta": mapping_meta(normalization)}} if normalization is not None else {}
        self._call("create index", c.indices.create, index=versioned_index(self.name),
                   aliases={self.alias: {"is_write_index": True}}, **extra)

    # ---------------------------------------------------------------- writes
    def upsert(self, docs: Sequence[Doc]) -> UpsertResult:
        if not docs:
            return UpsertResult(0, 0)
        from elasticsearch import helpers

        normalized = normalize_batch(docs, self.tokenizer, self.backend)
        new = updated = 0
        errors: list[tuple[str, str]] = []
        results = self._call(
            "bulk upsert", lambda: list(helpers.streaming_bulk(
                self.client, bulk_actions(normalized, self.alias), chunk_size=self.es.chunk_size,
                max_retries=self.es.max_retries, initial_backoff=self.es.retry_backoff_s,
                raise_on_error=False, raise_on_exception=True, refresh=self.refresh)))
        for ok, item in results:
            info = item.get("index", {})
            if ok and info.get("result") == "created":
                new += 1
            elif ok:
                updated += 1
            else:
                errors.append((str(info.get("_id")), str(info.get("error"))))
        if errors:
            raise BulkIndexError(f"{len(errors)} of {len(results)} documents were rejected "
                                 f"(first: {errors[0][0]}: {errors[0][1]})", backend=self.backend, errors=errors)
        return UpsertResult(new, updated)

    def delete(self, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        from elasticsearch import helpers

        results = self._call("bulk delete", lambda: list(helpers.streaming_bulk(
            self.client, delete_actions(ids, self.alias), chunk_size=self.es.chunk_size,
            max_retries=self.es.max_retries, raise_on_error=False, ignore_status=(404,), refresh=self.refresh)))
        return sum(1 for ok, item in results if ok and item.get("delete", {}).get("result") == "deleted")

    # ---------------------------------------------------------------- reads
    def get(self, id: str) -> Doc | None:
        from elasticsearch import NotFoundError

        try:
            resp = self.client.get(index=self.alias, id=id)
        except NotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001 - wrapped with context
            raise IndexBackendError(f"get {id} failed: {exc}", backend=self.backend) from exc
        return _doc({"id": resp["_id"], **resp["_source"]})

    def _terms(self, query: SearchQuery) -> tuple[list[Term], list[Term]]:
        """``(words to match, words to exclude)`` of a query (none for raw query_string text)."""
        if query.raw:
            return [], []
        return query_terms(query.text, self.tokenizer), excluded_terms(query.text, self.tokenizer)

    def explain(self, query: SearchQuery) -> str:
        """The request body :meth:`search` sends for this query, as JSON (``voc search --sql``)."""
        return json.dumps(search_body(query, *self._terms(query)), ensure_ascii=False, indent=2)

    #: Elasticsearch refuses ``from + size`` past its ``index.max_result_window`` (10,000 by default); pages
    #: beyond it are reached with ``search_after`` (:meth:`_page`).
    max_result_window: int = 10_000

    def _page(self, body: dict[str, Any]) -> Any:
        """One page of hits. Past :attr:`max_result_window` it walks there with ``search_after`` (from the
        cursor a previous page of the same query left, so reading every page in order — an export — costs
        one request per page), since Elasticsearch answers a deep ``from`` with an error."""
        start, size = int(body["from"]), int(body["size"])
        if start + size <= self.max_result_window:
            return self._call("search", self.client.search, index=self.alias, **as_client_kwargs(body))
        key = json.dumps({k: v for k, v in body.items() if k not in ("from", "size")}, sort_keys=True, default=str)
        with self._cursor_lock:
            known = dict(self._cursors.get(key, {}))
        pos = max((o for o in known if o <= start), default=0)
        after = known.get(pos)
        walk = {"query": body["query"], "sort": body["sort"], "_source": False, "track_total_hits": False}
        while pos < start:
            step = min(self.max_result_window, start - pos)
            resp = self._call("search", self.client.search, index=self.alias, **as_client_kwargs(
                {**walk, "size": step, **({"search_after": after} if after is not None else {})}))
            hits = resp["hits"]["hits"]
            if not hits:
                break
            after, pos = hits[-1]["sort"], pos + len(hits)
        page = {**body, "from": 0, **({"search_after": after} if after is not None else {})}
        if pos < start:  # fewer matches than the offset: an empty page with the true total
            page["size"] = 0
        resp = self._call("search", self.client.search, index=self.alias, **as_client_kwargs(page))
        hits = resp["hits"]["hits"]
        if hits:
            with self._cursor_lock:
                self._cursors.setdefault(key, {})[start + len(hits)] = hits[-1]["sort"]
                while len(self._cursors) > 16:  # the most recent queries only
                    self._cursors.pop(next(iter(self._cursors)))
        return resp

    def search(self, query: SearchQuery) -> SearchResult:
        terms, exclude = self._terms(query)
        body = search_body(query, terms, exclude)
        resp = self._page(body)
        words = [t for toks, _ in terms for t in toks]
        hits = []
        for h in resp["hits"]["hits"]:
            doc = _doc({"id": h["_id"], **h["_source"]})  # _id is the document id
            hits.append(Hit(doc=doc, score=float(h.get("_score") or 0.0),
                            highlight=highlight_segments(doc.get("text"), [*words, *_hl_terms(h)])))
        facets = {f: [(str(b.get("key_as_string", b["key"])), int(b["doc_count"]))
                      for b in resp.get("aggregations", {}).get(f"facet_{f}", {}).get("buckets", [])]
                  for f in query.facets}
        return SearchResult(hits=hits, total=int(resp["hits"]["total"]["value"]), facets=facets)

    def count(self, filters: Filters = Filters()) -> int:
        return int(self._call("count", self.client.count, index=self.alias, **as_client_kwargs(count_body(filters)))["count"])

    def histogram(self, filters: Filters = Filters(), *, interval: str = "hour", tz: str = "Asia/Shanghai",
                  group_by: str | None = None, start: datetime | None = None,
                  end: datetime | None = None, text: str = "") -> list[Bucket]:
        body = histogram_body(filters, interval=interval, tz=tz, group_by=group_by, start=start, end=end,
                              terms=query_terms(text, self.tokenizer) if text.strip() else (),
                              exclude=excluded_terms(text, self.tokenizer) if text.strip() else ())
        resp = self._call("histogram", self.client.search, index=self.alias, **as_client_kwargs(body))
        zone = ZoneInfo(tz)
        aggs = resp.get("aggregations", {})
        out: list[Bucket] = []
        groups = [(None, aggs.get("h", {}))] if group_by is None else [
            (str(g["key"]), g["h"]) for g in aggs.get("g", {}).get("buckets", [])]
        for key, hist in groups:
            for b in hist.get("buckets", []):
                out.append(Bucket(datetime.fromtimestamp(b["key"] / 1000, timezone.utc).astimezone(zone), key,
                                  int(b["doc_count"])))
        out.sort(key=lambda b: (b.start, b.key or ""))
        return out

    def scan(self, filters: Filters = Filters(), *, fields: Sequence[str] | None = None,
             batch_size: int = 1000) -> Iterator[Doc]:
        from elasticsearch import helpers

        source: Any = list(fields) if fields is not None else True
        for hit in helpers.scan(self.client, index=self.alias, size=batch_size, _source=source,
                                query={"query": query_body("", [], filters)}):
            yield _doc(hit["_source"], fields)

    def drop(self) -> None:
        """Delete every ``<name>-v*`` index and the template (tests, and `voc reindex` of a scratch target).

        The indices are named one by one: Elasticsearch 8+ refuses wildcard deletes by default
        (``action.destructive_requires_name``)."""
        found = self._call("list indices", self.client.indices.get, index=f"{self.name}-v*",
                           allow_no_indices=True, ignore_unavailable=True, expand_wildcards="all")
        names = sorted(dict(found))
        if names:
            self._call("delete indices", self.client.indices.delete, index=",".join(names))
        self._call("delete template", self.client.options(ignore_status=404).indices.delete_index_template,
                   name=self.name)

    def close(self) -> None:
        self.client.close()

    def __repr__(self) -> str:
        return f"<ElasticsearchIndex {self.backend} alias={self.alias}>"


_ = DOC_FIELDS
