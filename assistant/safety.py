"""Decide what kind of question this is before anything is searched.

``classify`` returns one of:

* ``crisis`` - someone's life or safety is at risk now (suicidal thoughts,
  self-harm, not breathing, collapsed, heart attack or stroke happening now,
  violence now, overdose). The assistant shows emergency numbers first. Crisis
  wins over every other reading: a false alarm costs a person a few seconds,
  a missed one can cost much more.
* ``injection`` - an attempt to change the assistant's role, reveal its
  instructions or make it ignore its rules. Answered with the refusal text.
* ``off_topic`` - a clear non-care request (poems, jokes, stocks, trivia,
  homework, recipes, sport, weather, code, translation) with no care word in
  it, so "kan madservice levere mad?" stays a care question.
* ``care`` - everything else; retrieval then decides answered or not found.

The words live in ``lexicons/safety.yaml`` so staff can extend them without
touching code. Matching is case-insensitive and tolerant of missing
diacritics: question and lexicon are normalised the same way (see
:func:`normalise`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml

Intent = Literal["crisis", "injection", "off_topic", "small_talk", "care"]

SMALL_TALK_MAX_WORDS = 6
OPTIONAL_CATEGORIES = ("small_talk",)
LEXICON_PATH = Path(__file__).resolve().parent / "lexicons" / "safety.yaml"
CATEGORIES = ("crisis", "injection", "off_topic", "small_talk", "care_domain")

# Nordic letters are folded explicitly (NFKD does not split æ, ø or å the way
# people type them without a Nordic keyboard: "aeldre", "pa", "sjalvmord").
_FOLD = str.maketrans({"å": "a", "ä": "a", "æ": "ae", "ø": "o", "ö": "o", "’": "'", "‘": "'", "´": "'"})


def normalise(text: str) -> str:
    """Lower-case, fold Nordic letters, drop other accents, collapse spaces.

    "aa" is read as "å" (older Danish/Norwegian spelling and keyboards without
    å), so "paarørende", "pårørende" and "parorende" all become "parorende".
    """
    folded = text.casefold().translate(_FOLD)
    decomposed = unicodedata.normalize("NFKD", folded)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", stripped.replace("aa", "a")).strip()


def _fold_pattern(pattern: str) -> str:
    """Apply the letter folding to a regex without lower-casing it.

    Lower-casing would turn escapes such as ``\\S`` or ``\\W`` into their
    opposites, so authors write regexes in lower case and only letters are folded.
    """
    return pattern.translate(_FOLD).replace("aa", "a")


def _phrase_regex(phrase: str) -> str:
    """Turn a lexicon phrase into a regex over normalised text.

    Words match whole; a leading or trailing ``*`` lets a compound or an
    inflection continue ("*pleje*" matches "hjemmeplejen").
    """
    text = phrase.strip()
    head = r"\w*" if text.startswith("*") else r"(?<!\w)"
    tail = r"\w*" if text.endswith("*") else r"(?!\w)"
    words = normalise(text.strip("*")).split(" ")
    return head + r"\s+".join(re.escape(w) for w in words) + tail


@dataclass(frozen=True)
class _Category:
    """One compiled lexicon category."""

    folded: re.Pattern[str] | None  # matched against normalise(question)
    exact: re.Pattern[str] | None  # matched against the question as typed

    def matches(self, question: str, normalised: str) -> bool:
        if self.folded is not None and self.folded.search(normalised):
            return True
        return self.exact is not None and self.exact.search(question) is not None


def _compile(parts: list[str], flags: int = 0) -> re.Pattern[str] | None:
    # One alternation per category keeps classification to a few regex scans.
    return re.compile("|".join(f"(?:{p})" for p in parts), flags) if parts else None


def _compile_category(spec: dict[str, Any]) -> _Category:
    phrases = spec.get("phrases") or {}
    folded = [_phrase_regex(p) for language in phrases.values() for p in (language or [])]
    folded += [_fold_pattern(r) for r in spec.get("regex") or []]
    exact = list(spec.get("regex_case_sensitive") or [])
    return _Category(folded=_compile(folded), exact=_compile(exact))


@dataclass(frozen=True)
class Lexicon:
    crisis: _Category
    injection: _Category
    off_topic: _Category
    small_talk: _Category
    care_domain: _Category


def load_lexicon(path: Path = LEXICON_PATH) -> Lexicon:
    """Read and compile a safety lexicon; raises if a category is missing."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    missing = [c for c in CATEGORIES if c not in data and c not in OPTIONAL_CATEGORIES]
    if missing:
        raise ValueError(f"{path}: missing categories {missing}")
    return Lexicon(**{c: _compile_category(data.get(c) or {}) for c in CATEGORIES})


@lru_cache(maxsize=1)
def _default_lexicon() -> Lexicon:
    return load_lexicon(LEXICON_PATH)


def classify(question: str, lexicon: Lexicon | None = None) -> Intent:
    """Classify a question as crisis, injection, off_topic or care."""
    lex = lexicon or _default_lexicon()
    text = normalise(question)
    if lex.crisis.matches(question, text):
        return "crisis"
    if lex.injection.matches(question, text):
        return "injection"
    if lex.care_domain.matches(question, text):
        return "care"
    if lex.off_topic.matches(question, text):
        return "off_topic"
    # "tak for hjælpen", "hej": a short greeting or thanks with no care question in it.
    if len(text.split()) <= SMALL_TALK_MAX_WORDS and lex.small_talk.matches(question, text):
        return "small_talk"
    return "care"
