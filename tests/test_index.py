"""Index: real Chroma and the real model; incremental, atomic, tolerant of bad files."""

from __future__ import annotations

from pathlib import Path

from assistant.config import Settings
from assistant.contract import DocumentMeta
from assistant.index import build_index, get_collection, read_state
from assistant.knowledge import load_manifest, municipalities
from assistant.knowledge_base import add_document, mark_removed, remove_document
from assistant.retrieve import Retriever


def _meta(file: str, title: str = "Fjordby ældreplan (fiktiv)") -> DocumentMeta:
    return DocumentMeta(
        id=Path(file).stem,
        file=file,
        title=title,
        municipality="Fjordby Kommune (fiktiv)",
        country="DK",
        language="da",
        period="2031-2034",
    )


def test_bad_files_are_reported_and_the_rest_index(fictional_kb: Settings, embedder) -> None:  # type: ignore[no-untyped-def]
    add_document(fictional_kb, "# Demens\n\nFjordby åbner en demenscafé for pårørende.\n".encode(), _meta("good.md"))
    add_document(fictional_kb, b"%PDF-1.7 garbage", _meta("corrupt.pdf"))
    add_document(fictional_kb, b"", _meta("empty.txt"))
    add_document(fictional_kb, b"<xml/>", _meta("notes.xml"))

    report = build_index(fictional_kb, embedder=embedder)

    assert report.indexed == ["good"]
    assert set(report.errors) == {"corrupt.pdf", "empty.txt", "notes.xml"}
    assert "empty" in report.errors["empty.txt"] and "unsupported" in report.errors["notes.xml"]
    hits = Retriever(fictional_kb, embedder=embedder).search("demenscafé", k=1).passages
    assert hits and "demenscafé" in hits[0].text


def test_reindexing_embeds_only_what_changed(fictional_kb: Settings, embedder) -> None:  # type: ignore[no-untyped-def]
    add_document(fictional_kb, b"# Hjemmepleje\n\nFjordby styrker hjemmeplejen.\n", _meta("a.md"))
    add_document(fictional_kb, b"# Aflastning\n\nFjordby tilbyder aflastning.\n", _meta("b.md"))
    first = build_index(fictional_kb, embedder=embedder)
    assert sorted(first.indexed) == ["a", "b"] and first.chunks_embedded == 2

    again = build_index(fictional_kb, embedder=embedder)
    assert again.indexed == [] and again.chunks_embedded == 0 and sorted(again.unchanged) == ["a", "b"]

    add_document(fictional_kb, b"# Aflastning\n\nFjordby tilbyder aflastning i weekender.\n", _meta("b.md"))
    changed = build_index(fictional_kb, embedder=embedder)
    assert changed.indexed == ["b"] and changed.unchanged == ["a"]

    remove_document(fictional_kb, "a")
    removed = build_index(fictional_kb, embedder=embedder)
    assert removed.removed == ["a"]
    retriever = Retriever(fictional_kb, embedder=embedder)
    assert {c.document for c in retriever.chunks} == {"b"}
    assert "weekender" in retriever.search("aflastning", k=1).passages[0].text


def test_a_query_never_sees_a_half_built_index(fictional_kb: Settings, embedder) -> None:  # type: ignore[no-untyped-def]
    """Queries read only the keys in state.json; chunks of a newer build are invisible until the swap."""
    add_document(fictional_kb, b"# Demens\n\nFjordby har en demenskoordinator.\n", _meta("d.md"))
    build_index(fictional_kb, embedder=embedder)
    retriever = Retriever(fictional_kb, embedder=embedder)
    state_before = read_state(fictional_kb)

    # Simulate a build that wrote its chunks to Chroma but died before swapping the state.
    collection = get_collection(fictional_kb)
    collection.upsert(
        ids=["half-built:0001"],
        embeddings=[embedder.embed_query("demenskoordinator half built")],
        documents=["HALF-BUILT demenskoordinator"],
        metadatas=[
            {
                "doc_key": "half-built",
                "chunk_id": "d:999",
                "document": "d",
                "municipality": "",
                "country": "DK",
                "language": "da",
                "section": "",
                "period": "",
            }
        ],
    )
    assert read_state(fictional_kb) == state_before
    texts = [p.text for p in retriever.search("demenskoordinator", k=5).passages]
    assert texts and not any("HALF-BUILT" in t for t in texts)


def test_the_real_knowledge_base_indexes_without_errors(built_index: Settings) -> None:
    state = read_state(built_index)
    assert len(state["documents"]) == 5
    assert sum(entry["chunks"] for entry in state["documents"].values()) > 50


def test_a_file_of_another_document_is_never_overwritten(fictional_kb: Settings) -> None:
    import pytest

    from assistant.knowledge import ManifestError, load_manifest

    add_document(fictional_kb, b"# Demens\n\nFjordby har en demenscafe.\n", _meta("plan.md"))
    other = _meta("plan.md").model_copy(update={"id": "another-plan"})
    with pytest.raises(ManifestError, match="already belongs"):
        add_document(fictional_kb, b"# Andet\n\nNoget helt andet.\n", other)
    assert "demenscafe" in (fictional_kb.documents_dir / "plan.md").read_text(encoding="utf-8")
    assert [d.id for d in load_manifest(fictional_kb)] == ["plan"]


def test_the_cli_explains_a_missing_index_without_a_traceback(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "CARE_DATA_DIR": str(tmp_path / "empty"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "ask", "demens", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 2
    assert "run `python -m assistant index`" in done.stderr and "Traceback" not in done.stderr


def test_a_removed_document_leaves_the_answers_at_once_and_undo_restores_it(fictional_kb: Settings, embedder) -> None:  # type: ignore[no-untyped-def]
    add_document(fictional_kb, b"# Demens\n\nFjordby holder demenscafe hver tirsdag.\n", _meta("cafe.md"))
    other = _meta("aflastning.md").model_copy(update={"municipality": "Nordby Kommune (fiktiv)"})
    add_document(fictional_kb, b"# Aflastning\n\nNordby tilbyder aflastning til pa\xc3\xa5r\xc3\xb8rende.\n", other)
    build_index(fictional_kb, embedder=embedder)
    retriever = Retriever(fictional_kb, embedder=embedder)
    assert retriever.search("demenscafe tirsdag", k=1).passages[0].document == "cafe"
    key_before = read_state(fictional_kb)["documents"]["cafe"]["key"]

    assert mark_removed(fictional_kb, "cafe") is True
    assert mark_removed(fictional_kb, "cafe") is False  # already removed
    # still in the manifest, marked, with its file; but no answer and no citizen list uses it
    assert [d.id for d in load_manifest(fictional_kb, include_removed=True) if d.removed] == ["cafe"]
    assert "removed: true" in fictional_kb.manifest_path.read_text(encoding="utf-8")
    assert (fictional_kb.documents_dir / "cafe.md").exists()
    assert [d.id for d in load_manifest(fictional_kb)] == ["aflastning"]
    assert [m["name"] for m in municipalities(load_manifest(fictional_kb))] == ["Nordby Kommune (fiktiv)"]
    assert all(p.document != "cafe" for p in retriever.search("demenscafe tirsdag", k=5).passages)
    assert all(
        p.document != "cafe"
        for p in retriever.search("demenscafe", k=5, municipality="Fjordby Kommune (fiktiv)").passages
    )

    assert mark_removed(fictional_kb, "cafe", removed=False) is True  # undo
    assert retriever.search("demenscafe tirsdag", k=1).passages[0].document == "cafe"
    assert "removed:" not in fictional_kb.manifest_path.read_text(encoding="utf-8")
    unchanged = build_index(fictional_kb, embedder=embedder)
    assert "cafe" in unchanged.unchanged and read_state(fictional_kb)["documents"]["cafe"]["key"] == key_before

    # the next index build makes a removal final: out of the manifest, its file deleted, its chunks dropped
    mark_removed(fictional_kb, "cafe")
    final = build_index(fictional_kb, embedder=embedder)
    assert final.removed == ["cafe"]
    assert [d.id for d in load_manifest(fictional_kb, include_removed=True)] == ["aflastning"]
    assert not (fictional_kb.documents_dir / "cafe.md").exists()
    assert mark_removed(fictional_kb, "cafe", removed=False) is False  # nothing left to restore


def test_the_cli_removes_and_restores(fictional_kb: Settings) -> None:
    import subprocess
    import sys

    add_document(fictional_kb, b"# Demens\n\nFjordby holder demenscafe.\n", _meta("cafe.md"))
    env = {"CARE_KNOWLEDGE_DIR": str(fictional_kb.knowledge_dir), "CARE_DATA_DIR": str(fictional_kb.data_dir)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "assistant", *args],
            capture_output=True,
            text=True,
            env={**env, "PATH": "/usr/bin:/bin"},
        )

    done = cli("remove", "cafe")
    assert done.returncode == 0 and "--undo" in done.stdout, done.stderr
    assert load_manifest(fictional_kb) == [] and load_manifest(fictional_kb, include_removed=True)[0].removed
    done = cli("remove", "cafe", "--undo")
    assert done.returncode == 0 and "restored cafe" in done.stdout
    assert [d.id for d in load_manifest(fictional_kb)] == ["cafe"]
    missing = cli("remove", "nothing-here")
    assert missing.returncode == 2 and "no document" in missing.stderr
