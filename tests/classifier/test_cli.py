from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import cli

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def run(tmp_path: Path):
    env = {"VOC_HOME": str(tmp_path), "VOC_CLASSIFIER_MODEL": "rules", "VOC_CONFIG_DIR": str(REPO / "configs"),
           "VOC_INDEX_URL": "sqlite:///data/voc.db"}

    def invoke(*args: str):
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    return invoke


def test_classify_csv_keeps_rows_adds_tags_and_reports_bad_rows(run, tmp_path: Path) -> None:
    src = tmp_path / "tickets.csv"
    src.write_text("id,body,channel\n"
                   "1,更新后一打开就闪退，我要去12315投诉,app\n"
                   "2,,email\n"                       # empty text: bad row
                   "3,希望能增加夜间模式,app,EXTRA\n"  # too many fields: bad row
                   '4,"軟體很好用，推薦",survey\n', encoding="utf-8")
    out = tmp_path / "out" / "tagged.jsonl"
    res = run("classify", "--input", str(src), "--text-col", "body", "--output", str(out))
    assert res.exit_code == 0, res.output
    assert "tagged 2 of 4 rows with rules-1" in res.output
    assert "skipped line 3: empty 'body'" in res.output
    assert "skipped line 4: 1 more field(s) than the header" in res.output
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["1", "4"]
    assert rows[0]["channel"] == "app" and rows[0]["body"].startswith("更新后")
    # a crash report with a threat to complain: intent bug (classifier/eval/README.md), the threat a risk flag
    assert rows[0]["sentiment"] == "negative" and rows[0]["intent"] == "bug"
    assert rows[0]["topics"] == ["crash", "update"] and rows[0]["risk"] == ["regulator_threat"]
    assert rows[1]["sentiment"] == "positive"
    assert set(rows[1]) == {"id", "body", "channel", "sentiment", "sentiment_score", "intent", "topics", "risk"}


def test_classify_jsonl_with_other_taxonomy(run, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "快递太慢了"}\nnot json\n[1]\n{"text": 5}\n{"text": "闪退"}\n', encoding="utf-8")
    topics = tmp_path / "topics.yaml"
    topics.write_text("topics:\n  - id: shipping\n    name: 物流\n    keywords: [快递]\n", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    res = run("classify", "--input", str(src), "--output", str(out), "--topics", str(topics))
    assert res.exit_code == 0, res.output
    assert "tagged 2 of 5 rows" in res.output
    assert "skipped line 2: invalid JSON" in res.output and "skipped line 3: not a JSON object" in res.output
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [r["topics"] for r in rows] == [["shipping"], []]


def test_classify_errors_are_one_line(run, tmp_path: Path) -> None:
    src = tmp_path / "a.csv"
    src.write_text("x,y\n1,2\n", encoding="utf-8")
    res = run("classify", "--input", str(src), "--text-col", "body", "--output", str(tmp_path / "o.jsonl"))
    assert res.exit_code == 1 and "no column 'body'; columns: x, y" in res.output
    res = run("classify", "--input", str(tmp_path / "a.xlsx"), "--output", str(tmp_path / "o.jsonl"))
    assert res.exit_code == 1 and "use .csv or .jsonl" in res.output


def test_eval_prints_metrics_per_head(run, tmp_path: Path) -> None:
    src = tmp_path / "gold.jsonl"
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"text": "一打开就闪退", "s": "negative", "intent": "bug", "topics": ["crash"]},
        {"text": "非常好用", "s": "positive", "intent": "praise", "topics": []},
        {"text": "今天更新了", "s": "positive", "intent": "other", "topics": ["update"]},
    ]), encoding="utf-8")
    res = run("eval", "--input", str(src), "--label-col", "sentiment=s", "--label-col", "intent", "--label-col", "topics")
    assert res.exit_code == 0, res.output
    assert "model: rules-1; rows: 3" in res.output
    assert "sentiment: n=3, accuracy=0.6667" in res.output
    assert "intent: n=3, accuracy=1.0" in res.output
    assert "topics: n=3, micro_f1=1.0" in res.output
    res = run("eval", "--input", str(src), "--label-col", "mood")
    assert res.exit_code == 2


def test_train_without_data_says_so(run, tmp_path: Path) -> None:
    res = run("train", "--data", str(tmp_path / "missing"))
    assert res.exit_code == 1
    assert "training data folder" in res.output and "not found — pass --data DIR" in res.output


def _doc(doc_id: str, text: str) -> dict:
    return {"id": doc_id, "source": "appstore", "source_id": doc_id, "url": "", "parent_id": None, "product": "demo",
            "kind": "review", "title": "", "text": text, "raw_text": text, "tokens": text, "author_id": None,
            "author_name": None, "created_at": "2026-11-24T03:05:00Z", "crawled_at": "2026-11-24T03:06:00Z",
            "rating": 1, "app_version": None, "platform": "ios", "likes": 0, "replies": 0, "reposts": 0,
            "sentiment": "positive", "sentiment_score": 0.7, "intent": "praise", "topics": [], "risk": [],
            "dup_of": None, "model_version": "rules-1"}


def test_label_stores_correction_and_updates_indexed_doc(run, tmp_path: Path) -> None:
    pytest.importorskip("index")
    from classifier import make_tokenizer
    from classifier.corrections import open_store
    from configs import load_settings
    from index import open_index

    s = load_settings(REPO / "configs", env={"VOC_HOME": str(tmp_path), "VOC_CLASSIFIER_MODEL": "rules",
                                              "VOC_INDEX_URL": "sqlite:///data/voc.db"})
    ix = open_index(s.index, home=s.home, tokenizer=make_tokenizer(s), secrets=s.secrets)
    ix.upsert([_doc("abc", "登录一直失败，绝了")])
    ix.close()

    res = run("label", "abc", "sentiment=negative", "topics=login,sync")
    assert res.exit_code == 0, res.output
    assert "corrected abc: sentiment=negative, topics=login,sync" in res.output
    ix = open_index(s.index, home=s.home, tokenizer=make_tokenizer(s), secrets=s.secrets)
    doc = ix.get("abc")
    ix.close()
    assert doc["sentiment"] == "negative" and doc["topics"] == ["login", "sync"] and doc["intent"] == "praise"
    with open_store(s) as store:
        assert store.training_rows() == [{"text": "登录一直失败，绝了",
                                          "sentiment": "negative", "topics": ["login", "sync"]}]

    assert run("label", "nope", "sentiment=negative").exit_code == 1
    bad = run("label", "abc", "topics=shipping")
    assert bad.exit_code == 1 and "unknown topic 'shipping'" in bad.output


def test_every_command_has_help(run) -> None:
    for name in ("classify", "train", "eval", "label"):
        res = run(name, "--help")
        assert res.exit_code == 0 and len(res.output.splitlines()) > 3


def test_train_uses_corrections_and_writes_a_loadable_model(run, tmp_path: Path) -> None:
    from classifier.corrections import open_store
    from classifier.loading import load_model_classifier
    from configs import load_settings

    data = tmp_path / "corpora"
    data.mkdir()
    good = ["很好吃，送得快", "味道不错，下次还点", "分量足，好评", "非常满意"]
    bad = ["太难吃了", "送了两个小时，凉了", "差评，再也不点", "菜都洒了"]
    lines = ["label,review"] + [f"1,{t}{i}" for i in range(6) for t in good] + [f"0,{t}{i}" for i in range(6) for t in bad]
    (data / "waimai_10k.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    s = load_settings(REPO / "configs", env={"VOC_HOME": str(tmp_path), "VOC_CLASSIFIER_MODEL": "rules"})
    with open_store(s) as store:
        store.add("doc1", text="这个功能真是绝绝子", sentiment="positive", topics=("ui",))
    out = tmp_path / "model"
    res = run("train", "--data", str(data), "--output", str(out), "--epochs", "1", "--max-minutes", "2")
    assert res.exit_code == 0, res.output
    assert f"saved {out}" in res.output and "(1 corrections used)" in res.output
    assert "left-out domain:" in res.output
    clf = load_model_classifier(out, threads=1)
    assert clf.model_version.startswith("voc-small-")
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "## Measured metrics" in card and "corrections" in card


def test_train_with_no_known_corpora_says_so(run, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    res = run("train", "--data", str(tmp_path / "empty"))
    assert res.exit_code == 1 and "none of the training corpora is there" in res.output


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-8", "utf-16", "utf-16-le", "utf-16-be"])
def test_classify_detects_the_input_encoding(run, tmp_path: Path, encoding: str) -> None:
    # What Excel saves: "CSV" on Chinese Windows is GBK; "Unicode text" is UTF-16; "CSV UTF-8" has a BOM.
    src = tmp_path / "excel.csv"
    src.write_bytes("编号,反馈内容\r\n1,更新后一打开就闪退\r\n2,同步很快，界面好看\r\n".encode(encoding))
    out = tmp_path / "o.jsonl"
    res = run("classify", "--input", str(src), "--text-col", "反馈内容", "--output", str(out))
    assert res.exit_code == 0, res.output
    assert "tagged 2 of 2 rows" in res.output
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [r["编号"] for r in rows] == ["1", "2"]
    assert rows[0]["反馈内容"] == "更新后一打开就闪退" and rows[0]["topics"] == ["crash", "update"]


def test_classify_refuses_undecodable_bytes_in_one_line(run, tmp_path: Path) -> None:
    src = tmp_path / "binary.csv"
    src.write_bytes(b"text\n" + bytes(range(0x80, 0x100)) * 4)
    res = run("classify", "--input", str(src), "--output", str(tmp_path / "o.jsonl"))
    assert res.exit_code == 1 and "save it as UTF-8" in res.output
