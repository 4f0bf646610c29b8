"""A broken config file gives one clear line naming file and key, exit code 2, and changes nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from configs import ConfigError, load_settings
from tests.helpers import REPO



@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "home" / "configs"
    shutil.copytree(REPO / "configs", target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def run_voc(config_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VOC_CONFIG_DIR": str(config_dir), "VOC_HOME": str(config_dir.parent)}
    return subprocess.run([sys.executable, "-m", "app", *args], env=env, capture_output=True, text=True, timeout=120)


BROKEN = {
    "bad yaml": ("products:\n  - id: qingji\n    name: [unclosed\n", "sources.yaml: invalid YAML: line"),
    "unknown key": ("products:\n  - id: qingji\n    name: 轻记\n    appstoer: {app_ids: ['1']}\n",
                    "sources.yaml: products[0].appstoer: unknown key"),
    "wrong type": ("products:\n  - id: qingji\n    name: 轻记\n    appstore:\n      app_ids: ['1']\n      max_pages: ten\n",
                   "sources.yaml: products[0].appstore.max_pages: expected an integer, got str 'ten'"),
    "bad value": ("products:\n  - id: qingji\n    name: 轻记\n    appstore: {max_pages: 11}\n",
                  "sources.yaml: products[0].appstore: max_pages must be between 1 and 10"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
@pytest.mark.parametrize("command", [("check-config",), ("demo", "--no-serve"), ("crawl", "appstore")])
def test_broken_sources_yaml_fails_with_file_and_key(config_dir: Path, case: str, command: tuple[str, ...]) -> None:
    text, expected = BROKEN[case]
    (config_dir / "sources.yaml").write_text(text, encoding="utf-8")
    before = snapshot(config_dir.parent)
    result = run_voc(config_dir, *command)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Error: {config_dir / 'sources.yaml'}")
    assert expected in lines[0]
    assert snapshot(config_dir.parent) == before  # nothing written: no data/, no state, no index


def test_shipped_configs_are_valid() -> None:
    settings = load_settings(REPO / "configs", env={})
    assert settings.sources.product("qingji").appstore is not None
    assert {t.id for t in settings.topics.topics} >= {"crash", "login", "payment", "performance"}


def test_unknown_subscriber_channel_is_named(config_dir: Path) -> None:
    (config_dir / "alerts.yaml").write_text("subscribers:\n  - name: ops\n    channels: [pager]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(config_dir, env={})
    assert err.value.file.endswith("alerts.yaml")
    assert "unknown channel(s): pager" in str(err.value)


def test_env_overrides_and_secrets_are_hidden(config_dir: Path) -> None:
    settings = load_settings(config_dir, env={"VOC_INDEX_URL": "https://es.example:9200", "VOC_WEBHOOK_SECRET": "s3cr3t"})
    assert settings.index.url == "https://es.example:9200"
    assert settings.secrets.get("VOC_WEBHOOK_SECRET") == "s3cr3t"
    assert "s3cr3t" not in repr(settings) and "s3cr3t" not in repr(settings.secrets)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path.name} no longer holds {old!r}"
    path.write_text(text.replace(old, new), encoding="utf-8")


# Each mistake passed `voc check-config` before (issue 22); `voc schedule` then crashed with a traceback.
MISTAKES = {
    "bad cron": (lambda d: _edit(d / "voc.yaml", 'digest_day: "0 9 * * *"', 'digest_day: "0 25 * * *"'),
                 "voc.yaml", "web.schedule.digest_day: invalid cron expression '0 25 * * *'"),
    "bad source cron": (lambda d: _edit(d / "sources.yaml", "schedule: ", "schedule: 'every hour' #"),
                        "sources.yaml", "schedule: invalid cron expression 'every hour'"),
    "bad time zone": (lambda d: _edit(d / "voc.yaml", "time_zone: Asia/Shanghai", "time_zone: Beijing"),
                      "voc.yaml", "time_zone: unknown time zone 'Beijing'"),
    "missing topics.yaml": (lambda d: (d / "topics.yaml").unlink(), "topics.yaml", "required file is missing"),
    "missing model folder": (lambda d: _edit(d / "voc.yaml", "model: classifier/models/voc-small",
                                             "model: models/not-there"),
                             "voc.yaml", "classifier.model: model folder"),
}


@pytest.mark.parametrize("case", sorted(MISTAKES))
def test_check_config_names_file_and_key_of_each_mistake(config_dir: Path, case: str) -> None:
    edit, file, expected = MISTAKES[case]
    edit(config_dir)
    result = run_voc(config_dir, "check-config")
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"Error: {config_dir / file}"), lines[0]
    assert expected in lines[0]


def test_check_config_shows_the_time_zone(config_dir: Path) -> None:
    _edit(config_dir / "voc.yaml", "time_zone: Asia/Shanghai", "time_zone: Europe/Berlin")
    result = run_voc(config_dir, "check-config")
    assert result.returncode == 0, result.stderr
    assert "time zone: Europe/Berlin" in result.stdout
