"""The translation memory: every statement of the five documents in four languages, faithfully."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from assistant.config import Settings
from assistant.ingest import ingest_document
from assistant.knowledge import load_manifest
from assistant.statements import join_units, text_units
from assistant.translations import (
    TARGET_LANGUAGES,
    TranslationMemory,
    document_units,
    draft_missing,
    fact_problems,
)

SETTINGS = Settings()
DOCUMENTS = load_manifest(SETTINGS)


def _chunks(meta):  # type: ignore[no-untyped-def]
    return ingest_document(SETTINGS.documents_dir / meta.file, meta)


@pytest.fixture(scope="module")
def memory() -> TranslationMemory:
    return TranslationMemory(SETTINGS.translations_dir)


@pytest.mark.parametrize("meta", DOCUMENTS, ids=lambda d: d.id)
def test_every_unit_of_every_document_is_translated_into_the_other_three_languages(memory, meta) -> None:  # type: ignore[no-untyped-def]
    units = document_units(meta, _chunks(meta))
    listed = {str(e["key"]) for e in memory.units(meta.id)}
    assert {u.key for u in units} == listed, "run `python -m assistant translations sync`"
    for unit in units:
        for language in TARGET_LANGUAGES:
            if language == meta.language:
                continue
            found = memory.get(unit.key, language)
            assert found is not None and found.text, (unit.source, language)
            assert found.status in ("draft", "reviewed") and found.by, (unit.key, language)


@pytest.mark.parametrize("meta", DOCUMENTS, ids=lambda d: d.id)
def test_every_translation_keeps_every_number_and_name(memory, meta) -> None:  # type: ignore[no-untyped-def]
    accepted = memory.names(meta.id)
    problems = [
        (entry["key"], language, problem)
        for entry in memory.units(meta.id)
        for language, value in (entry.get("translations") or {}).items()
        for problem in fact_problems(str(entry["source"]), str(value["text"]), accepted)
    ]
    assert problems == []


@pytest.mark.parametrize(
    ("source", "translation", "problem"),
    [
        ("Vi bor 32.000 indbyggere i kommunen i 2030.", "We are 32,000 inhabitants in 2031.", "numbers differ"),
        ("Vi bor 32.000 indbyggere i kommunen i 2030.", "We are many inhabitants in 2030.", "numbers differ"),
        ("Dialog med Kirkenes sykehus om opsjon.", "Dialogue with the hospital about the option.", "name missing"),
        ("I Östersunds kommun får invånarna stöd.", "In the municipality residents get support.", "name missing"),
        ("Östersunds kommun ska erbjuda stöd.", "The municipality shall offer support.", None),
        ("Samarbeid med UIT om flere plasser.", "Cooperation with the university on more places.", "name missing"),
    ],
)
def test_the_faithfulness_check_catches_lost_numbers_and_names(
    source: str, translation: str, problem: str | None
) -> None:
    found = fact_problems(source, translation)
    if problem is None:
        assert found == []  # a name that opens the sentence is not checked (it cannot be told from a capital)
    else:
        assert any(p.startswith(problem) for p in found), found
    assert fact_problems(source, source) == []


@pytest.mark.parametrize("meta", DOCUMENTS, ids=lambda d: d.id)
def test_units_put_back_together_give_the_passage(meta) -> None:  # type: ignore[no-untyped-def]
    def norm(text: str) -> str:
        return re.sub(r"\s+", " ", text).strip()

    for chunk in _chunks(meta):
        units = text_units(chunk.text, chunk.kind == "table_row")
        assert norm(join_units([(u, u.text) for u in units])) == norm(chunk.text)


def test_staff_edits_and_llm_drafts_are_written_and_queued(tmp_path: Path) -> None:
    shutil.copytree(SETTINGS.translations_dir, tmp_path / "translations")
    path = tmp_path / "translations" / "se-ostersund-mal-for-trygghet-och-stod.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    first = data["units"][1]
    first["translations"].pop("en")  # one missing translation
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    memory = TranslationMemory(tmp_path / "translations")
    assert memory.get(first["key"], "en") is None

    drafted = draft_missing(memory, lambda text, source, target: f"[{target}] {text}", by="llm:test")
    assert drafted == {"drafted": 1, "failed": 0}
    found = memory.get(first["key"], "en")
    assert found is not None and found.status == "draft" and found.by == "llm:test"

    memory.put("se-ostersund-mal-for-trygghet-och-stod", first["key"], "en", "Reviewed text.", "reviewed", "staff")
    again = TranslationMemory(tmp_path / "translations")
    reviewed = again.get(first["key"], "en")
    assert reviewed is not None and (reviewed.text, reviewed.status, reviewed.by) == (
        "Reviewed text.",
        "reviewed",
        "staff",
    )
    with pytest.raises(ValueError):
        memory.put("se-ostersund-mal-for-trygghet-och-stod", first["key"], "en", "x", "approved", "staff")


def test_a_failing_draft_leaves_the_unit_untranslated(tmp_path: Path) -> None:
    shutil.copytree(SETTINGS.translations_dir, tmp_path / "translations")
    path = tmp_path / "translations" / "se-soderhamn-omvardnad-2-1.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["units"][0]["translations"] = {}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    memory = TranslationMemory(tmp_path / "translations")

    def failing(text: str, source: str, target: str) -> str:
        raise RuntimeError("backend down")

    assert draft_missing(memory, failing, by="llm:test") == {"drafted": 0, "failed": 3}
    assert memory.get(str(data["units"][0]["key"]), "en") is None


def test_translation_vectors_are_the_translations_own(memory, settings, embedder) -> None:  # type: ignore[no-untyped-def]
    """Each translation's vector is found under its own key and language: a question worded as the
    translation is closer to it than to the statement in the original language."""
    from assistant.embeddings import VectorCache
    from assistant.translations import TranslationVectors

    vectors = TranslationVectors(memory, VectorCache(settings.vector_cache_path, embedder))
    english = [(key, t) for key, t in memory.entries() if t.language == "en"][:40]
    sources = {u["key"]: u["source"] for doc in memory.documents() for u in memory.units(doc)}
    closer = 0
    for key, translation in english:
        query = embedder.query_vector(translation.text)
        own = vectors.similarity(key, "en", query)
        original = float(embedder.vectors([sources[key]], "passage")[0] @ query)
        assert own is not None and own > 0.85, (key, translation.text, own)
        closer += own > original
    assert closer >= 0.9 * len(english), f"{closer} of {len(english)}"
    assert vectors.similarity("no-such-key", "en", query) is None


def test_a_statement_in_another_language_counts_with_its_translation(assistant) -> None:  # type: ignore[no-untyped-def]
    """English questions about the Danish, Swedish and Norwegian plans: a quoted statement's similarity
    is the better of its own and its English translation's, and translations raise some."""
    snapshot = assistant.retriever.snapshot
    raised = compared = 0
    for question in (
        "How does Östersund want to prevent loneliness?",
        "What will Slagelse do for adults with disabilities?",
        "Will there be more nursing home places in Norway?",
    ):
        answer, trace = assistant.answer_with_trace(question)
        assert answer.status == "answered", answer.answer
        for statement in trace.selection.statements:
            if statement.passage.language == "en":
                continue
            (original,) = [
                sim
                for unit, sim in snapshot.statement_scores(statement.passage.chunk_id, trace.analysis.vector)
                if unit.key == statement.unit.key
            ]
            assert statement.similarity >= original - 1e-6
            compared += 1
            raised += statement.similarity > original + 1e-6
    assert compared and raised >= 2, (raised, compared)
