"""`mmgenre bench ocr`: compare OCR engines, and settings of one engine, on the same posters."""

from __future__ import annotations

from pathlib import Path

import click

from mmgenre.cli.options import data_option, json_option, limit_option, open_data, print_json, print_table, store_option


@click.group("bench")
def bench_group() -> None:
    """Benchmarks: compare components on real posters."""


@bench_group.command("ocr")
@click.option(
    "--engines",
    default="",
    help="Comma-separated engines, each NAME or NAME:param=value (e.g. tesseract:psm=3,tesseract:psm=11,rapidocr).",
)
@click.option(
    "--sweep",
    multiple=True,
    metavar="ENGINE:PARAM=V1,V2",
    help="Also run ENGINE with PARAM at each value (repeatable), e.g. rapidocr:det_side=320,416,736.",
)
@data_option
@limit_option
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes [default: all cores].")
@click.option("--downstream", metavar="RECIPE", help="Also train RECIPE's text-only model on each engine's text.")
@click.option("--out", type=click.Path(file_okay=False), default="benchmarks/results", show_default=True)
@store_option
@json_option
def bench_ocr_command(
    engines: str,
    sweep: tuple[str, ...],
    data_dir: str | None,
    limit: int | None,
    workers: int | None,
    downstream: str | None,
    out: str,
    cache_dir: str | None,
    as_json: bool,
) -> None:
    """Speed, title-word recall, title CER and empty reads of OCR engines on the same posters."""
    from mmgenre.bench.ocr_bench import bench_ocr, downstream_scores, sweep_specs, write_report
    from mmgenre.features.store_url import open_store
    from mmgenre.recipe import load_recipe
    from mmgenre.registry import Registry

    specs = [e.strip() for e in engines.split(",") if e.strip()] + [s for text in sweep for s in sweep_specs(text)]
    if not specs:
        raise click.UsageError("give --engines or --sweep")
    registry = Registry.from_entry_points()
    recipe = load_recipe(downstream or "paper-offline", [], registry)
    dataset = open_data(data_dir, recipe, registry)
    with open_store(cache_dir, registry) as cache:
        report = bench_ocr(list(dict.fromkeys(specs)), dataset, cache, registry, limit=limit, workers=workers)
        if downstream:
            report["downstream"] = downstream_scores(downstream, report, dataset, cache, registry, limit)
    json_path, chart = write_report(report, Path(out))
    if as_json:
        print_json(report)
    else:
        click.echo(f"{report['posters']} posters, {report['workers']} workers:")
        print_table([table_row(r) for r in report["engines"]])
    click.echo(f"written: {json_path}, {chart}", err=True)


def table_row(row: dict) -> dict:
    def fmt(value, digits=3):
        return "-" if value is None else f"{value:.{digits}f}"

    cells = {
        "engine": row["engine"],
        "posters/s": fmt(row["posters_per_second"], 2),
        "median s": fmt(row["latency_median_s"]),
        "p95 s": fmt(row["latency_p95_s"]),
        "title recall": fmt(row["title_word_recall"]),
        "title CER": fmt(row["title_cer"]),
        "empty": fmt(row["empty_fraction"]),
    }
    if "downstream_macro_f1" in row:
        cells["text-only macro-F1"] = fmt(row["downstream_macro_f1"])
    return cells


COMMANDS = [bench_group]
