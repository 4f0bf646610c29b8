"""The classifier in a worker process (``crawl.classify_in: process``): the crawler's event loop and the
model then run on separate cores instead of sharing one interpreter lock.

Module-level functions, so a ``spawn`` process pool can pickle them. The worker loads the configuration
and the classifier once (:func:`init`) and exits when its parent process is gone (even after SIGKILL).

Threads: the worker never uses more than ``classifier.threads`` torch threads. While the crawl process is
busy — parsing, segmenting, indexing — it leaves that core free (CPUs − 1 threads: on a 2-CPU machine two
torch threads plus a busy event loop oversubscribe and classify several times slower); once the crawl
process goes quiet — every page parsed, waiting for tags — each batch takes every core again. The choice
is made per batch from the crawl process's CPU time since the previous batch (:func:`threads_for`).

:func:`start` builds the pool and starts the worker loading at once (the model loads while the crawl
imports Scrapy, builds its engine and downloads the first pages); :func:`prestart` does that as early as
the crawl process begins, and :func:`acquire` hands that pool to the classify pipelines — one worker for
every source crawled in the process, shut down by the last :func:`release`.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from typing import Any

__all__ = ["worker_spec", "init", "predict", "ready", "start", "prestart", "take_prestarted", "acquire", "release",
           "threads_for"]

_classifier: Any = None
_load_error: str | None = None
_max_threads = 1
_parent = 0
_last: tuple[float, float] | None = None  # (crawl process's CPU seconds, wall clock) at the last batch
#: CPU share (cores) of the crawl process under which it counts as quiet.
QUIET_CORES = 0.35


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


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` (Linux /proc; None elsewhere or when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def threads_for(others_cores: float | None, *, cpus: int, max_threads: int) -> int:
    """Torch threads for the next batch: the CPUs left by the crawl process, which used ``others_cores``
    cores since the last batch — a share under QUIET_CORES counts as nothing; unknown counts as one busy
    core. Never below 1, never above ``max_threads``."""
    if others_cores is None:
        busy = 1
    else:
        busy = max(0, math.ceil(others_cores - QUIET_CORES))
    return max(1, min(max_threads, cpus - busy))


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
    global _classifier, _load_error, _max_threads, _parent
    import atexit

    atexit.register(_exit_now)  # registered last, so it runs first when the worker exits
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="voc-parent-watch").start()
    _parent = parent
    try:
        from classifier import load_classifier
        from configs import load_settings

        settings = load_settings(config_dir, env=dict(env))
        _max_threads = max(1, settings.classifier.threads)
        _classifier = load_classifier(settings)
        _set_threads(threads_for(None, cpus=os.cpu_count() or 2, max_threads=_max_threads))
    except Exception as exc:  # noqa: BLE001 - reported with every batch (exceptions may not unpickle)
        _load_error = repr(exc)


def _set_threads(n: int) -> None:
    if hasattr(_classifier, "threads"):  # the model classifiers apply it on every predict; rules have none
        _classifier.threads = n


def ready() -> bool:
    """A no-op job: submitting it makes the pool start the worker (and load the model) now."""
    return _classifier is not None


def _others_cores(now: float) -> float | None:
    """Cores the crawl process used since the previous call (None the first time or off Linux). Other jobs
    on the machine are not yielded to: a classifier run on its own would not yield to them either."""
    global _last
    other = _cpu_seconds(_parent)
    cores = None
    if other is not None and _last is not None and now > _last[1]:
        cores = max(0.0, (other - _last[0]) / (now - _last[1]))
    _last = (other, now) if other is not None else None
    return cores


def predict(texts: list[str]) -> list[Any]:
    if _classifier is None:
        raise RuntimeError(_load_error or "the classifier worker was not initialised")
    cores = _others_cores(time.monotonic())
    _set_threads(threads_for(cores, cpus=os.cpu_count() or 2, max_threads=_max_threads))
    return list(_classifier.predict(texts))


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
    """Start the worker for (config_dir, env) now (once), to be taken by the first classify pipeline asking."""
    key = _key(config_dir, env)
    if key not in _workers:
        _workers[key] = [start(config_dir, env), 0]
    return _workers[key][0]


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
