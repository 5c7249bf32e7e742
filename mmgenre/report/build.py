"""`report`: figures, a Markdown summary and one self-contained HTML page for runs."""

from __future__ import annotations

import base64
import html
from datetime import datetime
from pathlib import Path

from mmgenre.errors import RunError
from mmgenre.evaluation.headline import HEADLINE
from mmgenre.evaluation.significance import paired_bootstrap
from mmgenre.features.store import FeatureStore
from mmgenre.files.writer import OutputFolder
from mmgenre.report import figures
from mmgenre.report.examples import example_grid
from mmgenre.report.runs import ReportRun, load_runs

FILES = (
    "index.html",
    "report.md",
    "genre_f1.png",
    "precision_recall.png",
    "confusion.png",
    "training.png",
    "examples.png",
)


def metric_table(runs: list[ReportRun]) -> tuple[list[str], list[list[str]]]:
    header = ["run", "components", *HEADLINE]
    rows = [[run.name, run.describe(), *(f"{run.test_metrics[m]:.4f}" for m in HEADLINE)] for run in runs]
    for name, values in runs[0].test_metrics.get("references", {}).items():
        rows.append(
            [f"reference: {name}", "constant guess", *(f"{values[m]:.4f}" if m in values else "-" for m in HEADLINE)]
        )
    return header, rows


def comparisons(runs: list[ReportRun]) -> list[dict]:
    """Each run against the first, on the test posters both were scored on (paired bootstrap)."""
    base = runs[0]
    results = []
    for other in runs[1:]:
        common = sorted(set(base.test.ids) & set(other.test.ids))
        if not common:
            continue
        base_rows = [base.test.ids.index(i) for i in common]
        other_rows = [other.test.ids.index(i) for i in common]
        targets = base.test.targets[base_rows]
        comparison = paired_bootstrap(
            targets, [other.test_predictions()[other_rows]], [base.test_predictions()[base_rows]]
        )
        results.append(
            {
                "run": other.name,
                "against": base.name,
                "posters": len(common),
                **comparison.to_dict(),
                "text": comparison.describe(),
            }
        )
    return results


def markdown(
    title: str, header: list[str], rows: list[list[str]], compared: list[dict], images: dict[str, Path]
) -> str:
    lines = [
        f"# {title}",
        "",
        f"Generated {datetime.now():%Y-%m-%d %H:%M} by `mmgenre report`. Test split, "
        "per-genre thresholds tuned on the validation split.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + " --- |" * len(header),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    if compared:
        lines += ["", "## Differences in macro-F1 (paired bootstrap over the same test posters)", ""]
        lines += [f"- {c['run']} minus {c['against']}: {c['text']} on {c['posters']} posters" for c in compared]
    for caption, image in images.items():
        lines += ["", f"## {caption}", "", f"![{caption}]({image.name})"]
    return "\n".join(lines) + "\n"


def page(title: str, header: list[str], rows: list[list[str]], compared: list[dict], images: dict[str, Path]) -> str:
    """One HTML file with the figures inlined, so it can be mailed or opened anywhere."""

    def cell(tag: str, value: str) -> str:
        return f"<{tag}>{html.escape(value)}</{tag}>"

    table = "<table><tr>" + "".join(cell("th", h) for h in header) + "</tr>"
    table += "".join("<tr>" + "".join(cell("td", v) for v in row) + "</tr>" for row in rows) + "</table>"
    diffs = "".join(
        f"<li>{html.escape(c['run'])} minus {html.escape(c['against'])}: {html.escape(c['text'])} "
        f"({c['posters']} posters)</li>"
        for c in compared
    )
    sections = "".join(
        f"<h2>{html.escape(caption)}</h2><img alt='{html.escape(caption)}' data-file='{image.name}' "
        f"src='data:image/png;base64,{base64.b64encode(image.read_bytes()).decode()}'>"
        for caption, image in images.items()
    )
    style = (
        "body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;font-size:14px}td,th{border:1px solid #ccc;padding:4px 8px}"
        "th{background:#f3f3f3}img{max-width:100%}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>Test split; per-genre thresholds tuned on the validation split.</p>{table}"
        + (f"<h2>Differences in macro-F1 (paired bootstrap)</h2><ul>{diffs}</ul>" if diffs else "")
        + f"{sections}</body></html>"
    )


def build_report(
    run_paths: list[str | Path],
    out: str | Path,
    cache: FeatureStore | None = None,
    examples: bool = True,
    title: str | None = None,
) -> dict[str, Path]:
    """Write index.html, report.md and the PNG figures to `out`; returns what was written."""
    runs = load_runs(run_paths)
    for run in runs:
        run.check()
        if run.labels != runs[0].labels:
            raise RunError(f"{run.folder.path} predicts other genres than {runs[0].folder.path}: can't compare them")
    out = Path(out)
    folder = OutputFolder(out, "report", legacy_files=FILES).claim()
    for name in FILES:
        folder.target(name)  # each is new or ours: refuse before any figure is drawn
    folder.record(FILES)
    title = title or ("mmgenre report: " + ", ".join(r.name for r in runs))
    images = {
        "Per-genre F1": figures.genre_f1_bars(runs, out / "genre_f1.png"),
        "Precision-recall curves": figures.precision_recall_curves(runs, out / "precision_recall.png"),
        f"Predicted vs true genres ({runs[0].name})": figures.genre_confusion(runs[0], out / "confusion.png"),
    }
    if any(run.history for run in runs):
        images["Training curves"] = figures.training_curves(runs, out / "training.png")
    if examples:
        grid = example_grid(runs[0], out / "examples.png", cache)
        if grid:
            images[f"Example test posters ({runs[0].name})"] = grid
    header, rows = metric_table(runs)
    compared = comparisons(runs)
    written = {"markdown": out / "report.md", "html": out / "index.html", **{p.stem: p for p in images.values()}}
    folder.write("report.md", markdown(title, header, rows, compared, images))
    folder.write("index.html", page(title, header, rows, compared, images))
    return written
