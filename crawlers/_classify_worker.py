"""The classifier in a worker process (``crawl.classify_in: process``): the crawler's event loop and the
model then run on separate cores instead of sharing one interpreter lock.

The worker is a plain child process (``python -m crawlers._classify_worker FD SPEC``) on one end of a socket
pair. It loads the configuration and the classifier first, then runs the calls that come over the socket —
``(function, args, kwargs)``, pickled, one at a time, answered in order — and exits when the other end says
so or closes: the crawl process finished, or died (even by SIGKILL). :class:`Worker` is that other end, an
``Executor`` whose ``submit(predict, texts)`` runs in the worker.

:func:`crawlers.runner.start_crawl` starts the worker beside the crawl process (:func:`spawn`), so the model
loads while the crawl process imports Scrapy, builds its engine and downloads the first pages; the crawl
process takes it over as it begins (:func:`adopt_from_env`), and :func:`acquire` hands it to the classify
pipelines — one worker for every source crawled in the process, told to stop by the last :func:`release`.
A crawl started otherwise (``scrapy crawl``) starts its own.

Threads: the worker classifies with ``classifier.threads`` threads, as classification run on its own does.
(It used to keep a core for the crawl process while that was busy; measured on 2 CPUs, that made whole
crawls slower, 4.3–4.5 s against 3.9–4.1 s for the 5,000 items of bench/crawl.py.)
"""

from __future__ import annotations

import json
import os
import pickle
import socket
import struct
import sys
from collections.abc import Mapping
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from configs import Settings

__all__ = ["worker_spec", "predict", "ready", "spawn", "Worker", "prestart", "adopt_from_env", "discard_prestarted",
           "take_prestarted", "acquire", "release", "WORKER_ENV", "PACKAGE_ROOT"]

#: Set by :func:`crawlers.runner.start_crawl` for the crawl process: ``{"config_dir": …, "env": {…}, "fd": …,
#: "pid": …}`` — the worker it started for these settings, and the crawl process's end of its socket.
WORKER_ENV = "VOC_CLASSIFY_WORKER"

_classifier: Any = None
_load_error: str | None = None
_HEADER = struct.Struct("!Q")


def worker_spec(settings: Settings, where: str) -> tuple[str, dict[str, str]] | None:
    """(config dir, env) of the classifier worker process for ``VOC_CLASSIFY_IN`` = ``where``, or None when
    classification runs in a thread (``thread``, or ``auto`` with the ``rules`` classifier)."""
    is_rules = settings.classifier.model.strip().lower() == "rules"
    if where == "process" or (where == "auto" and not is_rules):
        env = {"VOC_HOME": str(settings.home), "VOC_CLASSIFIER_MODEL": settings.classifier.model,
               "VOC_INDEX_URL": settings.index.url}
        return str(settings.config_dir), env
    return None


def _send(sock: socket.socket, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_HEADER.pack(len(data)) + data)


def _recv(sock: socket.socket) -> Any:
    """The next message; EOFError when the other end closed."""
    (size,) = _HEADER.unpack(_read(sock, _HEADER.size))
    return pickle.loads(_read(sock, size))


def _read(sock: socket.socket, size: int) -> bytes:
    buf = bytearray()
    while len(buf) < size:
        chunk = sock.recv(min(size - len(buf), 1 << 20))
        if not chunk:
            raise EOFError("the other end closed")
        buf += chunk
    return bytes(buf)


# ---- in the worker process ----

def predict(texts: list[str], normalized: bool = False) -> list[Any]:
    if _classifier is None:
        raise RuntimeError(_load_error or "the classifier worker was not initialised")
    return list(_classifier.predict(texts, normalized=normalized))


def ready() -> bool:
    """A no-op call: True once the model is loaded (a call waits for the load)."""
    return _classifier is not None


def _answer(call: Any) -> tuple[bool, Any]:
    try:
        fn, args, kwargs = call
        return True, fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - handed back to the caller
        try:
            pickle.dumps(exc)
        except Exception:  # noqa: BLE001 - an exception that does not pickle goes back as its repr
            exc = RuntimeError(repr(exc))
        return False, exc


def main(argv: list[str] | None = None) -> int:
    """``python -m crawlers._classify_worker FD SPEC``: load the classifier SPEC (``{"config_dir", "env"}``)
    names, then answer the calls on socket FD until told to stop or the other end closes."""
    global _classifier, _load_error
    import signal

    # Ctrl-C reaches the whole process group; the crawl process stops gracefully and still needs its
    # pending batches classified, then says when to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fd, spec = (sys.argv[1:] if argv is None else argv)[:2]
    sock = socket.socket(fileno=int(fd))
    try:
        from classifier import load_classifier
        from configs import load_settings

        spec = json.loads(spec)
        _classifier = load_classifier(load_settings(spec["config_dir"], env=dict(spec["env"])))
    except Exception as exc:  # noqa: BLE001 - reported with every call (exceptions may not unpickle)
        _load_error = repr(exc)
    while True:
        try:
            call = _recv(sock)
        except (EOFError, OSError):
            break
        if call is None:  # the last call was answered: stop
            break
        try:
            _send(sock, _answer(call))
        except OSError:
            break
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001,S110 - exiting anyway
            pass
    # Skip the interpreter's teardown of torch and friends: the worker holds nothing to flush or close.
    os._exit(0)


# ---- in the crawl process ----

def spawn(config_dir: str, voc_env: Mapping[str, str], **popen: Any) -> tuple[Any, socket.socket]:
    """Start a worker loading the settings of (config_dir, voc_env): ``(process, this side's socket)``.
    ``popen``: more ``subprocess.Popen`` arguments (the process's env, cwd, stdout)."""
    import subprocess

    popen.setdefault("cwd", PACKAGE_ROOT)
    ours, theirs = socket.socketpair()
    spec = json.dumps({"config_dir": str(config_dir), "env": dict(voc_env)})
    try:
        proc = subprocess.Popen([sys.executable, "-m", "crawlers._classify_worker", str(theirs.fileno()), spec],
                                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, **popen)
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    return proc, ours


class Worker(Executor):
    """This process's end of a classifier worker: an executor whose ``submit(fn, *args)`` runs ``fn`` there
    (calls go and come back in order). ``proc``: the worker process if this process started it (else the
    runner did and reaps it); ``pid`` serves :meth:`kill` either way."""

    def __init__(self, sock: socket.socket, *, pid: int, proc: Any = None) -> None:
        import collections
        import queue
        import threading

        self.sock, self.pid, self.proc = sock, pid, proc
        self._pending: collections.deque[Any] = collections.deque()
        self._lock = threading.Lock()
        self._outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._error: BaseException | None = None
        # Sending on a thread of its own: a queue of big batches must never block the caller's event loop.
        threading.Thread(target=self._send_calls, name="voc-classify-send", daemon=True).start()
        threading.Thread(target=self._receive, name="voc-classify-recv", daemon=True).start()

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new calls after shutdown")
            if self._error is not None:
                raise RuntimeError(f"the classifier worker is gone: {self._error}")
            self._pending.append(fut)
            self._outbox.put((fn, args, kwargs))
        return fut

    def _send_calls(self) -> None:
        while True:
            call = self._outbox.get()
            try:
                _send(self.sock, call)
            except OSError as exc:
                self._fail(exc)
                return
            if call is None:
                return

    def _receive(self) -> None:
        while True:
            try:
                ok, value = _recv(self.sock)
            except (EOFError, OSError, pickle.UnpicklingError) as exc:
                self._fail(exc)
                return
            with self._lock:
                fut = self._pending.popleft()
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)

    def _fail(self, exc: BaseException) -> None:
        """The worker is gone: every call still waiting gets an error that says so."""
        with self._lock:
            self._error = self._error or exc
            waiting, self._pending = list(self._pending), type(self._pending)()
        code = self.proc.poll() if self.proc is not None else None
        why = f"exited with code {code}" if code is not None else f"connection lost ({exc!r})"
        for fut in waiting:
            if not fut.done():
                fut.set_exception(RuntimeError(f"the classifier worker (pid {self.pid}) {why} — see the crawl log"))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No more calls; the worker answers those it has, then exits. ``wait``: until they are answered
        (not until the process is gone — its exit, tearing down the model, needs no waiting for)."""
        from concurrent.futures import wait as wait_for

        with self._lock:
            if self._closed:
                return
            self._closed = True
            pending = list(self._pending)
            self._outbox.put(None)
        if cancel_futures:
            self.kill()
        elif wait:
            wait_for(pending)

    def kill(self) -> None:
        """Stop the worker now (even mid-load): for a worker nobody will use."""
        import signal

        with self._lock:
            self._closed = True
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes this side's threads blocked on the socket
        except OSError:
            pass
        self.sock.close()


#: The folder holding the ``crawlers`` package: the crawl process and its worker run there, so ``python -m``
#: finds this code (and not a ``configs/`` folder that happens to sit in the project home).
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))

#: Workers of this process per (config_dir, env): [worker, classify pipelines using it]; 0 users = prestarted.
_workers: dict[tuple[str, tuple[tuple[str, str], ...]], list[Any]] = {}


def _key(config_dir: str, env: Mapping[str, str]) -> tuple[str, tuple[tuple[str, str], ...]]:
    return str(config_dir), tuple(sorted(env.items()))


def prestart(config_dir: str, env: Mapping[str, str]) -> Worker:
    """The worker for (config_dir, env), started now if there is none yet, for the first classify pipeline
    asking. A worker prestarted for other settings that no pipeline took (the runner's guess differed from
    the settings the crawl process loaded) would never be used: it is stopped."""
    key = _key(config_dir, env)
    discard_prestarted(keep=key)
    if key not in _workers:
        proc, sock = spawn(config_dir, env)
        _workers[key] = [Worker(sock, pid=proc.pid, proc=proc), 0]
    return _workers[key][0]


def adopt_from_env(environ: Mapping[str, str]) -> Worker | None:
    """Take over the worker :data:`WORKER_ENV` names (started by the runner for this process), if any."""
    raw = environ.get(WORKER_ENV)
    if not raw:
        return None
    try:
        spec = json.loads(raw)
        sock = socket.socket(fileno=int(spec["fd"]))
        key = _key(str(spec["config_dir"]), {str(k): str(v) for k, v in spec["env"].items()})
        pid = int(spec["pid"])
    except (ValueError, KeyError, TypeError, AttributeError, OSError):
        return None  # a malformed value: the classify pipeline starts its worker as usual
    sock.set_inheritable(False)  # not for the browsers and other children this process starts
    if key in _workers:  # taken over already
        sock.close()
    else:
        _workers[key] = [Worker(sock, pid=pid), 0]
    return _workers[key][0]


def discard_prestarted(keep: tuple[str, tuple[tuple[str, str], ...]] | None = None) -> None:
    """Stop every prestarted worker no pipeline took (but ``keep``'s) at once, even mid-load: waiting for it
    would mean waiting for a model nobody will use to load."""
    for key, (worker, users) in list(_workers.items()):
        if key != keep and not users:
            del _workers[key]
            worker.kill()


def take_prestarted(config_dir: str, env: Mapping[str, str]) -> Worker | None:
    """A prestarted worker that no pipeline uses yet, handed over to the caller (None if there is none)."""
    key = _key(config_dir, env)
    entry = _workers.get(key)
    if entry is None or entry[1]:
        return None
    del _workers[key]
    return entry[0]


def acquire(config_dir: str, env: Mapping[str, str]) -> Worker:
    """The worker for (config_dir, env) that this process's classify pipelines share — every source crawled
    in one process, so the model loads once (the prestarted one, else a new one); :func:`release` it."""
    prestart(config_dir, env)
    entry = _workers[_key(config_dir, env)]
    entry[1] += 1
    return entry[0]


def release(worker: Worker) -> None:
    """One pipeline is done with ``worker``; the last one stops it (after its calls are answered)."""
    for key, entry in list(_workers.items()):
        if entry[0] is worker:
            entry[1] -= 1
            if entry[1] > 0:
                return
            del _workers[key]
            break
    worker.shutdown(wait=True)


if __name__ == "__main__":
    # Run as the importable module, so the calls that arrive (pickled as crawlers._classify_worker.predict)
    # find the classifier main() loaded.
    from crawlers import _classify_worker

    sys.exit(_classify_worker.main())
