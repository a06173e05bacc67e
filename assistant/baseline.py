"""The naive baseline the retrieval evals report beside our own figures.

It is the tutorial approach: LangChain + Chroma, dense-only with the default
model, RecursiveCharacterTextSplitter 500/50 over the raw files, no glossary,
no stemming. Kept so every eval run shows what the real pipeline adds.
"""

from __future__ import annotations

import chromadb
from langchain_chroma import Chroma
from langchain_text_splitters import RecursiveCharacterTextSplitter

from assistant.config import Settings
from assistant.contract import Passage
from assistant.embeddings import CareEmbeddings
from assistant.ingest import IngestError, to_markdown
from assistant.knowledge import load_manifest


class NaiveBaseline:
    """Dense-only retrieval over 500/50 character chunks in an in-memory Chroma."""

    def __init__(self, settings: Settings, embedder: CareEmbeddings) -> None:
        splitter = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50)
        texts: list[str] = []
        metadatas: list[dict[str, str]] = []
        for meta in load_manifest(settings):
            try:
                raw = to_markdown(settings.documents_dir / meta.file)
            except IngestError:
                continue  # the real index reports unreadable files; the baseline just leaves them out
            for piece in splitter.split_text(raw):
                texts.append(piece)
                metadatas.append({"document": meta.id, "title": meta.title, "language": meta.language})
        client = chromadb.EphemeralClient(settings=chromadb.Settings(anonymized_telemetry=False))
        self._store = Chroma(client=client, collection_name="naive-baseline", embedding_function=embedder)
        self._store.add_texts(texts, metadatas=metadatas)

    def search(self, question: str, k: int = 5) -> list[Passage]:
        results = self._store.similarity_search_with_score(question, k=k)
        return [
            Passage(
                rank=rank,
                score=1.0 - float(distance),
                document=str(doc.metadata["document"]),
                title=str(doc.metadata["title"]),
                municipality=None,
                country="",
                language=str(doc.metadata["language"]),
                section="",
                period=None,
                text=doc.page_content,
            )
            for rank, (doc, distance) in enumerate(results, start=1)
        ]
