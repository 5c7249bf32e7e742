"""`mmgenre report`: an HTML page, figures and a Markdown summary for runs."""

from __future__ import annotations

import click

from mmgenre.cli.options import store_option


@click.command("report")
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for index.html, report.md, PNGs.")
@click.option("--title", help="Page title.")
@click.option("--no-examples", is_flag=True, help="Leave out the grid of example posters.")
@store_option
def report_command(
    runs: tuple[str, ...], out: str, title: str | None, no_examples: bool, cache_dir: str | None
) -> None:
    """Report on one RUN, or compare several (each against the first, with a paired bootstrap)."""
    from mmgenre.features.store_url import open_store
    from mmgenre.report.build import build_report

    with open_store(cache_dir) as cache:
        written = build_report(list(runs), out, cache, examples=not no_examples, title=title)
    for path in written.values():
        click.echo(str(path))


COMMANDS = [report_command]
