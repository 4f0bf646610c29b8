"""The alerts package's exception root; the whole tree is drawn in :mod:`alerts` (``alerts/__init__.py``).

Notifier errors live in :mod:`alerts.notifiers._base`, store errors in :mod:`alerts.store`; every one of
them derives from :class:`AlertsError`, so ``except AlertsError`` catches anything this package raises
on purpose.
"""

from __future__ import annotations

__all__ = ["AlertsError", "AlertNotFoundError"]


class AlertsError(Exception):
    """Root of every error the alerts package raises on purpose (store, notifiers, operator actions)."""


class AlertNotFoundError(AlertsError):
    """No alert (or more than one) has the given fingerprint prefix; raised by ``ack``/``resolve``."""

    def __init__(self, fingerprint: str) -> None:
        self.fingerprint = fingerprint
        super().__init__(f"no single alert matches {fingerprint!r}")
