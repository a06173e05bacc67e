"""Shared fixtures: the real knowledge base, indexed once per test session into a temp dir.

Tests use the real components: Chroma, the packaged embedding model, the real
documents. Fixture documents of a clearly fictional municipality live in
tests/fixtures, never in knowledge/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from assistant.config import Settings

FIXTURES = Path(__file__).parent / "fixtures"


# Vectors are cached by content hash in the repository's data folder (``make index`` fills it),
# so the many small indexes the tests build do not embed the same texts again.
VECTOR_CACHE = Settings().vector_cache_path

# The suite asks hundreds of questions from one address; the rate limits themselves are tested
# in tests/test_limits.py with the defaults.
GENEROUS_RATES = {
    "rate_limit_chat": "10000/minute",
    "rate_limit_feedback": "10000/minute",
    "rate_limit_login": "1000/minute",
}


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings over the real knowledge base with a private data directory."""
    return Settings(data_dir=tmp_path_factory.mktemp("data"), vector_cache=VECTOR_CACHE, **GENEROUS_RATES)


@pytest.fixture(scope="session")
def embedder(settings: Settings):  # type: ignore[no-untyped-def]
    from assistant.embeddings import load_embeddings

    return load_embeddings(settings)


@pytest.fixture(scope="session")
def built_index(settings: Settings, embedder) -> Settings:  # type: ignore[no-untyped-def]
    from assistant.index import build_index

    report = build_index(settings, embedder=embedder)
    assert not report.errors, report.errors
    return settings


@pytest.fixture(scope="session")
def retriever(built_index: Settings, embedder):  # type: ignore[no-untyped-def]
    from assistant.retrieve import Retriever

    return Retriever(built_index, embedder=embedder)


@pytest.fixture(scope="session")
def assistant(built_index: Settings, retriever):  # type: ignore[no-untyped-def]
    from assistant.answer import Assistant

    return Assistant(built_index, retriever=retriever)


@pytest.fixture()
def fictional_kb(tmp_path: Path) -> Iterator[Settings]:
    """A knowledge base of the fictional municipality 'Fjordby', copied into a temp dir."""
    knowledge = tmp_path / "knowledge"
    (knowledge / "documents").mkdir(parents=True)
    yield Settings(knowledge_dir=knowledge, data_dir=tmp_path / "data", vector_cache=VECTOR_CACHE, **GENEROUS_RATES)
