"""How well OCR text matches a poster's title: word recall and the character error rate of the best span."""

from __future__ import annotations

import re
import unicodedata

import jiwer
from rapidfuzz import fuzz

WORD = re.compile(r"[^\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form: lowercase words separated by single spaces."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(WORD.findall(text.casefold()))


def title_word_recall(title: str, text: str) -> float | None:
    """Fraction of the title's words found among the OCR text's words (None for a title without words)."""
    title_words = normalise(title).split()
    if not title_words:
        return None
    found = set(normalise(text).split())
    return sum(word in found for word in title_words) / len(title_words)


def best_span_cer(title: str, text: str) -> float | None:
    """Character error rate of the OCR span that best matches the title (1.0 when nothing was read)."""
    reference, hypothesis = normalise(title), normalise(text)
    if not reference:
        return None
    if not hypothesis:
        return 1.0
    alignment = fuzz.partial_ratio_alignment(reference, hypothesis)
    span = hypothesis[alignment.dest_start : alignment.dest_end] if alignment else ""
    return min(1.0, float(jiwer.cer(reference, span))) if span else 1.0
