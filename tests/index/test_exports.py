"""The public surface of the index package (convention 15) and the CLI's help texts."""

from __future__ import annotations

import index


def test_all_names_the_agreed_interface_and_every_name_exists():
    agreed = {"open_index", "FeedbackIndex", "Filters", "SearchQuery", "SearchResult", "Hit", "Bucket",
              "UpsertResult", "parse_query", "QueryError", "IndexBackendError"}
    assert agreed <= set(index.__all__)
    for name in index.__all__:
        assert getattr(index, name) is not None, name
    import inspect

    public = {n for n in dir(index) if not n.startswith("_") and n != "annotations"
              and not inspect.ismodule(getattr(index, n))}
    assert public == set(index.__all__)


def test_every_index_command_has_help():
    from click.testing import CliRunner

    from app.cli import cli

    for name in ("search", "export", "prune", "reindex"):
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0, name
        assert len(result.output.split("\n\n")[1].strip()) > 20, name
