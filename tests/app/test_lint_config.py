"""`make test` runs the linters first, and mypy checks every package the project installs."""

from __future__ import annotations

import re
import tomllib

from tests.helpers import REPO


def test_make_test_runs_ruff_and_mypy_before_pytest():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^test:[^\n]*\blint\b", makefile, re.M), "the test target must depend on lint"
    lint = re.search(r"^lint:[^\n]*\n((?:\t[^\n]*\n)+)", makefile, re.M)
    assert lint and "ruff check" in lint.group(1) and "mypy" in lint.group(1)


def test_mypy_checks_every_installed_package():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    installed = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert set(project["tool"]["mypy"]["files"]) == installed
    assert project["tool"]["mypy"]["warn_unused_ignores"] is True  # a stale `# type: ignore` is an error
