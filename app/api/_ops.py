"""The API's side effects and non-index reads, over the other packages' public APIs.

:class:`Operations` opens (lazily, once) the feedback index, the alert store (``alerts.store.open_store``), the
crawl state (``crawlers.state.CrawlState``) and the label corrections (``classifier.corrections``), and turns
their values into JSON-ready dicts. Errors: :class:`NotFound` (404), :class:`LabelError` (400, names the field),
:class:`Unavailable` (503: a package or store is not there).
"""

from __future__ import annotations

import dataclasses
import enum
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from configs import Settings

if TYPE_CHECKING:
    from alerts.store import AlertStore
    from classifier.corrections import CorrectionStore
    from index import FeedbackIndex

__all__ = ["Operations", "NotFound", "FieldError", "LabelError", "Unavailable", "to_json"]


class NotFound(LookupError):
    pass


class Unavailable(RuntimeError):
    pass


class FieldError(ValueError):
    """A request value the API refuses (400): ``field`` names it, ``message`` says what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class LabelError(FieldError):
    """A label correction the taxonomy does not allow (400 ``bad_label``)."""


def to_json(value: Any) -> Any:
    """Dataclasses, enums, datetimes, tuples and mappings → plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for method in ("to_json", "as_dict"):
            if callable(getattr(value, method, None)):
                return to_json(getattr(value, method)())
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value) if f.repr}
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if isinstance(value, datetime):
        from index.base import format_time

        return format_time(value)
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json(v) for v in value]
    return value


def _open_index(settings: Settings) -> FeedbackIndex:
    from app.context import AppContext

    return AppContext(settings).index


def _open_alert_store(settings: Settings) -> AlertStore:
    try:
        from alerts import AlertStoreError, open_store
    except ImportError as exc:
        raise Unavailable(f"the alerts package is not installed: {exc}") from exc
    try:
        return open_store(settings)
    except AlertStoreError as exc:
        raise Unavailable(str(exc)) from exc


def _open_crawl_state(settings: Settings) -> Any:
    from crawlers.state import CrawlState

    return CrawlState(settings.resolve(settings.crawl.state_path))


def _open_corrections(settings: Settings) -> CorrectionStore:
    try:
        from classifier.corrections import open_store as open_corrections
    except ImportError as exc:
        raise Unavailable(f"label corrections are not available: {exc}") from exc
    return open_corrections(settings)


class Operations:
    """Lazily opened stores behind the API; thread-safe to open; closed once at shutdown."""

    def __init__(self, settings: Settings, *, index: FeedbackIndex | None = None) -> None:
        self.settings = settings
        self._index = index
        self._owns_index = index is None
        self._lock = threading.Lock()
        self._store: AlertStore | None = None
        self._state: Any = None
        self._corrections: CorrectionStore | None = None
        #: the alert store's one connection runs one transaction at a time
        self._store_lock = threading.Lock()

    # -- opening -------------------------------------------------------------------------------------
    def _once(self, name: str, open_it: Callable[[Settings], Any]) -> Any:
        """``self.<name>``, opened by ``open_it(settings)`` on first use (under the lock: opened once)."""
        if getattr(self, name) is None:
            with self._lock:
                if getattr(self, name) is None:
                    setattr(self, name, open_it(self.settings))
        return getattr(self, name)

    @property
    def index(self) -> FeedbackIndex:
        return self._once("_index", _open_index)

    @property
    def store(self) -> AlertStore:
        return self._once("_store", _open_alert_store)

    @property
    def state(self) -> Any:
        return self._once("_state", _open_crawl_state)

    def close(self) -> None:
        for name in ("_store", "_state", "_corrections"):
            obj = getattr(self, name)
            if obj is not None and hasattr(obj, "close"):
                obj.close()
            setattr(self, name, None)
        if self._owns_index and self._index is not None:
            self._index.close()
            self._index = None

    # -- alerts --------------------------------------------------------------------------------------
    def list_alerts(self, *, state: str | None, limit: int) -> list[dict]:
        with self._store_lock:
            records = self.store.list(state=state or None, limit=limit)
        return [alert_json(a) for a in records]

    def show_alert(self, alert_id: str, *, posts: int = 200) -> dict:
        """One incident with its posts (newest first) and history (``voc alerts show ID --json``)."""
        from alerts.view import incident_detail

        rec = self._alert(alert_id)
        with self._store_lock:
            events = self.store.events(rec.fingerprint)
        return incident_detail(rec, events, index=self.index, limit=posts)

    def _alert(self, alert_id: str) -> Any:
        with self._store_lock:
            alert = self.store.get(alert_id)
        if alert is None:
            raise NotFound(f"no alert with id {alert_id!r}")
        return alert

    def ack_alert(self, alert_id: str, *, now: datetime, by: str = "web") -> dict:
        """Acknowledge (``alerts.ack``): no notification; updates stay quiet until the alert resolves."""
        import alerts

        rec = self._alert(alert_id)
        with self._store_lock:
            try:
                alerts.ack(self.settings, rec.fingerprint, by=by, now=now, store=self.store)
            except alerts.AlertNotFoundError as exc:
                raise NotFound(f"no alert with id {alert_id!r}") from exc
        return alert_json(self._alert(rec.fingerprint))

    def resolve_alert(self, alert_id: str, *, now: datetime, by: str = "web") -> dict:
        """Resolve by hand (``alerts.resolve``): a new version, told to the subscribers once."""
        import alerts

        rec = self._alert(alert_id)
        with self._store_lock:
            try:
                alerts.resolve(self.settings, rec.fingerprint, now=now, store=self.store)
            except alerts.AlertNotFoundError as exc:
                raise NotFound(f"no alert with id {alert_id!r}") from exc
        return alert_json(self._alert(rec.fingerprint))

    # -- label corrections ---------------------------------------------------------------------------
    @property
    def corrections(self) -> CorrectionStore:
        return self._once("_corrections", _open_corrections)

    def list_corrections(self, doc_id: str) -> list[dict]:
        return [to_json(c) for c in self.corrections.list(doc_id=doc_id, limit=20)]

    def correct_labels(self, doc_id: str, changes: dict[str, Any], *, note: str | None, now: datetime,
                       by: str = "web") -> dict:
        """Store the correction (used by the next ``voc train``) and re-index the document with it at once."""
        from classifier.corrections import CorrectionError, apply_labels, validate_labels

        doc = self.index.get(doc_id)
        if doc is None:
            raise NotFound(f"no feedback with id {doc_id!r}")
        if not changes:
            raise LabelError("labels", "give at least one of sentiment, intent, topics, risk")
        topic_ids = [t.id for t in self.settings.topics.topics]
        try:
            validate_labels(changes, topic_ids)  # before the store opens: a bad label is the caller's to fix
            self.corrections.add(doc_id, text=doc.get("text") or "", sentiment=changes.get("sentiment"),
                                 intent=changes.get("intent"), topics=changes.get("topics"), author=by,
                                 topic_ids=topic_ids, now=now, risk=changes.get("risk"))
        except CorrectionError as exc:
            field = str(exc).split(":", 1)[0] if ":" in str(exc) else "labels"
            raise LabelError(field, str(exc)) from exc
        updated = apply_labels(doc, changes)
        self.index.upsert([updated])
        return self.index.get(doc_id) or updated

    # -- sources -------------------------------------------------------------------------------------
    def sources(self, *, now: datetime) -> dict:
        from app.scheduler import next_run

        health = {h.source: h for h in self.state.source_health(now=now)}
        configured = dict(self.settings.sources.sources)
        # Runs of forum targets are recorded as "forum:<name>"; their settings live under sources.forum.
        covered = {name.split(":", 1)[0] for name in health if ":" in name}
        names = sorted(set(health) | {n for n in configured if n not in covered})
        out = []
        for name in names:
            conf = configured.get(name) or configured.get(name.split(":", 1)[0])
            h = health.get(name)
            schedule = conf.schedule if conf else None
            row: dict[str, Any] = {
                "source": name,
                "enabled": bool(conf.enabled) if conf else None,
                "schedule": schedule,
                "next_run": to_json(next_run(schedule, now, tz=self.settings.time_zone)) if schedule and conf and conf.enabled else None,
                "last_run": to_json(h.last_run) if h else None,
                "last_success": to_json(h.last_success) if h else None,
                "items_per_day": [[d, n] for d, n in h.items_per_day] if h else [],
                "blocked": {"reason": h.blocked[0], "fix": h.blocked[1]} if h and h.blocked else None,
                "running": bool(h.running) if h else False,
                "dead": h.dead if h else None,  # a "running" record whose process is gone
            }
            row["status"] = ("blocked" if row["blocked"] else "running" if row["running"] else "died" if row["dead"]
                             else (h.last_run.status if h else "never_run"))
            out.append(row)
        runs = [to_json(r) for r in self.state.last_runs(30)]
        return {"sources": out, "runs": runs}


def alert_json(alert: Any) -> dict:
    """An incident as every interface shows it (:func:`alerts.view.incident_view`)."""
    from alerts.view import incident_view

    return incident_view(alert)
