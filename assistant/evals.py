"""Evals: run a JSONL question set through retrieval or answering and score it.

Public entry points: :func:`run_retrieval_eval` and :func:`run_answer_eval`.

A dataset line is ``{"id", "question", "language", "municipality"?, "expect": {...}}``.
Retrieval evals need ``expect.evidence`` (phrases); a hit means a returned
passage contains one of them (case-insensitive, whitespace-normalised). Answer
evals also read ``expect.status`` (default "answered" when evidence is given),
``expect.pii`` and ``expect.pii_values``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.contract import Answer, Passage, UserFacingError

DOCUMENT_LANGUAGE_KEY = "document_language"


class DatasetError(UserFacingError, ValueError):
    """A dataset line is not valid JSON or lacks a required field."""


@dataclass
class EvalCase:
    id: str
    question: str
    language: str
    expect: dict[str, Any]
    municipality: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


def load_dataset(path: Path) -> list[EvalCase]:
    """Read a JSONL dataset; a bad line is reported with its line number."""
    cases: list[EvalCase] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            cases.append(
                EvalCase(
                    id=str(data["id"]),
                    question=str(data["question"]),
                    language=str(data.get("language") or ""),
                    expect=dict(data.get("expect") or {}),
                    municipality=data.get("municipality"),
                    raw=data,
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DatasetError(f"{path}:{number}: invalid dataset line ({exc})") from exc
    return cases


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip().casefold()


def passage_hits(texts: Iterable[str], evidence: list[str]) -> list[bool]:
    phrases = [normalise(p) for p in evidence if p.strip()]
    return [any(p in normalise(t) for p in phrases) for t in texts]


def first_hit_rank(texts: list[str], evidence: list[str]) -> int | None:
    for rank, hit in enumerate(passage_hits(texts, evidence), start=1):
        if hit:
            return rank
    return None


def case_group(case: EvalCase, document_languages: dict[str, str]) -> str:
    """'same' if the question is in its document's language, else 'cross' ('' if unknown)."""
    document = case.raw.get("document")
    doc_language = document_languages.get(str(document)) if document else None
    if not doc_language or not case.language:
        return ""
    return "same" if _lang_family(case.language) == _lang_family(doc_language) else "cross"


def _lang_family(code: str) -> str:
    return "nb" if code in ("nb", "nn", "no") else code


@dataclass
class RetrievalScores:
    count: int = 0
    hit1: int = 0
    hit5: int = 0
    reciprocal_ranks: float = 0.0

    def add(self, rank: int | None, k: int) -> None:
        self.count += 1
        if rank == 1:
            self.hit1 += 1
        if rank is not None and rank <= k:
            self.hit5 += 1
            self.reciprocal_ranks += 1.0 / rank

    def as_dict(self) -> dict[str, float]:
        n = max(self.count, 1)
        return {
            "n": self.count,
            "hit@1": round(self.hit1 / n, 3),
            "hit@k": round(self.hit5 / n, 3),
            "mrr": round(self.reciprocal_ranks / n, 3),
        }


def run_retrieval_eval(
    cases: list[EvalCase],
    search: Callable[[EvalCase], list[Passage]],
    document_languages: dict[str, str],
    k: int = 5,
    out: Path | None = None,
) -> dict[str, dict[str, float]]:
    """Score retrieval: hit@1, hit@k and MRR overall, per language, same/cross-language.

    Args:
        cases: the dataset (only lines with evidence are scored).
        search: returns the ranked passages for one case.
        document_languages: document id -> language, to tell same- from cross-language.
        k: the cut-off.
        out: if given, one ``{"id", "language", "passages"}`` line per case is written here.
    """
    groups: dict[str, RetrievalScores] = defaultdict(RetrievalScores)
    handle = out.open("w", encoding="utf-8") if out else None
    try:
        for case in cases:
            passages = search(case)
            if handle:
                record = {"id": case.id, "language": case.language, "passages": [p.model_dump() for p in passages]}
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            evidence = list(case.expect.get("evidence") or [])
            if not evidence:
                continue
            rank = first_hit_rank([p.text for p in passages], evidence)
            for group in ("all", f"lang:{case.language}", case_group(case, document_languages)):
                if group:
                    groups[group].add(rank, k)
    finally:
        if handle:
            handle.close()
    return {name: scores.as_dict() for name, scores in sorted(groups.items())}


def run_answer_eval(
    cases: list[EvalCase],
    ask: Callable[[EvalCase], Answer],
    document_languages: dict[str, str],
    source_texts: dict[str, str],
    out: Path | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Score answers: evidence hit, citation validity, language, status, PII.

    Returns the metrics and one result row per case (failures are listed by the staff console).
    """
    rows: list[dict[str, Any]] = []
    handle = out.open("w", encoding="utf-8") if out else None
    try:
        for case in cases:
            answer = ask(case)
            if handle:
                record = answer.model_dump()
                record["id"] = case.id
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            rows.append(score_answer(case, answer, document_languages, source_texts))
    finally:
        if handle:
            handle.close()
    return summarise(rows), rows


def score_answer(
    case: EvalCase, answer: Answer, document_languages: dict[str, str], source_texts: dict[str, str]
) -> dict[str, Any]:
    evidence = list(case.expect.get("evidence") or [])
    expected_status = case.expect.get("status") or ("answered" if evidence else None)
    row: dict[str, Any] = {
        "id": case.id,
        "question": answer.question,
        "language": case.language,
        "group": case_group(case, document_languages),
        "expected_status": expected_status,
        "status": answer.status,
        "status_ok": expected_status is None or answer.status == expected_status,
        "language_ok": not case.language or answer.language == _lang_family(case.language),
        "citations_valid": citations_valid(answer, source_texts),
    }
    if evidence and expected_status == "answered":
        row["evidence_hit"] = any(passage_hits([c.text for c in answer.citations], evidence))
    if case.expect.get("pii"):
        values = [str(v) for v in case.expect.get("pii_values") or []]
        echoed = any(_digits_or_text(v) in _digits_or_text(json.dumps(answer.model_dump())) for v in values)
        row["pii_ok"] = answer.pii_detected and not echoed
    row["passed"] = all(v for key, v in row.items() if key.endswith(("_ok", "_hit", "_valid")))
    return row


def _digits_or_text(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    return digits if len(digits) >= 6 else value.casefold()


def citations_valid(answer: Answer, source_texts: dict[str, str]) -> bool:
    """Every [n] in the answer is a citation, and every citation's text is verbatim in its source."""
    numbers = {c.n for c in answer.citations}
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", answer.answer)}
    if not markers <= numbers:
        return False
    return all(is_verbatim(c.text, source_texts.get(c.document, "")) for c in answer.citations)


_BULLET = re.compile(r"^(?:[•○▪-]|\d{1,2}\.)\s+")
_MARKUP = re.compile(r"<[^>]+>|[#*|\t]")


def source_texts(settings: Settings) -> dict[str, str]:
    """Each manifest document as plain text for the verbatim-citation check, whatever its format.

    A document that cannot be read gets an empty text, so its citations fail the check loudly.
    """
    from assistant.ingest import IngestError, to_markdown
    from assistant.knowledge import load_manifest

    texts: dict[str, str] = {}
    for document in load_manifest(settings):
        try:
            texts[document.id] = source_text_for_check(to_markdown(settings.documents_dir / document.file))
        except IngestError:
            texts[document.id] = ""
    return texts


def source_text_for_check(raw: str) -> str:
    """A source document as plain running text: markup, bullets and tags removed."""
    lines = [_BULLET.sub("", line.strip().lstrip("#").strip()) for line in raw.splitlines()]
    text = _MARKUP.sub(" ", " ".join(lines))
    text = re.sub(r"[•○▪]", " ", text)
    return normalise(text)


def is_verbatim(citation_text: str, source_plain: str, labels: Iterable[str] = ()) -> bool:
    """Each line of the cited text occurs in the source (a 'Label: ' prefix from a table header is allowed)."""
    if not source_plain:
        return False
    for line in citation_text.splitlines():
        body = normalise(_BULLET.sub("", line.strip()))
        if not body:
            continue
        if body in source_plain:
            continue
        label, sep, rest = body.partition(": ")
        if sep and label in source_plain and (not rest or rest in source_plain):
            continue
        if body.endswith(":") and body[:-1] in source_plain:
            continue
        return False
    return True


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Aggregate answer-eval rows into the metrics CI checks."""

    def rate(selected: list[dict[str, Any]], key: str) -> float | None:
        values = [r[key] for r in selected if key in r]
        return round(sum(bool(v) for v in values) / len(values), 3) if values else None

    answerable = [r for r in rows if r["expected_status"] == "answered" and "evidence_hit" in r]
    metrics: dict[str, Any] = {
        "n": len(rows),
        "evidence_hit": rate(answerable, "evidence_hit"),
        "evidence_hit_same": rate([r for r in answerable if r["group"] == "same"], "evidence_hit"),
        "evidence_hit_cross": rate([r for r in answerable if r["group"] == "cross"], "evidence_hit"),
        "citation_validity": rate(rows, "citations_valid"),
        "language_accuracy": rate(rows, "language_ok"),
        "pii_ok": rate(rows, "pii_ok"),
    }
    for status in ("answered", "not_found", "refused", "crisis"):
        metrics[f"status_accuracy_{status}"] = rate([r for r in rows if r["expected_status"] == status], "status_ok")
    metrics["passed"] = sum(1 for r in rows if r["passed"])
    return metrics
