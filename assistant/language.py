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
    return guess_language(text, default)[0]


def guess_language(text: str, default: LanguageCode = "en") -> tuple[LanguageCode, bool]:
    """The most likely language, and whether the text says so clearly.

    Clearly means lingua is sure (at least 0.9 summed over Bokmål and Nynorsk)
    and the function words do not point elsewhere, or the function words alone
    outvote every other language by two. "demens?" is not clear: the page's
    chosen language should decide it.
    """
    totals = language_scores(text)
    if not totals:
        return default, False
    best = max(totals, key=lambda code: totals[code])
    marked, margin = _marker_vote(text)
    if marked and (totals[best] < _SURE or margin >= 2):
        return marked, margin >= 2 or (marked == best and totals[best] >= _SURE)
    return best, totals[best] >= _SURE and (marked is None or marked == best) and len(text.split()) >= 2


def language_scores(text: str) -> dict[LanguageCode, float]:
    """lingua's confidence per language (Bokmål and Nynorsk summed); empty for text without letters."""
    if not any(ch.isalpha() for ch in text):
        return {}
    totals: dict[LanguageCode, float] = {}
    for confidence in _detector().compute_language_confidence_values(text):
        code = _CODES[confidence.language]
        totals[code] = totals.get(code, 0.0) + confidence.value
    return totals


def choose_language(text: str, prior: LanguageCode | None) -> tuple[LanguageCode, str]:
    """The answer language: the question's own when it is clear, else the prior (the page's or conversation's).

    A question is also taken in its own language when it is plainly not in the
    prior one ("Kan min mor få plads på plejehjem?" on an English page), while
    "demens?" on an English page stays English.

    Returns the language and the reason ("question" or "prior").
    """
    guess, sure = guess_language(text)
    if prior is None or sure or guess == prior:
        return guess, "question"
    if language_scores(text).get(prior, 0.0) < _IMPLAUSIBLE and len(text.split()) >= _MIN_WORDS_TO_OVERRULE:
        return guess, "question"
    return prior, "prior"


_IMPLAUSIBLE = 0.05
_MIN_WORDS_TO_OVERRULE = 3

# lingua is unsure on short Danish/Norwegian/Swedish questions that share most
# words; a few function words only one of the languages uses settle it.
_SURE = 0.9
_MARKERS: dict[LanguageCode, frozenset[str]] = {
    "da": frozenset(
        [
            "hvad",
            "mig",
            "dig",
            "sig",
            "af",
            "efter",
            "nogen",
            "noget",
            "gør",
            "gøre",
            "hjælp",
            "bliver",
            "sker",
            "lige",
            "nu",
            "meget",
            "mere",
            "sådan",
            "hende",
            "jer",
            "ældre",
            "hjemmehjælp",
            "hjemmepleje",
            "vores",
            "jeres",
            "øvrigt",
            "børn",
            "børnene",
            "hvornår",
        ]
    ),
    "nb": frozenset(
        [
            "hva",
            "meg",
            "deg",
            "seg",
            "av",
            "etter",
            "noen",
            "noe",
            "gjør",
            "gjøre",
            "hjelp",
            "blir",
            "skjer",
            "nå",
            "mye",
            "mer",
            "slik",
            "henne",
            "dere",
            "eldre",
            "hjemmehjelp",
            "hjemmetjeneste",
            "ikkje",
            "kva",
            "korleis",
            "vår",
            "våre",
        ]
    ),
    "sv": frozenset(
        [
            "och",
            "jag",
            "inte",
            "är",
            "vad",
            "hur",
            "mig",
            "dig",
            "sig",
            "av",
            "efter",
            "någon",
            "något",
            "gör",
            "göra",
            "hjälp",
            "blir",
            "händer",
            "nu",
            "mycket",
            "mer",
            "sådan",
            "henne",
            "ni",
            "äldre",
            "hemtjänst",
            "vår",
            "våra",
            "också",
        ]
    ),
    "en": frozenset(
        [
            "the",
            "what",
            "how",
            "will",
            "does",
            "do",
            "is",
            "are",
            "my",
            "mum",
            "dad",
            "can",
            "could",
            "would",
            "should",
            "there",
            "their",
            "they",
            "who",
            "which",
            "when",
            "why",
            "with",
            "about",
            # Words no Nordic language writes ("tell me a joke" read as Bokmål before): not "i",
            # "to", "for" or "have", which Danish and Norwegian use too.
            "a",
            "an",
            "and",
            "of",
            "you",
            "your",
            "it",
            "this",
            "that",
            "please",
            "help",
            "need",
            "mother",
            "father",
        ]
    ),
}


def has_language_markers(text: str) -> bool:
    """Whether the text has function words that point to one language ("hva", "vad", "what")."""
    return _marker_vote(text)[0] is not None


def _typed_without_nordic_letters(word: str) -> str:
    """How Danes and Norwegians type a word without æ, ø and å: "ældre" as "aeldre", "nå" as "naa"."""
    return word.replace("æ", "ae").replace("ø", "oe").replace("å", "aa")


# The Danish and Norwegian markers count in their typed-without-letters form too; no marker of one
# language becomes another's that way. "hvilke" is no marker: Danish and Norwegian both write it.
_MARKERS = {
    code: markers | {_typed_without_nordic_letters(w) for w in markers} if code in ("da", "nb") else markers
    for code, markers in _MARKERS.items()
}


def _marker_vote(text: str) -> tuple[LanguageCode | None, int]:
    words = [t.strip(".,!?;:()\"'") for t in text.split()]
    # English contractions count by their first word: "what's" is "what", "don't" is "do".
    tokens = [t.lower().split("'")[0].split("’")[0] for t in words]
    votes = {code: sum(t in markers for t in tokens) for code, markers in _MARKERS.items()}
    winner = _clear_winner(votes)
    if winner[0] is None:
        # No function word decides: a word written with ä or ö is Swedish, with æ or ø Danish or
        # Norwegian ("äldreomsorgen" in a question lingua read as Bokmål, answers_v8). Only then, so
        # that "Hva betyr särskilt boende?" stays Norwegian; and not a capitalised word, since a town
        # ("Östersund", "Søborg") is named in every language.
        letters = {code: 0 for code in votes}
        for word in (w for w in words if w[:1].islower()):
            letters["sv"] += any(ch in word for ch in "äö")
            for code in ("da", "nb"):
                letters[code] += any(ch in word for ch in "æø")
        winner = _clear_winner(letters)
    return winner


def _clear_winner(votes: dict[LanguageCode, int]) -> tuple[LanguageCode | None, int]:
    """The language with the most votes and its margin, when one has more than every other."""
    # Words shared by two languages (mig: da+sv, av: nb+sv) count for both; only a clear winner decides.
    ranked = sorted(votes.items(), key=lambda item: -item[1])
    if ranked[0][1] > 0 and ranked[0][1] > ranked[1][1]:
        return ranked[0][0], ranked[0][1] - ranked[1][1]
    return None, 0


def warm_up() -> None:
    """Load the language models now rather than on the first question."""
    _detector()
