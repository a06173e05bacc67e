"""Index: embed every statement into Chroma, keep the chunks beside them, train the intent model.

Public entry point: :func:`build_index`.

What is embedded is each quotable statement of a chunk (a sentence, a list item,
a table measure; see :mod:`assistant.statements`), in its own words: dense
search scores a chunk by its best statement, and the answer chooses which
statements to quote by the same vectors. Measured on the question sets, this
finds the answering passage more often than embedding whole chunks.

Re-indexing is **incremental**: each document's key is a hash of its file, its
manifest entry, the model and the chunker version, and a document whose key is
unchanged is neither re-read nor re-embedded; vectors are also cached by
content hash (:class:`~assistant.embeddings.VectorCache`). It is **atomic**: new
statements are written to Chroma first under their new keys, then one small
``state.json`` is swapped in with ``os.replace``; queries only ever look at the
keys that file lists. Records of the previous state are deleted on the build
after next, so a query that read the old state a moment before still finds them.

The state records the embedding model and a hash of every chunk file, so a
service can refuse an index built with another model, or one that was altered.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import chromadb
import numpy as np

from assistant.config import Settings
from assistant.contract import Chunk, DocumentMeta
from assistant.embeddings import CareEmbeddings, VectorCache, default_threads, load_embeddings
from assistant.ingest import CHUNKER_VERSION, SUPPORTED_SUFFIXES, IngestError, ingest_document
from assistant.intents import TRAINING_RECIPE, IntentModel, embed_sentences_to_learn, load_decision_table, table_hash
from assistant.knowledge import load_manifest
from assistant.knowledge_base import index_lock, purge_removed
from assistant.statements import Unit, text_units
from assistant.translations import TranslationMemory
from assistant.vitals import reading_policy

log = logging.getLogger(__name__)

STATE_FILE = "state.json"
INDEX_FORMAT = 2  # 2: one Chroma record per statement (1: one per chunk)


def collection_name(settings: Settings) -> str:
    """One collection per embedding model, so vectors of two models never mix."""
    slug = re.sub(r"[^a-zA-Z0-9]+", "-", Path(settings.embedding_model).name).strip("-").lower()
    return f"{settings.collection_prefix}-s{INDEX_FORMAT}-{slug}"[:63]


def chroma_client(settings: Settings) -> Any:
    if settings.chroma_host:
        return chromadb.HttpClient(
            host=settings.chroma_host,
            port=settings.chroma_port,
            settings=chromadb.Settings(anonymized_telemetry=False),
        )
    path = settings.index_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chromadb.Settings(anonymized_telemetry=False))


def get_collection(settings: Settings, client: Any | None = None) -> Any:
    client = client or chroma_client(settings)
    return client.get_or_create_collection(collection_name(settings), metadata={"hnsw:space": "cosine"})


@dataclass
class IndexReport:
    """What a build did, for the CLI, the staff console and the benchmark."""

    indexed: list[str] = field(default_factory=list)  # (re-)embedded this run
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # file -> message
    warnings: list[str] = field(default_factory=list)
    chunks_embedded: int = 0
    statements_embedded: int = 0
    total_chunks: int = 0
    intents_trained: int = 0  # examples the intent model was (re)trained on this run; 0 if unchanged
    translations_embedded: int = 0  # translations put in the vector cache this run; 0 if unchanged
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def document_key(path: Path, meta: DocumentMeta, salt: str = "") -> str:
    """Changes when the file, its manifest entry or the salt (model, chunker) changes."""
    digest = hashlib.sha256(path.read_bytes())
    digest.update(json.dumps(meta.model_dump(exclude={"removed"}), sort_keys=True).encode())
    digest.update(salt.encode())
    return digest.hexdigest()[:16]


def read_state(settings: Settings) -> dict[str, Any]:
    path = settings.index_dir / STATE_FILE
    if not path.exists():
        return {"collection": collection_name(settings), "documents": {}, "retired": []}
    state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return state


def _write_state(settings: Settings, state: dict[str, Any]) -> None:
    path = settings.index_dir / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def chunks_by_key(settings: Settings, state: dict[str, Any]) -> dict[str, list[Chunk]]:
    """The active chunks of each document key, from the per-document chunk files the state lists."""
    out: dict[str, list[Chunk]] = {}
    for entry in state["documents"].values():
        with _chunk_file(settings, entry["key"]).open(encoding="utf-8") as handle:
            out[entry["key"]] = [Chunk.model_validate_json(line) for line in handle if line.strip()]
    return out


def load_chunks(settings: Settings, state: dict[str, Any]) -> list[Chunk]:
    """All active chunks, in the order the state lists their documents."""
    return [chunk for chunks in chunks_by_key(settings, state).values() for chunk in chunks]


def quotable_units(chunk: Chunk) -> list[Unit]:
    """The statements of a chunk that are embedded and may be quoted."""
    return [unit for unit in text_units(chunk.text, chunk.kind == "table_row") if unit.quotable]


def statement_id(key: str, chunk: Chunk, number: int) -> str:
    return f"{key}:{chunk.order:04d}:{number:03d}"


def build_index(settings: Settings, embedder: CareEmbeddings | None = None) -> IndexReport:
    """Bring the index in line with the manifest; embed only what changed; (re)train the intent model.

    Holds the index lock (:func:`assistant.knowledge_base.index_lock`) for the whole build,
    so builds from the CLI, the staff console and the benchmark never interleave.

    Args:
        settings: the configuration (knowledge and data directories, model, Chroma).
        embedder: an already loaded embedding model (the running service passes its own);
            loaded lazily, with every core, only if something needs embedding.
    """

    with index_lock(settings):
        client = chroma_client(settings)
        try:
            return _build(settings, embedder, get_collection(settings, client))
        finally:
            # A client left open keeps this process's view of the store as it is now; a later
            # reader in this process would then miss what another process writes (see retrieve.py).
            client.close()


def _build(settings: Settings, embedder: CareEmbeddings | None, collection: Any) -> IndexReport:
    started = time.perf_counter()
    report = IndexReport()
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    _chunk_dir(settings).mkdir(exist_ok=True)
    state = read_state(settings)
    if state.get("collection") != collection_name(settings) or state.get("model") != settings.embedding_model:
        # Another model or index format: every document is embedded again.
        retired = [entry["key"] for entry in state.get("documents", {}).values()] + state.get("retired", [])
        state = {"collection": collection_name(settings), "documents": {}, "retired": retired}
    lazy = _LazyEmbedder(settings, embedder)
    purge_removed(settings)  # a staff removal becomes final at the next build
    documents = load_manifest(settings)
    _warn_unlisted_files(settings, documents, report)
    stored = _stored_statements(collection, [entry["key"] for entry in state["documents"].values()])

    new_docs: dict[str, Any] = {}
    retiring: list[str] = []
    for meta in documents:
        previous = state["documents"].get(meta.id)
        path = settings.documents_dir / meta.file
        try:
            key = document_key(path, meta, salt=f"{settings.embedding_model}|{CHUNKER_VERSION}|{INDEX_FORMAT}")
        except OSError as exc:
            report.errors[meta.file] = f"{meta.file}: cannot read the file ({exc.strerror or exc})"
            if previous:
                new_docs[meta.id] = previous  # keep serving the last good version
            continue
        if previous and previous["key"] == key:
            damage = _damage(settings, previous, stored)
            if not damage:
                new_docs[meta.id] = previous
                report.unchanged.append(meta.id)
                continue
            # An edited chunk file or a lost vector store is rebuilt from the document, not kept.
            report.warnings.append(f"{meta.id}: {damage}; rebuilt from the document")
        try:
            chunks = ingest_document(path, meta)
        except IngestError as exc:
            report.errors[meta.file] = str(exc)
            if previous:
                new_docs[meta.id] = previous
            continue
        statements = _store_chunks(settings, collection, lazy.cache(), key, chunks)
        new_docs[meta.id] = {
            "key": key,
            "file": meta.file,
            "chunks": len(chunks),
            "statements": statements,
            "chunk_file_sha256": _file_hash(_chunk_file(settings, key)),
            "meta": meta.model_dump(),
        }
        report.indexed.append(meta.id)
        report.chunks_embedded += len(chunks)
        report.statements_embedded += statements
        if previous and previous["key"] != key:
            retiring.append(previous["key"])
    for doc_id, entry in state["documents"].items():
        if doc_id not in new_docs:
            report.removed.append(doc_id)
            retiring.append(entry["key"])

    intents = _build_intents(settings, state.get("intents"), lazy, report)
    translations = _embed_translations(settings, state.get("translations"), lazy, report)
    active = {entry["key"] for entry in new_docs.values()}
    _delete_keys(settings, collection, [k for k in state.get("retired", []) if k not in active])
    new_state = {
        "format": INDEX_FORMAT,
        "collection": collection_name(settings),
        "model": settings.embedding_model,
        "documents": new_docs,
        "intents": intents,
        "translations": translations,
        "retired": [k for k in retiring if k not in active],
        "built_at": time.time(),
    }
    _write_state(settings, new_state)
    report.total_chunks = sum(entry["chunks"] for entry in new_docs.values())
    report.seconds = time.perf_counter() - started
    return report


def _stored_statements(collection: Any, keys: list[str]) -> dict[str, int]:
    """How many statements the vector store holds per document key."""
    if not keys:
        return {}
    found = collection.get(where={"doc_key": {"$in": keys}}, include=["metadatas"])
    counts: dict[str, int] = {}
    for metadata in found["metadatas"] or []:
        key = str((metadata or {}).get("doc_key"))
        counts[key] = counts.get(key, 0) + 1
    return counts


def _damage(settings: Settings, entry: dict[str, Any], stored: dict[str, int]) -> str:
    """What is wrong with an unchanged document's index entry, or '' if nothing."""
    path = _chunk_file(settings, entry["key"])
    if not path.exists():
        return "its chunk file is missing"
    expected = entry.get("chunk_file_sha256")
    if expected and _file_hash(path) != expected:
        return "its chunk file was changed after the build"
    if stored.get(entry["key"], 0) != int(entry.get("statements", 0)):
        return f"the vector store holds {stored.get(entry['key'], 0)} of its {entry.get('statements', 0)} statements"
    return ""


class _LazyEmbedder:
    """Loads the embedding model only when something has to be embedded."""

    def __init__(self, settings: Settings, embedder: CareEmbeddings | None) -> None:
        self._settings = settings
        self._embedder = embedder
        self._cache: VectorCache | None = None

    def cache(self) -> VectorCache:
        if self._cache is None:
            if self._embedder is None:
                self._embedder = load_embeddings(self._settings, threads=default_threads())
            self._cache = VectorCache(self._settings.vector_cache_path, self._embedder)
        return self._cache


def _embed_translations(
    settings: Settings, previous: dict[str, Any] | None, lazy: _LazyEmbedder, report: IndexReport
) -> dict[str, Any] | None:
    """Put the translation memory's texts in the vector cache, unless they are unchanged since the last build.

    The service compares a statement with the question through its translation into the
    asker's language too (:class:`assistant.translations.TranslationVectors`); embedding
    them here keeps that work out of the service's start.
    """
    texts = sorted({t.text for _key, t in TranslationMemory(settings.translations_dir).entries()})
    if not texts:
        return None
    digest = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()
    signature = {"texts": digest, "model": settings.embedding_model}
    if previous == signature:
        return previous
    lazy.cache().vectors(texts, role="passage")
    report.translations_embedded = len(texts)
    return signature


def _build_intents(
    settings: Settings, previous: dict[str, Any] | None, lazy: _LazyEmbedder, report: IndexReport
) -> dict[str, Any] | None:
    """Train the intent model on the decision table's train rows, unless nothing changed."""
    path = settings.intents_table_path
    if not path.exists():
        report.warnings.append(f"{path} does not exist: no intent model, so questions cannot be answered")
        return None
    examples = load_decision_table(path)
    signature = {
        "table": table_hash(examples),
        "model": settings.embedding_model,
        "recipe": TRAINING_RECIPE,
        "vitals": reading_policy(),
    }
    model_file = settings.index_dir / "intents.npz"
    if previous and all(previous.get(k) == v for k, v in signature.items()) and model_file.exists():
        return previous
    train = [e for e in examples if e.split == "train"]
    vectors = lazy.cache().vectors([e.text for e in train], role="query")
    sentence_vectors = embed_sentences_to_learn(train, lambda texts: lazy.cache().vectors(texts, role="query"))
    model = IntentModel.train(train, vectors, settings.embedding_model, sentence_vectors)
    model.save(settings.index_dir)
    report.intents_trained = len(train)
    return {**signature, "trained_on": len(train), "sha256": _file_hash(model_file)}


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


def _chunk_dir(settings: Settings) -> Path:
    return settings.index_dir / "chunks"


def _chunk_file(settings: Settings, key: str) -> Path:
    return _chunk_dir(settings) / f"{key}.jsonl"


def _store_chunks(settings: Settings, collection: Any, cache: VectorCache, key: str, chunks: list[Chunk]) -> int:
    """Embed a document's statements into Chroma, then write its chunk file; returns the statement count."""
    records = [(chunk, n, unit) for chunk in chunks for n, unit in enumerate(quotable_units(chunk))]
    if records:
        vectors = cache.vectors([unit.text for _, _, unit in records], role="passage")
        for start in range(0, len(records), 1000):
            batch = records[start : start + 1000]
            collection.upsert(
                ids=[statement_id(key, chunk, n) for chunk, n, _ in batch],
                embeddings=np.asarray(vectors[start : start + len(batch)]),
                documents=[unit.text for _, _, unit in batch],
                metadatas=[_chroma_metadata(chunk, unit, key) for chunk, _, unit in batch],
            )
    path = _chunk_file(settings, key)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(chunk.model_dump_json() + "\n" for chunk in chunks), encoding="utf-8")
    os.replace(tmp, path)
    return len(records)


def _chroma_metadata(chunk: Chunk, unit: Unit, key: str) -> dict[str, Any]:
    return {
        "doc_key": key,
        "chunk_id": chunk.id,
        "unit_key": unit.key,
        "document": chunk.document,
        "municipality": chunk.municipality or "",
        "country": chunk.country,
        "language": chunk.language,
    }


def _delete_keys(settings: Settings, collection: Any, keys: list[str]) -> None:
    for key in keys:
        collection.delete(where={"doc_key": key})
        _chunk_file(settings, key).unlink(missing_ok=True)


def _warn_unlisted_files(settings: Settings, documents: list[DocumentMeta], report: IndexReport) -> None:
    listed = {d.file for d in documents}
    if not settings.documents_dir.exists():
        report.warnings.append(f"{settings.documents_dir} does not exist")
        return
    for path in sorted(settings.documents_dir.iterdir()):
        unlisted = path.is_file() and path.name not in listed and not path.name.startswith(".")
        if unlisted and path.suffix.lower() in SUPPORTED_SUFFIXES:
            report.warnings.append(f"{path.name}: not in the manifest, so not indexed")
