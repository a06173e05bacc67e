"""Statements: the units a passage is quoted, embedded and translated by.

Public entry point: :func:`text_units`.

A chunk's text is cut into *units*, each verbatim and each with a stable
content key:

* ``sentence``: a sentence of a paragraph;
* ``item``: a list item (a long item is cut into its sentences);
* ``measure``: the first line of a table row (the Norwegian action plan's measures);
* ``label``: a short line ending in ':' that introduces what follows ("Beskrivelse:");
* ``field``: a table field such as "Finansiering: Egne rammer" or "År: 2021".

Every unit is translated (so a whole passage can be shown in the asker's
language), but only sentences, items and measures are *quoted* as statements:
a label or a funding line does not answer a question on its own.

Why hand-written: sentence splitters (NLTK punkt, LangChain's splitters) split
on "kl. 8" or "f.eks." in Danish and know nothing of list markers or table
fields; this module keeps the source's own line structure, which is what the
chunker produced.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

UnitKind = Literal["sentence", "item", "measure", "label", "field"]
QUOTABLE_KINDS: frozenset[str] = frozenset({"sentence", "item", "measure"})

LONG_ITEM = 260  # a list item longer than this is quoted a sentence at a time
LABEL_MAX_WORDS = 4
MIN_SENTENCE_CHARS = 16
_BULLET = re.compile(r"^[•○▪]\s+")
_NUMBERED = re.compile(r"^\d{1,2}\.\s")
_FIELD = re.compile(r"^(?:Finansiering|År|Ansvar|Status|Frist)\s*:", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZÆØÅÄÖ0-9“\"(])")
# Page furniture, not plan content: photo credits, "read more" links, copyright lines.
_FURNITURE = re.compile(
    r"\(Foto:|Foto:|Copyright|published by|Kortlink|^Læs (mere|den)|^Läs mer|^Les mer|^Read more|"
    r"^Senast uppdaterad|nyhedsmeddelelse|PM/roke|^Øverst:",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Unit:
    """One verbatim piece of a passage.

    ``line`` is the index of the source line it came from, so the units of a
    passage can be put back together line by line (in translation too).
    """

    key: str
    text: str
    kind: UnitKind
    line: int
    bullet: bool = False

    @property
    def quotable(self) -> bool:
        return self.kind in QUOTABLE_KINDS and not _FURNITURE.search(self.text)


def unit_key(text: str) -> str:
    """The content key of a unit: the same words give the same key, whatever the whitespace."""
    normal = re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()[:16]


def text_units(text: str, table_row: bool = False) -> list[Unit]:
    """Cut a passage into its units, in order.

    Args:
        text: a chunk's verbatim text.
        table_row: the chunk is one row of a table, so its first line is the row's measure.
    """
    units: list[Unit] = []
    line_no = -1
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if units and line[:1].islower():
            # A table cell continued after a page break: one unit, not a fragment.
            last = units.pop()
            units.append(_unit(f"{last.text} {line}", last.kind, last.line, last.bullet))
            continue
        line_no += 1
        units.extend(_line_units(line, line_no, is_measure=table_row and line_no == 0))
    return units


def _line_units(line: str, line_no: int, is_measure: bool) -> list[Unit]:
    bullet = bool(_BULLET.match(line))
    body = _BULLET.sub("", line)
    if is_measure:
        return [_unit(body, "measure", line_no)]
    if _FIELD.match(body):
        return [_unit(body, "field", line_no)]
    if body.endswith(":") and len(body.split()) <= LABEL_MAX_WORDS:
        return [_unit(body, "label", line_no)]
    is_item = bullet or bool(_NUMBERED.match(body))
    if is_item and len(body) <= LONG_ITEM:
        return [_unit(body, "item", line_no, bullet)]
    kind: UnitKind = "item" if is_item else "sentence"
    return [_unit(part, kind, line_no, bullet and i == 0) for i, part in enumerate(split_sentences(body))]


def split_sentences(paragraph: str, boundary: re.Pattern[str] = _SENTENCE_END) -> list[str]:
    """Sentences of a paragraph; a fragment too short to stand alone stays with the sentence before it.

    Args:
        paragraph: one paragraph of text.
        boundary: where a sentence ends; by default, at a full stop followed by a capital,
            as in the plans (so "ca. 30" or "bl.a. hjemmepleje" stay whole).
    """
    out: list[str] = []
    carry = ""  # a short opening fragment ("7.") belongs to the sentence after it
    for part in boundary.split(paragraph):
        part = f"{carry} {part.strip()}".strip()
        carry = ""
        if not part:
            continue
        if len(part) < MIN_SENTENCE_CHARS:
            if out:
                out[-1] = f"{out[-1]} {part}"
            else:
                carry = part
            continue
        out.append(part)
    if carry:
        out.append(carry)
    return out


def _unit(text: str, kind: UnitKind, line: int, bullet: bool = False) -> Unit:
    return Unit(key=unit_key(text), text=text, kind=kind, line=line, bullet=bullet)


def join_units(texts: list[tuple[Unit, str]]) -> str:
    """Put (translated) units back together with the passage's line structure and bullets."""
    lines: dict[int, list[str]] = {}
    for unit, text in texts:
        piece = f"• {text}" if unit.bullet and not lines.get(unit.line) else text
        lines.setdefault(unit.line, []).append(piece)
    return "\n".join(" ".join(parts) for _, parts in sorted(lines.items()))
