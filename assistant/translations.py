"""Translation memory: every unit of the knowledge base in da, sv, nb and en.

Public entry point: :class:`TranslationMemory`.

One YAML file per document under ``knowledge/translations/``, listing the
document's units (title, section headings, then every unit of its text, see
:mod:`assistant.statements`) in document order, each keyed by its content
hash, with its translations::

    document: no-helse-omsorg-velferd-2020-2030
    language: nb
    names: {Sykehjemmet: [the nursing home]}     # accepted renderings of a name
    units:
    - key: 3f2a9c1d0b7e4a55
      kind: measure
      source: Finne god driftsmodell for Brukerstyrt personlig assistent (BPA)
      translations:
        da: {text: ..., status: reviewed, by: team}

A unit whose text changes gets a new key, so a translation can never be shown
for words it was not made from. ``status`` is ``draft`` (machine- or
first-written, not yet checked) or ``reviewed``; staff review drafts in the
console. :func:`fact_problems` checks a translation keeps every number and name.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from filelock import FileLock

from assistant.contract import Chunk, DocumentMeta
from assistant.knowledge import load_yaml
from assistant.statements import Unit, text_units, unit_key

if TYPE_CHECKING:
    import numpy as np

    from assistant.embeddings import VectorCache

TARGET_LANGUAGES = ("da", "sv", "nb", "en")
TranslationStatus = Literal["draft", "reviewed"]
STATUSES: tuple[str, ...] = ("draft", "reviewed")


@dataclass(frozen=True)
class Translation:
    language: str
    text: str
    status: str
    by: str


@dataclass(frozen=True)
class SourceUnit:
    """A unit as the translation memory lists it (title and headings included)."""

    key: str
    kind: str
    source: str


class TranslationMemory:
    """Loads ``knowledge/translations/*.yaml`` once; looks translations up by unit key.

    Args:
        directory: the folder holding one file per document.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._files: dict[str, dict[str, Any]] = {}
        self._by_key: dict[str, dict[str, Translation]] = {}
        self._names: dict[str, dict[str, list[str]]] = {}
        self.version = 0  # bumped on every reload, so cached answers made with old translations are not reused
        self.reload()

    def reload(self) -> None:
        files: dict[str, dict[str, Any]] = {}
        if self.directory.exists():
            for path in sorted(self.directory.glob("*.yaml")):
                data = load_yaml(path.read_text(encoding="utf-8")) or {}
                if data.get("document"):
                    files[str(data["document"])] = data
        by_key: dict[str, dict[str, Translation]] = {}
        for data in files.values():
            for entry in data.get("units") or []:
                for language, value in (entry.get("translations") or {}).items():
                    if isinstance(value, dict) and str(value.get("text") or "").strip():
                        by_key.setdefault(str(entry["key"]), {})[language] = Translation(
                            language=language,
                            text=str(value["text"]).strip(),
                            status=str(value.get("status") or "draft"),
                            by=str(value.get("by") or ""),
                        )
        with self._lock:
            self._files = files
            self._by_key = by_key
            self.version += 1
            self._names = {doc: dict(data.get("names") or {}) for doc, data in files.items()}

    def get(self, key: str, language: str) -> Translation | None:
        """The translation of one unit into ``language``, if there is one."""
        return self._by_key.get(key, {}).get(language)

    def entries(self) -> list[tuple[str, Translation]]:
        """Every translation with its unit key, drafts included."""
        return [(key, t) for key, by_language in self._by_key.items() for t in by_language.values()]

    def translate_units(self, units: Iterable[Unit], language: str) -> list[tuple[Unit, Translation | None]]:
        return [(unit, self.get(unit.key, language)) for unit in units]

    def names(self, document: str) -> dict[str, list[str]]:
        return self._names.get(document, {})

    def units(self, document: str) -> list[dict[str, Any]]:
        """The raw unit entries of one document's file (for the staff console and tests)."""
        return list(self._files.get(document, {}).get("units") or [])

    def documents(self) -> list[str]:
        return sorted(self._files)

    def document_language(self, document: str) -> str | None:
        return self._files.get(document, {}).get("language")

    def coverage(self, document: str | None = None) -> dict[str, dict[str, int]]:
        """Per target language: units, translated, reviewed (the source language itself is not counted)."""
        result: dict[str, dict[str, int]] = {}
        for doc, data in self._files.items():
            if document and doc != document:
                continue
            for language in TARGET_LANGUAGES:
                if language == data.get("language"):
                    continue
                row = result.setdefault(language, {"units": 0, "translated": 0, "reviewed": 0})
                for entry in data.get("units") or []:
                    row["units"] += 1
                    found = self.get(str(entry["key"]), language)
                    row["translated"] += found is not None
                    row["reviewed"] += found is not None and found.status == "reviewed"
        return result

    def put(self, document: str, key: str, language: str, text: str, status: str, by: str) -> None:
        """Set one translation and write the document's file (staff edits, LLM drafts)."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        path = self.directory / f"{document}.yaml"
        with FileLock(str(path) + ".lock", timeout=30):
            data = load_yaml(path.read_text(encoding="utf-8")) or {}
            entry = next((e for e in data.get("units") or [] if str(e.get("key")) == key), None)
            if entry is None:
                raise KeyError(f"{document}: no unit {key}")
            entry.setdefault("translations", {})[language] = {"text": text.strip(), "status": status, "by": by}
            _write_yaml(path, data)
        self.reload()


class TranslationVectors:
    """The translations' embeddings: a statement is also compared with the question in the asker's language.

    Cross-language similarity of the multilingual model is lower and noisier than
    same-language similarity, so an English question about a Norwegian plan is also
    measured against the statement's English translation (measured on the answer
    evals: the answering passage cited 0.96 -> 0.98 cross-language on the tuning sets,
    0.81 -> 0.86 on the held-out set). The index build puts these vectors in the
    vector cache; a translation approved later is embedded on first use.

    Args:
        memory: the translation memory.
        vectors: embeds texts (a :class:`~assistant.embeddings.VectorCache`).
    """

    def __init__(self, memory: TranslationMemory, vectors: VectorCache) -> None:
        entries = memory.entries()
        self.version = memory.version
        self._row = {(key, t.language): i for i, (key, t) in enumerate(entries)}
        self._matrix = vectors.vectors([t.text for _key, t in entries], "passage") if entries else None

    def similarity(self, key: str, language: str, query: np.ndarray) -> float | None:
        """Cosine similarity of the unit's translation into ``language`` to the query vector, if translated."""
        row = self._row.get((key, language))
        if row is None or self._matrix is None:
            return None
        return float(self._matrix[row] @ query)


def draft_missing(
    memory: TranslationMemory, draft: Any, by: str, limit: int | None = None, documents: Iterable[str] | None = None
) -> dict[str, int]:
    """Draft every missing translation with ``draft(text, source, target)`` and queue it for review.

    Args:
        memory: the translation memory (its files are updated).
        draft: a function that returns the translated text, or raises when it cannot.
        by: who drafted (e.g. "llm:gpt-4o-mini"), stored beside each draft.
        limit: draft at most this many (a first run over a large knowledge base can be long).
        documents: only these documents (default: all).

    Returns counts of drafted and failed units.
    """
    counts = {"drafted": 0, "failed": 0}
    only = set(documents) if documents is not None else None
    for document in memory.documents():
        if only is not None and document not in only:
            continue
        source = str(memory.document_language(document))
        for entry in memory.units(document):
            for language in TARGET_LANGUAGES:
                if language == source or memory.get(str(entry["key"]), language) is not None:
                    continue
                if limit is not None and counts["drafted"] + counts["failed"] >= limit:
                    return counts
                try:
                    text = draft(str(entry["source"]), source, language)
                except Exception:  # a failing or unfaithful draft leaves the unit untranslated
                    counts["failed"] += 1
                    continue
                memory.put(document, str(entry["key"]), language, text, "draft", by)
                counts["drafted"] += 1
    return counts


def document_units(meta: DocumentMeta, chunks: list[Chunk]) -> list[SourceUnit]:
    """The units of one document in order: its title, each section heading once, then the text units."""
    seen: set[str] = set()
    out: list[SourceUnit] = []

    def add(text: str, kind: str) -> None:
        key = unit_key(text)
        if text.strip() and key not in seen:
            seen.add(key)
            out.append(SourceUnit(key, kind, text.strip()))

    add(meta.title, "title")
    for chunk in chunks:
        for heading in chunk.section.split(" › "):
            add(heading, "heading")
        for unit in text_units(chunk.text, chunk.kind == "table_row"):
            add(unit.text, unit.kind)
    return out


def sync_file(path: Path, meta: DocumentMeta, chunks: list[Chunk]) -> dict[str, int]:
    """Bring one document's translation file in line with its current units.

    Translations of units that still exist are kept; new units get an empty
    entry; units that no longer exist are dropped (their translations were of
    words the document no longer has). Returns counts of kept, added and dropped units.
    """
    old: dict[str, Any] = {}
    names: dict[str, Any] = {}
    if path.exists():
        data = load_yaml(path.read_text(encoding="utf-8")) or {}
        old = {str(e["key"]): e for e in data.get("units") or []}
        names = dict(data.get("names") or {})
    units = document_units(meta, chunks)
    entries = []
    for unit in units:
        previous = old.get(unit.key, {})
        entries.append(
            {
                "key": unit.key,
                "kind": unit.kind,
                "source": unit.source,
                "translations": previous.get("translations") or {},
            }
        )
    current = {u.key for u in units}
    data = {"document": meta.id, "language": meta.language, "names": names, "units": entries}
    if not path.exists() or yaml.safe_load(path.read_text(encoding="utf-8")) != data:
        _write_yaml(path, data)  # unchanged files are left alone (no churn in a checkout)
    return {
        "kept": sum(1 for u in units if u.key in old),
        "added": sum(1 for u in units if u.key not in old),
        "dropped": sum(1 for key in old if key not in current),
    }


def _write_yaml(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(
        yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100, default_flow_style=False),
        encoding="utf-8",
    )
    tmp.replace(path)


# -- faithfulness -------------------------------------------------------------

_NUMBER = re.compile(r"\d+(?:[.,  ]\d{3})*(?:[.,]\d+)?")
_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;–—•\"“(]\s*|\d[.)]\s+)$")


def numbers(text: str) -> list[str]:
    """The numbers of a text as digit strings, so '32.000', '32,000' and '32 000' compare equal."""
    return sorted(re.sub(r"\D", "", m.group()) for m in _NUMBER.finditer(text))


def names_in(text: str) -> list[str]:
    """Capitalised words that do not start a sentence: in Danish, Swedish and Norwegian these are names."""
    found = []
    for match in _WORD.finditer(text):
        word = match.group()
        if word[:1].isupper() and not _SENTENCE_START.search(text[: match.start()]):
            found.append(word)
    return found


def fact_problems(source: str, translation: str, accepted: dict[str, list[str]] | None = None) -> list[str]:
    """What a translation loses or adds: numbers (both ways) and names of the source.

    Args:
        source: the verbatim unit.
        translation: its translation.
        accepted: name -> renderings accepted in place of the name itself
            ("Socialudvalget": ["Social Committee"]), from the document's file.
    """
    problems = []
    if numbers(source) != numbers(translation):
        problems.append(f"numbers differ: {numbers(source)} vs {numbers(translation)}")
    folded = translation.casefold()
    for name in dict.fromkeys(names_in(source)):
        stem = name.casefold()
        stem = stem[:-1] if stem.endswith("s") and len(stem) > 5 else stem  # genitive: "Östersunds"
        renderings = [r.casefold() for r in (accepted or {}).get(name, [])]
        if stem not in folded and not any(r in folded for r in renderings):
            problems.append(f"name missing: {name}")
    return problems
