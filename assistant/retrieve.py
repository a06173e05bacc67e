"""Retrieve: find the passages that answer a question, in any of four languages.

Public entry point: :class:`Retriever` and its :meth:`Retriever.search`.

Hybrid retrieval: BM25 over Snowball stems and glossary concept tokens, plus
dense search over the statements' multilingual embeddings in Chroma (a chunk
scores by its best statement), fused by weighted reciprocal rank fusion. The
weights were chosen by measurement (``python -m assistant eval-retrieval``).

The retriever reads one immutable :class:`IndexSnapshot` per search and swaps
in a new one when ``state.json`` changes, so an index rebuilt by another
process is picked up without a restart.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from assistant.config import Settings
from assistant.contract import Chunk, Language, Passage, UserFacingError
from assistant.embeddings import CareEmbeddings, load_embeddings
from assistant.index import (
    STATE_FILE,
    chroma_client,
    chunks_by_key,
    collection_name,
    load_chunks,
    quotable_units,
    read_state,
    statement_id,
)
from assistant.knowledge import load_glossary, removed_documents
from assistant.language import detect_language
from assistant.lexical import BM25Index, DiacriticRestorer, Glossary, document_tokens, fold, query_tokens, words
from assistant.statements import Unit


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


class IndexModelMismatchError(UserFacingError, RuntimeError):
    """The index was built with another embedding model than the one configured."""


class IndexIntegrityError(UserFacingError, RuntimeError):
    """The index on disk does not match what its state file records (missing or altered)."""


@dataclass(frozen=True)
class Statement:
    """One embedded statement: where it sits and what it says."""

    chunk_id: str
    unit: Unit


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
    statements: list[Statement]
    vectors: np.ndarray  # (statements, dim), row i is statements[i]
    by_chunk: dict[str, list[int]]  # chunk id -> its statements' rows, in text order
    chunk_index: dict[str, int]

    def statement_scores(self, chunk_id: str, query: np.ndarray) -> list[tuple[Unit, float]]:
        """A chunk's statements with their cosine similarity to the question."""
        rows = self.by_chunk.get(chunk_id, [])
        if not rows:
            return []
        sims = self.vectors[rows] @ query
        return [(self.statements[r].unit, float(s)) for r, s in zip(rows, sims, strict=True)]

    def chunk(self, chunk_id: str) -> Chunk | None:
        index = self.chunk_index.get(chunk_id)
        return None if index is None else self.chunks[index]


_EMPTY = IndexSnapshot(-1, [], [], BM25Index([]), DiacriticRestorer([]), [], np.zeros((0, 1)), {}, {})


class Retriever:
    """Loads the index once and answers many searches; notices a rebuilt index."""

    def __init__(self, settings: Settings, embedder: CareEmbeddings | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or load_embeddings(settings)
        self.glossary = Glossary(load_glossary(settings.glossary_path))
        self._glossary_words = {
            w for concept in self.glossary.concepts for terms in concept.terms.values() for t in terms for w in words(t)
        }
        self._collection = chroma_client(settings).get_or_create_collection(
            collection_name(settings), metadata={"hnsw:space": "cosine"}
        )
        self._lock = threading.Lock()
        self._snapshot = _EMPTY
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
        """Load the index again if ``state.json`` changed since; True if it did.

        Raises:
            IndexNotBuiltError: there is no index.
            IndexModelMismatchError: the index was built with another embedding model.
            IndexIntegrityError: a chunk file or the vector store does not match the state.
        """
        path = self.settings.index_dir / STATE_FILE
        if not path.exists():
            raise IndexNotBuiltError(f"No index in {self.settings.index_dir}: run `python -m assistant index` first.")
        version = path.stat().st_mtime_ns
        if version == self._snapshot.version:
            return False
        with self._lock:  # one thread rebuilds; the others keep searching the current snapshot
            if version == self._snapshot.version:
                return False
            self._snapshot = self._load_snapshot(version)
        return True

    def _load_snapshot(self, version: int) -> IndexSnapshot:
        state = read_state(self.settings)
        built_with = state.get("model")
        if built_with != self.settings.embedding_model:
            raise IndexModelMismatchError(
                f"The index in {self.settings.index_dir} was built with the embedding model {built_with!r}, "
                f"but {self.settings.embedding_model!r} is configured. Run `python -m assistant index` to rebuild "
                f"it, or set CARE_EMBEDDING_MODEL={built_with}."
            )
        _verify_chunk_files(self.settings, state)
        chunks = load_chunks(self.settings, state)
        keys = [entry["key"] for entry in state["documents"].values()]
        statements, vectors = self._load_statements(state)
        expected = sum(int(entry.get("statements", 0)) for entry in state["documents"].values())
        if len(statements) != expected:
            raise IndexIntegrityError(
                f"The vector store holds {len(statements)} of the {expected} statements the index lists "
                f"(is {self.settings.index_dir / 'chroma'} missing or from another build?). "
                "Run `python -m assistant index` to rebuild it."
            )
        by_chunk: dict[str, list[int]] = {}
        for row, statement in enumerate(statements):
            by_chunk.setdefault(statement.chunk_id, []).append(row)
        return IndexSnapshot(
            version=version,
            chunks=chunks,
            keys=keys,
            bm25=BM25Index([document_tokens(c.search_text, c.language, self.glossary) for c in chunks]),
            restorer=DiacriticRestorer({w for c in chunks for w in words(c.search_text)} | self._glossary_words),
            statements=statements,
            vectors=vectors,
            by_chunk=by_chunk,
            chunk_index={c.id: i for i, c in enumerate(chunks)},
        )

    def _load_statements(self, state: dict[str, Any]) -> tuple[list[Statement], np.ndarray]:
        """Every active statement's vector from Chroma, matched to its unit in the chunk files."""
        keys = [entry["key"] for entry in state["documents"].values()]
        if not keys:
            return [], np.zeros((0, 1), dtype=np.float32)
        stored = self._collection.get(where={"doc_key": {"$in": keys}}, include=["embeddings"])
        vector_of = dict(zip(stored["ids"], stored["embeddings"], strict=True))
        statements: list[Statement] = []
        rows: list[Any] = []
        for key, chunks in chunks_by_key(self.settings, state).items():
            for chunk in chunks:
                for n, unit in enumerate(quotable_units(chunk)):
                    vector = vector_of.get(statement_id(key, chunk, n))
                    if vector is not None:
                        statements.append(Statement(chunk.id, unit))
                        rows.append(vector)
        matrix = np.asarray(rows, dtype=np.float32) if rows else np.zeros((0, 1), dtype=np.float32)
        return statements, matrix

    def search(
        self,
        question: str,
        k: int | None = None,
        municipality: str | None = None,
        country: str | None = None,
        language: Language | None = None,
        settings: Settings | None = None,
        vector: np.ndarray | None = None,
        concepts: list[str] | None = None,
    ) -> Retrieval:
        """The top-k passages for a question.

        Args:
            question: the citizen's question (already redacted).
            k: how many passages; defaults to ``settings.top_k``.
            municipality: only documents of this municipality.
            country: only documents of this country (DK, SE, NO).
            language: the question's language if already known.
            settings: per-call overrides (fusion weights, glossary on/off) for comparisons.
            vector: the question's embedding if already computed (the answer path embeds once).
            concepts: the question's glossary concepts if already found.
        """
        cfg = settings or self.settings
        k = k or cfg.top_k
        timings: dict[str, float] = {}
        clock = time.perf_counter()
        self.refresh()
        snap = self._snapshot
        language = language or detect_language(question)
        if concepts is None:
            concepts = sorted(self.glossary.find(question)) if cfg.use_glossary else []
        expansion = {lang: self.glossary.terms(concepts, lang) for lang in ("da", "sv", "nb", "en")}
        expanded_query = " ".join([question, *dict.fromkeys(t for terms in expansion.values() for t in terms)])
        timings["analyse"] = _ms_since(clock)

        candidates: dict[str, _Candidate] = {}
        hidden = removed_documents(self.settings)  # removed by staff, not yet re-indexed
        clock = time.perf_counter()
        allowed = self._allowed(snap, municipality, country, hidden)
        self._add_bm25(snap, question, language, concepts, allowed, cfg, candidates)
        timings["bm25"] = _ms_since(clock)
        clock = time.perf_counter()
        if cfg.dense_weight > 0 and snap.statements:
            if vector is None:
                vector = self.embedder.query_vector(question)
            self._add_dense(snap, vector, municipality, country, cfg, candidates, hidden)
        timings["dense"] = _ms_since(clock)

        for candidate in candidates.values():
            candidate.fused = _rrf(candidate.bm25_rank, cfg.bm25_weight, cfg.rrf_k) + _rrf(
                candidate.dense_rank, cfg.dense_weight, cfg.rrf_k
            )
        ranked = sorted(candidates.values(), key=lambda c: (-c.fused, c.chunk.id))[:k]
        return Retrieval(
            question=question,
            language=language,
            expanded_query=expanded_query,
            concepts=list(concepts),
            passages=[_passage(rank, c) for rank, c in enumerate(ranked, start=1)],
            timings_ms=timings,
        )

    def _allowed(
        self, snap: IndexSnapshot, municipality: str | None, country: str | None, hidden: frozenset[str] = frozenset()
    ) -> np.ndarray:
        mask = np.ones(len(snap.chunks), dtype=bool)
        for i, chunk in enumerate(snap.chunks):
            if chunk.document in hidden:
                mask[i] = False
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
        vector: np.ndarray,
        municipality: str | None,
        country: str | None,
        cfg: Settings,
        candidates: dict[str, _Candidate],
        hidden: frozenset[str] = frozenset(),
    ) -> None:
        """Chroma's nearest statements; a chunk ranks by its best statement."""
        result = self._collection.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32)],
            n_results=min(cfg.candidates * 3, len(snap.statements)),
            where=self._where(snap, municipality, country, hidden),
            include=["distances", "metadatas"],
        )
        best: dict[str, float] = {}
        for metadata, distance in zip(result["metadatas"][0], result["distances"][0], strict=True):
            chunk_id = str(metadata.get("chunk_id"))
            if chunk_id in snap.chunk_index:
                best[chunk_id] = max(best.get(chunk_id, -1.0), 1.0 - float(distance))
        ranked = sorted(best.items(), key=lambda item: -item[1])[: cfg.candidates]
        for rank, (chunk_id, similarity) in enumerate(ranked, start=1):
            chunk = snap.chunks[snap.chunk_index[chunk_id]]
            candidate = candidates.setdefault(chunk.id, _Candidate(chunk))
            candidate.dense_rank, candidate.dense_score = rank, similarity

    def _where(
        self, snap: IndexSnapshot, municipality: str | None, country: str | None, hidden: frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        clauses: list[dict[str, Any]] = [{"doc_key": {"$in": snap.keys}}]
        if hidden:
            clauses.append({"document": {"$nin": sorted(hidden)}})
        if municipality:
            names = {c.municipality for c in snap.chunks if c.municipality}
            match = next((n for n in names if n.casefold() == municipality.casefold()), municipality)
            clauses.append({"municipality": match})
        if country:
            clauses.append({"country": country.upper()})
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _verify_chunk_files(settings: Settings, state: dict[str, Any]) -> None:
    """Every chunk file exists and is byte for byte what the build wrote."""
    for document, entry in state["documents"].items():
        path = settings.index_dir / "chunks" / f"{entry['key']}.jsonl"
        if not path.exists():
            raise IndexIntegrityError(f"The chunk file of {document!r} is missing ({path}). Rebuild the index.")
        expected = entry.get("chunk_file_sha256")
        if expected and hashlib.sha256(path.read_bytes()).hexdigest() != expected:
            raise IndexIntegrityError(
                f"The chunk file of {document!r} ({path}) was changed after the index was built; "
                "its text is not quoted. Rebuild the index with `python -m assistant index`."
            )


def country_of_place(snap: IndexSnapshot, municipality: str) -> str | None:
    return next((c.country for c in snap.chunks if (c.municipality or "").casefold() == municipality.casefold()), None)


def municipality_stem(municipality: str | None) -> str:
    """'Östersunds kommun' -> 'ostersund', 'Slagelse Kommune' -> 'slagelse' (folded)."""
    if not municipality:
        return ""
    first = words(municipality)[0]
    return fold(first[:-1] if first.endswith("s") and len(first) > 5 else first)


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
