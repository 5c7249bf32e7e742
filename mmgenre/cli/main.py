"""The `mmgenre` command group and its error handling."""

from __future__ import annotations

import logging
import os
import sys

import click

from mmgenre import __version__
from mmgenre.errors import MmgenreError

EXIT_ERROR = 1  # an error the user can fix: a bad recipe, run folder, path, value; nothing was produced
EXIT_USAGE = 2  # click's: an unknown option, a missing argument
EXIT_INTERNAL = 3  # a bug in mmgenre or a plugin
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)


class Group(click.Group):
    """The one CLI boundary: user errors print one `Error: ...` line (exit 1), anything unexpected one line
    saying it is an internal error (exit 3); `--debug` (or MMGENRE_DEBUG=1) shows the traceback instead."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except BaseException as error:
            if ctx.params.get("debug") or os.environ.get("MMGENRE_DEBUG") or isinstance(error, SystemExit):
                raise
            message, code = describe_failure(error)
            if message:
                click.echo(message, err=True)
            ctx.exit(code)


def describe_failure(error: BaseException) -> tuple[str, int]:
    """The line to print and the exit code for an exception that reached the CLI."""
    if isinstance(error, MmgenreError):
        return f"Error: {error}", EXIT_ERROR
    if isinstance(error, KeyboardInterrupt):
        return "Interrupted: stopped before the end (what was finished is kept)", EXIT_INTERRUPTED
    if isinstance(error, BrokenPipeError):
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the reader went away (`| head`): say nothing more
        return "", EXIT_ERROR
    if isinstance(error, OSError):  # the machine's: a full disk, a read-only file system, a permission
        from mmgenre.files.errors import describe

        where = f"cannot use {error.filename}: " if error.filename is not None else ""
        return f"Error: {where}{describe(error)}", EXIT_ERROR
    if isinstance(error, MemoryError):
        return "Error: out of memory (try a smaller --limit or batch size)", EXIT_ERROR
    problem = " ".join(f"{type(error).__name__}: {error}".split())[:300]
    return f"Internal error: {problem} (a bug: run again with --debug for the traceback)", EXIT_INTERNAL


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


COMMAND_MODULES = (
    "registry",
    "recipe",
    "features",
    "cache",
    "train",
    "ablate",
    "bench",
    "report",
    "serve",
    "models",
    "export",
    "plugin",
)


def register_commands() -> None:
    """Each module of mmgenre.cli lists its commands in COMMANDS (modules import nothing heavy at the top)."""
    import importlib

    for name in COMMAND_MODULES:
        for command in importlib.import_module(f"mmgenre.cli.{name}").COMMANDS:
            cli.add_command(command)


register_commands()
