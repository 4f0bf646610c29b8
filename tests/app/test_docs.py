"""The documentation matches the program: every command has help and a line in the README."""

from __future__ import annotations

import re
from pathlib import Path

import click

from app.cli import cli

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def all_commands(group: click.Group, prefix: str = "voc") -> list[tuple[str, click.Command]]:
    out = []
    for name, command in sorted(group.commands.items()):
        out.append((f"{prefix} {name}", command))
        if isinstance(command, click.Group):
            out.extend(all_commands(command, f"{prefix} {name}"))
    return out


def test_readme_opens_with_the_two_setup_commands() -> None:
    block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert block and README.index(block.group(0)) < README.index("## ")
    commands = [line.split("#")[0].strip() for line in block.group(1).strip().splitlines()]
    assert commands == ["make demo DEMO_ARGS=--no-serve", "make test"]
    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci


def test_every_command_has_help_and_is_documented() -> None:
    commands = all_commands(cli)
    assert len(commands) > 15
    for path, command in commands:
        assert (command.help or "").strip(), f"{path} has no help text"
        top = " ".join(path.split()[:2])
        sub = path.split()[2] if len(path.split()) > 2 else None
        assert f"`{top}" in README, f"{top} is missing from README.md's command table"
        if sub:
            line = next(line for line in README.splitlines() if f"`{top} " in line and "|" in line)
            assert sub in line, f"{path} is missing from README.md's command table"
