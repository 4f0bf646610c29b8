"""The classifier in a worker process (``crawl.classify_in: process``): the crawler's event loop and the
model then run on separate cores instead of sharing one interpreter lock.

Module-level functions, so a ``spawn`` process pool can pickle them. The worker loads the configuration
and the classifier once (:func:`init`) and exits when its parent process is gone (even after SIGKILL).

Threads: the worker classifies with ``classifier.threads`` threads, as classification run on its own does.
(It used to keep a core for the crawl process while that was busy; measured on 2 CPUs, that made whole
crawls slower, 4.3–4.5 s against 3.9–4.1 s for the 5,000 items of bench/crawl.py.)

:func:`start` builds the pool and starts the worker loading at once (the model loads while the crawl
imports Scrapy, builds its engine and downloads the first pages); :func:`prestart` does that as early as
the crawl process begins, and :func:`acquire` hands that pool to the classify pipelines — one worker for
every source crawled in the process, shut down by the last :func:`release`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from typing import Any

__all__ = ["worker_spec", "init", "predict", "ready", "start", "prestart", "prestart_from_env", "discard_prestarted",
           "take_prestarted", "acquire", "release", "WORKER_ENV"]

#: Set by :func:`crawlers.runner.start_crawl` for the crawler child: ``{"config_dir": …, "env": {…}}`` of the
#: worker its classify pipelines will ask for, so the child starts it first thing (:func:`prestart_from_env`).
WORKER_ENV = "VOC_CLASSIFY_WORKER"

_classifier: Any = None
_load_error: str | None = None


def worker_spec(settings: Any, where: str) -> tuple[str, dict[str, str]] | None:
    """(config dir, env) of the classifier worker process for ``VOC_CLASSIFY_IN`` = ``where``, or None when
    classification runs in a thread (``thread``, or ``auto`` with the ``rules`` classifier)."""
    is_rules = settings.classifier.model.strip().lower() == "rules"
    if where == "process" or (where == "auto" and not is_rules):
        env = {"VOC_HOME": str(settings.home), "VOC_CLASSIFIER_MODEL": settings.classifier.model,
               "VOC_INDEX_URL": settings.index.url}
        return str(settings.config_dir), env
    return None


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(1.0)


def _exit_now() -> None:
    """Skip the interpreter's teardown of torch and friends (about a second the crawl would wait for in
    ``shutdown``): the worker holds nothing to flush or close."""
    import sys

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001,S110 - exiting anyway
            pass
    os._exit(0)


def init(config_dir: str, env: Mapping[str, str], parent: int) -> None:
    global _classifier, _load_error
    import atexit

    atexit.register(_exit_now)  # registered last, so it runs first when the worker exits
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="voc-parent-watch").start()
    try:
        from classifier import load_classifier
        from configs import load_settings

        _classifier = load_classifier(load_settings(config_dir, env=dict(env)))
    except Exception as exc:  # noqa: BLE001 - reported with every batch (exceptions may not unpickle)
        _load_error = repr(exc)


def ready() -> bool:
    """A no-op job: submitting it makes the pool start the worker (and load the model) now."""
    return _classifier is not None


def predict(texts: list[str], normalized: bool = False) -> list[Any]:
    if _classifier is None:
        raise RuntimeError(_load_error or "the classifier worker was not initialised")
    return list(_classifier.predict(texts, normalized=normalized))


def start(config_dir: str, env: Mapping[str, str]) -> ProcessPoolExecutor:
    """A one-worker spawn pool for the classifier, already starting up (the model loads in the background)."""
    import multiprocessing

    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=init,
                               initargs=(config_dir, dict(env), os.getpid()))
    pool.submit(ready)
    return pool


#: Workers of this process per (config_dir, env): [pool, classify pipelines using it]; 0 users = prestarted.
_workers: dict[tuple[str, tuple[tuple[str, str], ...]], list[Any]] = {}


def _key(config_dir: str, env: Mapping[str, str]) -> tuple[str, tuple[tuple[str, str], ...]]:
    return str(config_dir), tuple(sorted(env.items()))


def prestart(config_dir: str, env: Mapping[str, str]) -> ProcessPoolExecutor:
    """Start the worker for (config_dir, env) now (once), to be taken by the first classify pipeline asking.

    A worker prestarted for other settings that no pipeline took (the runner's guess differed from the
    settings the child loaded) would never be used: it is shut down."""
    key = _key(config_dir, env)
    discard_prestarted(keep=key)
    if key not in _workers:
        _workers[key] = [start(config_dir, env), 0]
    return _workers[key][0]


def discard_prestarted(keep: tuple[str, tuple[tuple[str, str], ...]] | None = None) -> None:
    """Stop every prestarted worker no pipeline took (but ``keep``'s) at once, even mid-load: it holds
    nothing to flush, and waiting for it would mean waiting for a model nobody will use to load."""
    for key, (pool, users) in list(_workers.items()):
        if key != keep and not users:
            del _workers[key]
            for proc in list((getattr(pool, "_processes", None) or {}).values()):  # CPython keeps them here
                proc.terminate()
            pool.shutdown(wait=False, cancel_futures=True)


def prestart_from_env(environ: Mapping[str, str]) -> ProcessPoolExecutor | None:
    """Prestart the worker :data:`WORKER_ENV` names, if any — before the settings are even loaded."""
    import json

    raw = environ.get(WORKER_ENV)
    if not raw:
        return None
    try:
        spec = json.loads(raw)
        return prestart(str(spec["config_dir"]), {str(k): str(v) for k, v in spec["env"].items()})
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # a malformed value: the classify pipeline starts its worker as usual


def take_prestarted(config_dir: str, env: Mapping[str, str]) -> ProcessPoolExecutor | None:
    """A prestarted worker that no pipeline uses yet, handed over to the caller (None if there is none)."""
    key = _key(config_dir, env)
    entry = _workers.get(key)
    if entry is None or entry[1]:
        return None
    del _workers[key]
    return entry[0]


def acquire(config_dir: str, env: Mapping[str, str]) -> ProcessPoolExecutor:
    """The worker for (config_dir, env) that this process's classify pipelines share — every source crawled
    in one process, so the model loads once (the prestarted one, else a new one); :func:`release` it."""
    prestart(config_dir, env)
    entry = _workers[_key(config_dir, env)]
    entry[1] += 1
    return entry[0]


def release(pool: ProcessPoolExecutor) -> None:
    """One pipeline is done with ``pool``; the last one shuts the worker down (waiting for its batches)."""
    for key, entry in list(_workers.items()):
        if entry[0] is pool:
            entry[1] -= 1
            if entry[1] > 0:
                return
            del _workers[key]
            break
    pool.shutdown(wait=True)
