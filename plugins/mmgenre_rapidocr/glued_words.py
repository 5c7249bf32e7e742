"""PP-OCR's recogniser often drops the spaces between words ("BEVERLYHILLS"); put them back."""

from __future__ import annotations

import re

RUN = re.compile(r"[A-Za-z]{4,}")


def split_glued_words(text: str) -> str:
    """Split letter runs that are not words themselves into the likeliest words (wordninja, English)."""
    import wordninja

    lexicon = wordninja.DEFAULT_LANGUAGE_MODEL._wordcost

    def split(match: re.Match) -> str:
        run = match.group(0)
        return run if run.lower() in lexicon else " ".join(wordninja.split(run))

    return RUN.sub(split, text)
