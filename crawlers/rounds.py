"""Rounds of a crawl spread over workers: publish one, let crawl and tag workers drain it, commit its cursors.

A *round* is one crawl of some sources (``voc crawl --frontier``, ``voc demo --frontier``): its spec (sources,
product, since) is published under ``<prefix>:round:<id>`` and its id listed in ``<prefix>:rounds``. Long-running
crawl workers (:func:`crawl_worker`, ``voc worker crawl``) join every listed round once, each through a crawl child on
the frontier (:mod:`crawlers.frontier`); tag workers (``voc worker tag``) index what they queue
(:mod:`crawlers.itemqueue`). The round is complete when seeding is done, no request is queued or in flight and
every queued item was indexed and acknowledged; then its coordinator advances the cursors of the targets that
completed (in Redis, ``<prefix>:cursors``, and in the local crawl state) and unlists it.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from configs import Settings
from crawlers.errors import CrawlError
from crawlers.frontier import Keys, connect, redact, requeue_dead, round_busy
from crawlers.itemqueue import queue_drained
from crawlers.runner import CrawlReport, _child_env, select_sources, start_crawl
from crawlers.state import CrawlState, iso, new_run_id

__all__ = ["RoundReport", "publish_round", "active_rounds", "round_complete", "commit_round", "run_round",
           "crawl_worker", "start_tag_worker", "start_crawl_worker"]

logger = logging.getLogger(__name__)

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class RoundReport:
    round_id: str
    crawl: CrawlReport | None
    complete: bool
    cursors: dict[tuple[str, str], datetime] = field(default_factory=dict)
    failed_targets: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.complete and (self.crawl is None or self.crawl.ok)

    def as_crawl_report(self) -> CrawlReport:
        """The crawl's report, failed (exit code 1) when the round did not complete."""
        import dataclasses

        crawl = self.crawl or CrawlReport(self.round_id, (), 0)
        if not self.complete and crawl.returncode == 0:
            crawl = dataclasses.replace(crawl, returncode=1)
        return crawl

    def format(self) -> str:
        lines = [self.crawl.format()] if self.crawl is not None else [f"crawl round {self.round_id}"]
        lines.append(f"  round {self.round_id}: " + ("complete" if self.complete else "NOT complete (timed out)")
                     + f", {len(self.cursors)} cursor(s) advanced")
        lines.extend(f"  cursor kept (target did not complete): {t.replace(chr(9), ' ')}" for t in self.failed_targets)
        return "\n".join(lines)


def publish_round(client: Any, prefix: str, *, sources: Sequence[str], product: str | None = None,
                  since: datetime | None = None, round_id: str | None = None) -> str:
    round_id = round_id or new_run_id()
    spec = {"id": round_id, "sources": list(sources), "product": product, "since": iso(since),
            "published": iso(datetime.now(UTC))}
    pipe = client.pipeline(transaction=True)
    pipe.set(f"{prefix}:round:{round_id}", json.dumps(spec))
    pipe.rpush(f"{prefix}:rounds", round_id)
    pipe.execute()
    return round_id


def active_rounds(client: Any, prefix: str) -> list[dict[str, Any]]:
    out = []
    for raw in client.lrange(f"{prefix}:rounds", 0, -1):
        spec = client.get(f"{prefix}:round:{raw.decode()}")
        if spec:
            out.append(json.loads(spec))
    return out


def _spiders(client: Any, prefix: str, round_id: str) -> list[str]:
    spec = client.get(f"{prefix}:round:{round_id}")
    return json.loads(spec)["sources"] if spec else []


def round_complete(client: Any, prefix: str, round_id: str) -> bool:
    keys = Keys(prefix, round_id)
    for spider in _spiders(client, prefix, round_id):
        requeue_dead(client, keys, spider)
        if round_busy(client, keys, spider):
            return False
    return queue_drained(client, prefix)


def commit_round(client: Any, prefix: str, round_id: str, *, state_path: Any = None,
                 ttl_hours: float = 24.0) -> tuple[dict[tuple[str, str], datetime], tuple[str, ...]]:
    """Advance the cursors of the round's targets that completed (never backwards) and unlist the round."""
    keys = Keys(prefix, round_id)
    failed = {m.decode() for m in client.smembers(keys.failed)}
    done: dict[tuple[str, str], datetime] = {}
    for member, score in client.zrange(keys.marks, 0, -1, withscores=True):
        name = member.decode()
        if name in failed:
            continue
        source, target = name.split("\t", 1)
        mark = datetime.fromtimestamp(score, UTC)
        old = client.hget(keys.cursors, name)
        if old is not None and datetime.fromisoformat(old.decode()) >= mark:
            mark = datetime.fromisoformat(old.decode())
        client.hset(keys.cursors, name, iso(mark) or "")
        done[(source, target)] = mark
    if state_path is not None and done:
        with CrawlState(state_path) as state:
            for (source, target), mark in done.items():
                state.advance_cursor(source, target, mark)
    pipe = client.pipeline(transaction=True)
    pipe.lrem(f"{prefix}:rounds", 0, round_id)
    for key in (keys.marks, f"{prefix}:round:{round_id}"):
        pipe.expire(key, int(ttl_hours * 3600))
    pipe.execute()
    return done, tuple(sorted(failed))


def start_tag_worker(settings: Settings, url: str, *, config_dir: Any = None, log: Any = None,
                     extra: Sequence[str] = ()) -> subprocess.Popen[bytes]:
    """A tag worker child process (``python -m crawlers tag``); the Redis URL travels in its environment."""
    env = _child_env(settings, config_dir, {"VOC_FRONTIER_URL": url})
    return subprocess.Popen([sys.executable, "-m", "crawlers", "tag", *extra], env=env, cwd=_ROOT,
                            stdin=subprocess.DEVNULL, stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT)


def start_crawl_worker(settings: Settings, url: str, *, config_dir: Any = None, log: Any = None,
                       poll: float = 0.5) -> subprocess.Popen[bytes]:
    """A crawl worker child process (``python -m crawlers worker``, what ``voc worker crawl`` runs)."""
    env = _child_env(settings, config_dir, {"VOC_FRONTIER_URL": url})
    return subprocess.Popen([sys.executable, "-m", "crawlers", "worker", "--poll", str(poll)], env=env, cwd=_ROOT,
                            stdin=subprocess.DEVNULL, stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT)


def run_round(settings: Settings, url: str, *, sources: Sequence[str] | None = None, product: str | None = None,
              since: str | datetime | None = None, tag_workers: int = 1, crawl_here: bool = True,
              timeout: float | None = None, config_dir: Any = None) -> RoundReport:
    """One crawl round on the Redis frontier, coordinated from here: publish it, crawl in a child of our own
    (``crawl_here``; workers elsewhere join), tag with ``tag_workers`` children of our own (0: rely on
    ``voc worker tag`` elsewhere), wait until it is complete, commit its cursors."""
    from crawlers.config import parse_since

    try:
        names, not_run = select_sources(settings, sources, product)
        since_dt = parse_since(since)
    except (KeyError, ValueError) as exc:
        raise CrawlError(str(exc.args[0] if isinstance(exc, KeyError) else exc)) from None
    r = settings.crawl.redis
    try:
        client = connect(url)
        client.ping()
    except Exception as exc:  # noqa: BLE001
        raise CrawlError(f"cannot reach the Redis frontier at {redact(url)}: {exc}") from None
    round_id = publish_round(client, r.prefix, sources=names, product=product, since=since_dt)
    log_dir = settings.resolve(settings.crawl.state_path).parent / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    taggers = []
    with open(log_dir / f"tag-{round_id}.log", "ab") as log:
        taggers = [start_tag_worker(settings, url, config_dir=config_dir, log=log) for _ in range(tag_workers)]
    deadline = time.monotonic() + timeout if timeout else None
    report = None
    complete = False
    try:
        if crawl_here and names:
            job = start_crawl(settings, sources=names, product=product, since=since_dt, config_dir=config_dir,
                              run_id=round_id, frontier=url)
            report = job.wait(timeout=timeout)
            report.not_run.update(not_run)
        while names:
            if round_complete(client, r.prefix, round_id):
                complete = True
                break
            if deadline is not None and time.monotonic() > deadline:
                break
            time.sleep(0.2)
        cursors, failed = commit_round(client, r.prefix, round_id, state_path=settings.resolve(settings.crawl.state_path),
                                       ttl_hours=r.round_ttl_hours) if complete else ({}, ())
    finally:
        for proc in taggers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in taggers:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return RoundReport(round_id, report, complete or not names, cursors, failed)


def crawl_worker(settings: Settings, url: str, *, stop: threading.Event | None = None, poll: float = 1.0,
                 config_dir: Any = None, on_round: Any = None) -> None:
    """``voc worker crawl``: join every round published on the frontier once (a crawl child per round); a child killed
    by a signal rejoins its round with a new worker id. Runs until ``stop`` is set or SIGTERM arrives."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    r = settings.crawl.redis
    client = connect(url)
    joined: set[str] = set()
    logger.info("crawl worker on %s (prefix %s)", redact(url), r.prefix)
    while not stop.is_set():
        try:
            rounds = [s for s in active_rounds(client, r.prefix) if s["id"] not in joined]
        except Exception as exc:  # noqa: BLE001 - Redis away past the client's retries
            logger.warning("frontier not reachable: %s", exc)
            stop.wait(poll)
            continue
        if not rounds:
            stop.wait(poll)
            continue
        spec = rounds[0]
        job = start_crawl(settings, sources=spec["sources"], product=spec.get("product"), since=spec.get("since"),
                          config_dir=config_dir, frontier=url, frontier_round=spec["id"])
        while job.proc is not None and job.proc.poll() is None and not stop.is_set():
            stop.wait(0.5)
        if stop.is_set():
            job.kill(signal.SIGTERM)
        report = job.wait()
        if on_round is not None:
            on_round(spec["id"], report)
        if report.returncode >= 0:
            joined.add(spec["id"])
