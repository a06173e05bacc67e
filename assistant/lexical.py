"""Lexical side of retrieval: Snowball stemming, glossary concepts, BM25.

Two ideas make BM25 work across Danish, Swedish, Norwegian and English:

* **Concept tokens.** The care glossary maps one concept to its words in every
  language. A text that mentions "aflastning", "avlösning", "avlastning" or
  "respite care" gets the same extra token ``§respite_care``, so an English
  question finds a Norwegian measure through the concept, not the spelling.
* **Glossary decompounding.** Scandinavian compounds ("demensboliger",
  "anhörigstödet") contain a glossary term as a prefix or suffix; such a token
  also yields the concept token, so compounds match their parts.

Stemming uses PyStemmer (Snowball) per language. Documents are stemmed with
their own language; a question is stemmed with all four, since a Danish
question is often best answered by a Norwegian text.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s import stopwords as bm25s_stopwords

from assistant.knowledge import Concept, load_yaml

_STEMMER_NAMES = {"da": "danish", "sv": "swedish", "nb": "norwegian", "en": "english"}
_EXTRA_STOPWORDS = load_yaml((Path(__file__).parent / "lexicons" / "stopwords.yaml").read_text(encoding="utf-8"))
_STOPWORDS = {
    "da": set(bm25s_stopwords.STOPWORDS_DANISH) | set(_EXTRA_STOPWORDS["da"]),
    "sv": set(bm25s_stopwords.STOPWORDS_SWEDISH) | set(_EXTRA_STOPWORDS["sv"]),
    "nb": set(bm25s_stopwords.STOPWORDS_NORWEGIAN) | set(_EXTRA_STOPWORDS["nb"]),
    "en": set(bm25s_stopwords.STOPWORDS_EN) | set(_EXTRA_STOPWORDS["en"]),
}
LANGUAGES = tuple(_STEMMER_NAMES)
_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*", re.UNICODE)
MIN_COMPOUND_PART = 5
CONCEPT_PREFIX = "§"
# bm25s logs every index build at DEBUG through its own handler; that is noise in our CLI.
logging.getLogger("bm25s").setLevel(logging.WARNING)
CONCEPT_QUERY_WEIGHT = 2
_TOKEN_CACHE_SIZE = 200_000


@lru_cache(maxsize=8)
def _stemmer(language: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(_STEMMER_NAMES.get(language, "english"))


# Nordic letters are folded explicitly: NFKD does not split æ or ø the way people
# type them without a Nordic keyboard ("aeldre", "sjalvmord").
_MESSAGE_FOLD = str.maketrans({"å": "a", "ä": "a", "æ": "ae", "ø": "o", "ö": "o", "’": "'", "‘": "'", "´": "'"})


def normalise(text: str) -> str:
    """A message as the safety floor reads it: lower case, Nordic letters folded ("aa" read as
    "å"), other accents dropped, spaces collapsed."""
    folded = text.casefold().translate(_MESSAGE_FOLD)
    decomposed = unicodedata.normalize("NFKD", folded)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", stripped.replace("aa", "a")).strip()


def fold(text: str) -> str:
    """Lower-case and fold Nordic letters, so 'Östersund', 'ostersund' and 'KÖ'/'ko' compare equal."""
    # Words and word pairs are cached: place and concept lookups fold every one of every
    # question, and the same ones recur (measured: 4 ms of CPU per answer uncached). Long
    # texts are not, so a large knowledge base cannot fill the cache with passages.
    return _fold_short(text) if len(text) <= 40 else _fold(text)


@lru_cache(maxsize=_TOKEN_CACHE_SIZE)
def _fold_short(text: str) -> str:
    return _fold(text)


def _fold(text: str) -> str:
    text = text.casefold().replace("æ", "ae").replace("ø", "o").replace("å", "a")
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    """Lower-cased word tokens, with NFC normalisation so 'å' is always one character."""
    return [w.lower() for w in _WORD.findall(unicodedata.normalize("NFC", text))]


def content_words(text: str, language: str) -> list[str]:
    """Words without the language's stop words (and without one-letter words)."""
    stop = _STOPWORDS.get(language, set())
    return [w for w in words(text) if w not in stop and len(w) > 1]


def stems(tokens: Iterable[str], language: str) -> list[str]:
    return list(_stemmer(language).stemWords(list(tokens)))


@dataclass
class Glossary:
    """Finds glossary concepts in a text, in any of the four languages."""

    concepts: Sequence[Concept]
    _phrases: dict[tuple[str, ...], set[str]] = field(default_factory=dict, init=False)
    _stem_index: dict[str, set[str]] = field(default_factory=dict, init=False)
    _compound_parts: dict[str, set[str]] = field(default_factory=dict, init=False)
    _phrases_by_first: dict[str, list[tuple[str, ...]]] = field(default_factory=dict, init=False)
    _token_cache: dict[str, tuple[str, ...]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for concept in self.concepts:
            for language, terms in concept.terms.items():
                for term in terms:
                    self._add_term(concept.id, language, term)
        # A text is only searched for the phrases whose first word it contains: loading the index
        # and the first answer looked every phrase up in every passage and took seconds.
        for phrase in self._phrases:
            self._phrases_by_first.setdefault(phrase[0], []).append(phrase)

    def _add_term(self, concept_id: str, language: str, term: str) -> None:
        # "=ældre": match the word and its stem only, never as part of a compound ("forældre").
        exact = term.startswith("=")
        term_words = words(term.lstrip("="))
        if not term_words:
            return
        if len(term_words) > 1:
            # Phrases match exactly, but with or without a plural -s/-er on the last word
            # ("career path" / "career paths", "hel stilling" / "hele stillinger" stays separate).
            last = term_words[-1]
            for variant in {last, last + "s", last.removesuffix("s")}:
                self._phrases.setdefault((*term_words[:-1], variant), set()).add(concept_id)
            return
        word = term_words[0]
        if language == "en":
            # English terms match their own inflections only: the English stem of "relatives"
            # ("relat") would otherwise also match Swedish "relation".
            stem = _stemmer("en").stemWord(word)
            forms = {word, word + "s", word + "es", word.removesuffix("s")}
            if len(stem) >= MIN_COMPOUND_PART + 1:  # short stems collide with Scandinavian words
                forms.add(stem)
            for form in forms:
                self._stem_index.setdefault(form, set()).add(concept_id)
            return
        for lang in LANGUAGES:
            self._stem_index.setdefault(_stemmer(lang).stemWord(word), set()).add(concept_id)
        self._stem_index.setdefault(word, set()).add(concept_id)
        if len(word) >= MIN_COMPOUND_PART and not exact:
            self._compound_parts.setdefault(word, set()).add(concept_id)

    def find(self, text: str) -> set[str]:
        """Ids of the concepts a text mentions."""
        return set(self.occurrences(text))

    def occurrences(self, text: str) -> list[str]:
        """Concept ids, once per mention (a text about dementia throughout names it often)."""
        tokens = words(text)
        found: list[str] = []
        for token in tokens:
            found.extend(self._token_concepts(token))
        joined = " " + " ".join(tokens) + " "
        for first in dict.fromkeys(tokens):
            for phrase in self._phrases_by_first.get(first, ()):
                needle = " " + " ".join(phrase) + " "
                found.extend(sorted(self._phrases[phrase]) * joined.count(needle))
        return found

    def _token_concepts(self, token: str) -> tuple[str, ...]:
        """The concepts one word names, sorted; cached, since the same words recur in every text."""
        cached = self._token_cache.get(token)
        if cached is not None:
            return cached
        concepts = set(self._stem_index.get(token, set()))
        for language in LANGUAGES:
            concepts |= self._stem_index.get(_stemmer(language).stemWord(token), set())
        concepts |= self._compound_concepts(token)
        result = tuple(sorted(concepts))
        if len(self._token_cache) < _TOKEN_CACHE_SIZE:  # questions bring new words: keep the cache bounded
            self._token_cache[token] = result
        return result

    def _compound_concepts(self, token: str) -> set[str]:
        """Concepts whose glossary word is a proper prefix or suffix of the token.

        Looks up the token's own prefixes and suffixes (as many as it has letters)
        instead of testing every glossary word against it.
        """
        found: set[str] = set()
        if len(token) <= MIN_COMPOUND_PART:
            return found
        for cut in range(MIN_COMPOUND_PART, len(token)):
            found |= self._compound_parts.get(token[:cut], set())
            found |= self._compound_parts.get(token[len(token) - cut :], set())
        return found

    def terms(self, concept_ids: Iterable[str], language: str) -> list[str]:
        """A concept's words in one language (for query expansion)."""
        by_id = {c.id: c for c in self.concepts}
        return [term for cid in sorted(concept_ids) for term in by_id[cid].terms.get(language, ())]


def document_tokens(text: str, language: str, glossary: Glossary | None) -> list[str]:
    """BM25 tokens for a passage: its stems plus the concepts it mentions."""
    tokens = stems(content_words(text, language), language)
    if glossary is not None:
        tokens += [CONCEPT_PREFIX + cid for cid in glossary.occurrences(text)]
    return tokens


def query_tokens(text: str, language: str, concepts: Iterable[str]) -> list[str]:
    """BM25 tokens for a question: stems in every language plus its concepts."""
    content = content_words(text, language)
    tokens: set[str] = set()
    for lang in LANGUAGES:
        tokens.update(stems(content, lang))
    # Concepts count double: they are what carries meaning across languages.
    return sorted(tokens) + [CONCEPT_PREFIX + cid for cid in sorted(concepts)] * CONCEPT_QUERY_WEIGHT


class BM25Index:
    """BM25 over tokenised passages (bm25s), scored for every passage at once."""

    def __init__(self, corpus_tokens: list[list[str]]) -> None:
        self._size = len(corpus_tokens)
        self._vocabulary = {token for doc in corpus_tokens for token in doc}
        self._model = bm25s.BM25()
        if corpus_tokens:
            self._model.index(corpus_tokens, show_progress=False)

    def scores(self, tokens: list[str]) -> np.ndarray:
        known = [t for t in tokens if t in self._vocabulary]
        if not known or not self._size:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._model.get_scores(known), dtype=np.float32)


_DIGRAPHS = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "ä": "ae", "ö": "oe"})
_FOLDINGS = (
    str.maketrans({"æ": "ae", "ø": "o", "å": "a", "ä": "a", "ö": "o"}),
    _DIGRAPHS,
    str.maketrans({"æ": "a", "ø": "o", "å": "a", "ä": "a", "ö": "o"}),
)


_NORDIC_LETTER = re.compile("[æøåäöÆØÅÄÖ]")


class DiacriticRestorer:
    """Puts æ, ø, å, ä and ö back into words typed without them ("parorende" -> "pårørende").

    Many older citizens type on keyboards without Nordic letters. A word is only
    restored when it is unknown as typed and exactly one known word folds to it.
    In a message that has a Nordic letter somewhere, only the old two-letter
    spellings are restored ("omraadet" -> "området", "aeldre" -> "ældre"):
    whoever typed "på" has the keys, so a single plain letter there is meant as
    typed. (Restoring every message turned "det var" into "det vår" and Swedish
    "gor" into Danish "gør": the vocabulary is the plans' content words.)
    """

    def __init__(self, vocabulary: Iterable[str]) -> None:
        # The small words of the four languages are known too: the plans' vocabulary
        # alone lacked Swedish "var" (where), so it became "vår".
        self._known = set(vocabulary).union(*_STOPWORDS.values())
        candidates: dict[str, set[str]] = {}
        for word in self._known:
            for table in _FOLDINGS:
                folded = word.translate(table)
                if folded != word:
                    candidates.setdefault(folded, set()).add(word)
        self._restore = {folded: next(iter(words)) for folded, words in candidates.items() if len(words) == 1}
        digraphs = {word.translate(_DIGRAPHS) for word in self._known}
        self._restore_digraph = {folded: word for folded, word in self._restore.items() if folded in digraphs}
        # "aldre" may be Danish "ældre" or Swedish "äldre": search with both, display neither.
        self._ambiguous = {folded: sorted(words) for folded, words in candidates.items() if len(words) > 1}

    def alternatives(self, text: str) -> list[str]:
        """Known words an unknown, folded word of the text could be, when it could be several."""
        found: list[str] = []
        for word in words(text):
            if word not in self._known:
                found.extend(self._ambiguous.get(word, []))
        return found

    def restore(self, text: str) -> str:
        text = unicodedata.normalize("NFC", text)
        table = self._restore_digraph if _NORDIC_LETTER.search(text) else self._restore

        def replace(match: re.Match[str]) -> str:
            word = match.group(0)
            lower = word.lower()
            if lower in self._known or lower not in table:
                return word
            restored = table[lower]
            return restored.capitalize() if word[:1].isupper() else restored

        return _WORD.sub(replace, text)
