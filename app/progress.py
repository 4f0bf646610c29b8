"""Progress of long work, one mechanism for the CLI and for jobs started from the web page.

A :class:`Task` is what long work reports to: ``task(done, total)`` (or ``task.advance(n)``) after each
*completed* unit — a batch of rows written, a training step taken, a batch of documents copied. The domain
packages only see a plain callable ``progress(done, total=None)``; they never import this module.

Where a task's state goes is its :class:`Sink`:

* a terminal (stderr is a TTY): a ``tqdm`` bar per task — count, percentage, rate and time left when the
  total is known, count and rate when not. tqdm is the one progress library of the CLI: it is already
  installed with ``transformers``/``huggingface_hub``, keeps several bars apart (the crawl shows one per
  source), and computes smoothed rates and ETAs that click's progress bar does not show;
* a pipe or a log file: :class:`PlainSink` writes one plain line every ``interval`` seconds
  (``classify: 1200/7766 rows (15%), 410 rows/s, 16s left``) and a last one when the task ends, and only
  for work that runs longer than one interval — quick commands print nothing extra;
* ``--quiet``: nothing;
* a job of the web page / API: :class:`app.jobs.JobSink` keeps the same figures for ``GET /api/jobs``.

Progress always goes to stderr, so ``--json`` output on stdout stays as it was.

Stopping at safe points: a task's ``stop`` callable is checked at each report, i.e. between completed units.
:func:`safe_interrupts` makes the first Ctrl-C a request that the next report turns into
``KeyboardInterrupt`` (so classify never leaves half a batch, train checkpoints between steps); a second
Ctrl-C interrupts at once. A cancelled job raises :class:`Cancelled` the same way.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import IO, Any, Protocol

__all__ = ["Task", "Sink", "Reporter", "PlainSink", "TqdmSink", "NullSink", "Cancelled", "Interrupts",
           "safe_interrupts", "reporter_for", "format_seconds", "describe"]


class Cancelled(KeyboardInterrupt):
    """Raised at a safe point of a job whose cancellation was asked for (an admin pressed 取消)."""


def format_seconds(seconds: float | None) -> str:
    """``75`` → ``1m15s``; ``3725`` → ``1h02m``; None → ``?``."""
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "?"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


class Sink(Protocol):
    def update(self, task: Task) -> None: ...

    def close(self, task: Task) -> None: ...

    def echo(self, message: str) -> None: ...


class Task:
    """The state of one piece of long work: counts, rate and time left; see the module docstring."""

    def __init__(self, label: str, *, total: int | None = None, unit: str = "it", sink: Sink | None = None,
                 stop: Callable[[], BaseException | None] | None = None, initial: int = 0,
                 limit: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.label, self.total, self.unit = label, total, unit
        #: a time budget in seconds (training's max_minutes): the work ends by then whatever is left
        self.limit = limit
        self.done = initial
        #: units already done before this run (a resumed run): they count, but not for the rate
        self.initial = initial
        self.notes: dict[str, object] = {}
        self.closed = False
        self.on_close: Callable[[], None] | None = None
        self._sink = sink or NullSink()
        self._stop = stop
        self._clock = clock
        self.started = clock()
        self._sink.update(self)

    # -- reporting -------------------------------------------------------------------------------
    def __call__(self, done: int, total: int | None = None) -> None:
        """Units done so far (absolute), and the total when it became known; then stop here if asked to."""
        if total is not None:
            self.total = total
        self.done = done
        self._sink.update(self)
        self.check()

    def advance(self, n: int = 1) -> None:
        self(self.done + n)

    def note(self, **fields: object) -> None:
        """Extra figures shown beside the count (a crawl's ``blocked``, a loss)."""
        self.notes.update(fields)
        self._sink.update(self)

    def check(self) -> None:
        """Raise the stop request (KeyboardInterrupt, :class:`Cancelled`) if there is one."""
        if self._stop is not None:
            exc = self._stop()
            if exc is not None:
                raise exc

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._sink.close(self)
            if self.on_close is not None:
                self.on_close()

    def __enter__(self) -> Task:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- figures ---------------------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        return self._clock() - self.started

    @property
    def rate(self) -> float | None:
        """Units per second of this run (units done by an earlier, interrupted run are not counted)."""
        elapsed = self.elapsed
        made = self.done - self.initial
        return made / elapsed if elapsed > 0 and made > 0 else None

    @property
    def eta(self) -> float | None:
        """Seconds left, when the total is known and work has started."""
        rate = self.rate
        if self.total is None or rate is None:
            return None
        eta = max(0.0, (self.total - self.done) / rate)
        return eta if self.limit is None else min(eta, max(0.0, self.limit - self.elapsed))

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready figures (what the job list of the web page shows)."""
        rate, eta = self.rate, self.eta
        return {"label": self.label, "done": self.done, "total": self.total, "unit": self.unit,
                "percent": round(100 * self.done / self.total, 1) if self.total else None,
                "rate": round(rate, 2) if rate is not None else None,
                "eta_seconds": round(eta) if eta is not None else None,
                "elapsed_seconds": round(self.elapsed, 1), "notes": dict(self.notes)}


def describe(task: Task) -> str:
    """One plain line: ``classify: 1200/7766 rows (15%), 410 rows/s, 16s left``."""
    count = f"{task.done}/{task.total}" if task.total is not None else f"{task.done}"
    parts = [f"{task.label}: {count} {task.unit}"]
    if task.total:
        parts[0] += f" ({100 * task.done / task.total:.0f}%)"
    rate = task.rate
    if rate is not None:
        parts.append(f"{rate:.1f} {task.unit}/s" if rate < 10 else f"{rate:.0f} {task.unit}/s")
    if task.closed:
        parts.append(f"{format_seconds(task.elapsed)} elapsed")
    elif task.eta is not None:
        parts.append(f"{format_seconds(task.eta)} left")
    parts.extend(f"{k} {v}" for k, v in task.notes.items())
    return ", ".join(parts)


class NullSink:
    """``--quiet``: keeps the counts (for the caller's summary) and shows nothing."""

    def update(self, task: Task) -> None:
        pass

    def close(self, task: Task) -> None:
        pass

    def echo(self, message: str) -> None:
        pass


class PlainSink:
    """Line-oriented progress for logs and pipes: a line every ``interval`` seconds, and one at the end when
    any was written (work shorter than one interval prints nothing)."""

    def __init__(self, stream: IO[str], *, interval: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream, self.interval, self._clock = stream, interval, clock
        self._next: dict[int, float] = {}
        self._spoke: set[int] = set()
        self._lock = threading.Lock()

    def update(self, task: Task) -> None:
        now = self._clock()
        with self._lock:
            due = self._next.setdefault(id(task), now + self.interval)
            if now < due:
                return
            self._next[id(task)] = now + self.interval
            self._spoke.add(id(task))
        self._write(describe(task))

    def close(self, task: Task) -> None:
        with self._lock:
            spoke = id(task) in self._spoke
            self._spoke.discard(id(task))
            self._next.pop(id(task), None)
        if spoke:
            self._write(describe(task))

    def echo(self, message: str) -> None:
        self._write(message)

    def _write(self, line: str) -> None:
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # a closed pipe must not stop the work
            pass


def _columns(stream: IO[str]) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 0


class TqdmSink:
    """A tqdm bar per task on the terminal (stacked: the crawl shows one per source)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._bars: dict[int, Any] = {}
        self._lock = threading.Lock()

    def _bar(self, task: Task) -> Any:
        bar = self._bars.get(id(task))
        if bar is None:
            from tqdm import tqdm

            sized = _columns(self.stream) > 0  # a pseudo-terminal may report 0 columns: then assume 100
            bar = tqdm(total=task.total, initial=task.done, desc=task.label, unit=f" {task.unit}", file=self.stream,
                       dynamic_ncols=sized, ncols=None if sized else 100, nrows=None if sized else 24, mininterval=0.2,
                       position=len(self._bars), leave=True, smoothing=0.1)
            self._bars[id(task)] = bar
        return bar

    def update(self, task: Task) -> None:
        with self._lock:
            bar = self._bar(task)
            if task.total != bar.total:
                bar.total = task.total
                bar.refresh()
            if task.notes:
                bar.set_postfix({k: v for k, v in task.notes.items()}, refresh=False)
            if task.done != bar.n:
                bar.update(task.done - bar.n)

    def close(self, task: Task) -> None:
        with self._lock:
            bar = self._bars.pop(id(task), None)
            if bar is not None:
                if task.done != bar.n:
                    bar.update(task.done - bar.n)
                bar.close()

    def echo(self, message: str) -> None:
        from tqdm import tqdm

        with self._lock:
            tqdm.write(message, file=self.stream)


class Interrupts:
    """What :func:`safe_interrupts` installs: while a task is open, the first SIGINT is a request that the
    task's next report raises; a second SIGINT, or one while no task is open, interrupts at once."""

    def __init__(self, stream: IO[str]) -> None:
        self.requested = False
        self.open_tasks = 0
        self.stream = stream

    def handler(self, signum: int, frame: Any) -> None:
        if self.requested or not self.open_tasks:
            raise KeyboardInterrupt
        self.requested = True
        with contextlib.suppress(OSError, ValueError):
            self.stream.write("\nstopping after the current batch, keeping what is done (Ctrl-C again: quit now)\n")
            self.stream.flush()

    def __call__(self) -> BaseException | None:
        return KeyboardInterrupt() if self.requested else None


@contextlib.contextmanager
def safe_interrupts(stream: IO[str] | None = None) -> Iterator[Interrupts | None]:
    """Install :class:`Interrupts` for the block (main thread only; elsewhere yields None)."""
    if threading.current_thread() is not threading.main_thread():
        yield None
        return
    state = Interrupts(stream or sys.stderr)
    previous = signal.signal(signal.SIGINT, state.handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)


class Reporter:
    """Makes the tasks of one command run or job: all share its sink and its stop request."""

    def __init__(self, sink: Sink, *, stop: Callable[[], BaseException | None] | None = None) -> None:
        self.sink = sink
        self.stop = stop

    def task(self, label: str, *, total: int | None = None, unit: str = "it", initial: int = 0,
             limit: float | None = None) -> Task:
        interrupts = self.stop if isinstance(self.stop, Interrupts) else None
        if interrupts is not None:
            interrupts.open_tasks += 1
        task = Task(label, total=total, unit=unit, sink=self.sink, stop=self.stop, initial=initial, limit=limit)
        if interrupts is not None:
            task.on_close = lambda: setattr(interrupts, "open_tasks", interrupts.open_tasks - 1)
        return task

    def lazy_task(self, label: str, *, unit: str = "it",
                  limit: float | None = None) -> Callable[[int, int | None], None]:
        """A progress callable whose task opens at its first report: until then (say, while training data
        is prepared) no task is open, so Ctrl-C interrupts at once. The first report is where the work
        starts (a resumed run's earlier units: not counted in the rate). Close it with ``.close()``."""
        reporter = self

        class Lazy:
            task: Task | None = None

            def __call__(self, done: int, total: int | None = None) -> None:
                if self.task is None:
                    self.task = reporter.task(label, total=total, unit=unit, limit=limit, initial=done)
                self.task(done, total)

            def close(self) -> None:
                if self.task is not None:
                    self.task.close()

        return Lazy()

    def echo(self, message: str) -> None:
        """A log line that does not break the bars (``--quiet`` keeps it: it is not progress)."""
        if isinstance(self.sink, NullSink):
            sys.stderr.write(message + "\n")
        else:
            self.sink.echo(message)


def reporter_for(*, quiet: bool = False, stream: IO[str] | None = None, interval: float | None = None,
                 stop: Callable[[], BaseException | None] | None = None) -> Reporter:
    """The reporter for a CLI run: nothing with ``quiet``, bars on a terminal, plain lines otherwise.

    ``interval`` (seconds between plain lines) defaults to ``VOC_PROGRESS_INTERVAL`` or 5."""
    stream = stream or sys.stderr
    if quiet:
        return Reporter(NullSink(), stop=stop)
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return Reporter(TqdmSink(stream), stop=stop)
    if interval is None:
        try:
            interval = float(os.environ.get("VOC_PROGRESS_INTERVAL", "") or 5.0)
        except ValueError:
            interval = 5.0
    return Reporter(PlainSink(stream, interval=interval), stop=stop)
