"""The alerts package's exception root (notifier errors live in :mod:`alerts.notifiers._base`)."""

from __future__ import annotations

__all__ = ["AlertsError", "AlertNotFoundError"]


class AlertsError(Exception):
    """Root of the alert errors that are not about one notifier."""


class AlertNotFoundError(AlertsError):
    """No alert (or more than one) has the given fingerprint prefix; raised by ``ack``/``resolve``."""

    def __init__(self, fingerprint: str) -> None:
        self.fingerprint = fingerprint
        super().__init__(f"no single alert matches {fingerprint!r}")
