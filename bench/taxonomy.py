"""Topics at once: hand-written taxonomies (keywords + five invented examples per topic,
``bench/taxonomies/*.yaml``) scored against the topic labels of shared/data sets, with no training on those
labels; keywords-only in the same run (issue 17, Build 4).

    .venv/bin/python bench/taxonomy.py --data ../shared/data [--max 2000]

Sets: BDCI 2018 car subjects (multi-label per comment), gov_citizen_messages (subject + details),
fewclue_tnews test_public, thucnews_titles test.csv, ASAP samples (the five aspect-category groups, a
group counts when any of its aspects is mentioned). Score: micro-F1 of the predicted topic sets against the
gold sets (a text may get several topics or none, as in production tagging). ``examples`` is
:class:`classifier.topics.TopicTagger` (keywords, plus evidence from the examples' distinctive n-grams).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TAX = REPO / "bench" / "taxonomies"
ASAP_GROUPS = ("location", "service", "price", "environment", "dish")


def _csv(path: Path):
    with path.open(encoding="utf-8-sig", newline="") as fh:
        yield from csv.DictReader(fh)


def load_sets(data: Path) -> dict[str, list[tuple[str, set[str]]]]:
    ids = {"动力": "power", "价格": "price", "油耗": "fuel", "操控": "handling", "舒适性": "comfort", "配置": "equipment",
           "安全性": "safety", "内饰": "interior", "外观": "exterior", "空间": "space"}
    car: dict[str, tuple[str, set[str]]] = {}
    for r in _csv(data / "bdci2018_car_aspect" / "train_split.csv"):
        car.setdefault(r["content_id"], (r["content"], set()))[1].add(ids[r["subject"]])
    gov_ids = {"劳动和社会保障": "labour", "城乡建设": "urban", "教育文体": "education", "卫生计生": "health",
               "交通运输": "transport", "商贸旅游": "commerce", "环境保护": "environment"}
    gov = [(r["subject"] + "。" + r["details"], {gov_ids[r["category"]]}) for r in _csv(data / "gov_citizen_messages" / "messages.csv")]
    tnews = []
    with (data / "fewclue_tnews" / "test_public.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            tnews.append((r["sentence"], {r["label_desc"]}))
    thuc = [(r["text"], {r["label_name"]}) for r in _csv(data / "thucnews_titles" / "test.csv")]
    asap = []
    for name in ("train_sample", "dev_sample", "test_sample"):
        for r in _csv(data / "asap_samples" / f"{name}.csv"):
            gold = {g for g in ASAP_GROUPS for k, v in r.items() if k and k.startswith(g) and v.strip() not in ("-2", "")}
            asap.append((r["reviewbody"], gold))
    return {"bdci_car": list(car.values()), "gov_messages": gov, "tnews": tnews, "thucnews": thuc, "asap": asap}


def micro_f1(gold: list[set[str]], pred: list[tuple[str, ...]]) -> float:
    tp = sum(len(g & set(p)) for g, p in zip(gold, pred))
    fp = sum(len(set(p) - g) for g, p in zip(gold, pred))
    fn = sum(len(g - set(p)) for g, p in zip(gold, pred))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--max", type=int, default=2000, help="texts per set at most (seeded sample)")
    args = ap.parse_args(argv)
    from classifier.normalize import classification_text
    from classifier.rules import TopicMatcher
    from classifier.topics import TopicTagger
    from configs.topics import load_topics_file

    if not args.data.is_dir():
        print(f"bench/taxonomy.py: no data directory {args.data}; pass --data PATH (shared/data)", file=sys.stderr)
        return 2
    try:
        sets = load_sets(args.data)
    except FileNotFoundError as exc:
        print(f"bench/taxonomy.py: {exc.filename} is missing under {args.data}", file=sys.stderr)
        return 2
    print(f"{'set':14} {'n':>5} {'topics':>6} | {'keywords':>8} {'examples':>8} {'gain':>6}")
    totals = defaultdict(list)
    for name, rows in sets.items():
        rows = list(rows)
        random.Random(0).shuffle(rows)
        rows = rows[: args.max]
        topics = load_topics_file(str(TAX / f"{name}.yaml")).topics
        texts = [classification_text(t) for t, _ in rows]
        gold = [g for _, g in rows]
        kw = micro_f1(gold, [TopicMatcher(topics)(t) for t in texts])
        tagger = TopicTagger(topics)
        ex = micro_f1(gold, [tagger(t) for t in texts])
        totals["keywords"].append(kw)
        totals["examples"].append(ex)
        print(f"{name:14} {len(rows):>5} {len(topics):>6} | {kw:8.3f} {ex:8.3f} {ex - kw:+6.3f}", flush=True)
    kw, ex = (sum(v) / len(v) for v in (totals["keywords"], totals["examples"]))
    print(f"{'mean':14} {'':>5} {'':>6} | {kw:8.3f} {ex:8.3f} {ex - kw:+6.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
