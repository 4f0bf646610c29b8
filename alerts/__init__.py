"""Alerts: detect new product issues in the stored feedback, tell the right people once, follow them
until they are gone.

Public API (what the CLI, the scheduler and the web page use)::

    from alerts import evaluate, deliver, open_store

    report = evaluate(settings, index, *, now)        # -> EvaluationReport (raised/updated/resolved …)
    sent = deliver(settings, *, now, client=None)      # -> DeliveryReport (sent, failed, retrying)
    store = open_store(settings)                       # list/get/events/outbox; ack/resolve below
    ack(settings, fingerprint, *, by, now) / resolve(settings, fingerprint, *, now)
    build_digest(settings, index, *, period="day", now) -> Digest;  send_digest(settings, digest, *, now)
    backtest(rule, series, *, now=None) -> list[Match]  (``voc alerts backtest``)

Signals of every rule that describe one problem join one incident (:mod:`alerts.incidents`, pure); the
lifecycle, notifications and every interface (:mod:`alerts.view`) are per incident.

Modules: :mod:`alerts.detect` (pure detectors), :mod:`alerts.incidents` (grouping, titles, figures in
words), :mod:`alerts.view` (the incident object of the CLI, API and page), :mod:`alerts.lifecycle` (ids, states,
re-alert backoff; injected clock), :mod:`alerts.store` (SQLite tables next to the feedback + outbox),
:mod:`alerts.message` (what a notification says), :mod:`alerts.notifiers` (one module per channel:
``render`` pure, ``send`` with an injected ``httpx.Client``), :mod:`alerts.digest`; closing the loop:
:mod:`alerts.fixes` (``voc alerts fix``, the verdict from the data), :mod:`alerts.escalation` (unacknowledged
incidents escalate once), :mod:`alerts.tickets` (Jira, GitHub issues, webhook), :mod:`alerts.replies` (reply
drafts to App Store reviewers, approval, sending through App Store Connect).

Exception tree::

    AlertsError                      (alerts.AlertsError) the one root: ``except AlertsError`` catches all
    ├── AlertStoreError              the store cannot be opened or written (a failed write is rolled back)
    ├── AlertNotFoundError           ``ack``/``resolve``: no single alert matches the fingerprint prefix
    └── NotifierError                (alerts.notifiers; carries the channel name)
        ├── TransientNotifierError   retried with backoff from the outbox
        └── PermanentNotifierError   recorded as failed; ``voc alerts retry`` re-queues

Errors that are not ours (a bug, or a library raising on hostile input) never stop a whole run: a
rule that raises is recorded in ``EvaluationReport.errors`` and the other rules still run; an outbox row
whose rendering or sending raises is recorded on that row (retried with backoff, then dead-lettered as
``failed``) and the rows after it are still delivered.
"""

from __future__ import annotations

from alerts._deliver import Delivery, DeliveryReport, deliver
from alerts._evaluate import EvaluationReport, Signal, collect_signals, evaluate
from alerts._errors import AlertNotFoundError, AlertsError
from alerts._manage import ack, backtest, backtest_index, read_series_csv, resolve
from alerts.digest import Digest, build_digest, send_digest
from alerts.detect import Figures, Match
from alerts.lifecycle import AlertRecord
from alerts.notifiers import NotifierError, PermanentNotifierError, TransientNotifierError
from alerts.store import AlertStoreError, open_store

__all__ = [
    "evaluate", "deliver", "open_store", "ack", "resolve", "backtest", "backtest_index", "read_series_csv", "build_digest", "send_digest", "collect_signals",
    "EvaluationReport", "DeliveryReport", "Delivery", "Signal", "Digest", "AlertRecord", "Figures", "Match",
    "AlertsError", "AlertNotFoundError", "AlertStoreError", "NotifierError", "TransientNotifierError",
    "PermanentNotifierError",
]
