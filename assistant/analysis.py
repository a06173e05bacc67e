"""Analysis: everything the answer path needs to know about a question, worked out once.

Public entry point: :class:`Analyser` and its :meth:`Analyser.analyse`, which
returns a :class:`QuestionAnalysis`. Retrieval, the decision and composition
read that object; nothing after it detects a language, restores letters or
embeds the question again.

In order:

1. personal data is found and replaced (``[cpr]``, ``[email]``...) before anything else;
2. letters typed without æ/ø/å/ä/ö are restored ("parorende" -> "pårørende");
3. a short fragment of the previous question ("og i Sverige?") borrows its words;
4. the language: the question's own when it is clear, else the page's choice,
   else the conversation's;
5. the places it names: a municipality of the knowledge base (also typed
   without Nordic letters, "Ostersund"), a country, or a place the knowledge
   base does not cover;
6. its glossary concepts;
7. one embedding, used for the intent, for dense retrieval and for choosing statements;
8. the intent (:func:`assistant.intents.decide_intent`).
"""

from __future__ import annotations

import bisect
import re
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from assistant import privacy
from assistant.config import Settings
from assistant.contract import Language, UserFacingError
from assistant.intents import POLICY_DIR, IntentDecision, IntentModel, decide_intent, default_policy
from assistant.knowledge import load_yaml
from assistant.language import choose_language
from assistant.lexical import DiacriticRestorer, fold, words
from assistant.retrieve import IndexSnapshot, Retriever, municipality_stem

COUNTRY_OF_LANGUAGE = {"da": "DK", "sv": "SE", "nb": "NO"}
FRAGMENT_MAX_WORDS = 5


class QuestionError(UserFacingError, ValueError):
    """The question cannot be processed (empty or too long); the message says why."""


class IntentModelMissingError(UserFacingError, RuntimeError):
    """The index has no intent model (the decision table was missing when it was built)."""


@dataclass(frozen=True)
class QuestionAnalysis:
    """What the question is, computed once.

    ``question`` is the redacted question as typed (the only form ever stored or
    shown back); ``text`` is what the assistant reads (redacted, letters restored,
    with the previous question's words when it is a fragment of it).
    """

    question: str
    text: str
    pii_kinds: tuple[str, ...]
    language: Language
    language_reason: str  # "question", "page", "conversation" or "forced"
    municipality: str | None  # the scope: named in the question, else chosen on the page
    municipality_named: bool
    country: str | None  # named in the question, or the municipality's
    unknown_place: str | None  # a place named that no document covers
    concepts: tuple[str, ...]
    search_text: str  # text plus the alternatives of ambiguous folded words, for BM25
    follow_up: bool
    vector: np.ndarray = field(repr=False)
    decision: IntentDecision
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def pii(self) -> bool:
        return bool(self.pii_kinds)

    @property
    def home_country(self) -> str | None:
        """The country the asker most likely lives in: the one in scope, else their language's."""
        return self.country or COUNTRY_OF_LANGUAGE.get(self.language)


@lru_cache(maxsize=1)
def _places() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml((POLICY_DIR / "places.yaml").read_text(encoding="utf-8"))
    return data


Place = tuple[str, str, str]  # (as written, municipality, country)


@dataclass(frozen=True)
class Gazetteer:
    """Every municipality of Denmark, Sweden and Norway (``policy/municipalities.yaml``), by folded name.

    ``places`` maps a folded name (one to three words) to (municipality, country);
    towns and other forms map to their municipality. ``common`` holds names that
    are also ordinary words ("Time", "Os", "Moss"): they count only when written
    with a capital in a place context ("i Moss", "Os kommune").
    """

    places: dict[str, tuple[str, str]]
    common: frozenset[str]

    @classmethod
    @lru_cache(maxsize=1)
    def load(cls) -> Gazetteer:
        data = load_yaml((POLICY_DIR / "municipalities.yaml").read_text(encoding="utf-8"))
        places: dict[str, tuple[str, str]] = {}
        for country in ("DK", "SE", "NO"):
            for name in data[country]:
                places.setdefault(fold(name), (name, country))
        for group in (data.get("other_names") or {}, data.get("cities") or {}):
            for entries in group.values() if all(isinstance(v, dict) for v in group.values()) else [group]:
                for other, name in entries.items():
                    target = places.get(fold(str(name)))
                    if target:
                        places.setdefault(fold(str(other)), target)
        return cls(places, frozenset(fold(w) for w in data.get("common_words") or []))

    def find(self, text: str) -> list[Place]:
        """(as written, municipality, country) for each place the text names."""
        tokens = list(re.finditer(r"[^\W\d_]+(?:[-'][^\W\d_]+)*", text))
        found: list[Place] = []
        i = 0
        while i < len(tokens):
            for size in (3, 2, 1):
                if i + size > len(tokens):
                    continue
                written = text[tokens[i].start() : tokens[i + size - 1].end()]
                place = self._lookup(written)
                if place and self._counts(written, text, tokens, i, size):
                    found.append((written, *place))
                    i += size
                    break
            else:
                i += 1
        return found

    def _lookup(self, written: str) -> tuple[str, str] | None:
        folded = fold(written)
        if folded in self.places:
            return self.places[folded]
        # Genitive: "Aarhus Kommunes", "Göteborgs stad", "Tromsøs".
        return self.places.get(folded[:-1]) if folded.endswith("s") and len(folded) > 4 else None

    def _counts(self, written: str, text: str, tokens: list[re.Match[str]], i: int, size: int) -> bool:
        folded = fold(written).removesuffix("s")
        if fold(written) not in self.common and folded not in self.common:
            return True
        if not written[:1].isupper():
            return False
        before = fold(tokens[i - 1].group()) if i > 0 else ""
        after = fold(tokens[i + size].group()) if i + size < len(tokens) else ""
        return before in _PLACE_PREPOSITIONS or after in _MUNICIPALITY_WORDS


_PLACE_PREPOSITIONS = frozenset(
    {"i", "in", "pa", "for", "from", "fra", "fran", "til", "till", "at", "ved", "vid", "near"}
)
_MUNICIPALITY_WORDS = frozenset(
    {"kommune", "kommunes", "kommunen", "kommun", "kommuns", "stad", "municipality", "council", "by"}
)


class Analyser:
    """Analyses questions against the retriever's current index snapshot and the trained intent model."""

    def __init__(self, settings: Settings, retriever: Retriever) -> None:
        self.settings = settings
        self.retriever = retriever
        self.floor, self.thresholds = default_policy()
        self._model: tuple[int, IntentModel] | None = None
        self._lock = threading.Lock()
        places = _places()
        self._country_words = {c: frozenset(fold(w) for w in ws) for c, ws in places["countries"].items()}
        self._known_place_words = {fold(w) for w in places["known_place_words"]}
        self._region_prefixes = tuple(fold(w) for w in places.get("region_prefixes") or ())
        self.gazetteer = Gazetteer.load()
        self._openers = {
            lang: tuple(sorted((fold(o) for o in items), key=len, reverse=True))
            for lang, items in places["follow_up_openers"].items()
        }

    def intent_model(self) -> IntentModel:
        """The intent model of the current index (reloaded when the index is rebuilt)."""
        version = self.retriever.snapshot.version
        cached = self._model
        if cached is not None and cached[0] == version:
            return cached[1]
        with self._lock:
            path = self.settings.index_dir / "intents.npz"
            if not path.exists():
                raise IntentModelMissingError(
                    f"The index in {self.settings.index_dir} has no intent model: "
                    f"{self.settings.intents_table_path} was missing when it was built. "
                    "Restore it and run `python -m assistant index`."
                )
            model = IntentModel.load(self.settings.index_dir)
            self._model = (version, model)
            return model

    def analyse(
        self,
        question: str,
        municipality: str | None = None,
        history: list[dict[str, Any]] | None = None,
        page_language: Language | None = None,
        language: Language | None = None,
    ) -> QuestionAnalysis:
        """Analyse one question.

        Args:
            question: what the citizen typed (personal data is removed before anything else).
            municipality: the municipality chosen on the page, if any.
            history: earlier turns ``[{"role", "content"}]`` of the conversation.
            page_language: the language chosen on the page: the answer language unless
                the question is clearly in another.
            language: force the answer language (staff testing).

        Raises:
            QuestionError: the question is empty or too long.
        """
        timings: dict[str, float] = {}
        clock = time.perf_counter()
        # The length limit applies to what the person typed: a placeholder can be longer than what it hides.
        if len((question or "").strip()) > self.settings.max_question_chars:
            raise QuestionError(f"The question is longer than {self.settings.max_question_chars} characters.")
        redacted, matches = privacy.redact(question or "")
        redacted = redacted.strip()
        if not without_placeholders(redacted).strip():
            raise QuestionError("The question is empty." if not redacted else "The question holds only personal data.")
        self.retriever.refresh()
        snap = self.retriever.snapshot
        restored = snap.restorer.restore(redacted)
        places = self.gazetteer.find(restored)  # read once: the language, the scope and unknown places use them
        previous = _previous_question(history)
        follow_up = previous is not None and self._is_fragment(restored, previous)
        text = f"{snap.restorer.restore(previous)} {restored}" if follow_up and previous else restored

        conversation_language = None
        if previous is not None:
            conversation_language = choose_language(without_placeholders(previous), None)[0]
        prior = page_language or conversation_language
        if language:
            chosen, reason = language, "forced"
        else:
            chosen, reason = choose_language(self._without_places(snap, without_placeholders(restored), places), prior)
            if reason == "prior":
                reason = "page" if page_language else "conversation"

        # The message's own places win ("och i Söderhamn då?" after an Östersund question);
        # a fragment without any keeps the places of the question it continues.
        named_municipalities, named_countries = self._named_places(snap, restored, places)
        if follow_up and not named_municipalities and not named_countries:
            named_municipalities, named_countries = self._named_places(snap, text, self.gazetteer.find(text))
        scope = named_municipalities[0] if len(named_municipalities) == 1 else municipality
        country = named_countries[0] if len(named_countries) == 1 else None
        if scope:
            country = _country_of(snap, scope) or country
        unknown = None if named_municipalities else self._unknown_place(snap, restored)
        if unknown is None and not named_municipalities and not municipality:
            unknown = self._uncovered_municipality(snap, places)
        alternatives = snap.restorer.alternatives(text)
        search_text = without_placeholders(f"{text} {' '.join(alternatives)}" if alternatives else text)
        concepts = tuple(sorted(self.retriever.glossary.find(search_text)))
        timings["analyse"] = _ms_since(clock)

        clock = time.perf_counter()
        vector = self.retriever.embedder.query_vector(without_placeholders(text))
        timings["embed"] = _ms_since(clock)
        clock = time.perf_counter()
        decision = decide_intent(
            without_placeholders(text),
            vector,
            self.intent_model(),
            self.floor,
            self.thresholds,
            embed_sentences=lambda sentences: self.retriever.embedder.vectors(sentences, "query"),
        )
        timings["intent"] = _ms_since(clock)
        return QuestionAnalysis(
            question=redacted,
            text=text,
            pii_kinds=tuple(m.kind for m in matches),
            language=chosen,
            language_reason=reason,
            municipality=scope,
            municipality_named=bool(named_municipalities) and scope == named_municipalities[0],
            country=country,
            unknown_place=unknown,
            concepts=concepts,
            search_text=search_text,
            follow_up=follow_up,
            vector=vector,
            decision=decision,
            timings_ms=timings,
        )

    # -- conversation ----------------------------------------------------------

    def _is_fragment(self, question: str, previous: str) -> bool:
        """A short continuation of the previous question rather than a question of its own.

        "og i Sverige?" and "what about relatives?" continue; "Hjælper kommunen
        med mad?" asks something new, though it is short: it has a topic of its own.
        """
        tokens = words(question)
        if not tokens or len(tokens) > FRAGMENT_MAX_WORDS:
            return False
        folded = " ".join(fold(t) for t in tokens)
        starts_like_a_continuation = any(
            folded == opener or folded.startswith(opener + " ") for items in self._openers.values() for opener in items
        )
        has_own_topic = bool(self.retriever.glossary.find(question))
        return starts_like_a_continuation or not has_own_topic

    # -- places ------------------------------------------------------------------

    def _named_places(self, snap: IndexSnapshot, text: str, places: list[Place]) -> tuple[list[str], list[str]]:
        """Municipalities of the knowledge base and countries the text names.

        A municipality counts when the text names it, with or without Nordic
        letters or a genitive ("Ostersunds"), or names one of its towns ("Korsør").
        """
        tokens = {fold(t).removesuffix("'s") for t in words(text)}
        covered = snap.municipality_stems
        vocabulary = _vocabulary(snap)
        named = {
            name
            for stem, name in covered.items()
            if any(_names_municipality(t, stem) or _is_compound(t, stem, vocabulary) for t in tokens)
        }
        named |= {covered[stem] for _, m, _ in places if (stem := municipality_stem(m)) in covered}
        countries = sorted(
            country
            for country, names in self._country_words.items()
            if tokens & names or any(_is_compound(t, name, vocabulary) for t in tokens for name in names)
        )
        return sorted(named), countries

    def _without_places(self, snap: IndexSnapshot, text: str, places: list[Place]) -> str:
        """The text without the towns it names, for choosing its language: "demens Söderhamn"
        on a Danish page is Danish, though "Söderhamn" alone reads as Swedish. Country words
        stay: "Norway", "Norge" and "norska" are words of one language each."""
        covered = snap.municipality_stems
        named = {fold(w) for written, _, _ in places for w in words(written)}

        def is_place(word: str) -> bool:
            folded = fold(word).removesuffix("'s")
            return folded in named or any(_names_municipality(folded, stem) for stem in covered)

        kept = " ".join(w for w in re.findall(r"\S+", text) if not is_place(w.strip(".,!?;:()\"'")))
        return kept if any(ch.isalpha() for ch in kept) else text

    def _uncovered_municipality(self, snap: IndexSnapshot, places: list[Place]) -> str | None:
        """A Nordic municipality the question names whose plans the knowledge base does not have.

        ``places`` are the gazetteer's finds in the question.

        A place the documents themselves mention ("Kirkenes sykehus" in the Norwegian
        plan) is not uncovered: the question may well be about that document.
        """
        covered = snap.municipality_stems
        vocabulary = _vocabulary(snap)
        for written, municipality, _country in places:
            if municipality_stem(municipality) in covered:
                return None  # "my brother lives in Odense; can he get a place in Slagelse?"
            if not any(w in vocabulary for w in words(written)):
                return written
        return None

    def is_place_word(self, word: str) -> bool:
        """Whether a word names a municipality or country of the knowledge base ("Östersunds", "svenska")."""
        folded = fold(word).removesuffix("'s")
        if any(folded in names for names in self._country_words.values()):
            return True
        return any(stem and folded.startswith(stem) for stem in self.retriever.snapshot.municipality_stems)

    def _unknown_place(self, snap: IndexSnapshot, question: str) -> str | None:
        """A capitalised name after a preposition ('i Malmö') or before 'kommune' that no document mentions."""
        vocabulary = _vocabulary(snap)
        after_preposition = r"\b(?:i|in|på|for|för|from|fra|från|til|till|at)\s+([A-ZÆØÅÄÖ][\w-]{2,})"
        before_municipality = (
            r"\b([A-ZÆØÅÄÖ][\w-]{2,})\s+(?:[Kk]ommunes?|[Kk]ommuns?|[Ss]tad|[Mm]unicipality|[Cc]ouncil)\b"
        )
        names = [
            m.group(1) for pattern in (after_preposition, before_municipality) for m in re.finditer(pattern, question)
        ]
        unknown = [n for n in names if not self._is_known_name(n.lower(), vocabulary)]
        # "my brother lives in Jylland, can he get a place in Slagelse?" names a known place too.
        return unknown[0] if unknown and len(unknown) == len(names) else None

    def _is_known_name(self, name: str, vocabulary: frozenset[str]) -> bool:
        folded = fold(name)
        if name in vocabulary or name in self._known_place_words or folded in self._known_place_words:
            return True
        if any(_is_compound(folded, place, vocabulary) for place in self._known_place_words):
            return True  # "i Norgeplanen" is the Norwegian plan, not a place called Norgeplanen
        if any(
            folded.removeprefix(p) in self._known_place_words for p in self._region_prefixes if folded.startswith(p)
        ):
            return True  # "i Nordnorge" is a part of Norway
        stem = name[:-1] if name.endswith("s") else name  # genitive: "Slagelses", "Östersunds"
        return len(stem) >= 4 and _has_prefix(vocabulary, stem)


_VOCABULARY: dict[int, frozenset[str]] = {}
_SORTED_VOCABULARY: dict[int, tuple[frozenset[str], list[str]]] = {}


def _names_municipality(token: str, stem: str) -> bool:
    """Whether a folded word is a municipality's name, with a genitive or an ending ("ostersunds")."""
    return token.startswith(stem) and len(token) <= len(stem) + 2


def _is_compound(token: str, place: str, vocabulary: frozenset[str]) -> bool:
    """Whether a folded word is a place joined to a word of the knowledge base ("norgeplanen",
    "slagelsesplanen", "ostersundsmodellen", "slagelse-strategien"), as Nordic languages write
    "the Norway plan"."""
    if not token.startswith(place):
        return False
    tail = token[len(place) :].removeprefix("-")
    if len(tail) < _MIN_COMPOUND_TAIL:
        return False
    return tail in vocabulary or (tail[0] == "s" and tail[1:] in vocabulary)


_MIN_COMPOUND_TAIL = 4


def _vocabulary(snap: IndexSnapshot) -> frozenset[str]:
    """Every word of the knowledge base, as written and folded, once per snapshot."""
    found = _VOCABULARY.get(snap.version)
    if found is None:
        written = {w for c in snap.chunks for w in words(c.search_text)}
        found = frozenset(written | {fold(w) for w in written})
        _VOCABULARY.clear()
        _SORTED_VOCABULARY.clear()
        _VOCABULARY[snap.version] = found
    return found


def _has_prefix(vocabulary: frozenset[str], prefix: str) -> bool:
    """Whether a word of the vocabulary starts with ``prefix``: a binary search of the sorted
    words (built once per vocabulary) instead of a scan of every word for every name."""
    # Held with its vocabulary, so an id reused by a later vocabulary never finds this list.
    entry = _SORTED_VOCABULARY.get(id(vocabulary))
    if entry is None or entry[0] is not vocabulary:
        entry = (vocabulary, sorted(vocabulary))
        _SORTED_VOCABULARY.clear()
        _SORTED_VOCABULARY[id(vocabulary)] = entry
    ordered = entry[1]
    at = bisect.bisect_left(ordered, prefix)
    return at < len(ordered) and ordered[at].startswith(prefix)


def _country_of(snap: IndexSnapshot, municipality: str) -> str | None:
    return snap.municipality_country.get(municipality.casefold())


def _previous_question(history: list[dict[str, Any]] | None) -> str | None:
    """The last question the user asked in this conversation, redacted."""
    previous = [str(t.get("content", "")) for t in history or [] if t.get("role") == "user" and t.get("content")]
    return privacy.redact(previous[-1])[0] if previous else None


def text_as_read(message: str, restorer: DiacriticRestorer) -> str:
    """What the intent model reads of a message on its own, as :meth:`Analyser.analyse` makes it.

    The intent eval reads its rows through this, so that it scores what the
    service decides: redacted, letters restored, placeholders out.
    """
    redacted, _ = privacy.redact(message)
    return without_placeholders(restorer.restore(redacted.strip()))


def without_placeholders(text: str) -> str:
    """The text without the ``[cpr]``-style placeholders redaction left in it."""
    return re.sub(r"\[[a-z_]+\]", " ", text)


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def load_policy_file(name: str) -> dict[str, Any]:
    data: dict[str, Any] = load_yaml((Path(POLICY_DIR) / name).read_text(encoding="utf-8")) or {}
    return data
