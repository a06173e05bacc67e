"""The knowledge base on disk: the manifest, the glossary and the prompt texts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from filelock import FileLock

from assistant.config import Settings
from assistant.contract import DocumentMeta, UserFacingError


class ManifestError(UserFacingError, ValueError):
    """The manifest is missing, malformed, or names a document wrongly."""


def load_manifest(settings: Settings, include_removed: bool = False) -> list[DocumentMeta]:
    """Read ``knowledge/manifest.yaml``: one entry per document.

    Documents staff removed (``removed: true``, awaiting the next index build) are left
    out unless ``include_removed``: nothing answers from them or lists them to citizens.
    """
    path = settings.manifest_path
    if not path.exists():
        return []  # a new, empty knowledge base
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ManifestError(f"{path}: cannot read the manifest: {exc}") from exc
    entries = raw.get("documents") or []
    documents = []
    for entry in entries:
        try:
            documents.append(DocumentMeta.model_validate(entry))
        except ValueError as exc:
            raise ManifestError(f"{path}: entry {entry.get('id', '?')!r} is invalid: {exc}") from exc
    ids = [d.id for d in documents]
    if len(ids) != len(set(ids)):
        raise ManifestError(f"{path}: document ids must be unique")
    return documents if include_removed else [d for d in documents if not d.removed]


def removed_documents(settings: Settings) -> frozenset[str]:
    """Ids of the documents marked removed (re-read only when the manifest changes)."""
    path = settings.manifest_path
    try:
        version = path.stat().st_mtime_ns
    except OSError:
        return frozenset()
    return _removed_ids(path, version)


@lru_cache(maxsize=8)
def _removed_ids(path: Path, _version: int) -> frozenset[str]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return frozenset()
    return frozenset(str(e.get("id")) for e in raw.get("documents") or [] if isinstance(e, dict) and e.get("removed"))


def save_manifest(settings: Settings, documents: list[DocumentMeta]) -> None:
    """Write the manifest back atomically (used when a document is added or removed)."""
    path = settings.manifest_path
    header = [line for line in _read_lines(path) if line.startswith("#")]
    entries = [{k: v for k, v in d.model_dump().items() if k != "removed" or v} for d in documents]
    body = yaml.safe_dump({"documents": entries}, allow_unicode=True, sort_keys=False, width=120)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text("\n".join(header) + ("\n" if header else "") + body, encoding="utf-8")
    tmp.replace(path)


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []


def municipalities(documents: list[DocumentMeta]) -> list[dict[str, Any]]:
    """The municipalities a citizen can choose: only those the documents name."""
    by_name: dict[str, dict[str, Any]] = {}
    for doc in documents:
        if not doc.municipality:
            continue
        entry = by_name.setdefault(
            doc.municipality, {"name": doc.municipality, "country": doc.country, "documents": []}
        )
        entry["documents"].append(doc.id)
    return sorted(by_name.values(), key=lambda m: (m["country"], m["name"]))


@dataclass(frozen=True)
class Concept:
    id: str
    terms: dict[str, tuple[str, ...]]  # language -> terms


def load_glossary(path: Path) -> list[Concept]:
    """The cross-lingual care glossary (``knowledge/glossary.yaml``)."""
    if not path.exists():
        return []
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    concepts = []
    for entry in raw.get("concepts") or []:
        terms = {lang: tuple(str(t).lower() for t in entry.get(lang) or []) for lang in ("da", "sv", "nb", "en")}
        concepts.append(Concept(id=str(entry["id"]), terms=terms))
    return concepts


@lru_cache(maxsize=8)
def _load_prompt_file(path: Path) -> dict[str, str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(k): str(v).strip() for k, v in data.items()}


def prompt(settings: Settings, language: str, key: str, **values: Any) -> str:
    """A fixed text the assistant says, from ``prompts/<language>.yaml``, filled in."""
    texts = _load_prompt_file(settings.prompts_dir / f"{language}.yaml")
    if key not in texts:
        texts = _load_prompt_file(settings.prompts_dir / "en.yaml")
    return texts[key].format(**values)


def manifest_lock(settings: Settings) -> FileLock:
    """One writer at a time for the manifest, across threads and processes (staff console, CLI)."""
    settings.knowledge_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(str(settings.knowledge_dir / ".manifest.lock"), timeout=60)


_DOCUMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


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

    Returns False when no document has this id or it is already in the asked state.
    The next index build makes a removal final (:func:`purge_removed`).
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
