"""Checks for OCR engines: text from a poster, nothing (and no error) from a blank image, results the cache can
store, batches, and reading in a worker process."""

from __future__ import annotations

import json
import pickle

from mmgenre.components import OcrEngine, OcrResult, Word
from mmgenre.testing.contract import CheckSkipped, check, expect
from mmgenre.testing.samples import POSTER_TITLE, blank_poster, poster, title_words
from mmgenre.testing.workbench import Workbench
from mmgenre.testing.worker import read_in_worker


def engine(bench: Workbench) -> OcrEngine:
    """The engine, set up once for the checks that read."""

    def make() -> OcrEngine:
        made = bench.make()
        made.setup()
        return made

    return bench.once("engine", make)


def read_poster(bench: Workbench) -> OcrResult:
    return bench.once("poster", lambda: engine(bench).read(poster()))


def read_blank(bench: Workbench) -> OcrResult:
    return bench.once("blank", lambda: engine(bench).read(blank_poster()))


def sample_output(bench: Workbench, component: OcrEngine) -> dict:
    """What the engine reads on the sample poster, for comparing two settings."""
    component.setup()
    return component.read(poster()).to_json()


def describe(result: object) -> str:
    return f"{type(result).__name__} {getattr(result, 'text', result)!r}"


def expect_words(words: list, size: tuple[int, int]) -> None:
    for word in words:
        expect(isinstance(word, Word) and isinstance(word.text, str), f"a word that is not a Word: {word!r}")
        if word.box is not None:
            left, top, right, bottom = word.box
            inside = -2 <= left <= right <= size[0] + 2 and -2 <= top <= bottom <= size[1] + 2
            expect(inside, f"word {word.text!r} has the box {word.box}, outside the {size[0]} x {size[1]} image")
        if word.confidence is not None:
            expect(0 <= word.confidence <= 1, f"word {word.text!r} has the confidence {word.confidence} (not 0..1)")


@check(
    "ocr",
    contract=f"`read(image)` returns an OcrResult with the text of a poster: on the sample poster (black "
    f"'{POSTER_TITLE}' on white, mmgenre.testing.poster()) it finds 'GREAT' and 'ESCAPE'; word boxes lie in the "
    "image (original pixels) and confidences in 0..1",
    fix="return OcrResult(text=..., words=[Word(text, (left, top, right, bottom), confidence)]) with boxes scaled "
    "back to the poster's own pixels and confidences divided into 0..1",
)
def reads_a_poster(bench: Workbench) -> None:
    result = read_poster(bench)
    expect(isinstance(result, OcrResult), f"read() returned {type(result).__name__}, not an OcrResult")
    expect(isinstance(result.text, str), f"text is {type(result.text).__name__}")
    found = title_words(result.text)
    expect(found == {"GREAT", "ESCAPE"}, f"the text {result.text!r} (title words found: {sorted(found) or 'none'})")
    expect_words(result.words, poster().size)


@check(
    "ocr",
    contract="a poster with no text is an empty result, not an error: `read(blank image)` returns an OcrResult "
    "whose text is empty and which has no words",
    fix="return OcrResult(text='') when nothing is detected instead of raising (exceptions mark a poster as failed)",
)
def reads_nothing_on_a_blank_image(bench: Workbench) -> None:
    result = read_blank(bench)
    expect(isinstance(result, OcrResult), f"read() returned {type(result).__name__}, not an OcrResult")
    expect(result.text.strip() == "" and not result.words, f"read {result.text!r} with {len(result.words)} words")


@check(
    "ocr",
    contract="results survive the feature cache: `to_json()` is plain JSON and `OcrResult.from_json` gives the "
    "result back",
    fix="build words from plain Python values: str text, int box coordinates, float confidences (convert numpy "
    "scalars with int() / float())",
)
def results_survive_the_cache(bench: Workbench) -> None:
    result = read_poster(bench)
    try:
        stored = json.dumps(result.to_json())
    except (TypeError, ValueError) as error:
        expect(False, f"to_json() is not JSON: {error}")
    back = OcrResult.from_json(json.loads(stored))
    expect(back == result, f"{result!r} came back from the cache as {back!r}")


@check(
    "ocr",
    contract="`parallelism` is 'process' (CPU-bound work, run in worker processes) or 'thread' (waiting on a "
    "remote service)",
    fix="set the class attribute parallelism = 'process' or 'thread'",
    runs_component=False,
)
def declares_parallelism(bench: Workbench) -> None:
    expect(bench.component.parallelism in ("process", "thread"), f"parallelism = {bench.component.parallelism!r}")


def overrides_read_batch(bench: Workbench) -> bool:
    return bench.component.read_batch is not OcrEngine.read_batch


@check(
    "ocr",
    contract="`read_batch(images)` returns one result per image, in order: an OcrResult, or the exception that "
    "failed that image alone",
    fix="return a list as long as the input, in input order, putting a failed image's exception in its place",
    applies=overrides_read_batch,
)
def read_batch_gives_one_result_per_image(bench: Workbench) -> None:
    results = engine(bench).read_batch([blank_poster(), poster()])
    expect(isinstance(results, list) and len(results) == 2, f"read_batch of 2 images returned {results!r}")
    blank, text = results
    expect(isinstance(blank, OcrResult) and not blank.text.strip(), f"the blank image gave {describe(blank)}")
    expect(isinstance(text, OcrResult) and title_words(text.text), f"the poster gave {describe(text)}")


@check(
    "ocr",
    contract="an engine that has been set up and used still pickles, and the copy works in a worker process: "
    "configure_process(), setup(), then read() gives the poster's text",
    fix="keep loaded models and sessions out of the pickled state (`__getstate__` returning {'params': "
    "self.params}) and let setup() rebuild them; check for them with getattr(self, '_model', None)",
    applies=lambda bench: bench.component.parallelism == "process",
)
def reads_in_a_worker_process(bench: Workbench) -> None:
    read_poster(bench)  # the engine has been used before it is sent
    try:
        data = pickle.dumps((engine(bench), poster()))
    except Exception as error:
        expect(False, f"after setup() and a read, the engine does not pickle: {type(error).__name__}: {error}")
    try:
        text = json.loads(bench.worker.call(read_in_worker, data))["text"]
    except CheckSkipped:  # no worker may start from here (see main_guard_problem)
        raise
    except Exception as error:
        expect(False, f"the worker process failed: {type(error).__name__}: {error}")
    expect(title_words(text) == {"GREAT", "ESCAPE"}, f"the worker read {text!r}")
