"""Decide: which statements answer the question, and whether any does.

Public entry point: :func:`choose_statements`.

Every quotable statement of the retrieved passages is scored by its meaning:
the cosine similarity between the question's embedding and the statement's
(both multilingual), plus a small bonus for the question's own words and
glossary concepts found in it (IDF-weighted). The question is answerable when
the best statement is similar enough; the statements quoted are those close to
the best, the best first, so the line that answers leads and a sentence that
merely shares a word is left out. When even the closest statement is not
similar enough to be sure it answers (``sure_similarity``), the selection says
so and the answer presents the statements as the closest the plans say, not as
the answer: a bi-encoder tells the topic, not whether a line answers it. The
thresholds are in ``policy/thresholds.yaml`` (``answer``), set by measurement
on the answer evals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.contract import Chunk, Passage
from assistant.lexical import CONCEPT_PREFIX, LANGUAGES, Glossary, content_words, stems
from assistant.retrieve import IndexSnapshot
from assistant.statements import Unit

if TYPE_CHECKING:
    from assistant.analysis import QuestionAnalysis
    from assistant.translations import TranslationVectors


@dataclass(frozen=True)
class ScoredStatement:
    """A statement of a retrieved passage, with how well it answers the question."""

    unit: Unit
    passage: Passage
    similarity: float  # cosine similarity to the question
    lexical: float  # share of the question's informative words and concepts it contains (IDF-weighted)
    score: float


@dataclass(frozen=True)
class Selection:
    """The statements to quote (best first) and why."""

    statements: list[ScoredStatement]
    best_similarity: float
    reason: str
    closest_only: bool = False  # on the question's topic, but not close enough to say it answers it

    @property
    def answerable(self) -> bool:
        return bool(self.statements)


@dataclass(frozen=True)
class AnswerThresholds:
    """``policy/thresholds.yaml`` → ``answer``."""

    min_similarity: float  # the best statement must reach this for the question to be answered
    keep_within: float  # other statements are quoted when their score is this close to the best
    floor_similarity: float  # no statement below this is ever quoted
    lexical_weight: float  # how much the question's own words count beside the meaning
    rank_weight: float  # how much retrieval's passage rank counts (divided by the rank)
    leader_passages: float  # each of this many top passages brings its best statement...
    leader_similarity: float  # ...when it is at least this similar to the question
    concept_weight: float  # how much the question's glossary concepts count again, on their own
    sure_similarity: float  # below this, the statements are shown as the closest the plans say, not as the answer

    @classmethod
    def from_mapping(cls, values: dict[str, float]) -> AnswerThresholds:
        return cls(
            min_similarity=values["min_similarity"],
            keep_within=values["keep_within"],
            floor_similarity=values["floor_similarity"],
            lexical_weight=values["lexical_weight"],
            rank_weight=values["rank_weight"],
            leader_passages=values["leader_passages"],
            leader_similarity=values["leader_similarity"],
            concept_weight=values["concept_weight"],
            sure_similarity=values["sure_similarity"],
        )


def choose_statements(
    analysis: QuestionAnalysis,
    passages: list[Passage],
    snapshot: IndexSnapshot,
    lexicon: LexicalEvidence,
    thresholds: AnswerThresholds,
    max_statements: int,
    translated: TranslationVectors | None = None,
) -> Selection:
    """Choose the statements that answer the question, best first.

    Args:
        analysis: the question, with its embedding.
        passages: retrieval's passages (already limited to the question's scope).
        snapshot: the index snapshot the passages come from (holds the statement vectors).
        lexicon: word and concept evidence over the same snapshot.
        thresholds: the answer thresholds.
        max_statements: quote at most this many.
        translated: the translations' vectors; a statement in another language counts
            with the better of its own and its translation's similarity to the question.
    """
    units = lexicon.question_units(analysis)
    # The glossary concepts alone: the same in every language, so they also count for a plan in another.
    concepts = {forms: weight for forms, weight in units.items() if any(f.startswith(CONCEPT_PREFIX) for f in forms)}
    scored: list[ScoredStatement] = []
    for passage in passages:
        for unit, similarity in snapshot.statement_scores(passage.chunk_id, analysis.vector):
            if translated is not None and passage.language != analysis.language:
                in_asker_language = translated.similarity(unit.key, analysis.language, analysis.vector)
                similarity = max(similarity, in_asker_language if in_asker_language is not None else similarity)
            lexical = lexicon.coverage(units, unit)
            # Retrieval's rank (BM25 and dense together) is a second opinion on which passage answers.
            score = similarity + thresholds.lexical_weight * lexical + thresholds.rank_weight / passage.rank
            if concepts and thresholds.concept_weight:
                score += thresholds.concept_weight * lexicon.coverage(concepts, unit)
            scored.append(ScoredStatement(unit, passage, similarity, lexical, score))
    if not scored:
        return Selection([], 0.0, "no statement in the passages")
    scored.sort(key=lambda s: (-s.score, s.passage.rank, s.unit.line))
    best = scored[0]
    if best.similarity < thresholds.min_similarity:
        return Selection(
            [], best.similarity, f"best statement similarity {best.similarity:.3f} < {thresholds.min_similarity}"
        )
    chosen: list[ScoredStatement] = []
    seen: set[str] = set()
    for candidate in scored:
        if len(chosen) >= max_statements:
            break
        close_enough = candidate.score >= best.score - thresholds.keep_within
        if not close_enough or candidate.similarity < thresholds.floor_similarity or candidate.unit.key in seen:
            continue
        seen.add(candidate.unit.key)
        chosen.append(candidate)
    # Retrieval's top passages each bring their best statement when it is on the question's
    # meaning: the answer is then complete where the plans say it in several places.
    # They score lower, so they come after the answering line.
    cited = {s.passage.chunk_id for s in chosen}
    for passage in passages[: int(thresholds.leader_passages)]:
        leader = next((s for s in scored if s.passage.chunk_id == passage.chunk_id), None)
        ok = leader is not None and leader.similarity >= thresholds.leader_similarity
        if leader is not None and ok and passage.chunk_id not in cited and leader.unit.key not in seen:
            chosen.append(leader)
            cited.add(passage.chunk_id)
            seen.add(leader.unit.key)
    top = max(s.similarity for s in chosen)
    if top < thresholds.sure_similarity:
        reason = f"closest only: the most similar statement quoted is at {top:.3f} < {thresholds.sure_similarity}"
        return Selection(chosen, best.similarity, reason, closest_only=True)
    return Selection(chosen, best.similarity, "answerable")


class LexicalEvidence:
    """The question's informative words and concepts, and which statements contain them.

    Built once per index snapshot: IDF over the chunks, and each statement's
    stems (in all four languages) and glossary concepts, cached by unit key.
    """

    def __init__(self, snapshot: IndexSnapshot, glossary: Glossary, is_place_word: object) -> None:
        self.version = snapshot.version
        self._glossary = glossary
        self._is_place_word = is_place_word
        chunk_units = [_units(c.search_text, c.language, glossary) for c in snapshot.chunks]
        counts: dict[str, int] = {}
        for found in chunk_units:
            for unit in found:
                counts[unit] = counts.get(unit, 0) + 1
        n = max(len(chunk_units), 1)
        self.idf = {u: math.log(1 + n / c) for u, c in counts.items()}
        language_of = {c.id: c.language for c in snapshot.chunks}
        self._statement_units = {
            s.unit.key: _units(s.unit.text, language_of.get(s.chunk_id, "en"), glossary) for s in snapshot.statements
        }

    def question_units(self, analysis: QuestionAnalysis) -> dict[frozenset[str], float]:
        """Informative units of the question, with IDF weights; place names and unknown words left out."""
        units: dict[frozenset[str], float] = {}
        concept_set = set(analysis.concepts)
        for concept in concept_set:
            weight = self.idf.get(CONCEPT_PREFIX + concept, 0.0)
            if weight > 0:
                units[frozenset({CONCEPT_PREFIX + concept})] = weight
        for word in content_words(analysis.text, analysis.language):
            if self._glossary.find(word) & concept_set:
                continue  # the concept already stands for this word, in every language
            if callable(self._is_place_word) and self._is_place_word(word):
                continue  # where the asker lives steers the scope; it is not the topic
            forms = frozenset(stems([word], lang)[0] for lang in LANGUAGES)
            weight = max((self.idf.get(f, 0.0) for f in forms), default=0.0)
            if weight > 0:
                units[forms] = max(units.get(forms, 0.0), weight)
        return units

    def coverage(self, units: dict[frozenset[str], float], unit: Unit) -> float:
        """Share of the question's units (IDF-weighted) that the statement contains."""
        total = sum(units.values())
        if not total:
            return 0.0
        found = self._statement_units.get(unit.key, frozenset())
        return sum(weight for forms, weight in units.items() if forms & found) / total


def _units(text: str, language: str, glossary: Glossary) -> frozenset[str]:
    content = content_words(text, language)
    return frozenset(
        {s for lang in LANGUAGES for s in stems(content, lang)} | {CONCEPT_PREFIX + c for c in glossary.find(text)}
    )


def chunk_language(chunk: Chunk) -> str:
    return chunk.language
