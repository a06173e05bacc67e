"""Which language a question is in: da, sv, nb or en.

lingua is built for short texts; we restrict it to the languages we serve so
a three-word question is not mistaken for Dutch. Nynorsk counts as Norwegian.
"""

from __future__ import annotations

from functools import lru_cache

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

from assistant.contract import Language as LanguageCode

_CODES: dict[Language, LanguageCode] = {
    Language.DANISH: "da",
    Language.SWEDISH: "sv",
    Language.BOKMAL: "nb",
    Language.NYNORSK: "nb",
    Language.ENGLISH: "en",
}


@lru_cache(maxsize=1)
def _detector() -> LanguageDetector:
    return LanguageDetectorBuilder.from_languages(*_CODES).with_preloaded_language_models().build()


def detect_language(text: str, default: LanguageCode = "en") -> LanguageCode:
    """The most likely of da / sv / nb / en, summing Bokmål and Nynorsk."""
    if not any(ch.isalpha() for ch in text):
        return default
    totals: dict[LanguageCode, float] = {}
    for confidence in _detector().compute_language_confidence_values(text):
        code = _CODES[confidence.language]
        totals[code] = totals.get(code, 0.0) + confidence.value
    if not totals:
        return default
    return max(totals, key=lambda code: totals[code])


def warm_up() -> None:
    """Load the language models now rather than on the first question."""
    _detector()
