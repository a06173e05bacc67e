"""Ingest: turn a document file into structure-aware chunks.

Public entry point: :func:`ingest_document`.

Every format is first turned into light Markdown (headings ``#``, list items
``- `` / ``1.``, paragraphs, tab- or pipe-separated table rows), then one parser
cuts that Markdown into chunks:

* headings become the chunk's section path;
* a list stays with its heading and the sentence that introduces it;
* a table becomes one chunk per row; a row whose first cells are empty
  (a row that continued after a page break) is joined to the row before it;
* HTML fragments inside cells become clean text.

Chunk ``text`` keeps the source's wording; only markup and whitespace change.

Parsers: pypdf for PDF, python-docx for Word, html2text for HTML (we call these
well-kept libraries directly rather than through ``langchain-community``, which
is being sunset). The structure parser is our own: no library splitter keeps a
list with its lead-in sentence or rebuilds table rows broken by a page break.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bs4 import BeautifulSoup
from langchain_text_splitters import RecursiveCharacterTextSplitter

from assistant.contract import Chunk, ChunkKind, DocumentMeta, UserFacingError

# Bump when chunking changes, so every document is cut again on the next index build.
CHUNKER_VERSION = "3"
SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".docx")
MAX_CHUNK_CHARS = 900
LONG_ITEM_CHARS = 350
SECTION_SEPARATOR = " › "

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*•○▪–]|\d{1,2}[.)])\s+")
_NUMBERED_ITEM = re.compile(r"^\s*(\d{1,2})[.)]\s+(.*)$")
_BULLET_SPLIT = re.compile(r"\s*[•○▪]\s+")
_GOAL_NUMBERS = re.compile(r"^\d{1,2}(\s*,\s*\d{1,2})*$")


class IngestError(UserFacingError, ValueError):
    """A file could not be ingested; the message names the file and says why."""


@dataclass
class _Block:
    kind: str  # "paragraph" | "list" | "table"
    section: tuple[str, ...]
    lines: list[str] = field(default_factory=list)
    lead: str = ""  # for a list: the sentence ending in ':' that introduces it


def ingest_document(path: Path, meta: DocumentMeta) -> list[Chunk]:
    """Read one document and cut it into chunks carrying the document's metadata.

    Args:
        path: the document file (.txt, .md, .html, .pdf or .docx).
        meta: its manifest entry.

    Raises:
        IngestError: the file is missing, empty, corrupt or of an unsupported type.
    """
    markdown = to_markdown(path)
    blocks = parse_blocks(markdown)
    chunks = list(_chunks_from_blocks(blocks, meta, markdown))
    if not chunks:
        raise IngestError(f"{path.name}: no text could be extracted")
    return chunks


def to_markdown(path: Path) -> str:
    """Extract a file's text as light Markdown, whatever its format."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise IngestError(
            f"{path.name}: unsupported file type {suffix or '(none)'}; supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    if not path.exists():
        raise IngestError(f"{path.name}: file not found")
    if path.stat().st_size == 0:
        raise IngestError(f"{path.name}: the file is empty")
    try:
        if suffix == ".pdf":
            text = _pdf_text(path)
        elif suffix == ".docx":
            text = _docx_markdown(path)
        elif suffix in (".html", ".htm"):
            text = _html_markdown(_read_text(path))
        elif suffix == ".txt":
            text = _plain_text_markdown(_read_text(path))
        else:
            text = _read_text(path)
    except IngestError:
        raise
    except Exception as exc:  # parsers raise many types for corrupt input
        raise IngestError(f"{path.name}: the file could not be read ({type(exc).__name__}: {exc})") from exc
    if not text.strip():
        raise IngestError(f"{path.name}: the file contains no text")
    return text


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Older Nordic municipal files are often Windows-1252.
        return data.decode("cp1252", errors="replace")


def _pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    reader = PdfReader(str(path), strict=False)
    pages = [page.extract_text() or "" for page in reader.pages]
    return _plain_text_markdown("\n\n".join(pages))


def _docx_markdown(path: Path) -> str:
    """Word paragraphs and tables in document order; heading styles become Markdown headings."""
    import docx
    from docx.table import Table

    document = docx.Document(str(path))
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                # A tab per cell, and at least two, so even a two-column table is read as a table.
                cells = [cell.text.strip().replace("\n", " ") for cell in row.cells]
                lines.append("\t".join(cells + [""] * max(0, 3 - len(cells))))
            lines.append("")
            continue
        text = block.text.strip()
        if not text:
            continue
        style = (block.style.name if block.style is not None else "") or ""
        if style.startswith("Heading") or style == "Title":
            level = int(style.split()[-1]) if style.split()[-1].isdigit() else 1
            lines += [f"{'#' * min(level, 6)} {text}", ""]
        elif "List" in style:
            lines.append(f"- {text}")
        else:
            lines += [text, ""]
    return "\n".join(lines)


def _html_markdown(html: str) -> str:
    import html2text

    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.ignore_links = True
    converter.ignore_emphasis = True
    return converter.handle(html)


def _plain_text_markdown(text: str) -> str:
    """Mark likely headings in plain text: short standalone lines without end punctuation."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lines = [line.rstrip() for line in block.strip("\n").split("\n") if line.strip()]
        if len(lines) == 1 and _looks_like_heading(lines[0]):
            out.append(f"## {lines[0].strip()}")
        else:
            out.append("\n".join(lines))
    return "\n\n".join(out)


def _looks_like_heading(line: str) -> bool:
    stripped = line.strip()
    return (
        0 < len(stripped) <= 80
        and len(stripped.split()) <= 10
        and not stripped.endswith((".", "!", "?", ",", ";"))
        and not _LIST_ITEM.match(stripped)
        and "\t" not in stripped
    )


def parse_blocks(markdown: str) -> list[_Block]:
    """Group Markdown lines into paragraphs, lists and tables under their headings."""
    headings: list[str] = []
    blocks: list[_Block] = []
    current: _Block | None = None

    def close() -> None:
        nonlocal current
        if current is not None and current.lines:
            blocks.append(current)
        current = None

    for raw in markdown.replace("\r\n", "\n").split("\n"):
        line = raw.rstrip(" \r")  # trailing tabs are empty table cells, keep them
        heading = _HEADING.match(line)
        if heading:
            close()
            level = len(heading.group(1))
            headings = [*headings[: level - 1], _clean_inline(heading.group(2))]
            continue
        if not line.strip():
            # Tables keep going across blank lines: rows continue after page breaks.
            if current is not None and current.kind != "table":
                close()
            continue
        kind = _line_kind(line)
        if current is not None and current.kind == "table" and kind != "table":
            close()
        if kind == "list":
            if current is None or current.kind != "list":
                close()
                lead = _take_lead_in(blocks[-1] if blocks else None, tuple(headings))
                if blocks and not blocks[-1].lines:
                    blocks.pop()
                current = _Block("list", tuple(headings), lead=lead or "")
            current.lines.append(_LIST_ITEM.sub(_list_marker(line), line.strip(), count=1))
        elif kind == "table":
            if current is None or current.kind != "table":
                close()
                current = _Block("table", tuple(headings))
            current.lines.append(line)
        else:
            if current is not None and current.kind == "list":
                # An unmarked line right after an item continues that item (hard-wrapped text).
                current.lines[-1] += " " + line.strip()
                continue
            if current is None:
                current = _Block("paragraph", tuple(headings))
            current.lines.append(line.strip())
    close()
    return blocks


def _line_kind(line: str) -> str:
    if line.count("\t") >= 2 or (line.count(" | ") >= 2 and not _LIST_ITEM.match(line)):
        return "table"
    if _LIST_ITEM.match(line):
        return "list"
    return "paragraph"


def _list_marker(line: str) -> str:
    numbered = _NUMBERED_ITEM.match(line)
    return f"{numbered.group(1)}. " if numbered else "• "


def _take_lead_in(block: _Block | None, section: tuple[str, ...]) -> str | None:
    """A paragraph ending in ':' introduces the list that follows; move it into the list."""
    if block is None or block.kind != "paragraph" or not block.lines or block.section != section:
        return None
    if block.lines[-1].endswith(":"):
        return block.lines.pop()
    return None


def _clean_inline(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("**", "").replace("__", "")).strip()


def _chunks_from_blocks(blocks: list[_Block], meta: DocumentMeta, markdown: str) -> Iterator[Chunk]:
    numbered_goals = _numbered_items(markdown)
    order = 0
    pending: list[str] = []
    pending_section: tuple[str, ...] | None = None

    def make(text: str, section: tuple[str, ...], context: str = "", kind: ChunkKind = "text") -> Chunk:
        nonlocal order
        order += 1
        section_text = SECTION_SEPARATOR.join(section)
        return Chunk(
            id=f"{meta.id}:{order:03d}",
            document=meta.id,
            title=meta.title,
            municipality=meta.municipality,
            country=meta.country,
            language=meta.language,
            section=section_text,
            period=meta.period,
            url=meta.url,
            text=text,
            context="\n".join(part for part in (meta.title, section_text, context) if part),
            order=order,
            kind=kind,
        )

    def flush_paragraphs() -> Iterator[Chunk]:
        nonlocal pending, pending_section
        if pending and pending_section is not None:
            yield make("\n".join(pending), pending_section)
        pending, pending_section = [], None

    for block in blocks:
        if block.kind == "paragraph":
            text = " ".join(block.lines)
            if pending_section != block.section or len("\n".join(pending)) + len(text) > MAX_CHUNK_CHARS:
                yield from flush_paragraphs()
            pending_section = block.section
            for piece in _split_long(text):
                if pending and len("\n".join(pending)) + len(piece) > MAX_CHUNK_CHARS:
                    yield from flush_paragraphs()
                    pending_section = block.section
                pending.append(piece)
            continue
        yield from flush_paragraphs()
        if block.kind == "list":
            for text, section, context in _list_chunks(block):
                yield make(text, section, context, kind="list")
        else:
            for text, section, context in _table_chunks(block, numbered_goals):
                yield make(text, section, context, kind="table_row")
    yield from flush_paragraphs()


def _split_long(text: str) -> list[str]:
    if len(text) <= MAX_CHUNK_CHARS:
        return [text]
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=MAX_CHUNK_CHARS, chunk_overlap=0, separators=[". ", "; ", ", ", " "], keep_separator="end"
    )
    return [piece.strip() for piece in splitter.split_text(text) if piece.strip()]


def _list_chunks(block: _Block) -> list[tuple[str, tuple[str, ...], str]]:
    """Lists stay with their heading and lead-in; long items become chunks of their own."""
    lead = block.lead
    items = block.lines
    out: list[tuple[str, tuple[str, ...], str]] = []
    group: list[str] = []

    def flush() -> None:
        if group:
            first = not out
            text = "\n".join(([lead] if lead and first else []) + group)
            out.append((text, block.section, "" if first else lead))
            group.clear()

    for item in items:
        if len(item) > LONG_ITEM_CHARS:
            flush()
            label = _item_label(item)
            section = block.section + ((label,) if label else ())
            out.append((item, section, lead))
            continue
        if group and len("\n".join(group)) + len(item) > MAX_CHUNK_CHARS:
            flush()
        group.append(item)
    flush()
    return out


def _item_label(item: str) -> str:
    """'1. Kvalitet opstår i mødet: Det er ...' -> 'Kvalitet opstår i mødet'."""
    body = re.sub(r"^(\d+\.|•)\s*", "", item)
    head, sep, _ = body.partition(":")
    return head.strip() if sep and len(head) <= 60 else ""


def _numbered_items(markdown: str) -> dict[str, str]:
    items: dict[str, str] = {}
    for line in markdown.split("\n"):
        match = _NUMBERED_ITEM.match(line)
        if match and "\t" not in line:
            items.setdefault(match.group(1), match.group(2).strip())
    return items


def _cells(line: str) -> list[str]:
    if "\t" in line:
        return [cell.strip() for cell in line.split("\t")]
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _clean_cell(cell: str) -> list[str]:
    """HTML fragments to text; bullets ('•', '○') to one line per item."""
    text = BeautifulSoup(cell, "html.parser").get_text(" ") if "<" in cell else cell
    text = re.sub(r"\s+", " ", text).strip()
    parts = [part.strip() for part in _BULLET_SPLIT.split(text) if part.strip()]
    if len(parts) > 1 or text.startswith(("•", "○", "▪")):
        return [f"• {part}" for part in parts]
    return parts


def _table_chunks(block: _Block, goals: dict[str, str]) -> list[tuple[str, tuple[str, ...], str]]:
    rows = [_cells(line) for line in block.lines]
    rows = [row for row in rows if not all(re.fullmatch(r"[-: ]*", cell) for cell in row)]
    if not rows:
        return []
    header = rows[0]
    body = rows[1:]
    merged: list[list[str]] = []
    for row in body:
        row = row + [""] * (len(header) - len(row))
        if merged and not row[0].strip():
            # A row whose first cell is empty continues the row before it (page break).
            previous = merged[-1]
            for index, cell in enumerate(row[: len(previous)]):
                if cell.strip():
                    previous[index] = f"{previous[index]}\n{cell}".strip()
            continue
        merged.append(row)
    return [_row_chunk(header, row, block.section, goals) for row in merged]


def _row_chunk(
    header: list[str], row: list[str], section: tuple[str, ...], goals: dict[str, str]
) -> tuple[str, tuple[str, ...], str]:
    """One table row as a chunk: its first content cell as the lead line, the others labelled by header.

    When the first column holds goal numbers ("9", "9,10"), it is a key, not content: it
    names the row in the section path and brings the goals' texts along as context.
    """
    key = row[0].strip()
    keyed = bool(key) and bool(_GOAL_NUMBERS.match(key))
    goal_numbers = [n.strip() for n in key.split(",")] if keyed else []
    goal_texts = [f"{n}. {goals[n]}" for n in goal_numbers if n in goals]
    names, cells = (header[1:], row[1:]) if keyed else (header, row)
    lines: list[str] = []
    for index, (name, cell) in enumerate(zip(names, cells, strict=False)):
        cleaned = [line for part in cell.split("\n") for line in _clean_cell(part)]
        if not cleaned:
            continue
        if index == 0:
            lines.extend(cleaned)
        elif all(line.startswith("• ") for line in cleaned) or len(cleaned) > 1:
            lines.append(f"{name}:")
            lines.extend(cleaned)
        else:
            lines.append(f"{name}: {cleaned[0]}")
    table_section = (*section[:2], f"{header[0]} {key}") if keyed else section
    return "\n".join(lines), table_section, "\n".join(goal_texts)
