"""Evals: run a JSONL question set through retrieval or answering and score it.

Public entry points: :func:`run_retrieval_eval` and :func:`run_answer_eval`.

A dataset line is ``{"id", "question", "language", "municipality"?, "page_language"?,
"history"?, "expect": {...}}``. ``municipality`` is the municipality the question
names (the assistant must find it in the text; it is not passed as a filter);
``page_language`` is the language chosen on the page; ``history`` holds earlier
turns for follow-ups. ``language`` is the language the answer must be in.

Retrieval evals need ``expect.evidence`` (phrases); a hit means a returned
passage contains one of them (case-insensitive, whitespace-normalised). Answer
evals also read ``expect.status`` (default "answered" when evidence is given),
``expect.intent``, ``expect.pii`` and ``expect.pii_values``.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from assistant.config import Settings
from assistant.contract import Answer, Passage, Status, UserFacingError

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
    page_language: str | None = None
    history: list[dict[str, Any]] | None = None
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
                    page_language=data.get("page_language"),
                    history=list(data["history"]) if data.get("history") else None,
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
        "status_ok": _status_matches(expected_status, answer, evidence),
        "language_ok": not case.language or answer.language == _lang_family(case.language),
        "citations_valid": citations_valid(answer, source_texts),
    }
    if expected_intent := case.expect.get("intent"):
        row["intent_ok"] = _intent_matches(str(expected_intent), answer.intent)
    if evidence and expected_status == "answered":
        hits = passage_hits([c.text for c in answer.citations], evidence)
        row["evidence_hit"] = any(hits)
        # What a reader sees first: the answering passage among the first two citations.
        row["evidence_top2"] = any(hits[:2])
    if case.municipality:
        row["other_municipality_citations"] = sum(1 for c in answer.citations if c.municipality != case.municipality)
    foreign = [c for c in answer.citations if c.language and c.language != answer.language]
    row["foreign_citations"] = len(foreign)
    row["translated_citations"] = sum(
        1 for c in foreign if c.translation is not None and c.translation.language == answer.language
    )
    if case.expect.get("pii"):
        values = [str(v) for v in case.expect.get("pii_values") or []]
        echoed = any(_digits_or_text(v) in _digits_or_text(json.dumps(answer.model_dump())) for v in values)
        row["pii_ok"] = answer.pii_detected and not echoed
    row["passed"] = all(v for key, v in row.items() if key.endswith(("_ok", "_hit", "_valid"))) and not row.get(
        "other_municipality_citations"
    )
    return row


def _status_matches(expected: str | None, answer: Answer, evidence: list[str]) -> bool:
    """The expected status; an answerable question routed as one person's own case also counts
    when the answering passage is cited, since the reader gets the plans' answer and who decides."""
    if expected is None or answer.status == expected:
        return True
    return (
        expected == "answered"
        and answer.status == "referred"
        and any(passage_hits([c.text for c in answer.citations], evidence))
    )


def _intent_matches(expected: str, got: str) -> bool:
    """Crisis about oneself or another both count as crisis; the rest must match."""
    if expected.startswith("crisis") or got.startswith("crisis"):
        return expected.startswith("crisis") and got.startswith("crisis")
    return expected == got


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
    same = [r for r in answerable if r["group"] == "same"]
    cross = [r for r in answerable if r["group"] == "cross"]
    foreign = sum(r.get("foreign_citations", 0) for r in rows)
    metrics: dict[str, Any] = {
        "n": len(rows),
        "evidence_hit": rate(answerable, "evidence_hit"),
        "evidence_hit_same": rate(same, "evidence_hit"),
        "evidence_hit_cross": rate(cross, "evidence_hit"),
        "evidence_top2_same": rate(same, "evidence_top2"),
        "evidence_top2_cross": rate(cross, "evidence_top2"),
        "citation_validity": rate(rows, "citations_valid"),
        "language_accuracy": rate(rows, "language_ok"),
        "intent_accuracy": rate(rows, "intent_ok"),
        "pii_ok": rate(rows, "pii_ok"),
        "other_municipality_citations": sum(r.get("other_municipality_citations", 0) for r in rows),
        "translated_share": round(sum(r.get("translated_citations", 0) for r in rows) / foreign, 3)
        if foreign
        else None,
    }
    for status in get_args(Status):
        metrics[f"status_accuracy_{status}"] = rate([r for r in rows if r["expected_status"] == status], "status_ok")
    metrics["passed"] = sum(1 for r in rows if r["passed"])
    return metrics


def run_intent_eval(
    settings: Settings, table: Path | None = None, split: str = "heldout", folds: int = 0, out: Path | None = None
) -> dict[str, Any]:
    """Score the trained intent model on one split of the decision table.

    The model is the one stored beside the index (trained on the ``train`` rows
    only). With ``folds`` > 1, k-fold cross-validation on the train rows is
    reported too: that is how the thresholds were chosen, without looking at
    the held-out rows.
    """
    import numpy as np

    from assistant.analysis import text_as_read
    from assistant.embeddings import VectorCache, load_embeddings
    from assistant.intents import (
        IntentModel,
        decide_intent,
        default_policy,
        embed_sentences_to_learn,
        evaluate_intents,
        load_decision_table,
    )
    from assistant.retrieve import Retriever

    examples = load_decision_table(table or settings.intents_table_path)
    floor, thresholds = default_policy()
    model = IntentModel.load(settings.index_dir)
    embedder = load_embeddings(settings, threads=_cpu_count())
    cache = VectorCache(settings.vector_cache_path, embedder)
    restorer = Retriever(settings, embedder).restorer
    scored = [e for e in examples if e.split == split]
    # The rows are read as the service reads a message (letters restored, personal data
    # out); the train rows stay as typed, since that is how people type.
    read = [text_as_read(e.text, restorer) for e in scored]
    vectors = cache.vectors(read, role="query")

    def embed_sentences(sentences: list[str]) -> np.ndarray:
        return cache.vectors(sentences, role="query")

    decisions = [
        decide_intent(text, v, model, floor, thresholds, embed_sentences) for text, v in zip(read, vectors, strict=True)
    ]
    report = evaluate_intents(scored, decisions)
    report["split"] = split
    if out:
        with out.open("w", encoding="utf-8") as handle:
            for example, decision in zip(scored, decisions, strict=True):
                row = {
                    "id": example.id,
                    "gold": example.intent,
                    "predicted": decision.intent,
                    "route": decision.route,
                    "urgency": round(decision.urgency, 3),
                }
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    if folds > 1:
        train = [e for e in examples if e.split == "train"]
        train_vectors = cache.vectors([e.text for e in train], role="query")
        sentence_vectors = embed_sentences_to_learn(train, embed_sentences)
        fold_of = [_fold_of(e.id, folds) for e in train]
        predicted: dict[int, Any] = {}
        for fold in range(folds):
            held = [i for i in range(len(train)) if fold_of[i] == fold]
            rest = [i for i in range(len(train)) if fold_of[i] != fold]
            fold_model = IntentModel.train([train[i] for i in rest], train_vectors[rest], model.model, sentence_vectors)
            for i in held:
                text = text_as_read(train[i].text, restorer)
                vector = train_vectors[i] if text == train[i].text else cache.vectors([text], role="query")[0]
                predicted[i] = decide_intent(text, vector, fold_model, floor, thresholds, embed_sentences)
        ids = sorted(predicted)
        report["cv"] = {
            "folds": folds,
            "gates": evaluate_intents([train[i] for i in ids], [predicted[i] for i in ids])["gates"],
        }
    return report


def _fold_of(row_id: str, folds: int) -> int:
    """A row's cross-validation fold, by a hash of its id: adding rows to the table moves no other row."""
    return int(hashlib.sha256(row_id.encode("utf-8")).hexdigest(), 16) % folds


def _cpu_count() -> int:
    import os

    return os.cpu_count() or 1


def assistant_for_model(settings: Settings, model: str) -> Any:
    """An assistant over its own index built with another embedding model, beside the running one.

    The index lives under ``<data_dir>/compare/<model>``, so the running index is
    never touched; it is brought up to date incrementally on every call.
    """
    import re as _re

    from assistant.answer import Assistant
    from assistant.index import build_index

    slug = _re.sub(r"[^a-z0-9]+", "-", Path(model).name.lower()).strip("-")[:40] or "model"
    other = settings.model_copy(update={"embedding_model": model, "data_dir": settings.data_dir / "compare" / slug})
    report = build_index(other)
    if report.errors:
        raise UserFacingError(f"the index for {model!r} has errors: {report.errors}")
    return Assistant(other)
