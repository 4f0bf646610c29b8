"""The `voc` command line. Each command module registers its commands in ``COMMAND_MODULES``.

Commands are thin: parse input, call one library function, and map domain errors to a one-line message
with a hint, here in :func:`main` — exit code 2 for configuration and usage errors, 1 for failures.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

import click

from configs import ConfigError, load_settings
from app.context import AppContext

__all__ = ["cli", "main", "pass_app"]

#: Modules under app.cli that define a ``commands`` list of click commands.
COMMAND_MODULES = ("config", "demo", "crawl", "worker", "classify", "search", "retag", "alerts", "replies", "serve")


class LazyContext:
    """Loads settings once, when a command first asks for them."""

    def __init__(self, config_dir: str | None) -> None:
        self.config_dir = config_dir
        self._app: AppContext | None = None

    @property
    def app(self) -> AppContext:
        if self._app is None:
            self._app = AppContext(load_settings(self.config_dir))
        return self._app

    def close(self) -> None:
        if self._app is not None:
            self._app.close()


pass_lazy = click.make_pass_decorator(LazyContext)


def pass_app(f: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: pass the AppContext (settings loaded and validated once) as the first argument."""

    @pass_lazy
    def wrapper(lazy: LazyContext, *args: Any, **kwargs: Any) -> Any:
        return f(lazy.app, *args, **kwargs)

    return click.decorators.update_wrapper(wrapper, f)


@click.group(help="VOC (客户之声): crawl, tag, search and alert on what users say about your product.")
@click.option("--config", "config_dir", type=click.Path(file_okay=False), envvar="VOC_CONFIG_DIR",
              help="Config directory (default: the repository's configs/).")
@click.version_option(package_name="voc")
@click.pass_context
def cli(ctx: click.Context, config_dir: str | None) -> None:
    lazy = LazyContext(config_dir)
    ctx.obj = lazy
    ctx.call_on_close(lazy.close)


def _register() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"app.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"app.cli.{name}":
                continue
            raise
        for command in module.commands:
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="voc", standalone_mode=False)
    except ConfigError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(0)
