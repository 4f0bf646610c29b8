"""alerts.yaml schema: every requirement fails fast naming the file, the key and the reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

import alerts
from configs import ConfigError, load_settings
from configs.alerts import Channel, parse_duration

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
    assert settings.alerts.rule("negative-volume-spike").window == "6h"
    hook = settings.alerts.channel("team-webhook")
    assert (hook.kind, hook.url_env, hook.secret_env) == ("webhook", "VOC_WEBHOOK_URL", "VOC_WEBHOOK_SECRET")
    assert settings.alerts.channel("alert-log").path == "data/alerts.log"


@pytest.mark.parametrize("mutate,key,reason", [
    (lambda d: d["rules"][0].update(kind="spike"), "rules[0].kind", "expected one of 'volume_spike'"),
    (lambda d: d["rules"][0].update(window="6x"), "rules[0]", "window: expected a positive duration like 30m"),
    (lambda d: d["rules"][0].update(history="6h"), "rules[0]", "history (6h) must be longer than window (6h)"),
    (lambda d: d["rules"][0].update(ratio=1.0), "rules[0]", "ratio must be above 1.0"),
    (lambda d: d["rules"][0].update(window="90m"), "rules[0]", "window 90m must be a whole number of hours"),
    (lambda d: d["rules"][3].update(risk=["rumour"]), "rules[3]", "risk must list some of media_threat"),
    (lambda d: d["rules"].append(dict(d["rules"][0])), "(top level)", "rule names must be unique, repeated: negative-volume-spike"),
    (lambda d: d["channels"][1].pop("url_env"), "channels[1]", "channel 'team-webhook' (webhook) needs url or url_env"),
    (lambda d: d["channels"].append({"name": "mail", "kind": "email", "host": "smtp"}), "channels[2]", "needs sender"),
    (lambda d: d["subscribers"][0].update(channels=["pager"]), "(top level)", "names unknown channel(s): pager"),
    (lambda d: d["subscribers"][0].update(min_severity="high"), "subscribers[0].min_severity", "expected one of 'info'"),
    (lambda d: d["outbox"].update(backoff="soon"), "outbox", "expected a positive duration"),
])
def test_invalid_values_name_file_key_and_reason(tmp_path, mutate, key, reason):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, mutate)
    assert err.value.file.endswith("alerts.yaml") and err.value.key == key and reason in err.value.reason


def test_durations():
    assert parse_duration("90m").total_seconds() == 5400 and parse_duration("2w").days == 14
    with pytest.raises(ValueError):
        parse_duration("0h")


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
