"""Run spiders through the real Scrapy engine in a child process, repeatedly, and report per source.

    report = run_crawl(settings, sources=["appstore"], product="qingji", since="7d")
    for run in report.runs: print(run.source, run.status, run.new, run.updated, run.dropped, run.blocked_fix)

The child (``python -m crawlers crawl --run-id … SOURCE…``) loads the same configuration (its env names
the config dir, home, index URL and model of ``settings``), runs one crawler per source in one Twisted
reactor, and writes each source's summary to the crawl state database; the parent reads them back. A
child killed by a signal leaves its sources ``failed`` — and nothing half-done: cursors only advance
after a finished crawl, upserts are idempotent, so the next run completes the work.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from configs import Settings
from configs.sources import SOURCE_NAMES
from crawlers._classify_worker import PACKAGE_ROOT as _ROOT, WORKER_ENV, spawn, worker_spec
from crawlers.config import parse_since
from crawlers.errors import CrawlError, CrawlProcessError
from crawlers.state import CrawlState, SourceRun, iso, new_run_id, utcnow

__all__ = ["CrawlReport", "CrawlJob", "run_crawl", "start_crawl", "select_sources", "combine_runs", "failure_lines",
           "last_error", "quarantined_sources", "frontier_url", "check_redis_url"]


@dataclass(frozen=True)
class CrawlReport:
    run_id: str
    runs: tuple[SourceRun, ...]
    returncode: int
    log_path: Path | None = None
    #: sources asked for but not run (disabled or without targets), with why.
    not_run: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and all(r.status == "ok" for r in self.runs)

    def source(self, name: str) -> SourceRun:
        """The run of source ``name``; for ``forum``, whose forums are recorded as ``forum:<name>`` each, the
        one forum's run or all of them summed up (the most serious status wins)."""
        for r in self.runs:
            if r.source == name:
                return r
        parts = [r for r in self.runs if r.source.startswith(name + ":")]
        if not parts:
            raise KeyError(f"source {name!r} was not part of run {self.run_id}")
        return parts[0] if len(parts) == 1 else combine_runs(name, parts)

    @property
    def new(self) -> int:
        return sum(r.new for r in self.runs)

    @property
    def updated(self) -> int:
        return sum(r.updated for r in self.runs)

    def format(self) -> str:
        """Human-readable lines, one per source (what ``voc crawl`` prints)."""
        lines = [f"crawl {self.run_id}"]
        for r in self.runs:
            dropped = ", ".join(f"{k} {v}" for k, v in sorted(r.dropped.items())) or "none"
            lines.append(f"  {r.source:<9} {r.status:<8} pages {r.pages}, new {r.new}, updated {r.updated}, "
                         f"dropped {dropped}, errors {r.errors}, {r.duration or 0:.1f}s")
            if r.blocked_reason:
                lines.append(f"    {r.source} blocked: {r.blocked_reason} — {r.blocked_fix}")
            lines.extend(f"    {line}" for line in failure_lines(r))
            if r.status in ("failed", "skipped"):
                urls = tuple(f["url"] + ":" for f in r.failures)
                for msg in [m for m in r.error_messages if not urls or not m.startswith(urls)][:3]:
                    lines.append(f"    {msg}")
            lines.extend(f"    {w}" for w in r.warnings)
        for name, why in self.not_run.items():
            lines.append(f"  {name:<9} not run: {why}")
        if self.log_path:
            lines.append(f"  log: {self.log_path}")
        return "\n".join(lines)


def failure_lines(run: SourceRun, *, limit: int = 3) -> list[str]:
    """What ``voc crawl`` and ``voc status`` say about pages that yielded nothing: each one's reason, URL and where
    its body went, then what to do."""
    if not run.failures:
        return []
    lines = [f"{run.source} {f.get('reason')}: {f.get('url')}" + (f" ({f['detail']})" if f.get("detail") else "")
             + f" — {f.get('saved')}" for f in run.failures[:limit]]
    if len(run.failures) > limit:
        lines.append(f"… and {len(run.failures) - limit} more such pages")
    source = run.source.split(":", 1)[0]
    lines.append(f"what to do: the site sent pages the {source} parser cannot read (a layout change?); look at the saved "
                 f"bodies, fix crawlers/parsers/{source if source != 'forum' else 'discuz'}.py, then "
                 f"`voc crawl --from-quarantine {source}` re-parses them into the index")
    return lines


#: Which status a combination of runs takes: the first of these that any of them has.
_STATUS_ORDER = ("failed", "blocked", "skipped", "running", "ok")


def combine_runs(name: str, runs: Sequence[SourceRun]) -> SourceRun:
    """Several runs of one crawl (e.g. each forum's) as one run of ``name``: counts summed, dropped merged."""
    dropped: dict[str, int] = {}
    for r in runs:
        for k, v in r.dropped.items():
            dropped[k] = dropped.get(k, 0) + v
    blocked = next((r for r in runs if r.blocked_reason), None)
    status = next((s for s in _STATUS_ORDER if any(r.status == s for r in runs)), runs[0].status)
    finished = [r.finished_at for r in runs if r.finished_at]
    return SourceRun(run_id=runs[0].run_id, source=name, product=runs[0].product, status=status,
                     started_at=min(r.started_at for r in runs), finished_at=max(finished) if finished else None,
                     duration=max((r.duration or 0.0) for r in runs), pages=sum(r.pages for r in runs),
                     new=sum(r.new for r in runs), updated=sum(r.updated for r in runs), dropped=dropped,
                     errors=sum(r.errors for r in runs),
                     error_messages=tuple(dict.fromkeys(m for r in runs for m in r.error_messages)),
                     blocked_reason=blocked.blocked_reason if blocked else None,
                     blocked_fix=blocked.blocked_fix if blocked else None,
                     failures=tuple(f for r in runs for f in r.failures), warnings=tuple(w for r in runs for w in r.warnings))


def select_sources(settings: Settings, sources: Sequence[str] | None, product: str | None) -> tuple[list[str], dict[str, str]]:
    """The spiders to run and the ones left out (with why). Named sources run even when disabled."""
    products = [settings.sources.product(product)] if product else list(settings.sources.products)
    chosen, left_out = [], {}
    names = list(sources) if sources else list(SOURCE_NAMES)
    for name in names:
        if name not in SOURCE_NAMES:
            raise CrawlError(f"unknown source {name!r} (known: {', '.join(SOURCE_NAMES)})")
        if not any(p.targets(name) for p in products):
            left_out[name] = "no targets configured in sources.yaml" + (f" for product {product}" if product else "")
            continue
        if not sources and not settings.sources.source(name).enabled:
            left_out[name] = "disabled in sources.yaml (name it to run it anyway)"
            continue
        chosen.append(name)
    if not sources:
        left_out = {k: v for k, v in left_out.items() if "disabled" in v}
    return chosen, left_out


def _child_env(settings: Settings, config_dir: str | os.PathLike[str] | None, env: Mapping[str, str] | None) -> dict[str, str]:
    child = dict(os.environ)
    child.update(env or {})
    child.update({
        "VOC_CONFIG_DIR": str(Path(config_dir).resolve() if config_dir else settings.config_dir),
        "VOC_HOME": str(settings.home),
        "VOC_INDEX_URL": settings.index.url,
        "VOC_CLASSIFIER_MODEL": settings.classifier.model,
        "PYTHONUNBUFFERED": "1",
    })
    child["PYTHONPATH"] = _ROOT + (os.pathsep + child["PYTHONPATH"] if child.get("PYTHONPATH") else "")
    child.pop(WORKER_ENV, None)
    return child


class CrawlJob:
    """A running crawler child process (see :func:`start_crawl`)."""

    def __init__(self, settings: Settings, run_id: str, sources: list[str], not_run: dict[str, str],
                 proc: subprocess.Popen[bytes] | None, log_path: Path | None,
                 worker: subprocess.Popen[bytes] | None = None) -> None:
        self.settings, self.run_id, self.sources, self.not_run = settings, run_id, sources, not_run
        self.proc, self.log_path = proc, log_path
        self.worker = worker  # the classifier worker started beside the child, for the child
        self.started = utcnow()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout: float | None = None) -> CrawlReport:
        rc = 0
        if self.proc is not None:
            try:
                rc = self.proc.wait(timeout=timeout or None)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
                rc = rc if rc else -signal.SIGKILL
        if self.worker is not None:
            _reap(self.worker)
        with CrawlState(self.settings.resolve(self.settings.crawl.state_path)) as state:
            where = ""
            if self.log_path:
                error = last_error(self.log_path)
                where = f" (log: {self.log_path}{'; ' + error if error else ''})"
            if rc != 0:
                why = f"crawler process {'killed by signal ' + str(-rc) if rc < 0 else 'exited with code ' + str(rc)}"
                state.fail_unfinished(self.run_id, why + where)
            else:  # the child is gone: a record it left "running" (it could not write its end — a full disk) is dead
                state.fail_unfinished(self.run_id, "the crawler process ended without recording this run's end" + where)
                why = "the crawler process ended without running this source"
            why += where
            # A source the child never recorded failed, whatever its exit code: never "nothing to crawl".
            recorded = {r.source.split(":", 1)[0] for r in state.runs(self.run_id)}  # forum:<name> is forum's
            for name in self.sources:
                if name not in recorded:
                    now = utcnow()
                    state.finish_run(SourceRun(run_id=self.run_id, source=name, product=None, status="failed",
                                               started_at=self.started, finished_at=now,
                                               duration=(now - self.started).total_seconds(), errors=1,
                                               error_messages=(why,)))
            runs = tuple(state.runs(self.run_id))
        return CrawlReport(self.run_id, runs, rc, self.log_path, dict(self.not_run))


def quarantined_sources(settings: Settings, sources: Sequence[str] | None) -> tuple[list[str], dict[str, str]]:
    """The spiders with saved pages to re-parse (of ``sources``, default all) and the named ones without any."""
    from crawlers.quarantine import pending

    for name in sources or ():
        if name not in SOURCE_NAMES:
            raise CrawlError(f"unknown source {name!r} (known: {', '.join(SOURCE_NAMES)})")
    root = settings.resolve(settings.crawl.quarantine_dir)
    have = {e.source.split(":", 1)[0] for e in pending(root, list(sources) if sources else None)}
    names = [n for n in (sources or SOURCE_NAMES) if n in have]
    return names, {n: f"nothing in quarantine ({root})" for n in (sources or ()) if n not in have}


def start_crawl(settings: Settings, *, sources: Sequence[str] | None = None, product: str | None = None,
                since: str | datetime | None = None, config_dir: str | os.PathLike[str] | None = None,
                env: Mapping[str, str] | None = None, run_id: str | None = None,
                from_quarantine: bool = False, frontier: str | None = None,
                frontier_round: str | None = None) -> CrawlJob:
    """Start the crawler child process and return at once (``job.wait()`` gives the report).

    ``from_quarantine``: re-parse the saved bodies of pages that yielded nothing (crawlers.quarantine) with the
    current parsers, into the index, instead of crawling. ``frontier``: a Redis URL — the child crawls round
    ``frontier_round`` (default: the run id) on the shared frontier (crawlers.frontier, crawlers.rounds). Raises :class:`CrawlError` for an unknown source or
    product or a bad ``since`` (nothing started).
    """
    try:
        names, not_run = quarantined_sources(settings, sources) if from_quarantine else \
            select_sources(settings, sources, product)
    except KeyError as exc:
        raise CrawlError(str(exc.args[0])) from None
    try:
        since_dt = parse_since(since)
    except ValueError as exc:
        raise CrawlError(str(exc)) from None
    if not run_id:
        run_id = new_run_id()
    if not names:
        return CrawlJob(settings, run_id, [], not_run, None, None)
    state_path = settings.resolve(settings.crawl.state_path)
    log_dir = state_path.parent / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"crawl-{run_id}.log"
    cmd = [sys.executable, "-m", "crawlers", "crawl", "--run-id", run_id]
    if product:
        cmd += ["--product", product]
    if since_dt is not None:
        cmd += ["--since", iso(since_dt) or ""]
    if from_quarantine:
        cmd += ["--from-quarantine"]
    if frontier:
        cmd += ["--round", frontier_round or run_id]
    cmd += names
    child_env = _child_env(settings, config_dir, {**(env or {}), **({"VOC_FRONTIER_URL": frontier} if frontier else {})})
    # On the frontier, items are tagged by tag workers: no classifier worker here.
    spec = None if frontier else worker_spec(settings, settings.crawl.classify_in)
    worker = sock = None
    with open(log_path, "ab") as log:
        try:
            if spec is not None:  # the classifier worker starts loading the model first, for the child to adopt
                worker, sock = spawn(child_env["VOC_CONFIG_DIR"], spec[1], stdout=log, stderr=subprocess.STDOUT,
                                     env=child_env)
                child_env[WORKER_ENV] = json.dumps({"config_dir": child_env["VOC_CONFIG_DIR"], "env": spec[1],
                                                    "fd": sock.fileno(), "pid": worker.pid})
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=child_env, cwd=_ROOT, pass_fds=(sock.fileno(),) if sock else ())
        except OSError as exc:
            if worker is not None:
                _reap(worker)
            raise CrawlProcessError(f"cannot start the crawler ({' '.join(cmd[:4])}): {exc}") from exc
        finally:
            if sock is not None:
                sock.close()  # the child's now
    return CrawlJob(settings, run_id, names, not_run, proc, log_path, worker)


def last_error(log_path: Path, *, tail_bytes: int = 65536) -> str:
    """The last error a crawl log holds (an ``ERROR``/``CRITICAL`` line or a traceback's final line), or ''."""
    try:
        with open(log_path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - tail_bytes))
            lines = fh.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i].strip()
        if " ERROR: " in line or " CRITICAL: " in line or line.startswith("Error: "):
            return line[:300]
        if line.startswith("Traceback (most recent call last)"):
            after = [x.strip() for x in lines[i + 1:] if x.strip() and not x.startswith((" ", "\t"))]
            if after:
                return after[0][:300]
    return ""


def _reap(worker: subprocess.Popen[bytes]) -> None:
    """The crawl process is gone, so its classifier worker has nothing left to do: stop it if it has not
    exited yet (a model still loading) and collect it in the background — its exit, tearing down the model,
    needs no waiting for."""
    import threading

    if worker.poll() is None:
        worker.kill()
        threading.Thread(target=worker.wait, name="voc-reap-worker", daemon=True).start()


def run_crawl(settings: Settings, *, sources: Sequence[str] | None = None, product: str | None = None,
              since: str | datetime | None = None, config_dir: str | os.PathLike[str] | None = None,
              env: Mapping[str, str] | None = None, timeout: float | None = None,
              from_quarantine: bool = False) -> CrawlReport:
    """Crawl ``sources`` (default: every enabled source with targets) for ``product`` (default: all).

    ``since`` (``7d``, ``24h``, a date) overrides the cursors. ``env`` adds variables for the child (e.g.
    cookies). ``from_quarantine`` re-parses saved bodies instead (see :func:`start_crawl`). Blocks and errors
    are reported per source in the :class:`CrawlReport`, never raised.
    """
    limit = timeout if timeout is not None else (settings.crawl.run_timeout or None)
    url = frontier_url(settings)
    if url and not from_quarantine:  # crawl.redis configured: the same crawl as a round on the shared frontier
        from crawlers.rounds import run_round

        return run_round(settings, url, sources=sources, product=product, since=since, config_dir=config_dir,
                         tag_workers=settings.crawl.redis.tag_workers, timeout=limit).as_crawl_report()
    job = start_crawl(settings, sources=sources, product=product, since=since, config_dir=config_dir, env=env,
                      from_quarantine=from_quarantine)
    return job.wait(timeout=limit)


def frontier_url(settings: Settings) -> str:
    """The Redis of the shared frontier: the variable ``crawl.redis.url_env`` names, else ``crawl.redis.url``; '' for
    the embedded single-process default."""
    r = settings.crawl.redis
    url = settings.secrets.get(r.url_env) or r.url
    return check_redis_url(url, f"${r.url_env or 'crawl.redis.url'}") if url else ""


def check_redis_url(url: str, what: str) -> str:
    """``url`` when it is a redis://, rediss:// or unix:// URL; else :class:`CrawlError` naming ``what`` (the option
    or setting it came from) and the URL without its credentials."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise CrawlError(f"{what} must be a redis://, rediss:// or unix:// URL, got {url.split('@')[-1]!r}")
    return url

