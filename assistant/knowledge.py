"""The knowledge base on disk: the manifest, the glossary and the prompt texts."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from assistant.config import Settings
from assistant.contract import DocumentMeta, UserFacingError

# libyaml's loader where PyYAML was built with it: the translation memory alone took seconds to parse
# with the pure-Python loader, at every start of the service.
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load``, with the C loader when there is one."""
    return yaml.load(text, Loader=_SAFE_LOADER)


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
        raw = load_yaml(path.read_text(encoding="utf-8")) or {}
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
    raw = load_yaml(path.read_text(encoding="utf-8")) or {}
    concepts = []
    for entry in raw.get("concepts") or []:
        terms = {lang: tuple(str(t).lower() for t in entry.get(lang) or []) for lang in ("da", "sv", "nb", "en")}
        concepts.append(Concept(id=str(entry["id"]), terms=terms))
    return concepts


@lru_cache(maxsize=8)
def _load_prompt_file(path: Path) -> dict[str, str]:
    data = load_yaml(path.read_text(encoding="utf-8")) or {}
    return {str(k): str(v).strip() for k, v in data.items()}


def prompt(settings: Settings, language: str, key: str, **values: Any) -> str:
    """A fixed text the assistant says, from ``prompts/<language>.yaml``, filled in."""
    texts = _prompt_texts(settings.prompts_dir, language)
    if key not in texts:
        texts = _prompt_texts(settings.prompts_dir, "en")
    return texts[key].format(**values)


@lru_cache(maxsize=16)
def _prompt_texts(directory: Path, language: str) -> dict[str, str]:
    # An answer says a dozen fixed texts: building the file's Path for each took a millisecond an answer.
    return _load_prompt_file(directory / f"{language}.yaml")


# Writing the knowledge base (add, remove, soft removal and its undo) is assistant.knowledge_base's
# job: one writer, with its locks.
