"""alerts.yaml schema: every requirement fails fast naming the file, the key and the reason."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

import alerts
from configs import ConfigError, load_settings
from configs.alerts import Channel, format_duration, parse_duration

REPO = Path(__file__).resolve().parents[2]


def _load(tmp_path, mutate):
    cdir = tmp_path / "configs"
    shutil.copytree(REPO / "configs", cdir, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    data = yaml.safe_load((cdir / "alerts.yaml").read_text("utf-8"))
    mutate(data)
    (cdir / "alerts.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return load_settings(cdir, env={"VOC_HOME": str(tmp_path)})


def test_shipped_file_loads_with_every_rule_kind(settings):
    kinds = {r.kind for r in settings.alerts.rules}
    assert kinds == {"volume_spike", "emerging_terms", "rating_drop", "high_risk"}
    assert settings.alerts.rule("negative-volume-spike").window == timedelta(hours=6)  # converted once, at load
    hook = settings.alerts.channel("team-webhook")
    assert (hook.kind, hook.url_env, hook.secret_env) == ("webhook", "VOC_WEBHOOK_URL", "VOC_WEBHOOK_SECRET")
    assert settings.alerts.channel("alert-log").path == "data/alerts.log"


@pytest.mark.parametrize("mutate,key,reason", [
    (lambda d: d["rules"][0].update(kind="spike"), "rules[0].kind", "expected one of 'volume_spike'"),
    (lambda d: d["rules"][0].update(window="6x"), "rules[0].window", "expected a positive duration like 30m"),
    (lambda d: d["rules"][0].update(window="²h"), "rules[0].window", "expected a positive duration like 30m"),
    (lambda d: d["rules"][0].update(history="6h"), "rules[0]", "history (6h) must be longer than window (6h)"),
    (lambda d: d["rules"][0].update(ratio=1.0), "rules[0]", "ratio must be above 1.0"),
    (lambda d: d["rules"][0].update(window="90m"), "rules[0]", "window 90m must be a whole number of hours"),
    (lambda d: d["rules"][3].update(risk=["rumour"]), "rules[3]", "risk must list some of media_threat"),
    (lambda d: d["rules"].append(dict(d["rules"][0])), "(top level)", "rule names must be unique, repeated: negative-volume-spike"),
    (lambda d: d["channels"][1].pop("url_env"), "channels[1]", "channel 'team-webhook' (webhook) needs url or url_env"),
    (lambda d: d["channels"].append({"name": "mail", "kind": "email", "host": "smtp"}), "channels[2]", "needs sender"),
    (lambda d: d["subscribers"][0].update(channels=["pager"]), "(top level)", "names unknown channel(s): pager"),
    (lambda d: d["subscribers"][0].update(min_severity="high"), "subscribers[0].min_severity", "expected one of 'info'"),
    (lambda d: d["outbox"].update(backoff="soon"), "outbox.backoff", "expected a positive duration"),
    (lambda d: d["outbox"].update(backoff="2h"), "outbox", "backoff_max (1h) must not be shorter than backoff (2h)"),
    (lambda d: d["rules"][2].update(sentiment="negative"), "rules[2].sentiment",
     "'sentiment' is not used by rating_drop rules; remove it (rating_drop rules use low_share_increase, mean_drop, "
     "min_reviews"),
    (lambda d: d["rules"][3].update(min_count=1), "rules[3].min_count", "'min_count' is not used by high_risk rules"),
    (lambda d: d["rules"][0].update(max_terms=3), "rules[0].max_terms",
     "'max_terms' is not used by volume_spike rules"),
    (lambda d: d["rules"][1].update(severity="info"), "rules[1].severity", "not used by emerging_terms rules"),
    (lambda d: d["rules"][0].update(windw="6h"), "rules[0].windw", "unknown key (known keys:"),
    (lambda d: d["channels"][1].update(timeout=0), "channels[1]", "timeout must be between 0 and 300 seconds"),
    (lambda d: d["channels"][1].update(timeout=200), "(top level)",
     "channel 'team-webhook': timeout (200s) must be shorter than outbox.lease (2m)"),
    # closing the loop (issue 19): fixes, escalation, trackers, replies
    (lambda d: d["fixes"].update(observe="30m"), "fixes", "observe must be a duration of at least 1h"),
    (lambda d: d["fixes"].update(max_ratio=1.5), "fixes", "max_ratio must be at least 0 and below 1"),
    (lambda d: d["escalation"]["ack_within"].update(urgent="5m"), "escalation", "unknown severity 'urgent'"),
    (lambda d: d["escalation"]["ack_within"].update(critical="soon"), "escalation.ack_within.critical",
     "expected a positive duration"),
    (lambda d: d["subscribers"][0].update(level=3), "subscribers[0]", "level must be 0 (told at once) or 1"),
    (lambda d: d["trackers"][1].update(repo="nope"), "trackers[1]", "needs repo: owner/name"),
    (lambda d: d["trackers"][0].update(kind="trello"), "trackers[0].kind", "expected one of 'jira'"),
    (lambda d: d["trackers"].append(dict(d["trackers"][0])), "(top level)", "tracker names must be unique"),
    (lambda d: d["replies"]["templates"].update(qingji="{user} 您好"), "replies", "unknown field(s) {user}"),
    (lambda d: d["replies"]["templates"].update(qingji="{version"), "replies", "write literal braces"),
])
def test_invalid_values_name_file_key_and_reason(tmp_path, mutate, key, reason):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, mutate)
    assert err.value.file.endswith("alerts.yaml") and err.value.key == key and reason in err.value.reason


def test_durations():
    assert parse_duration("90m").total_seconds() == 5400 and parse_duration("2w").days == 14
    assert parse_duration("30s").total_seconds() == 30
    for bad in ("0h", "²h", "٣h", "1" * 12 + "s", "6 hours", ""):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert [format_duration(parse_duration(x)) for x in ("90m", "14d", "6h", "45s", "2w")] == \
        ["90m", "14d", "6h", "45s", "14d"]


def test_rule_durations_are_timedelta_after_loading(settings):
    """Converted once by configs._validate: no rule.duration("window") re-parsing at each use."""
    from configs.alerts import Rule

    rule = settings.alerts.rule("negative-volume-spike")
    for key in ("window", "history", "warmup", "resolve_after", "realert", "realert_max"):
        assert isinstance(getattr(rule, key), timedelta), key
    assert (rule.history, rule.warmup, rule.realert_max) == (timedelta(days=14), timedelta(days=3), timedelta(hours=24))
    outbox = settings.alerts.outbox
    assert (outbox.backoff, outbox.backoff_max, outbox.lease) == (timedelta(seconds=30), timedelta(hours=1),
                                                                  timedelta(minutes=2))
    assert not hasattr(Rule, "duration")


def test_check_config_names_an_unused_rule_key_and_exits_2(tmp_path):
    import os
    import subprocess
    import sys

    cdir = tmp_path / "configs"
    shutil.copytree(REPO / "configs", cdir, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    text = (cdir / "alerts.yaml").read_text("utf-8")
    text = text.replace("    severity: critical", "    severity: critical\n    sentiment: null")
    (cdir / "alerts.yaml").write_text(text, "utf-8")
    env = {**os.environ, "VOC_CONFIG_DIR": str(cdir), "VOC_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "app", "check-config"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2, result.stderr
    assert f"{cdir / 'alerts.yaml'}: rules[3].sentiment: 'sentiment' is not used by high_risk rules" in result.stderr


def test_channel_repr_hides_urls():
    ch = Channel(name="ding", kind="dingtalk", url="https://oapi.dingtalk.com/robot/send?access_token=SECRET123")
    assert "SECRET123" not in repr(ch) and "SECRET123" not in str(ch)


def test_public_surface():
    assert sorted(alerts.__all__) == sorted(set(alerts.__all__))
    for name in alerts.__all__:
        assert getattr(alerts, name) is not None
    assert {"evaluate", "deliver", "open_store", "ack", "resolve", "build_digest", "backtest"} <= set(alerts.__all__)


def test_every_rule_kind_channel_kind_and_command_is_documented():
    import typing

    from alerts.notifiers import NOTIFIERS
    from app.cli.alerts import alerts_group
    from configs.alerts import Rule

    doc = (REPO / "alerts" / "README.md").read_text("utf-8")
    kinds = typing.get_args(typing.get_type_hints(Rule)["kind"])
    for kind in kinds:
        assert f"### {kind}" in doc
    for kind in NOTIFIERS:
        assert f"| {kind} |" in doc
    for name, cmd in alerts_group.commands.items():
        assert cmd.help, name
        assert f"voc alerts {name}" in doc or f"· {name}" in doc or f"  {name} " in doc, name
    assert "voc digest" in doc
