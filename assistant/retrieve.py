"""Retrieve: find the passages that answer a question, in any of four languages.

Public entry point: :class:`Retriever` and its :meth:`Retriever.search`.

Hybrid retrieval: BM25 over Snowball stems and glossary concept tokens, plus
dense search over the statements' multilingual embeddings in Chroma (a chunk
scores by its best statement), fused by weighted reciprocal rank fusion. The
weights were chosen by measurement (``python -m assistant eval-retrieval``).

The retriever reads one immutable :class:`IndexSnapshot` per search and swaps
in a new one when ``state.json`` changes, so an index rebuilt by another
process is picked up without a restart, and a search never waits for the swap.

Chroma is the store of record; searches rank the snapshot's statement vectors
in memory. Why: an embedded ``PersistentClient`` keeps its view of the store
from when it was opened, so after another process re-indexed, ``query()`` and
even ``get()`` of the new records fail ("Error finding id") until the client is
re-opened (chromadb 1.5, measured). The snapshot therefore opens a fresh client,
reads every active vector and closes it; ranking ~1,000 statements x 384
dimensions with numpy takes 0.1 ms where a filtered Chroma query took 10 ms.

Integrity: loading checks the model, each chunk file's sha256 and the statement
count against ``state.json``; afterwards :meth:`Retriever.verify` (run at most
once a second by searches, and by the service's readiness check) notices a
deleted vector store or a chunk file edited in place. Either makes searches
fail with :class:`IndexIntegrityError` naming what is wrong: there is no
quieter fallback, because an index nobody can rebuild from must be noticed.

With a Chroma server (``CARE_CHROMA_HOST``) the same holds, checked over HTTP:
every :data:`SERVER_CHECK_INTERVAL_S` the collection must still hold the
snapshot's statements (a server restarted on an empty volume fails it). A server
that cannot be reached does not stop the answers: the snapshot in memory is the
whole index. Only loading a new one needs the server; until it is back, searches
fail with :class:`VectorStoreUnavailableError` rather than answer from an index
other workers have already left. Chunk texts never come from the server: they
are read from ``<data_dir>/index/chunks``, which every worker shares with the
builder (see docs/distributed.md).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import chromadb.errors
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
    get_collection,
    load_chunks,
    quotable_units,
    read_state,
    statement_id,
)
from assistant.knowledge import load_glossary, removed_documents
from assistant.language import detect_language
from assistant.lexical import BM25Index, DiacriticRestorer, Glossary, document_tokens, fold, query_tokens, words
from assistant.statements import Unit

log = logging.getLogger(__name__)


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


class VectorStoreUnavailableError(UserFacingError, RuntimeError):
    """The Chroma server cannot be reached, and the index has to be (re)loaded from it."""


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
    statement_chunk: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # row -> chunk index

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

    # Tables of the snapshot's places, built once per snapshot on first use (``cached_property``
    # writes the instance dict, so a frozen snapshot can hold them; two threads building one at
    # the same moment build the same value). A question then looks places up instead of walking
    # every chunk, which grew with the knowledge base (measured: 10 ms of a 90 ms answer at 66 chunks).

    @cached_property
    def municipality_stems(self) -> dict[str, str]:
        """Folded stem ('ostersund') -> the municipality's name, for every municipality of the snapshot."""
        names = dict.fromkeys(c.municipality for c in self.chunks if c.municipality)
        return {municipality_stem(name): name for name in names if name}

    @cached_property
    def municipality_country(self) -> dict[str, str]:
        """Casefolded municipality name -> its country (the first chunk's, as before)."""
        found: dict[str, str] = {}
        for c in self.chunks:
            if c.municipality:
                found.setdefault(c.municipality.casefold(), c.country)
        return found

    @cached_property
    def chunk_places(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per chunk: its municipality (casefolded, '' for none), its country (upper case) and its
        document id, as arrays (a question's scope is then a few vectorised comparisons)."""
        municipalities = np.asarray([(c.municipality or "").casefold() for c in self.chunks], dtype=object)
        countries = np.asarray([c.country.upper() for c in self.chunks], dtype=object)
        documents = np.asarray([c.document for c in self.chunks], dtype=object)
        return municipalities, countries, documents


_EMPTY = IndexSnapshot(-1, [], [], BM25Index([]), DiacriticRestorer([]), [], np.zeros((0, 1)), {}, {})
CHECK_FILES_PER_VERIFY = 256  # chunk files checked per verification (see Retriever._check_files)
VERIFY_INTERVAL_S = 1.0  # searches check the files on disk at most this often (a few stat calls)
STORE_PAGE = 5000  # statements per read when an index is loaded
SERVER_CHECK_INTERVAL_S = 10.0  # with a Chroma server: how often the collection is counted (one HTTP call)


@dataclass
class _Watch:
    """What the loaded snapshot was built from, to notice changes on disk cheaply."""

    state: tuple[int, int, int] | None = None  # (inode, mtime_ns, size) of state.json
    store: int | None = None  # inode of the embedded store's database file
    chunk_files: dict[str, tuple[str, str, tuple[int, int]]] = field(default_factory=dict)
    # document -> (path, sha256, (mtime_ns, size))


class Retriever:
    """Loads the index once and answers many searches; notices a rebuilt, deleted or altered index."""

    def __init__(self, settings: Settings, embedder: CareEmbeddings | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or load_embeddings(settings)
        self.glossary = Glossary(load_glossary(settings.glossary_path))
        self._glossary_words = {
            w for concept in self.glossary.concepts for terms in concept.terms.values() for t in terms for w in words(t)
        }
        self._lock = threading.Lock()
        self._snapshot = _EMPTY
        self._watch = _Watch()
        self._verified_at = 0.0
        self._next_check = 0
        self._server_checked_at = 0.0
        self._problem: Exception | None = None
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
        """Load the index again if ``state.json`` (or the store under it) changed since; True if it did.

        While one thread loads a new snapshot, the others go on searching the current one.

        Raises:
            IndexNotBuiltError: there is no index.
            IndexModelMismatchError: the index was built with another embedding model.
            IndexIntegrityError: a chunk file or the vector store does not match the state.
        """
        if self._unchanged():
            return False
        if self._snapshot is not _EMPTY:
            if not self._lock.acquire(blocking=False):
                return False  # another thread is loading it; this search uses the current snapshot
        else:
            self._lock.acquire()
        try:
            if self._unchanged():
                return False
            self._load()
        finally:
            self._lock.release()
        return True

    def verify(self, force: bool = False) -> None:
        """Check that the loaded index still matches the disk: reload if rebuilt, raise if damaged.

        Cheap (a few ``stat`` calls; a chunk file is hashed again only if its size or
        time changed); without ``force`` it runs at most once per :data:`VERIFY_INTERVAL_S`
        and repeats the last finding in between.

        Raises:
            IndexNotBuiltError, IndexModelMismatchError, IndexIntegrityError: as :meth:`refresh`.
        """
        now = time.monotonic()
        if not force and now - self._verified_at < VERIFY_INTERVAL_S:
            if self._problem is not None:
                raise self._problem
            return
        try:
            self.refresh()
            self._check_files(everything=force)
            if self.settings.chroma_host and (force or now - self._server_checked_at >= SERVER_CHECK_INTERVAL_S):
                self._check_server()
                self._server_checked_at = now
        except (IndexNotBuiltError, IndexModelMismatchError, IndexIntegrityError, VectorStoreUnavailableError) as exc:
            self._problem = exc
            self._verified_at = now
            raise
        self._problem = None
        self._verified_at = now

    def _unchanged(self) -> bool:
        return self._state_stamp() == self._watch.state and self._store_stamp() == self._watch.store

    def _state_stamp(self) -> tuple[int, int, int]:
        path = self.settings.index_dir / STATE_FILE
        try:
            info = path.stat()
        except FileNotFoundError:
            raise IndexNotBuiltError(
                f"No index in {self.settings.index_dir}: run `python -m assistant index` first."
            ) from None
        return (info.st_ino, info.st_mtime_ns, info.st_size)

    def _store_file(self) -> Path | None:
        """The embedded store's database file (None with a Chroma server)."""
        return None if self.settings.chroma_host else self.settings.index_dir / "chroma" / "chroma.sqlite3"

    def _store_stamp(self) -> int | None:
        path = self._store_file()
        if path is None:
            return None
        try:
            return path.stat().st_ino
        except FileNotFoundError:
            raise IndexIntegrityError(
                f"The vector store is missing ({_shown(path.parent, self.settings)}). "
                "Run `python -m assistant index` to rebuild it."
            ) from None

    def _check_files(self, everything: bool = False) -> None:
        """The chunk files the snapshot was loaded from are still there and unchanged: all of them
        with ``everything``, else the next :data:`CHECK_FILES_PER_VERIFY` in turn.

        In turn, because a national index has thousands of documents: a ``stat`` of each every
        second was a tenth of a core per worker at 5,000 documents. A damaged file is then noticed
        within ``documents / CHECK_FILES_PER_VERIFY`` seconds (at once up to that many documents).
        """
        files = list(self._watch.chunk_files.items())
        if not everything and len(files) > CHECK_FILES_PER_VERIFY:
            start = self._next_check % len(files)
            self._next_check = start + CHECK_FILES_PER_VERIFY
            files = (files + files)[start : start + CHECK_FILES_PER_VERIFY]
        for document, (name, digest, seen) in files:
            path = Path(name)
            try:
                info = os.stat(name)
            except FileNotFoundError:
                raise IndexIntegrityError(
                    f"The chunk file of {document!r} is missing ({_shown(path, self.settings)}). "
                    "Run `python -m assistant index` to rebuild it."
                ) from None
            if (info.st_mtime_ns, info.st_size) == seen:
                continue
            if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                raise IndexIntegrityError(
                    f"The chunk file of {document!r} ({_shown(path, self.settings)}) was changed after the "
                    "index was built; its text is not quoted. Run `python -m assistant index` to rebuild it."
                )

    def _check_server(self) -> None:
        """The Chroma server still holds at least the loaded snapshot's statements.

        A count, not a comparison of ids: the collection also holds the previous build's
        records until the build after next deletes them, and a count costs the same
        one request at any size. An unreachable server is only logged (see the module notes).
        """
        expected = len(self._snapshot.statements)
        name = collection_name(self.settings)
        try:
            client = chroma_client(self.settings)
        except Exception as exc:
            log.warning("the Chroma server cannot be reached (%s); answering from the loaded index", type(exc).__name__)
            return
        try:
            held = client.get_collection(name).count()
        except chromadb.errors.NotFoundError:
            held = 0
        except Exception as exc:
            log.warning("the Chroma server cannot be reached (%s); answering from the loaded index", type(exc).__name__)
            return
        finally:
            client.close()
        if held < expected:
            raise IndexIntegrityError(
                f"The Chroma server at {self._server()} holds {held} of the {expected} statements of the loaded "
                f"index (collection {name!r}): was it restarted without its data? "
                "Run `python -m assistant index` to rebuild it."
            )

    def _server(self) -> str:
        return f"{self.settings.chroma_host}:{self.settings.chroma_port}"

    def _load(self) -> None:
        """Load the snapshot ``state.json`` lists; again if a build replaced it meanwhile."""
        for attempt in range(3):
            stamp = self._state_stamp()
            store = self._store_stamp()
            try:
                snapshot, chunk_files = self._load_snapshot(stamp[1])
            except (IndexIntegrityError, OSError, ValueError):
                # A build that landed while we read may have removed what the old state listed.
                if attempt < 2 and self._state_stamp() != stamp:
                    continue
                raise
            self._snapshot = snapshot
            self._watch = _Watch(state=stamp, store=store, chunk_files=chunk_files)
            return

    def _load_snapshot(self, version: int) -> tuple[IndexSnapshot, dict[str, tuple[str, str, tuple[int, int]]]]:
        state = read_state(self.settings)
        built_with = state.get("model")
        if built_with != self.settings.embedding_model:
            raise IndexModelMismatchError(
                f"The index in {self.settings.index_dir} was built with the embedding model {built_with!r}, "
                f"but {self.settings.embedding_model!r} is configured. Run `python -m assistant index` to rebuild "
                f"it, or set CARE_EMBEDDING_MODEL={built_with}."
            )
        chunk_files = _verify_chunk_files(self.settings, state)
        chunks = load_chunks(self.settings, state)
        keys = [entry["key"] for entry in state["documents"].values()]
        statements, vectors = self._load_statements(state)
        expected = sum(int(entry.get("statements", 0)) for entry in state["documents"].values())
        if len(statements) != expected:
            raise IndexIntegrityError(
                f"The vector store holds {len(statements)} of the {expected} statements the index lists "
                f"(is {_shown(self.settings.index_dir / 'chroma', self.settings)} missing or from another build?). "
                "Run `python -m assistant index` to rebuild it."
            )
        by_chunk: dict[str, list[int]] = {}
        for row, statement in enumerate(statements):
            by_chunk.setdefault(statement.chunk_id, []).append(row)
        chunk_index = {c.id: i for i, c in enumerate(chunks)}
        snapshot = IndexSnapshot(
            version=version,
            chunks=chunks,
            keys=keys,
            bm25=BM25Index([document_tokens(c.search_text, c.language, self.glossary) for c in chunks]),
            restorer=DiacriticRestorer({w for c in chunks for w in words(c.search_text)} | self._glossary_words),
            statements=statements,
            vectors=vectors,
            by_chunk=by_chunk,
            chunk_index=chunk_index,
            statement_chunk=np.asarray([chunk_index[s.chunk_id] for s in statements], dtype=np.int64),
        )
        return snapshot, chunk_files

    def _load_statements(self, state: dict[str, Any]) -> tuple[list[Statement], np.ndarray]:
        """Every active statement's vector from Chroma, matched to its unit in the chunk files."""
        keys = [entry["key"] for entry in state["documents"].values()]
        if not keys:
            return [], np.zeros((0, 1), dtype=np.float32)
        store = self._store_file()
        if store is not None and not store.exists():
            raise IndexIntegrityError(
                f"The vector store is missing ({_shown(store.parent, self.settings)}). "
                "Run `python -m assistant index` to rebuild it."
            )
        # A fresh client each time, closed after: one kept open would not see another process's build.
        try:
            client = chroma_client(self.settings)
        except Exception as exc:
            if not self.settings.chroma_host:
                raise
            raise VectorStoreUnavailableError(
                f"The Chroma server at {self._server()} cannot be reached ({type(exc).__name__}), and the index "
                "must be loaded from it. Start it (`chroma run`) or check CARE_CHROMA_HOST and CARE_CHROMA_PORT."
            ) from exc
        try:
            vector_of = _read_vectors(get_collection(self.settings, client), keys)
        except Exception as exc:
            if not self.settings.chroma_host or isinstance(exc, UserFacingError):
                raise
            raise VectorStoreUnavailableError(
                f"The Chroma server at {self._server()} failed while the index was loaded ({type(exc).__name__}). "
                "Check that it is running; the service tries again by itself."
            ) from exc
        finally:
            client.close()
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
        self.verify()
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
            self._add_dense(snap, vector, allowed, cfg, candidates)
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
        municipalities, countries, documents = snap.chunk_places
        if hidden:
            mask &= ~np.isin(documents, list(hidden))
        if municipality:
            mask &= municipalities == municipality.casefold()
        if country:
            mask &= countries == country.upper()
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
        positive = np.flatnonzero(scores > 0)
        order = positive[top_indices(scores[positive], cfg.candidates)]
        for rank, index in enumerate(order.tolist(), start=1):
            chunk = snap.chunks[index]
            candidate = candidates.setdefault(chunk.id, _Candidate(chunk))
            candidate.bm25_rank, candidate.bm25_score = rank, float(scores[index])

    def _add_dense(
        self,
        snap: IndexSnapshot,
        vector: np.ndarray,
        allowed: np.ndarray,
        cfg: Settings,
        candidates: dict[str, _Candidate],
    ) -> None:
        """The nearest statements (exact cosine over the snapshot); a chunk ranks by its best statement.

        Like the Chroma query it replaces, it looks at the ``3 x candidates`` nearest
        statements of the allowed documents, so fusion sees the same candidates.
        """
        rows = np.flatnonzero(allowed[snap.statement_chunk])
        if rows.size == 0:
            return
        # Every statement's similarity, then the allowed ones: copying the allowed rows first moved
        # the whole matrix through memory once more (18 ms a question at 24,000 statements).
        sims = (snap.vectors @ np.asarray(vector, dtype=np.float32))[rows]
        nearest = top_indices(sims, cfg.candidates * 3)
        best: dict[str, float] = {}
        for i in nearest:
            chunk_id = snap.statements[int(rows[i])].chunk_id
            best.setdefault(chunk_id, float(sims[i]))  # in order of similarity: the first is the best
        ranked = sorted(best.items(), key=lambda item: -item[1])[: cfg.candidates]
        for rank, (chunk_id, similarity) in enumerate(ranked, start=1):
            chunk = snap.chunks[snap.chunk_index[chunk_id]]
            candidate = candidates.setdefault(chunk.id, _Candidate(chunk))
            candidate.dense_rank, candidate.dense_score = rank, similarity


def _read_vectors(collection: Any, keys: list[str]) -> dict[str, Any]:
    """The vectors of these documents' statements, by statement id, read a page at a time.

    One ``get`` of everything would be one response of every vector: from a Chroma server,
    a JSON body that grows with the corpus (384 numbers per statement).
    """
    vectors: dict[str, Any] = {}
    offset = 0
    while True:
        page = collection.get(where={"doc_key": {"$in": keys}}, include=["embeddings"], limit=STORE_PAGE, offset=offset)
        vectors.update(zip(page["ids"], page["embeddings"], strict=True))
        if len(page["ids"]) < STORE_PAGE:
            return vectors
        offset += STORE_PAGE


def _verify_chunk_files(settings: Settings, state: dict[str, Any]) -> dict[str, tuple[str, str, tuple[int, int]]]:
    """Every chunk file exists and is byte for byte what the build wrote; returns what was checked."""
    checked: dict[str, tuple[str, str, tuple[int, int]]] = {}
    for document, entry in state["documents"].items():
        path = settings.index_dir / "chunks" / f"{entry['key']}.jsonl"
        if not path.exists():
            raise IndexIntegrityError(
                f"The chunk file of {document!r} is missing ({_shown(path, settings)}). Rebuild the index."
            )
        info = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        expected = entry.get("chunk_file_sha256")
        if expected and digest != expected:
            raise IndexIntegrityError(
                f"The chunk file of {document!r} ({_shown(path, settings)}) was changed after the index was built; "
                "its text is not quoted. Rebuild the index with `python -m assistant index`."
            )
        checked[document] = (str(path), expected or digest, (info.st_mtime_ns, info.st_size))
    return checked


def _shown(path: Path, settings: Settings) -> str:
    """A path as operators know it ('data/index/chroma'), without the machine's folders above."""
    try:
        return os.path.relpath(path, settings.data_dir.parent)
    except ValueError:
        return str(path)


def top_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """The indices of the ``k`` highest scores, highest first and ties in index order: the head of
    a stable ``argsort(-scores)``, without sorting every score (a national index has hundreds of
    thousands of statements; a question needs the best hundred)."""
    if scores.size <= k:
        return np.argsort(-scores, kind="stable")
    threshold = np.partition(scores, scores.size - k)[scores.size - k]
    pick = np.flatnonzero(scores >= threshold)
    return pick[np.argsort(-scores[pick], kind="stable")][:k]


def country_of_place(snap: IndexSnapshot, municipality: str) -> str | None:
    return snap.municipality_country.get(municipality.casefold())


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
