"""Readers for the training corpora in shared/data (see its README for provenance), mapped to VOC labels.

Each reader yields ``{"text", "sentiment", "domain", "source"}``. Emotion labels map to sentiment:
joy-like → positive, anger/sadness/fear/disgust → negative, ``neutral`` (无情绪) → neutral; surprise is
ambiguous and dropped. BDCI car comments become neutral when every aspect row is neutral, otherwise
positive/negative when their signs agree (mixed comments are dropped).
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["read_all", "CORPORA"]

_EMO = {"happy": "positive", "happiness": "positive", "like": "positive", "angry": "negative", "anger": "negative",
        "sad": "negative", "sadness": "negative", "fear": "negative", "disgust": "negative", "neutral": "neutral"}
_COVID = {"0": "negative", "1": "negative", "2": "positive", "4": "positive", "5": "negative", "6": "negative"}


def _csv(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        yield from csv.DictReader(fh)


def _shopping(d: Path) -> Iterator[dict[str, Any]]:
    for r in _csv(d / "online_shopping_10_cats.csv"):
        yield {"text": r["review"], "sentiment": "positive" if r["label"] == "1" else "negative",
               "domain": r["cat"], "source": "online_shopping_10_cats"}


def _waimai(d: Path) -> Iterator[dict[str, Any]]:
    for r in _csv(d / "waimai_10k.csv"):
        yield {"text": r["review"], "sentiment": "positive" if r["label"] == "1" else "negative",
               "domain": "waimai", "source": "waimai_10k"}


def _jsonl_emotion(d: Path) -> Iterator[dict[str, Any]]:
    for sub, names in (("smp2020_ewect", ("usual_eval_labeled", "virus_train", "virus_eval_labeled",
                                          "virus_test_labeled")), ("clue_emotion2020", ("valid", "test"))):
        for name in names:
            with (d / sub / f"{name}.jsonl").open(encoding="utf-8") as fh:
                for line in fh:
                    r = json.loads(line)
                    label = _EMO.get(r["label"])
                    if label:
                        yield {"text": r["content"], "sentiment": label, "domain": "weibo", "source": f"{sub}/{name}"}


def _covid(d: Path) -> Iterator[dict[str, Any]]:
    for r in _csv(d / "covid19_weibo_emotion" / "labeledData.csv"):
        label = _COVID.get(r["label"].strip())
        if label:
            yield {"text": r["review"], "sentiment": label, "domain": "weibo", "source": "covid19_weibo_emotion"}


def _bdci(d: Path) -> Iterator[dict[str, Any]]:
    by_id: dict[str, tuple[str, set[int]]] = {}
    signs: dict[str, set[int]] = defaultdict(set)
    for r in _csv(d / "bdci2018_car_aspect" / "train_split.csv"):
        by_id[r["content_id"]] = (r["content"], set())
        signs[r["content_id"]].add(int(r["sentiment_value"]))
    for cid, (text, _) in by_id.items():
        s = signs[cid]
        label = "neutral" if s == {0} else "positive" if s <= {0, 1} else "negative" if s <= {0, -1} else None
        if label:
            yield {"text": text, "sentiment": label, "domain": "car_forum", "source": "bdci2018_car_aspect"}


def _absa(d: Path) -> Iterator[dict[str, Any]]:
    for f in sorted((d / "chinese_absa").glob("*.txt")):
        lines = [ln.strip() for ln in f.read_text(encoding="utf-8").splitlines()]
        for i in range(0, len(lines) - 2, 3):
            clause, aspect, pol = lines[i], lines[i + 1], lines[i + 2]
            text = clause.replace("$T$", aspect).replace(" ", "")
            if pol in ("Positive", "Negative"):
                yield {"text": text, "sentiment": pol.lower(), "domain": f"absa_{f.stem.split('.')[0]}",
                       "source": f"chinese_absa/{f.name}"}


CORPORA = {"online_shopping_10_cats": _shopping, "waimai_10k": _waimai, "weibo_emotion": _jsonl_emotion,
           "covid19_weibo_emotion": _covid, "bdci2018_car_aspect": _bdci, "chinese_absa": _absa}


def read_all(data_dir: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of every corpus present under ``data_dir``, and the names of the corpora found missing."""
    rows: list[dict[str, Any]] = []
    missing = []
    for name, reader in CORPORA.items():
        try:
            rows.extend(reader(data_dir))
        except FileNotFoundError:
            missing.append(name)
    return rows, missing
