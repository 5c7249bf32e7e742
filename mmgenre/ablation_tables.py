"""The Markdown tables of an ablation: variants side by side, and per-genre differences against the first."""

from __future__ import annotations

from mmgenre.evaluation.headline import HEADLINE
from mmgenre.evaluation.significance import format_p


def cell(value: dict, spread: bool) -> str:
    return f"{value['mean']:.4f}" + (f" ± {value['std']:.4f}" if spread else "")


def markdown_table(comparison: dict) -> str:
    seeds = comparison["seeds"]
    spread = len(seeds) > 1
    header = "| variant | val macro_f1 | " + " | ".join(HEADLINE) + " | macro-F1 vs first row (95% CI), p |"
    lines = [
        f"Test split; mean{' ± std' if spread else ''} over seeds {', '.join(map(str, seeds))}. In bold: the "
        "variant with the best validation macro-F1 (chosen without looking at the test split). Differences: "
        "paired bootstrap over the same test posters.",
        "",
        header,
        "|" + " --- |" * (len(HEADLINE) + 3),
    ]
    for row in comparison["variants"]:
        cells = [cell(row[m], spread) for m in HEADLINE]
        name = f"**{row['variant']}**" if row["variant"] == comparison["best"] else row["variant"]
        c = row.get("vs_first")
        versus_first = (
            f"{c['difference']:+.4f} ({c['ci_low']:+.4f} to {c['ci_high']:+.4f}), {format_p(c['p_value'])}"
            if c
            else "reference"
        )
        lines.append(f"| {name} | {cell(row['val_macro_f1'], spread)} | " + " | ".join(cells) + f" | {versus_first} |")
    return "\n".join(lines) + "\n"


def per_genre_table(comparison: dict) -> str:
    """Rows: genres; columns: each variant's F1 minus the first's (seeds averaged), marked * when the paired
    bootstrap's p-value, Holm-corrected over the genres, is below 0.05."""
    others = [row for row in comparison["variants"][1:] if row.get("per_genre_vs_first")]
    if not others:
        return ""
    first = comparison["variants"][0]
    genres = [g["genre"] for g in others[0]["per_genre_vs_first"]]
    lines = [
        f"Per-genre test F1 against {first['variant']} (first column: its F1). Each cell: difference in F1, "
        "* when significant after Holm's correction for the genres compared (p < 0.05).",
        "",
        "| genre | " + first["variant"] + " | " + " | ".join(row["variant"] for row in others) + " |",
        "|" + " --- |" * (len(others) + 2),
    ]
    for index, genre in enumerate(genres):
        cells = []
        for row in others:
            g = row["per_genre_vs_first"][index]
            cells.append(f"{g['difference']:+.3f}{'*' if g['p_holm'] < 0.05 else ''}")
        base = others[0]["per_genre_vs_first"][index]["f1_b"]
        lines.append(f"| {genre} | {base:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
