"""Every stage that did work says, when it ends, what it did and in how long (where a run's time went)."""

from __future__ import annotations

import logging

import pytest

from mmgenre.features.progress import Progress, progress_bar


def summaries(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "mmgenre" and ": done, " in r.getMessage()]


def test_a_stage_logs_what_it_did_when_it_ends(caplog):
    caplog.set_level(logging.INFO, logger="mmgenre")
    with Progress(5, "OCR (rapidocr)", enabled=False) as bar:
        bar.update(1)
    with Progress(5, "text encoder (minilm)", enabled=False, unit="text") as bar:
        bar.update(5)
    first, second = summaries(caplog)
    assert first.startswith("OCR (rapidocr): done, 1 poster in ") and first.endswith("/s)")
    assert second.startswith("text encoder (minilm): done, 5 texts in ")


def test_no_summary_for_idle_failed_or_repeated_steps(caplog):
    caplog.set_level(logging.INFO, logger="mmgenre")
    with Progress(5, "image encoder", enabled=False):
        pass  # nothing to do: nothing to report
    with pytest.raises(RuntimeError), Progress(5, "OCR", enabled=False) as bar:
        bar.update(2)
        raise RuntimeError("stopped")  # a stage that failed did not finish
    with progress_bar(5, "epoch 1", enabled=False) as bar:
        bar.update(5)  # epochs are summed up by the training line instead
    assert summaries(caplog) == []
