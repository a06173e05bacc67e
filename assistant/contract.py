"""The shapes that cross stage boundaries: chunks, passages, citations, answers.

One answer contract serves the CLI, the HTTP API, the staff console and the
evals, so they can never disagree about what an answer is.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Language = Literal["da", "sv", "nb", "en"]


class UserFacingError(Exception):
    """An error whose message is written for the person at the keyboard (shown as is, no traceback)."""


# "about": the assistant told about itself (its sources, what it keeps, what it can do), from prompts/.
Status = Literal["answered", "referred", "not_found", "refused", "crisis", "about"]
ChunkKind = Literal["text", "list", "table_row"]


class Contact(BaseModel):
    """A municipality's own contact for citizens' cases, as staff enter it (never guessed)."""

    office: str | None = None
    phone: str | None = None
    url: str | None = None


class DocumentMeta(BaseModel):
    """One knowledge-base document as the manifest describes it."""

    id: str
    file: str
    title: str
    municipality: str | None = None
    place: str | None = None
    country: Literal["DK", "SE", "NO"]
    language: Literal["da", "sv", "nb"]
    type: str = "plan"
    period: str | None = None
    url: str | None = None
    source: str | None = None
    notes: str | None = None
    contact: Contact | None = Field(
        default=None, description="The municipality's office for citizens' own cases, filled in by staff."
    )
    removed: bool = Field(
        default=False,
        description="Removed by staff and no longer used in answers; taken out of the manifest (and its file "
        "deleted) at the next index build, and until then restorable.",
    )


class Chunk(BaseModel):
    """A retrievable unit of a document.

    ``text`` is verbatim from the source (HTML fragments removed, whitespace
    normalised); ``context`` is what the chunk sits under (headings, a table's
    goal texts) and is indexed with the text but never quoted as the source's words.
    """

    id: str
    document: str
    title: str
    municipality: str | None
    country: str
    language: str
    section: str
    period: str | None
    url: str | None
    text: str
    context: str = ""
    order: int = 0
    kind: ChunkKind = "text"

    @property
    def search_text(self) -> str:
        return f"{self.context}\n{self.text}" if self.context else self.text


class Passage(BaseModel):
    """A chunk as retrieval returns it, with its scores and ranks."""

    rank: int
    score: float
    document: str
    title: str
    municipality: str | None
    country: str
    language: str
    section: str
    period: str | None
    url: str | None = None
    text: str
    chunk_id: str = ""
    dense_rank: int | None = None
    dense_score: float | None = None
    bm25_rank: int | None = None
    bm25_score: float | None = None


class CitationTranslation(BaseModel):
    """The cited passage in the asker's language, from the translation memory."""

    language: Language
    text: str
    status: Literal["draft", "reviewed"]


class Citation(BaseModel):
    """One cited passage: ``text`` is always the verbatim original."""

    n: int
    document: str
    title: str
    municipality: str | None
    country: str = ""
    language: str = Field(default="", description="The language of the document (and of `text`).")
    section: str
    period: str | None
    period_ended: bool = False
    url: str | None
    text: str
    translation: CitationTranslation | None = None


class Answer(BaseModel):
    """The answer contract (CLI ``ask --json``, ``POST /api/chat``, eval output)."""

    id: str
    question: str = Field(description="The question with personal data redacted.")
    status: Status
    intent: str = Field(
        default="", description="What the question was read as (plan_info, own_case, crisis_self, ...)."
    )
    language: Language
    answer: str
    citations: list[Citation] = Field(default_factory=list)
    municipality: str | None = Field(default=None, description="The municipality the sources were limited to.")
    office_country: Literal["DK", "SE", "NO"] | None = Field(
        default=None,
        description="The country whose municipal office (visitationen, biståndshandläggare, tildelingskontor) "
        "a citizen should turn to, as the answer names it; None when the answer points to no one country.",
    )
    pii_detected: bool = False
    latency_ms: float = 0.0
