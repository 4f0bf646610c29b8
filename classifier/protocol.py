"""The leave-one-corpus-out protocol's data: every sentiment-labelled corpus of shared/data as its own domain,
deduplicated across corpora, and the folds (train without a corpus, test on it). ``bench/loco.py`` runs it.

Each corpus yields ``(text, sentiment)`` with sentiment negative / neutral / positive; provenance and label
meanings are in shared/data/README.md. Emotion labels map as in :mod:`classifier._corpora` (surprise dropped;
无情绪 / none → neutral). Each online_shopping_10_cats category is its own corpus. Star ratings: 1–2 negative,
4–5 positive, 3 dropped. Aspect sets: a review whose aspects all agree takes that polarity; mixed ones are
dropped.

Deduplication: texts are compared on a key (normalized text, punctuation and spaces removed). Inside a
corpus a key with conflicting labels is dropped and repeats are kept once. A fold's training rows exclude
every row whose key, or whose first 20 key characters, also occur in the held-out corpus — the overlaps the
data README names (NLPCC 2014 Weibo posts inside the COVID-19 set, reviews shared by nlpcc2014 and
online_shopping, …) never reach both sides.
"""

from __future__ import annotations

import csv
import functools
import json
import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from classifier._corpora import _COVID, _EMO
from classifier.normalize import classification_text

__all__ = ["Corpus", "DataMissing", "load_corpora", "fold_rows", "key_of", "CORPUS_NAMES", "SHOPPING_CATS"]

SHOPPING_CATS = ("书籍", "平板", "手机", "水果", "洗发水", "热水器", "蒙牛", "衣服", "计算机")
_LAB = {"1": "positive", "0": "negative", "pos": "positive", "neg": "negative", "Positive": "positive",
        "Negative": "negative"}
_NLPCC = {**_EMO, "none": "neutral"}


class DataMissing(FileNotFoundError):
    """shared/data (or a file the protocol needs in it) is absent."""


@dataclass
class Corpus:
    name: str
    rows: list[tuple[str, str]]  # (classification text, sentiment), deduplicated
    #: the labels that occur: a corpus with neutral gets a 3-way score too
    labels: frozenset[str]


def _csv(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        yield from csv.DictReader(fh)


def _jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _shopping(d: Path, cat: str) -> Iterator[tuple[str, str]]:
    for r in _csv(d / "online_shopping_10_cats.csv"):
        if r["cat"] == cat:
            yield r["review"], _LAB[r["label"]]


def _aspect_file(path: Path) -> Iterator[tuple[str, str]]:
    """3-line aspect files: review-level polarity when all of a review's aspects agree."""
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    by_text: dict[str, set[str]] = defaultdict(set)
    order: list[str] = []
    for i in range(0, len(lines) - 2, 3):
        clause, aspect, pol = lines[i], lines[i + 1], lines[i + 2]
        text = clause.replace("$T$", aspect).replace(" ", "")
        if pol in ("Positive", "Negative"):
            if text not in by_text:
                order.append(text)
            by_text[text].add(pol.lower())
    for text in order:
        if len(by_text[text]) == 1:
            yield text, next(iter(by_text[text]))


def _emotion(path: Path, field: str, mapping: dict[str, str]) -> Iterator[tuple[str, str]]:
    for r in _jsonl(path):
        label = mapping.get(r.get("label") or r.get("emotion_1") or "")
        if label:
            yield r[field], label


def _sources() -> dict[str, Callable[[Path], Iterator[tuple[str, str]]]]:
    s: dict[str, Callable[[Path], Iterator[tuple[str, str]]]] = {}
    for cat in SHOPPING_CATS:
        s[f"shopping:{cat}"] = functools.partial(_shopping, cat=cat)
    s["waimai_10k"] = lambda d: ((r["review"], _LAB[r["label"]]) for r in _csv(d / "waimai_10k.csv"))
    s["smp2020_usual"] = lambda d: _emotion(d / "smp2020_ewect" / "usual_eval_labeled.jsonl", "content", _EMO)
    s["smp2020_virus"] = lambda d: (x for n in ("virus_train", "virus_eval_labeled", "virus_test_labeled")
                                    for x in _emotion(d / "smp2020_ewect" / f"{n}.jsonl", "content", _EMO))
    s["clue_emotion2020"] = lambda d: (x for n in ("valid", "test")
                                       for x in _emotion(d / "clue_emotion2020" / f"{n}.jsonl", "content", _EMO))
    s["covid19_weibo_emotion"] = lambda d: (
        (r["review"], _COVID[r["label"].strip()]) for r in _csv(d / "covid19_weibo_emotion" / "labeledData.csv")
        if r["label"].strip() in _COVID)
    s["nlpcc2014_weibo_emotion"] = lambda d: (
        x for n in ("emotion_classification_test", "expression_train", "expression_test")
        for x in _emotion(d / "nlpcc2014_weibo_emotion" / f"{n}.jsonl", "text", _NLPCC))
    s["bdci2018_car_aspect"] = _bdci
    s["chinese_absa"] = lambda d: (x for f in sorted((d / "chinese_absa").glob("*.txt")) for x in _aspect_file(f))
    s["absa_mooc"] = lambda d: (x for f in sorted((d / "absa_mooc").glob("*.txt")) for x in _aspect_file(f))
    s["appstore_reviews_cn"] = lambda d: ((r["text"], _LAB[r["label"]])
                                          for r in _csv(d / "appstore_reviews_cn" / "appstore_reviews.csv"))
    s["nlpcc2014_product_reviews"] = lambda d: ((r["text"], _LAB[r["label"]]) for n in ("train", "test")
                                                for r in _csv(d / "nlpcc2014_product_reviews" / f"{n}.csv"))
    s["weibo2018"] = lambda d: ((r["text"], _LAB[r["label"]]) for n in ("train", "test")
                                for r in _csv(d / "weibo2018" / f"{n}.csv"))
    s["weibo_senti_100k_sample"] = lambda d: (
        (r["review"], _LAB[r["label"]]) for r in _csv(d / "weibo_senti_100k_sample" / "weibo_senti_100k_sample.csv"))
    s["fewclue_eprstmt"] = lambda d: ((r["sentence"], _LAB[r["label"]]) for n in ("train_few_all", "dev_few_all",
                                      "test_public") for r in _jsonl(d / "fewclue_eprstmt" / f"{n}.jsonl"))
    s["tw_app_reviews"] = lambda d: (
        (r["review_text"], "negative" if r["rating"] in ("1", "2") else "positive")
        for r in _csv(d / "tw_app_reviews" / "app_reviews.csv") if r["rating"] in ("1", "2", "4", "5"))
    return s


def _bdci(d: Path) -> Iterator[tuple[str, str]]:
    text: dict[str, str] = {}
    signs: dict[str, set[int]] = defaultdict(set)
    for r in _csv(d / "bdci2018_car_aspect" / "train_split.csv"):
        text[r["content_id"]] = r["content"]
        signs[r["content_id"]].add(int(r["sentiment_value"]))
    for cid, t in text.items():
        s = signs[cid]
        label = "neutral" if s == {0} else "positive" if s <= {0, 1} else "negative" if s <= {0, -1} else None
        if label:
            yield t, label


SOURCES = _sources()
CORPUS_NAMES = tuple(SOURCES)
_PUNCT = re.compile(r"[\W_]+", re.UNICODE)


def key_of(text: str) -> str:
    """The deduplication key: classification text without punctuation, spaces or case."""
    return _PUNCT.sub("", text.lower())


def load_corpora(data: Path, names: tuple[str, ...] = CORPUS_NAMES) -> list[Corpus]:
    """Every named corpus, read from ``data`` (shared/data); :class:`DataMissing` says what is absent."""
    if not data.is_dir():
        raise DataMissing(f"no data directory {data}: the protocol needs shared/data "
                          "(pass --data PATH to the folder whose README.md lists the corpora)")
    out = []
    for name in names:
        try:
            raw = list(SOURCES[name](data))
        except FileNotFoundError as exc:
            raise DataMissing(f"corpus {name}: {exc.filename} is missing under {data}") from exc
        labels: dict[str, set[str]] = defaultdict(set)
        texts: dict[str, str] = {}
        for text, label in raw:
            t = classification_text((text or "").replace("\ufeff", ""))
            k = key_of(t)
            if len(k) < 2:
                continue
            labels[k].add(label)
            texts.setdefault(k, t)
        rows = [(texts[k], next(iter(v))) for k, v in labels.items() if len(v) == 1]
        out.append(Corpus(name, rows, frozenset(lab for _, lab in rows)))
    return out


def fold_rows(corpora: list[Corpus], held_out: str, *, max_train_per_corpus: int, max_test: int,
              seed: int = 0) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """(training rows ``(text, label, corpus)`` from every other corpus, test rows of ``held_out``).

    Training rows whose key or 20-character key prefix occurs in the held-out corpus are dropped, and a key
    is used once across the training corpora. Each training corpus contributes at most
    ``max_train_per_corpus`` rows and the test part at most ``max_test`` (seeded random samples)."""
    test_corpus = next(c for c in corpora if c.name == held_out)
    held_keys = {key_of(t) for t, _ in test_corpus.rows}
    held_prefix = {k[:20] for k in held_keys if len(k) >= 20}
    rnd = random.Random(f"{seed}:{held_out}")
    seen: set[str] = set()
    train: list[tuple[str, str, str]] = []
    for c in corpora:
        if c.name == held_out:
            continue
        kept = []
        for t, lab in c.rows:
            k = key_of(t)
            if k in held_keys or k in seen or (len(k) >= 20 and k[:20] in held_prefix):
                continue
            seen.add(k)
            kept.append((t, lab, c.name))
        rnd.shuffle(kept)
        train.extend(kept[:max_train_per_corpus])
    test = list(test_corpus.rows)
    rnd.shuffle(test)
    return train, test[:max_test]
