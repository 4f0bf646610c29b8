"""The one settings object: every YAML file under the config directory, validated, typed, frozen.

Loaded once at process start by :func:`load_settings` and passed down; no other module reads YAML or
the environment. Environment overrides (``VOC_INDEX_URL``, ``VOC_CLASSIFIER_MODEL``, ``VOC_DATA_DIR``)
are applied here, and secrets are looked up through :class:`Secrets`, which never shows its values.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from configs._time import DEFAULT_ZONE, check_cron, check_zone
from configs._validate import ConfigError, build
from configs.alerts import AlertsFile
from configs.classifier import ClassifierSettings
from configs.crawl import CrawlSettings
from configs.index import IndexSettings
from configs.sources import SourcesFile
from configs.topics import TopicsFile
from configs.web import WebSettings

__all__ = ["Settings", "VocFile", "PrivacySettings", "Secrets", "load_settings", "default_config_dir",
           "check_model_path"]

#: The installed project's root (the folder holding configs/, classifier/, …).
CODE_ROOT = Path(__file__).resolve().parents[1]

#: The files of a config directory and the section each one becomes.
FILES = {"voc.yaml": "voc", "sources.yaml": "sources", "topics.yaml": "topics", "alerts.yaml": "alerts"}
#: Files a config directory must have (the others have working defaults when absent).
REQUIRED_FILES = {"topics.yaml": "the topic taxonomy every tag, search and alert uses"}


@dataclass(frozen=True, kw_only=True)
class PrivacySettings:
    pseudonymize_authors: bool = False


@dataclass(frozen=True, kw_only=True)
class VocFile:
    #: The one time zone (IANA name) for every time shown (CLI, page, digests, alerts) and the cron schedules.
    time_zone: str = DEFAULT_ZONE
    index: IndexSettings = field(default_factory=IndexSettings)
    classifier: ClassifierSettings = field(default_factory=ClassifierSettings)
    crawl: CrawlSettings = field(default_factory=CrawlSettings)
    web: WebSettings = field(default_factory=WebSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)


class Secrets:
    """Read-only view of the environment for secrets; its repr never shows values."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = dict(env)

    def get(self, name: str | None) -> str | None:
        if not name:
            return None
        value = self._env.get(name)
        return value if value else None

    def environment(self) -> dict[str, str]:
        """A copy of the whole environment, for child processes (a crawl runs in one)."""
        return dict(self._env)

    def __repr__(self) -> str:
        return f"<Secrets: {len(self._env)} variables, values hidden>"


@dataclass(frozen=True, kw_only=True)
class Settings:
    config_dir: Path
    #: Relative paths in the configuration resolve against this folder (the config dir's parent).
    home: Path
    voc: VocFile
    sources: SourcesFile
    topics: TopicsFile
    alerts: AlertsFile
    secrets: Secrets = field(repr=False, compare=False)

    @property
    def index(self) -> IndexSettings:
        return self.voc.index

    @property
    def classifier(self) -> ClassifierSettings:
        return self.voc.classifier

    @property
    def crawl(self) -> CrawlSettings:
        return self.voc.crawl

    @property
    def web(self) -> WebSettings:
        return self.voc.web

    @property
    def time_zone(self) -> str:
        """The configured time zone name (voc.yaml ``time_zone``)."""
        return self.voc.time_zone

    def resolve(self, path: str | os.PathLike[str]) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.home / p

    def resolve_shipped(self, path: str | os.PathLike[str]) -> Path:
        """Like :meth:`resolve`, for files the project ships (the default model): a relative path that does
        not exist under ``home`` falls back to the installed project's own folder."""
        resolved = self.resolve(path)
        if resolved.exists() or Path(path).expanduser().is_absolute():
            return resolved
        shipped = CODE_ROOT / Path(path)
        return shipped if shipped.exists() else resolved

    def sqlite_path(self, url: str | None = None) -> Path | None:
        """The file of a ``sqlite:///`` URL (default: the index URL), resolved; None for other URLs."""
        url = url or self.index.url
        if not url.startswith("sqlite:///"):
            return None
        return self.resolve(url[len("sqlite:///"):])

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def default_config_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("VOC_CONFIG_DIR"):
        return Path(env["VOC_CONFIG_DIR"]).expanduser().resolve()
    return Path(__file__).resolve().parent


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), "", f"cannot read file: {exc}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(str(path), "", f"invalid YAML: {where}{problem}") from exc


def load_settings(config_dir: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None) -> Settings:
    """Load and validate every config file; raise :class:`ConfigError` on the first problem found."""
    env = dict(os.environ if env is None else env)
    cdir = Path(config_dir).expanduser().resolve() if config_dir else default_config_dir(env)
    if not cdir.is_dir():
        raise ConfigError(str(cdir), "", "config directory does not exist (set VOC_CONFIG_DIR or --config)")
    for name, what in REQUIRED_FILES.items():
        if not (cdir / name).is_file():
            raise ConfigError(str(cdir / name), "", f"required file is missing ({what}); copy it from the "
                                                    "repository's configs/ folder")
    raw = {section: _read_yaml(cdir / name) for name, section in FILES.items()}
    files = {section: str(cdir / name) for name, section in FILES.items()}
    voc = build(VocFile, raw["voc"], file=files["voc"])
    overrides: dict[str, Any] = {}
    if env.get("VOC_INDEX_URL"):
        overrides["index"] = dataclasses.replace(voc.index, url=env["VOC_INDEX_URL"])
    if env.get("VOC_CLASSIFIER_MODEL"):
        overrides["classifier"] = dataclasses.replace(voc.classifier, model=env["VOC_CLASSIFIER_MODEL"])
    if overrides:
        voc = dataclasses.replace(voc, **overrides)
    home = Path(env["VOC_HOME"]).expanduser().resolve() if env.get("VOC_HOME") else cdir.parent
    sources = build(SourcesFile, raw["sources"], file=files["sources"])
    _check_times(voc, sources, files)
    return Settings(
        config_dir=cdir,
        home=home,
        voc=voc,
        sources=sources,
        topics=build(TopicsFile, raw["topics"], file=files["topics"]),
        alerts=build(AlertsFile, raw["alerts"], file=files["alerts"]),
        secrets=Secrets(env),
    )


def _check_times(voc: VocFile, sources: SourcesFile, files: Mapping[str, str]) -> None:
    """The time zone and every cron expression, each reported with its file and key."""
    checks: list[tuple[str, str, Any]] = [(files["voc"], "time_zone", lambda: check_zone(voc.time_zone))]
    sched = voc.web.schedule
    for name in ("alerts", "digest_day", "digest_week"):
        checks.append((files["voc"], f"web.schedule.{name}", lambda v=getattr(sched, name): check_cron(v)))
    for name, conf in sorted(sources.sources.items()):
        checks.append((files["sources"], f"sources.{name}.schedule", lambda v=conf.schedule: check_cron(v)))
    for file, key, check in checks:
        try:
            check()
        except ValueError as exc:
            raise ConfigError(file, key, str(exc)) from exc


def check_model_path(settings: Settings) -> None:
    """The classifier model folder must exist and hold a model (``voc check-config``; loading the classifier
    refuses it too). ``rules`` needs no folder."""
    model = settings.classifier.model
    if model == "rules":
        return
    path = settings.resolve_shipped(model)
    file = "VOC_CLASSIFIER_MODEL (environment)" if settings.secrets.get("VOC_CLASSIFIER_MODEL") else \
        str(settings.config_dir / "voc.yaml")
    if not path.is_dir():
        raise ConfigError(file, "classifier.model", f"model folder {path} does not exist — train one with "
                                                    "`voc train`, point the key at a saved model, or use `rules`")
    if not (path / "config.json").is_file():
        raise ConfigError(file, "classifier.model", f"{path} holds no model (no config.json) — point the key at a "
                                                    "folder written by `voc train` or a Hugging Face checkpoint")
