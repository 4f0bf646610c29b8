"""The classifier in a worker process (``crawl.classify_in: process``): the crawler's event loop and the
model then run on separate cores instead of sharing one interpreter lock.

Module-level functions, so a ``spawn`` process pool can pickle them. The worker loads the configuration
and the classifier once (:func:`init`), with at most CPUs − 1 torch threads (a core stays with the crawl),
and exits when its parent process is gone (even after SIGKILL).
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["init", "predict"]

_classifier: Any = None
_load_error: str | None = None


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(1.0)


def init(config_dir: str, env: Mapping[str, str], parent: int) -> None:
    global _classifier, _load_error
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="voc-parent-watch").start()
    try:
        from classifier import load_classifier
        from configs import load_settings

        settings = load_settings(config_dir, env=dict(env))
        # Leave a core to the crawl itself: on a 2-CPU machine two torch threads plus the crawler's
        # event loop oversubscribe and classify several times slower.
        threads = max(1, min(settings.classifier.threads, (os.cpu_count() or 2) - 1))
        if threads != settings.classifier.threads:
            classifier_settings = dataclasses.replace(settings.voc.classifier, threads=threads)
            settings = settings.replace(voc=dataclasses.replace(settings.voc, classifier=classifier_settings))
        _classifier = load_classifier(settings)
    except Exception as exc:  # noqa: BLE001 - reported with every batch (exceptions may not unpickle)
        _load_error = repr(exc)


def predict(texts: list[str]) -> list[Any]:
    if _classifier is None:
        raise RuntimeError(_load_error or "the classifier worker was not initialised")
    return list(_classifier.predict(texts))
