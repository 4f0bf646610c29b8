"""What `voc search`, `voc label`, `voc export` and `voc digest` print (issue 22): short ids that `voc label`
accepts, titles, risk flags, copies of one text folded with a count, one configured time zone, `--facet
topic`, CSV with a BOM and XLSX, and where a digest went."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import cli
from index import SqliteIndex
from tests.helpers import REPO

WHEN = "2026-11-24T01:05:00Z"  # 09:05 in Shanghai, 02:05 in Berlin


@pytest.fixture
def home(tmp_path, settings):
    from classifier import make_tokenizer

    docs = [{"id": "a1b2c3d4e5f60718293a", "source": "heimao", "product": "qingji", "title": "扣费不退款",
             "text": "自动续费扣了钱不退，我要去12315投诉", "raw_text": "自动续费扣了钱不退<br>我要去12315投诉",
             "created_at": WHEN, "sentiment": "negative", "topics": ["payment"], "risk": ["regulator_threat"],
             "app_version": "3.2.0"}]
    for i in range(5):  # five copies of one sentence (reposts)
        docs.append({"id": f"ffff{i:016d}", "source": "weibo", "product": "qingji", "text": "登录不上了，一直转圈圈！",
                     "created_at": WHEN, "sentiment": "negative", "topics": ["login"]})
    ix = SqliteIndex(settings.sqlite_path(), tokenizer=make_tokenizer(settings))
    ix.upsert(docs)
    ix.close()
    return tmp_path


def run(home: Path, *args: str, config: Path = REPO / "configs"):
    env = {"VOC_HOME": str(home), "VOC_CLASSIFIER_MODEL": "rules", "VOC_INDEX_URL": "", "VOC_CONFIG_DIR": "",
           "VOC_WEBHOOK_URL": ""}
    return CliRunner().invoke(cli, ["--config", str(config), *args], env=env, catch_exceptions=False)


def test_search_shows_short_id_title_risk_and_local_time(home):
    result = run(home, "search", "投诉")
    assert result.exit_code == 0, result.output
    head = result.output.splitlines()[0]
    assert head.startswith("[1] a1b2c3d4e5 · heimao · 2026-11-24 09:05 · negative · payment · v3.2.0")
    assert "⚠ regulator_threat" in head
    assert result.output.splitlines()[1].strip() == "扣费不退款"  # the title
    assert "times in Asia/Shanghai" in result.output


def test_search_folds_copies_of_one_text_with_their_count(home):
    result = run(home, "search", "登录")
    assert result.exit_code == 0, result.output
    assert result.output.count("登录不上了，一直转圈圈！") == 1
    assert "×5 same text" in result.output
    assert "4 copies folded" in result.output
    assert result.output.rstrip().endswith("1–5 of 5 hits")


def test_search_time_zone_is_the_configured_one(home, tmp_path):
    config = tmp_path / "configs"
    shutil.copytree(REPO / "configs", config, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    voc = config / "voc.yaml"
    voc.write_text(voc.read_text("utf-8").replace("time_zone: Asia/Shanghai", "time_zone: Europe/Berlin"), "utf-8")
    result = run(home, "search", "投诉", config=config)
    assert "2026-11-24 02:05" in result.output and "times in Europe/Berlin" in result.output


def test_facet_accepts_the_query_language_names(home):
    result = run(home, "search", "--facet", "topic", "--facet", "version", "product:qingji")
    assert result.exit_code == 0, result.output
    assert "topics: login(登录/账号) 5, payment(" in result.output
    assert "app_version: 3.2.0 1" in result.output


def test_label_accepts_the_short_id_search_shows(home, settings):
    result = run(home, "label", "a1b2c3d4", "sentiment=neutral")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("corrected a1b2c3d4e5f60718293a: sentiment=neutral")
    with SqliteIndex(settings.sqlite_path(), tokenizer=str.split) as ix:
        assert ix.get("a1b2c3d4e5f60718293a")["sentiment"] == "neutral"
    ambiguous = run(home, "label", "ffff", "sentiment=neutral")
    assert ambiguous.exit_code == 1 and "start of several ids" in ambiguous.output
    missing = run(home, "label", "0000abcd", "sentiment=neutral")
    assert missing.exit_code == 1 and "voc search shows each hit's short id" in missing.output


def test_export_csv_has_a_bom_and_real_line_breaks(home, tmp_path):
    out = tmp_path / "x.csv"
    result = run(home, "export", "投诉", "--format", "csv", "--output", str(out))
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data[:3] == b"\xef\xbb\xbf"
    assert "tokens" not in data.decode("utf-8-sig").splitlines()[0].split(",")
    assert "自动续费扣了钱不退\n我要去12315投诉" in data.decode("utf-8-sig") and b"<br>" not in data
    plain = run(home, "export", "投诉", "--format", "csv", "--no-bom")
    assert plain.stdout_bytes.startswith(b"id,")


def test_export_xlsx_opens_in_openpyxl(home, tmp_path):
    from openpyxl import load_workbook

    out = tmp_path / "x.xlsx"
    result = run(home, "export", "product:qingji", "--format", "xlsx", "--output", str(out))
    assert result.exit_code == 0 and "exported 6 documents" in result.output
    ws = load_workbook(out, read_only=True).active
    rows = list(ws.iter_rows(values_only=True))
    header = rows[0]
    assert len(rows) == 7 and header[0] == "id"
    by_id = {r[0]: dict(zip(header, r)) for r in rows[1:]}
    assert by_id["a1b2c3d4e5f60718293a"]["text"] == "自动续费扣了钱不退，我要去12315投诉"
    assert by_id["a1b2c3d4e5f60718293a"]["risk"] == "regulator_threat"


def test_digest_says_where_it_went(home):
    result = run(home, "digest", "--period", "day", "--now", "2026-11-24T06:30:00Z")
    assert result.exit_code == 0, result.output
    log = home / "data" / "alerts.log"
    assert f"→ product-team/alert-log (log) {log}: sent" in result.output
    assert json.loads(log.read_text("utf-8").splitlines()[0])["event"] == "digest"



def test_alert_summaries_show_in_the_configured_time_zone():
    from app.cli._show import localize

    text = "40 in 6h vs baseline 3, window 2026-11-24T01:00:00Z – 2026-11-24T07:00Z"
    assert localize(text, "Asia/Shanghai") == "40 in 6h vs baseline 3, window 2026-11-24 09:00 – 2026-11-24 15:00"
    assert localize(text, "UTC").endswith("2026-11-24 01:00 – 2026-11-24 07:00")


def test_export_limit_bounds_the_rows(home, settings):
    from index import SearchQuery
    from index.service import export

    out = io.BytesIO()
    with SqliteIndex(settings.sqlite_path(), tokenizer=str.split) as ix:
        assert export(ix, SearchQuery(), out, fmt="csv", limit=2) == 2
    import csv

    assert len(list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"))))) == 3  # header + 2


def test_digest_with_no_subscriber_says_so(home, tmp_path):
    config = tmp_path / "configs"
    shutil.copytree(REPO / "configs", config, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    alerts = config / "alerts.yaml"
    text = alerts.read_text("utf-8")
    assert "    min_severity: info\n" in text
    alerts.write_text(text.replace("    min_severity: info\n", "    min_severity: info\n    digest: false\n"), "utf-8")
    result = run(home, "digest", "--period", "day", "--now", "2026-11-24T06:30:00Z", config=config)
    assert result.exit_code == 0, result.output
    assert "not sent — no subscriber in" in result.output and "has `digest: true`" in result.output
    assert not (home / "data" / "alerts.log").exists()
