"""Ingestion: structure-aware chunks from the real documents, and every supported format."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.contract import DocumentMeta
from assistant.ingest import IngestError, ingest_document
from assistant.knowledge import load_manifest

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def _chunks(settings: Settings, doc_id: str):  # type: ignore[no-untyped-def]
    meta = next(d for d in load_manifest(settings) if d.id == doc_id)
    return ingest_document(settings.documents_dir / meta.file, meta)


def _words(text: str) -> list[str]:
    text = re.sub(r"<[^>]+>", " ", text)
    return re.findall(r"[^\W_]+", text.replace("**", ""))


@pytest.mark.parametrize("doc", load_manifest(Settings()), ids=lambda d: d.id)
def test_knowledge_text_is_verbatim_from_the_seed(doc: DocumentMeta) -> None:
    """Layout may be repaired (headings, joined lines), wording never."""
    assert doc.source, "every manifest entry names its source"
    seed = SEEDS / Path(doc.source).name
    if not SEEDS.exists():
        pytest.skip("shared/seeds is not beside this checkout")
    ours = (Settings().documents_dir / doc.file).read_text(encoding="utf-8")
    assert _words(ours) == _words(seed.read_text(encoding="utf-8"))


def test_every_chunk_carries_its_metadata() -> None:
    settings = Settings()
    for meta in load_manifest(settings):
        for chunk in ingest_document(settings.documents_dir / meta.file, meta):
            assert chunk.document == meta.id and chunk.title == meta.title
            assert chunk.language == meta.language and chunk.country == meta.country
            assert chunk.period == meta.period and chunk.municipality == meta.municipality
            assert chunk.section, chunk.id
            assert "<" not in chunk.text and "\t" not in chunk.text


def test_norwegian_table_becomes_one_chunk_per_measure() -> None:
    settings = Settings()
    chunks = [c for c in _chunks(settings, "no-helse-omsorg-velferd-2020-2030") if "Hovedmål" in c.section]
    raw = (settings.documents_dir / "no-helse-omsorg-velferd-2020-2030.md").read_text(encoding="utf-8")
    rows = [line for line in raw.splitlines() if re.match(r"^\d[\d,]*\t", line)]
    assert len(chunks) == len(rows) == 28
    bpa = next(c for c in chunks if "Brukerstyrt personlig assistent" in c.text)
    assert bpa.section.endswith("Hovedmål 10")
    assert "10. Innbyggerne ivaretar og mestrer egen helse" in bpa.context, "goal text travels with the measure"
    assert "Finansiering: Egne rammer" in bpa.text and "År: 2021" in bpa.text


def test_rows_continued_after_a_page_break_are_joined() -> None:
    chunks = _chunks(Settings(), "no-helse-omsorg-velferd-2020-2030")
    competence = next(c for c in chunks if c.text.startswith("Bedre ansattes muligheter"))
    assert "Rullere planen hvert 4.år" in competence.text
    children = next(c for c in chunks if c.text.startswith("Utarbeide og innføre helhetlig prosedyre"))
    assert "som har foreldre med alvorlige lidelser" in children.text
    assert "Etablere Treffpunkt for barn/ungdom" in children.text
    assert not any(c.text.startswith("som har foreldre") for c in chunks)


def test_lists_stay_with_their_heading_and_lead_in() -> None:
    chunks = _chunks(Settings(), "dk-center-pleje-og-omsorg-2021-2022")
    dementia = next(c for c in chunks if "sammenhængende forløb for borgere med demens" in c.text)
    assert dementia.section.endswith("Tema: Den røde tråd – en prioriteret demensstrategi")
    assert dementia.text.splitlines()[0] == "Prioriteret indsats:"


def _meta(file: str, **extra: str) -> DocumentMeta:
    return DocumentMeta(
        id=Path(file).stem,
        file=file,
        title="Fjordby ældreplan (fiktiv)",
        municipality="Fjordby Kommune (fiktiv)",
        country="DK",
        language="da",
        period="2031-2034",
        **extra,  # type: ignore[arg-type]
    )


def test_html_fragments_become_clean_text(tmp_path: Path) -> None:
    page = tmp_path / "plan.html"
    page.write_text(
        "<html><body><h1>Fjordby ældreplan</h1><h2>Demens</h2><p>Vi åbner et <b>demenscafé</b> i 2032.</p>"
        "<ul><li>Aflastning til pårørende</li><li>Demenskoordinator</li></ul></body></html>",
        encoding="utf-8",
    )
    chunks = ingest_document(page, _meta("plan.html"))
    text = "\n".join(c.text for c in chunks)
    assert "<" not in text and "Vi åbner et demenscafé i 2032." in text
    listed = next(c for c in chunks if "Aflastning til pårørende" in c.text)
    assert listed.section == "Fjordby ældreplan › Demens"


def test_pdf_and_docx_are_read(tmp_path: Path) -> None:
    from docx import Document
    from reportlab.pdfgen import canvas

    pdf = tmp_path / "plan.pdf"
    c = canvas.Canvas(str(pdf))
    c.drawString(72, 720, "Fjordby Kommune vil styrke hjemmeplejen i 2032.")
    c.save()
    assert "styrke hjemmeplejen" in ingest_document(pdf, _meta("plan.pdf"))[0].text

    docx_path = tmp_path / "plan.docx"
    document = Document()
    document.add_heading("Aflastning", level=1)
    document.add_paragraph("Fjordby tilbyder aflastning til pårørende weekender.")
    document.save(str(docx_path))
    chunk = ingest_document(docx_path, _meta("plan.docx"))[0]
    assert chunk.section == "Aflastning" and "aflastning til pårørende" in chunk.text


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.pdf", b"%PDF-1.4\n this is not really a pdf", "broken.pdf"),
        ("empty.txt", b"", "empty"),
        ("slides.pptx", b"PK\x03\x04whatever", "unsupported file type"),
    ],
)
def test_bad_files_get_a_clear_error_naming_the_file(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(IngestError) as error:
        ingest_document(path, _meta(name))
    assert name in str(error.value) and message in str(error.value)


def test_word_tables_stay_under_their_heading(tmp_path: Path) -> None:
    from docx import Document

    path = tmp_path / "tables.docx"
    document = Document()
    document.add_heading("Handlingsplan", level=1)
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Tiltak", "År"
    table.cell(1, 0).text, table.cell(1, 1).text = "Demenscafé i Fjordby", "2032"
    document.add_heading("Frivillige", level=1)
    document.add_paragraph("Fjordby samarbejder med frivillige.")
    document.save(str(path))
    chunks = ingest_document(path, _meta("tables.docx"))
    row = next(c for c in chunks if "Demenscafé i Fjordby" in c.text)
    assert row.section.startswith("Handlingsplan") and "År: 2032" in row.text
    assert next(c for c in chunks if "frivillige" in c.text).section == "Frivillige"
