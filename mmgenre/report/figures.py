"""The report's figures (matplotlib, written as PNG)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import precision_recall_curve  # noqa: E402

from mmgenre.files.writer import atomic_path  # noqa: E402
from mmgenre.report.runs import ReportRun  # noqa: E402

COLOURS = plt.rcParams["axes.prop_cycle"].by_key()["color"]


def _save(figure, path: Path) -> Path:
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110, format="png")
    plt.close(figure)
    return path


def genre_f1_bars(runs: list[ReportRun], path: Path) -> Path:
    labels = runs[0].labels
    width = 0.8 / len(runs)
    figure, axes = plt.subplots(figsize=(max(8, len(labels) * 0.7), 4))
    x = np.arange(len(labels))
    for i, run in enumerate(runs):
        per_genre = run.test_metrics["tuned"]["per_genre"]
        axes.bar(
            x + i * width - 0.4 + width / 2,
            [per_genre[g]["f1"] for g in labels],
            width,
            label=run.name,
            color=COLOURS[i % len(COLOURS)],
        )
    axes.set_xticks(x, labels, rotation=45, ha="right")
    axes.set_ylabel("F1 (test, tuned thresholds)")
    axes.set_ylim(0, 1)
    axes.legend(fontsize=8)
    return _save(figure, path)


def precision_recall_curves(runs: list[ReportRun], path: Path) -> Path:
    labels = runs[0].labels
    columns = 5
    rows = int(np.ceil(len(labels) / columns))
    figure, grid = plt.subplots(rows, columns, figsize=(3 * columns, 2.6 * rows), squeeze=False)
    for index, label in enumerate(labels):
        axes = grid[index // columns][index % columns]
        for i, run in enumerate(runs):
            targets, scores = run.test.targets[:, index], run.test.scores[:, index]
            if targets.sum() == 0:
                continue
            precision, recall, _ = precision_recall_curve(targets, scores)
            axes.plot(recall, precision, color=COLOURS[i % len(COLOURS)], label=run.name, linewidth=1.2)
        axes.axhline(run.test.targets[:, index].mean(), color="grey", linestyle=":", linewidth=0.8)
        axes.set_title(label, fontsize=9)
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1.02)
        axes.tick_params(labelsize=7)
    for index in range(len(labels), rows * columns):
        grid[index // columns][index % columns].axis("off")
    grid[0][0].legend(fontsize=6)
    figure.suptitle("precision (y) against recall (x) per genre, test split; dotted: genre frequency", fontsize=10)
    return _save(figure, path)


def genre_confusion(run: ReportRun, path: Path) -> Path:
    """Rows: true genre; columns: predicted genre; cell: share of the row's posters predicted that genre."""
    labels = run.labels
    targets, predicted = run.test.targets.astype(float), run.test_predictions().astype(float)
    counts = targets.T @ predicted  # (C, C) posters with true i and predicted j
    share = counts / np.maximum(targets.sum(axis=0)[:, None], 1)
    figure, axes = plt.subplots(figsize=(7.5, 6.5))
    image = axes.imshow(share, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=8)
    axes.set_yticks(range(len(labels)), labels, fontsize=8)
    axes.set_xlabel("predicted genre")
    axes.set_ylabel("true genre")
    for i in range(len(labels)):
        for j in range(len(labels)):
            axes.text(
                j,
                i,
                f"{share[i, j]:.2f}",
                ha="center",
                va="center",
                fontsize=6,
                color="white" if share[i, j] > 0.6 else "black",
            )
    figure.colorbar(image, ax=axes, fraction=0.046)
    axes.set_title(f"{run.name}: predicted vs true genres (test)", fontsize=10)
    return _save(figure, path)


def training_curves(runs: list[ReportRun], path: Path) -> Path:
    figure, (loss_axes, f1_axes) = plt.subplots(1, 2, figsize=(10, 3.6))
    for i, run in enumerate(runs):
        history = [row for row in run.history if row.get("member", 0) == 0]  # an ensemble: its first member
        if not history:
            continue
        epochs = [row["epoch"] for row in history]
        colour = COLOURS[i % len(COLOURS)]
        loss_axes.plot(epochs, [row["train_loss"] for row in history], color=colour, label=run.name)
        f1_axes.plot(epochs, [row["val_macro_f1_tuned"] for row in history], color=colour, label=run.name)
        f1_axes.axvline(run.info.best_epoch, color=colour, linestyle=":", linewidth=0.8)
    loss_axes.set_xlabel("epoch")
    loss_axes.set_ylabel("training loss")
    f1_axes.set_xlabel("epoch")
    f1_axes.set_ylabel("validation macro-F1 (tuned)")
    f1_axes.legend(fontsize=8)
    return _save(figure, path)
