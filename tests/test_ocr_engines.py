"""The offline OCR engines on real posters: they read titles, give boxes inside the poster, fail clearly."""

from __future__ import annotations

import json

import pytest
from conftest import POSTERS, REGISTRY, poster_rows

from mmgenre.bench.ocr_quality import best_span_cer, title_word_recall
from mmgenre.data.images import load_image
from mmgenre.errors import ComponentUnavailableError


@pytest.fixture(scope="module")
def posters():
    return [(row["title"], load_image(POSTERS / row["file"])) for row in poster_rows(12)]


def read_all(name: str, posters, **params):
    engine = REGISTRY.create("ocr", name, params)
    engine.setup()
    return [(title, image, engine.read(image)) for title, image in posters]


@pytest.mark.parametrize(
    ("name", "count", "min_recall"), [("tesseract", 12, 0.1), ("rapidocr", 12, 0.3), ("easyocr", 3, 0.1)]
)
def test_engines_read_poster_titles(name, count, min_recall, posters):
    results = read_all(name, posters[:count])
    recalls = [title_word_recall(title, result.text) for title, _, result in results]
    assert sum(recalls) / len(recalls) >= min_recall, recalls
    found = [(title, result) for title, _, result in results if title_word_recall(title, result.text)]
    assert found and min(best_span_cer(title, result.text) for title, result in found) < 0.5
    for _, image, result in results:
        for word in result.words:
            left, top, right, bottom = word.box
            assert 0 <= left <= right <= image.width + 2 and 0 <= top <= bottom <= image.height + 2
            assert 0 <= word.confidence <= 1


def test_tesseract_sparse_text_mode_finds_more_words_than_default(posters):
    sparse = read_all("tesseract", posters, psm=11)
    block = read_all("tesseract", posters, psm=3)
    assert sum(len(r.words) for *_, r in sparse) > sum(len(r.words) for *_, r in block)


def test_missing_tesseract_binary_is_reported_with_the_install_command(monkeypatch, tmp_path, cli):
    monkeypatch.setenv("PATH", str(tmp_path))
    engine = REGISTRY.create("ocr", "tesseract")
    with pytest.raises(ComponentUnavailableError, match="apt-get install tesseract-ocr"):
        engine.setup()
    rows = {row["name"]: row for row in json.loads(cli("list", "ocr", "--json").stdout)}
    assert rows["tesseract"]["available"] is False and "tesseract" in rows["tesseract"]["reason"]
    assert rows["rapidocr"]["available"] is True
