"""Retrieve: find the passages that answer a question, in any of four languages.

Public entry point: :class:`Retriever` and its :meth:`Retriever.search`.

Hybrid retrieval: BM25 over Snowball stems and glossary concept tokens, plus
dense search in Chroma, fused by weighted reciprocal rank fusion. The default
weights favour BM25 because the default embedding model only knows English;
they were chosen by measurement (``python -m assistant eval-retrieval``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from langchain_chroma import Chroma
from pydantic import BaseModel, Field

from assistant.config import Settings
from assistant.contract import Chunk, Language, Passage, UserFacingError
from assistant.index import (
    STATE_FILE,
    Embedder,
    chroma_client,
    collection_name,
    load_chunks,
    read_state,
)
from assistant.knowledge import load_glossary
from assistant.language import detect_language
from assistant.lexical import BM25Index, DiacriticRestorer, Glossary, document_tokens, fold, query_tokens, words


class Retrieval(BaseModel):
    """What retrieval found for one question, with everything staff need to see why."""

    question: str
    language: Language
    expanded_query: str
    concepts: list[str] = Field(default_factory=list)
    passages: list[Passage] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)


@dataclass
class _Candidate:
    chunk: Chunk
    dense_rank: int | None = None
    dense_score: float | None = None
    bm25_rank: int | None = None
    bm25_score: float | None = None
    fused: float = 0.0


class IndexNotBuiltError(UserFacingError, RuntimeError):
    """There is no index yet: run ``python -m assistant index``."""


@dataclass(frozen=True)
class IndexSnapshot:
    """Everything one search reads, swapped in whole when the index is rebuilt.

    A search takes the snapshot once at its start, so a rebuild that lands while
    it runs can never pair new chunks with an old BM25 index.
    """

    version: int
    chunks: list[Chunk]
    keys: list[str]
    bm25: BM25Index
    restorer: DiacriticRestorer
    places: dict[str, tuple[str, str]]  # document -> (folded municipality stem, country)


class Retriever:
    """Loads the index once and answers many searches; notices a rebuilt index."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or Embedder(settings)
        self.glossary = Glossary(load_glossary(settings.glossary_path))
        self._glossary_words = {
            w for concept in self.glossary.concepts for terms in concept.terms.values() for t in terms for w in words(t)
        }
        self._client = chroma_client(settings)
        self._store = Chroma(
            client=self._client,
            collection_name=collection_name(settings),
            embedding_function=self.embedder,
            collection_metadata={"hnsw:space": "cosine"},
        )
        self._lock = threading.Lock()
        self._snapshot = IndexSnapshot(-1, [], [], BM25Index([]), DiacriticRestorer([]), {})
        self.refresh()

    @property
    def snapshot(self) -> IndexSnapshot:
        return self._snapshot

    @property
    def chunks(self) -> list[Chunk]:
        return self._snapshot.chunks

    @property
    def restorer(self) -> DiacriticRestorer:
        return self._snapshot.restorer

    def refresh(self) -> bool:
        """Reload chunks and BM25 if the index was rebuilt since; True if it was."""
        path = self.settings.index_dir / STATE_FILE
        if not path.exists():
            raise IndexNotBuiltError(f"No index in {self.settings.index_dir}: run `python -m assistant index` first.")
        version = path.stat().st_mtime_ns
        if version == self._snapshot.version:
            return False
        with self._lock:  # one thread rebuilds; the others keep searching the current snapshot
            if version == self._snapshot.version:
                return False
            state = read_state(self.settings)
            chunks = load_chunks(self.settings, state)
            self._snapshot = IndexSnapshot(
                version=version,
                chunks=chunks,
                keys=[entry["key"] for entry in state["documents"].values()],
                bm25=BM25Index([document_tokens(c.search_text, c.language, self.glossary) for c in chunks]),
                restorer=DiacriticRestorer({w for c in chunks for w in words(c.search_text)} | self._glossary_words),
                places={c.document: (fold(_municipality_stem(c.municipality)), c.country) for c in chunks},
            )
        return True

    def search(
        self,
        question: str,
        k: int | None = None,
        municipality: str | None = None,
        country: str | None = None,
        language: Language | None = None,
        settings: Settings | None = None,
    ) -> Retrieval:
        """The top-k passages for a question.

        Args:
            question: the citizen's question (already redacted).
            k: how many passages; defaults to ``settings.top_k``.
            municipality: only documents of this municipality.
            country: only documents of this country (DK, SE, NO).
            language: the question's language if already known.
            settings: per-call overrides (fusion weights, glossary on/off) for comparisons.
        """
        cfg = settings or self.settings
        k = k or cfg.top_k
        timings: dict[str, float] = {}
        clock = time.perf_counter()
        self.refresh()
        snap = self._snapshot
        question = snap.restorer.restore(question)
        language = language or detect_language(question)
        present = set(words(question))
        alternatives = [a for a in snap.restorer.alternatives(question) if a not in present]
        if alternatives:
            question = f"{question} {' '.join(alternatives)}"
        concepts = sorted(self.glossary.find(question)) if cfg.use_glossary else []
        expansion = {lang: self.glossary.terms(concepts, lang) for lang in ("da", "sv", "nb", "en")}
        expanded_query = " ".join([question, *dict.fromkeys(t for terms in expansion.values() for t in terms)])
        timings["analyse"] = _ms_since(clock)

        allowed = self._allowed(snap, municipality, country)
        candidates: dict[str, _Candidate] = {}
        clock = time.perf_counter()
        self._add_bm25(snap, question, language, concepts, allowed, cfg, candidates)
        timings["bm25"] = _ms_since(clock)
        clock = time.perf_counter()
        dense_query = " ".join([question, *dict.fromkeys(expansion["en"])])
        self._add_dense(snap, dense_query, municipality, country, cfg, candidates)
        timings["dense"] = _ms_since(clock)

        named = self._named_documents(snap, question)
        for candidate in candidates.values():
            candidate.fused = _rrf(candidate.bm25_rank, cfg.bm25_weight, cfg.rrf_k) + _rrf(
                candidate.dense_rank, cfg.dense_weight, cfg.rrf_k
            )
            if candidate.chunk.document in named:
                # A question that names a municipality or country is about that place's plans.
                candidate.fused += _rrf(NAMED_PLACE_RANK, cfg.bm25_weight, cfg.rrf_k)
        ranked = sorted(candidates.values(), key=lambda c: (-c.fused, c.chunk.id))[:k]
        passages = [_passage(rank, c) for rank, c in enumerate(ranked, start=1)]
        return Retrieval(
            question=question,
            language=language,
            expanded_query=expanded_query,
            concepts=concepts,
            passages=passages,
            timings_ms=timings,
        )

    def _named_documents(self, snap: IndexSnapshot, question: str) -> set[str]:
        """Documents whose municipality or country the question names ("i Östersund", "the Danish plan")."""
        tokens = {fold(t).removesuffix("'s") for t in words(question)}
        return {
            document
            for document, (place, country) in snap.places.items()
            if (place and any(t.startswith(place) for t in tokens)) or tokens & _FOLDED_COUNTRY_WORDS[country]
        }

    def is_place_word(self, word: str) -> bool:
        """Whether a word names a municipality or country of the knowledge base ("Östersunds", "svenska")."""
        folded = fold(word).removesuffix("'s")
        if any(folded in country_words for country_words in _FOLDED_COUNTRY_WORDS.values()):
            return True
        return any(place and folded.startswith(place) for place, _ in self._snapshot.places.values())

    def _allowed(self, snap: IndexSnapshot, municipality: str | None, country: str | None) -> np.ndarray:
        mask = np.ones(len(snap.chunks), dtype=bool)
        for i, chunk in enumerate(snap.chunks):
            if municipality and (chunk.municipality or "").casefold() != municipality.casefold():
                mask[i] = False
            if country and chunk.country.upper() != country.upper():
                mask[i] = False
        return mask

    def _add_bm25(
        self,
        snap: IndexSnapshot,
        question: str,
        language: str,
        concepts: list[str],
        allowed: np.ndarray,
        cfg: Settings,
        candidates: dict[str, _Candidate],
    ) -> None:
        if cfg.bm25_weight <= 0:
            return
        scores = snap.bm25.scores(query_tokens(question, language, concepts))
        scores = np.where(allowed, scores, 0.0)
        order = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] > 0][: cfg.candidates]
        for rank, index in enumerate(order, start=1):
            chunk = snap.chunks[index]
            candidate = candidates.setdefault(chunk.id, _Candidate(chunk))
            candidate.bm25_rank, candidate.bm25_score = rank, float(scores[index])

    def _add_dense(
        self,
        snap: IndexSnapshot,
        query: str,
        municipality: str | None,
        country: str | None,
        cfg: Settings,
        candidates: dict[str, _Candidate],
    ) -> None:
        if cfg.dense_weight <= 0 or not snap.chunks:
            return
        by_id = {chunk.id: chunk for chunk in snap.chunks}
        results = self._store.similarity_search_with_score(
            query, k=min(cfg.candidates, len(snap.chunks)), filter=self._where(snap, municipality, country)
        )
        for rank, (document, distance) in enumerate(results, start=1):
            chunk = by_id.get(str(document.metadata.get("chunk_id")))
            if chunk is None:
                continue
            candidate = candidates.setdefault(chunk.id, _Candidate(chunk))
            candidate.dense_rank, candidate.dense_score = rank, 1.0 - float(distance)

    def _where(self, snap: IndexSnapshot, municipality: str | None, country: str | None) -> dict[str, Any]:
        clauses: list[dict[str, Any]] = [{"doc_key": {"$in": snap.keys}}]
        if municipality:
            names = {c.municipality for c in snap.chunks if c.municipality}
            match = next((n for n in names if n.casefold() == municipality.casefold()), municipality)
            clauses.append({"municipality": match})
        if country:
            clauses.append({"country": country.upper()})
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}


NAMED_PLACE_RANK = 2
COUNTRY_WORDS = {
    "DK": frozenset(
        ["danmark", "dansk", "danske", "danish", "denmark", "danska", "danmarks", "danskerne", "danskarna", "danes"]
    ),
    "SE": frozenset(
        [
            "sverige",
            "svensk",
            "svenske",
            "svenska",
            "swedish",
            "sweden",
            "sveriges",
            "svenskerne",
            "svenskarna",
            "swedes",
        ]
    ),
    "NO": frozenset(
        [
            "norge",
            "norsk",
            "norske",
            "norska",
            "norwegian",
            "norway",
            "norges",
            "nordmenn",
            "nordmændene",
            "norrmännen",
            "norwegians",
        ]
    ),
}


_FOLDED_COUNTRY_WORDS = {country: frozenset(fold(w) for w in names) for country, names in COUNTRY_WORDS.items()}


def _municipality_stem(municipality: str | None) -> str:
    """'Östersunds kommun' -> 'östersund', 'Slagelse Kommune' -> 'slagelse'."""
    if not municipality:
        return ""
    first = words(municipality)[0]
    return first[:-1] if first.endswith("s") and len(first) > 5 else first


def _rrf(rank: int | None, weight: float, k: int) -> float:
    return 0.0 if rank is None else weight / (k + rank)


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def _passage(rank: int, candidate: _Candidate) -> Passage:
    chunk = candidate.chunk
    return Passage(
        rank=rank,
        score=round(candidate.fused, 6),
        document=chunk.document,
        title=chunk.title,
        municipality=chunk.municipality,
        country=chunk.country,
        language=chunk.language,
        section=chunk.section,
        period=chunk.period,
        url=chunk.url,
        text=chunk.text,
        chunk_id=chunk.id,
        dense_rank=candidate.dense_rank,
        dense_score=candidate.dense_score,
        bm25_rank=candidate.bm25_rank,
        bm25_score=candidate.bm25_score,
    )
