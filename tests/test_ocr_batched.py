"""The batched PP-OCR path (rapidocr det_batch > 1, the GPU's way of reading) on the CPU: same text as the
per-poster path within measured bounds, boxes in place, failures isolated, the executor reading in batches."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
from conftest import POSTERS, REGISTRY, poster_rows
from mmgenre_rapidocr.buckets import place, rec_width
from PIL import Image
from rapidfuzz import fuzz

from mmgenre.bench.ocr_quality import title_word_recall
from mmgenre.errors import ComponentUnavailableError
from mmgenre.features.ocr_stage import OcrPool
from mmgenre.features.sources import ImageOptions, Source

pytestmark = pytest.mark.slow


def rapidocr(**params):
    return REGISTRY.create("ocr", "rapidocr", params)


@pytest.fixture(scope="module")
def rows():
    return poster_rows(16)


@pytest.fixture(scope="module")
def images(rows):
    return [Image.open(POSTERS / row["file"]).convert("RGB") for row in rows]


@pytest.fixture(scope="module")
def batched():
    engine = rapidocr(det_batch=8)
    engine.setup()
    return engine


@pytest.fixture(scope="module")
def batched_results(batched, images):
    return batched.read_batch(images[:8]) + batched.read_batch(images[8:])


def mean_recall(rows, texts) -> float:
    recalls = [title_word_recall(row["title"], text) for row, text in zip(rows, texts)]
    return float(np.mean([r for r in recalls if r is not None]))


def test_batched_path_reads_nearly_the_same_text_as_the_per_poster_path(rows, images, batched_results):
    single = rapidocr()
    per_poster = [single.read(image).text for image in images]
    batched = [result.text for result in batched_results]
    recall_single, recall_batched = mean_recall(rows, per_poster), mean_recall(rows, batched)
    identical = sum(a == b for a, b in zip(per_poster, batched))
    similarity = np.mean([fuzz.ratio(a, b) for a, b in zip(per_poster, batched)])
    print(f"recall per poster {recall_single:.3f}, batched {recall_batched:.3f}; identical {identical}/16; "
          f"similarity {similarity:.1f}")  # fmt: skip
    assert recall_single > 0.4  # the posters have readable titles: the comparison means something
    assert abs(recall_batched - recall_single) <= 0.05
    assert identical >= 5  # measured 7 of 16: padding changes a letter here and there in small print
    assert similarity >= 93  # measured 97.4


def test_batched_boxes_lie_inside_their_poster_and_texts_are_lines(images, batched_results):
    words = 0
    for image, result in zip(images, batched_results):
        assert result.text == "\n".join(word.text for word in result.words)
        for word in result.words:
            left, top, right, bottom = word.box
            assert 0 <= left <= right <= image.width and 0 <= top <= bottom <= image.height
            assert 0.5 <= word.confidence <= 1
            words += 1
    assert words >= 40


def test_read_gives_what_the_batch_gives(batched, images, batched_results):
    assert batched.read(images[3]) == batched_results[3]


def test_blank_poster_reads_nothing(batched):
    blank = Image.new("RGB", (300, 450), "white")
    assert batched.read_batch([blank, blank])[0].text == ""
    assert batched.read(blank).words == []


def test_a_failing_poster_fails_alone(batched, images, batched_results):
    four_channels = images[1].convert("RGBA")
    results = batched.read_batch([images[0], four_channels, images[2]])
    assert isinstance(results[1], Exception) and "3-channel" in str(results[1])
    assert results[0] == batched_results[0] and results[2] == batched_results[2]


def test_the_executor_reads_batching_engines_in_batches_in_its_own_process(rows, batched_results):
    engine = rapidocr(det_batch=8)
    sources = [Source(str(i), path=POSTERS / row["file"]) for i, row in enumerate(rows[:9])]
    sources.insert(4, Source("missing", path=POSTERS / "no-such-poster.jpg"))
    pool = OcrPool(engine, ImageOptions(), workers=2)
    try:
        outcomes = {source.key: outcome for source, outcome in pool.read(sources)}
    finally:
        pool.close()
    assert outcomes.pop("missing").status == "bad"
    assert [outcomes[str(i)].result["text"] for i in range(9)] == [r.text for r in batched_results[:9]]
    assert engine._batched.seconds["det"] > 0  # read here, not in worker processes
    assert all(outcome.seconds > 0 for outcome in outcomes.values())


def test_batched_shapes_are_keyed_only_when_they_are_used():
    default = rapidocr()
    assert rapidocr(det_step=128, rec_widths=[320]).fingerprint() == default.fingerprint()
    batched = rapidocr(det_batch=8)
    assert batched.fingerprint() != default.fingerprint()
    assert rapidocr(det_batch=8, det_step=128).fingerprint() != batched.fingerprint()
    assert rapidocr(det_batch=8, device="cuda").fingerprint() != batched.fingerprint()
    assert rapidocr(det_batch=8, threads=4).fingerprint() == batched.fingerprint()


@pytest.mark.skipif("CUDAExecutionProvider" in onnxruntime.get_available_providers(), reason="onnxruntime-gpu here")
@pytest.mark.parametrize("det_batch", [1, 8])
def test_cuda_without_onnxruntime_gpu_says_what_to_install(det_batch):
    with pytest.raises(ComponentUnavailableError, match="onnxruntime-gpu"):
        rapidocr(det_batch=det_batch, device="cuda").setup()


@pytest.mark.parametrize(
    ("size", "canvas", "fitted"),
    [
        ((450, 300), (640, 416), (640, 416)),  # 300 x 450: no padding
        ((444, 300), (608, 416), (608, 416)),  # rounded to 32 as RapidOCR's detector input
        ((300, 450), (416, 640), (416, 640)),  # landscape
        ((1500, 1000), (640, 416), (640, 416)),  # large posters are shrunk to det_side too
        ((3000, 300), (1248, 416), (1248, 124)),  # longer than 3:1: shrunk into the longest canvas
    ],
)
def test_posters_are_placed_on_canvases_in_multiples_of_32(size, canvas, fitted):
    placement = place(*size, det_side=416, step=32, max_aspect=3.0)
    assert placement.canvas == canvas and (placement.height, placement.width) == fitted


def test_coarser_canvas_steps_pad_more_but_keep_the_poster_size():
    placement = place(444, 300, det_side=416, step=128, max_aspect=3.0)
    assert placement.canvas == (640, 416) and (placement.height, placement.width) == (608, 416)


def test_text_lines_go_to_the_smallest_width_that_holds_them():
    widths = (128, 320, 640, 960)
    assert rec_width(np.zeros((48, 100, 3), np.uint8), widths, min_width=128) == 128
    assert rec_width(np.zeros((48, 100, 3), np.uint8), widths, min_width=320) == 320  # padded as per poster
    assert rec_width(np.zeros((24, 200, 3), np.uint8), widths, min_width=128) == 640  # 400 px at height 48
    assert rec_width(np.zeros((10, 2000, 3), np.uint8), widths, min_width=128) == 960  # squeezed into the widest
