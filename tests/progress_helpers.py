"""Helpers of the progress and resume tests: run `voc` on a pseudo-terminal or with pipes, and seed an index.

The documents and files made here are constructed (counted texts in a few fixed phrasings), not captured:
what these tests check is counting, stopping and resuming, not tagging quality."""

from __future__ import annotations

import csv
import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VOC = [sys.executable, "-m", "app"]
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)
PHRASES = ("更新后验证码登录失败，登录不上", "界面很好看，云同步也快", "请问怎么导出PDF", "闪退了好几次，客服也不回",
           "扣费了但是会员没到账", "手写笔记很好用")


def voc_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOC_")}
    env.update({"VOC_HOME": str(home), "VOC_CLASSIFIER_MODEL": "rules", "PYTHONPATH": str(REPO),
                "VOC_CONFIG_DIR": str(REPO / "configs"), **extra})
    return env


def run_on_pty(args: list[str], env: dict[str, str], *, timeout: float = 240) -> tuple[int, str]:
    """Run ``voc ARGS`` with stdin, stdout and stderr on a 120×40 pseudo-terminal; return (exit code, output)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen([*VOC, *args], stdin=slave, stdout=slave, stderr=slave, env=env, cwd=REPO,
                            close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every holder of the terminal is gone
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None and not select.select([master], [], [], 0.2)[0]:
                break
        else:
            proc.kill()
            raise AssertionError(f"voc {' '.join(args)} ran past {timeout}s")
    finally:
        os.close(master)
    return proc.wait(timeout=30), b"".join(chunks).decode("utf-8", "replace")


def interrupt_when(args: list[str], env: dict[str, str], ready, *, timeout: float = 240) -> tuple[int, str, str]:
    """Run ``voc ARGS`` with pipes; send SIGINT once a stderr line satisfies ``ready(line)``; return
    (exit code, stdout, stderr). Fails when the command ended before that line came."""
    proc = subprocess.Popen([*VOC, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO,
                            text=True, encoding="utf-8")
    seen = []
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        if ready(line):
            proc.send_signal(signal.SIGINT)
            break
    else:
        proc.wait()
        raise AssertionError("the command ended before it could be interrupted:\n" + "".join(seen))
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, "".join(seen) + err


def progress_at(label: str, line: str) -> tuple[int, int | None] | None:
    """``classify: 1200/7766 rows (15%) …`` → (1200, 7766); another line → None."""
    if not line.startswith(label + ": "):
        return None
    count = line[len(label) + 2:].split(" ", 1)[0]
    done, _, total = count.partition("/")
    return int(done), int(total) if total else None


def midway(label: str):
    """A ``ready`` for :func:`interrupt_when`: the first progress line of ``label`` with work done but not all."""
    def ready(line: str) -> bool:
        at = progress_at(label, line)
        return at is not None and at[0] > 0 and (at[1] is None or at[0] < at[1])
    return ready


def write_texts(path: Path, n: int) -> None:
    """``n`` JSON lines ``{"id": i, "text": …}`` (plus one bad line, which must be skipped and reported)."""
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": i, "text": f"{PHRASES[i % len(PHRASES)]}（第{i}条）"}, ensure_ascii=False) + "\n")
            if i == 7:
                fh.write("{not json\n")


def write_training_corpus(folder: Path, n: int = 400) -> Path:
    """A tiny waimai_10k.csv (label, review) — enough for a tiny model to train in seconds."""
    folder.mkdir(parents=True, exist_ok=True)
    good = ("好吃", "送餐很快", "味道不错", "包装很好", "分量足", "服务热情")
    bad = ("太难吃了", "送餐超时", "味道很差", "漏送了饮料", "分量太少", "态度恶劣")
    with (folder / "waimai_10k.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["label", "review"])
        for i in range(n):
            words = good if i % 2 else bad
            w.writerow([i % 2, f"{words[i % 6]}，{words[(i // 6) % 6]}{i}"])
    return folder


#: `voc train` options of a tiny model (seconds to train): the real training code, at toy size.
TINY_TRAINING = ["--set", "hidden_size=32", "--set", "num_layers=1", "--set", "num_heads=2",
                 "--set", "intermediate_size=64", "--set", "max_length=48", "--set", "template_rows=300",
                 "--set", "min_char_count=1", "--set", "ngram_buckets=1009", "--set", "ngram_epochs=1"]


def feedback_doc(tokenizer, n: int, text: str, *, created: datetime) -> dict:
    from crawlers.items import doc_id

    return {
        "id": doc_id("appstore", f"p{n}"), "source": "appstore", "source_id": f"p{n}",
        "url": f"https://example.com/post/{n}", "parent_id": None, "product": "qingji", "kind": "review", "title": "",
        "text": text, "raw_text": text, "tokens": " ".join(tokenizer(text)), "author_id": f"a{n}",
        "author_name": f"用户{n}", "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "crawled_at": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), "rating": 1 + n % 5, "app_version": "3.2.0",
        "platform": "ios", "likes": n % 7, "replies": 0, "reposts": 0, "sentiment": "neutral",
        "sentiment_score": 0.5, "intent": "other", "topics": [], "risk": [], "dup_of": None,
        "model_version": "seeded",
    }


def seed_index(home: Path, n: int, *, spread: timedelta = timedelta(days=20), spike_at: datetime | None = None,
               spike: int = 0) -> None:
    """``n`` documents in the configured SQLite index under ``home``, spread over the ``spread`` before NOW
    (every sixth negative), plus ``spike`` negative ones within the hour after ``spike_at``."""
    from classifier import make_tokenizer
    from configs import load_settings
    from index import open_index

    settings = load_settings(REPO / "configs", env={"VOC_HOME": str(home), "VOC_CLASSIFIER_MODEL": "rules"})
    tokenizer = make_tokenizer(settings)
    index = open_index(settings.index, home=settings.home, tokenizer=tokenizer, secrets=settings.secrets)
    try:
        step = spread / max(n, 1)
        batch = []
        for i in range(n):
            doc = feedback_doc(tokenizer, i, f"{PHRASES[i % len(PHRASES)]} {i}", created=NOW - step * i)
            batch.append({**doc, "sentiment": "negative"} if i % len(PHRASES) == 0 else doc)
            if len(batch) == 2000:
                index.upsert(batch)
                batch = []
        if batch:
            index.upsert(batch)
        if spike_at is not None and spike:
            index.upsert([{**feedback_doc(tokenizer, n + i, f"{PHRASES[0]}，又闪退 {i}",
                                          created=spike_at + timedelta(seconds=3600 * i // spike)),
                           "sentiment": "negative"} for i in range(spike)])
    finally:
        index.close()


def index_docs(home: Path, url: str | None = None) -> dict[str, dict]:
    """Every document of the index at ``url`` (default: the configured one) by id, for comparisons."""
    from classifier import make_tokenizer
    from configs import load_settings
    from index import open_index

    settings = load_settings(REPO / "configs", env={"VOC_HOME": str(home), "VOC_CLASSIFIER_MODEL": "rules"})
    index = open_index(settings.index, url=url, home=settings.home, tokenizer=make_tokenizer(settings),
                       secrets=settings.secrets)
    try:
        return {d["id"]: d for d in index.scan()}
    finally:
        index.close()
