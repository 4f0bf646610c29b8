"""Shared test fixtures: a replay server, and settings loaded from the repo's configs into a temp home."""

from __future__ import annotations

from pathlib import Path

import pytest

from configs import Settings, load_settings
from crawlers.replay import ReplayServer

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture
def replay():
    with ReplayServer() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The repository's configuration with its home (data/, state) moved to a temporary folder."""
    return load_settings(REPO / "configs", env={"VOC_HOME": str(tmp_path), "VOC_CLASSIFIER_MODEL": "rules"})
