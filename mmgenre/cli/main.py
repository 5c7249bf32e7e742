"""The `mmgenre` command group and its error handling."""

from __future__ import annotations

import logging
import os
import sys

import click

from mmgenre import __version__
from mmgenre.errors import MmgenreError


class Group(click.Group):
    """A click group that prints user errors as `Error: ...` (exit 1) instead of a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MmgenreError as error:
            if ctx.params.get("debug") or os.environ.get("MMGENRE_DEBUG"):
                raise
            click.echo(f"Error: {error}", err=True)
            ctx.exit(1)


@click.group(
    cls=Group,
    epilog="Example:\n\n  mmgenre train paper-offline --data ../shared/data/posters\n\n"
    "  mmgenre eval runs/paper-offline-* --data ../shared/data/posters",
)
@click.version_option(__version__, prog_name="mmgenre")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def cli(debug: bool) -> None:
    """Multi-label movie genres from posters: OCR text + image, fused. Components come from plugins."""
    setup_logging()


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (click's test runner swaps it per invocation)."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def setup_logging() -> None:
    """Warnings and progress notes from the library go to stderr as `WARNING: ...` lines; MMGENRE_LOG sets
    the level."""
    level = os.environ.get("MMGENRE_LOG", "INFO").strip().upper()
    if level not in LOG_LEVELS:
        raise MmgenreError(
            f"MMGENRE_LOG={os.environ['MMGENRE_LOG']!r} is not a log level: use one of {', '.join(LOG_LEVELS)}"
        )
    logger = logging.getLogger("mmgenre")
    if not logger.handlers:
        handler = StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level)


COMMAND_MODULES = ("registry", "recipe", "features", "cache", "train", "ablate", "bench", "report", "serve", "plugin")


def register_commands() -> None:
    """Each module of mmgenre.cli lists its commands in COMMANDS (modules import nothing heavy at the top)."""
    import importlib

    for name in COMMAND_MODULES:
        for command in importlib.import_module(f"mmgenre.cli.{name}").COMMANDS:
            cli.add_command(command)


register_commands()
