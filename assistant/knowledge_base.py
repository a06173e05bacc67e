"""The knowledge base as one service: the only writer of the documents, the manifest and the index.

Public entry points: :func:`add_document`, :func:`remove_document`, :func:`reindex`,
:func:`add_and_index`, and for uploads :func:`read_upload` and :func:`check_content`.
The CLI (``add``, ``remove``, ``index``) and the staff console call these; nothing
else writes ``knowledge/`` or ``data/index``.

Two locks, both files (``filelock``), so they hold across threads *and* processes:

* the **manifest lock** (``knowledge/.manifest.lock``): one writer of the manifest
  and the document files at a time;
* the **index lock** (``<data_dir>/index/.build.lock``): one index build at a time.
  :func:`assistant.index.build_index` takes it itself, so a build started by the
  CLI while the staff console re-indexes waits instead of interleaving writes.

A running service never needs to be told about a build: it swaps in the new
index when ``state.json`` changes (see :class:`assistant.retrieve.Retriever`).

Uploads are checked before anything is copied: only a file inside the upload
folder is read (never a path someone names), its size is checked before it is
read, and its type is decided from its content (``%PDF``, a docx zip, UTF-8
text), not from its name.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock

from assistant.config import Settings
from assistant.contract import DocumentMeta, UserFacingError
from assistant.knowledge import ManifestError, load_manifest, removed_documents, save_manifest

if TYPE_CHECKING:
    from assistant.embeddings import CareEmbeddings
    from assistant.index import IndexReport

LOCK_TIMEOUT_S = 600  # an index build from scratch takes about a minute on two cores
INDEX_LOCK_FILE = ".build.lock"
TEXT_SUFFIXES = (".txt", ".md", ".html", ".htm")
_DOCUMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class UploadError(UserFacingError, ValueError):
    """An uploaded file is refused; the message says why (never echoing its content)."""


# --------------------------------------------------------------------------- locks


def manifest_lock(settings: Settings) -> FileLock:
    """One writer at a time for the manifest and the document files, across threads and processes."""
    settings.knowledge_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(str(settings.knowledge_dir / ".manifest.lock"), timeout=60)


def index_lock(settings: Settings) -> FileLock:
    """One index build at a time for this data directory, across threads and processes."""
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(str(settings.index_dir / INDEX_LOCK_FILE), timeout=LOCK_TIMEOUT_S)


# --------------------------------------------------------------------------- documents


def add_document(settings: Settings, content: bytes, meta: DocumentMeta) -> DocumentMeta:
    """Put a document into ``knowledge/documents`` and register it in the manifest.

    The next index build embeds it. An entry with the same id is replaced; a file
    name that belongs to another document is refused rather than overwritten.
    """
    name = Path(meta.file).name
    if not name or name.startswith(".") or name != meta.file:
        raise ManifestError(f"{meta.file!r} is not a valid file name")
    if not _DOCUMENT_ID.match(meta.id):
        raise ManifestError(f"{meta.id!r} is not a valid document id (letters, digits, '.', '_' and '-')")
    with manifest_lock(settings):
        documents = load_manifest(settings, include_removed=True)
        owner = next((d for d in documents if d.file == name and d.id != meta.id), None)
        if owner is not None:
            raise ManifestError(f"{name}: the file already belongs to document {owner.id!r}; rename it first")
        settings.documents_dir.mkdir(parents=True, exist_ok=True)
        target = settings.documents_dir / name
        tmp = target.with_name(f".{name}.tmp")
        tmp.write_bytes(content)
        tmp.replace(target)
        save_manifest(settings, [*(d for d in documents if d.id != meta.id), meta])
    return meta


def remove_document(settings: Settings, document_id: str) -> bool:
    """Unregister a document (and delete its file) at once; the next index build drops its chunks."""
    with manifest_lock(settings):
        documents = load_manifest(settings, include_removed=True)
        remaining = [d for d in documents if d.id != document_id]
        if len(remaining) == len(documents):
            return False
        removed = next(d for d in documents if d.id == document_id)
        save_manifest(settings, remaining)
        (settings.documents_dir / removed.file).unlink(missing_ok=True)
    return True


def mark_removed(settings: Settings, document_id: str, removed: bool = True) -> bool:
    """Soft delete (or undo it): the document stays in the manifest, marked, and answers leave it out.

    Staff get an undo this way; the next index build makes a removal final (:func:`purge_removed`).

    Returns:
        False when no document has this id or it is already in the asked state.
    """
    with manifest_lock(settings):
        documents = load_manifest(settings, include_removed=True)
        target = next((d for d in documents if d.id == document_id), None)
        if target is None or target.removed == removed:
            return False
        updated = target.model_copy(update={"removed": removed})
        save_manifest(settings, [updated if d.id == document_id else d for d in documents])
    return True


def purge_removed(settings: Settings) -> list[str]:
    """Take the documents marked removed out of the manifest and delete their files; their ids."""
    if not removed_documents(settings):
        return []
    with manifest_lock(settings):
        documents = load_manifest(settings, include_removed=True)
        gone = [d for d in documents if d.removed]
        if not gone:
            return []
        save_manifest(settings, [d for d in documents if not d.removed])
        kept_files = {d.file for d in documents if not d.removed}
        for doc in gone:
            if doc.file not in kept_files:
                (settings.documents_dir / doc.file).unlink(missing_ok=True)
    return [d.id for d in gone]


def reindex(settings: Settings, embedder: CareEmbeddings | None = None) -> IndexReport:
    """Bring the index in line with the manifest (under the index lock; only changes are embedded).

    A (re-)indexed document's statements are listed in its translation file, so staff
    can translate them; with an LLM backend configured, the missing translations are
    drafted and queued as ``draft`` for staff review.
    """
    from assistant.index import build_index

    report = build_index(settings, embedder=embedder)
    if report.indexed:
        sync_translations(settings, report.indexed)
    return report


def sync_translations(settings: Settings, documents: Iterable[str]) -> None:
    """List these documents' units in their translation files; draft missing ones with the LLM if configured."""
    from assistant.ingest import IngestError, ingest_document
    from assistant.translations import TranslationMemory, draft_missing, sync_file

    wanted = set(documents)
    for meta in load_manifest(settings):
        if meta.id not in wanted:
            continue
        try:
            chunks = ingest_document(settings.documents_dir / meta.file, meta)
        except IngestError:
            continue  # the index report already names the file
        sync_file(settings.translations_dir / f"{meta.id}.yaml", meta, chunks)
    if settings.llm_base_url and settings.translation_drafts > 0:
        from assistant.llm import draft_translation

        draft_missing(
            TranslationMemory(settings.translations_dir),
            lambda text, source, target: draft_translation(settings, text, source, target),
            by=f"llm:{settings.llm_model}",
            limit=settings.translation_drafts,
            documents=wanted,
        )


def add_and_index(
    settings: Settings, content: bytes, meta: DocumentMeta, embedder: CareEmbeddings | None = None
) -> IndexReport:
    """Add a document and index it; if it cannot be ingested, the knowledge base is put back as it was."""
    previous = next((d for d in load_manifest(settings) if d.id == meta.id), None)
    previous_bytes = _read_bytes(settings.documents_dir / previous.file) if previous else None
    add_document(settings, content, meta)
    if previous and previous.file != meta.file:
        (settings.documents_dir / previous.file).unlink(missing_ok=True)
    report = reindex(settings, embedder)
    if meta.file in report.errors:
        remove_document(settings, meta.id)
        if previous is not None and previous_bytes is not None:
            add_document(settings, previous_bytes, previous)
        rolled_back = reindex(settings, embedder)
        rolled_back.errors = {**report.errors, **rolled_back.errors}
        return rolled_back
    return report


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


# --------------------------------------------------------------------------- uploads


def read_upload(path: str | Path, upload_dirs: Iterable[Path], max_bytes: int) -> bytes:
    """The bytes of an uploaded file, only if it lies in an upload folder and is not too large.

    Args:
        path: where the web framework stored the upload.
        upload_dirs: the folders uploads are stored in; a path anywhere else is refused,
            so a request naming a server file (``/etc/passwd``) reads nothing.
        max_bytes: the size limit, checked on the file before it is read.
    """
    try:
        resolved = Path(path).resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise UploadError("The uploaded file was not found; upload it again.") from exc
    roots = [Path(d).resolve() for d in upload_dirs]
    if not any(resolved.is_relative_to(root) for root in roots) or not resolved.is_file():
        raise UploadError("Only a file uploaded through the console is accepted.")
    size = resolved.stat().st_size
    if size > max_bytes:
        raise UploadError(f"The file is too large ({size:,} bytes; the limit is {max_bytes:,}).")
    with resolved.open("rb") as handle:
        content = handle.read(max_bytes + 1)  # the file may have grown since the check
    if len(content) > max_bytes:
        raise UploadError(f"The file is too large (the limit is {max_bytes:,} bytes).")
    return content


def check_content(suffix: str, content: bytes) -> None:
    """Refuse content that is not what its file name says: PDF, docx, or UTF-8 text.

    Raises:
        UploadError: the type is not supported, or the bytes are of another type.
    """
    suffix = suffix.lower()
    if not content:
        raise UploadError("The file is empty.")
    if suffix == ".pdf":
        if not content.startswith(b"%PDF-"):
            raise UploadError("The file is named .pdf but is not a PDF.")
    elif suffix == ".docx":
        if not (content.startswith(b"PK\x03\x04") and _is_docx(content)):
            raise UploadError("The file is named .docx but is not a Word document.")
    elif suffix in TEXT_SUFFIXES:
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UploadError(f"The file is named {suffix} but is not UTF-8 text.") from exc
        if "\x00" in text:
            raise UploadError(f"The file is named {suffix} but holds binary data.")
    else:
        supported = ", ".join((".pdf", ".docx", *TEXT_SUFFIXES))
        raise UploadError(f"Unsupported file type {suffix or '(none)'}; supported: {supported}.")


def _is_docx(content: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    return "word/document.xml" in names and "[Content_Types].xml" in names


def discard_upload(path: str | Path, upload_dirs: Iterable[Path]) -> None:
    """Delete a refused upload, if (and only if) it lies in an upload folder."""
    try:
        resolved = Path(path).resolve(strict=True)
    except (OSError, RuntimeError):
        return
    if resolved.is_file() and any(resolved.is_relative_to(Path(d).resolve()) for d in upload_dirs):
        resolved.unlink(missing_ok=True)
