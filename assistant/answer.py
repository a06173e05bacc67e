"""Answer: a grounded, cited answer in the asker's language, or an honest referral or refusal.

Public entry point: :class:`Assistant` and its :meth:`Assistant.answer`, which the
CLI, the web service, the staff console and the evals all call.

The answer path is four stages, each in its own module:

1. **analyse** (:mod:`assistant.analysis`): personal data redacted, letters
   restored, language, places, concepts, one embedding, the intent;
2. **retrieve** (:mod:`assistant.retrieve`): hybrid search within the question's scope;
3. **decide** (:mod:`assistant.decide`): which statements answer it, if any;
4. **compose** (:mod:`assistant.compose`): the words the citizen reads.

Statuses: ``crisis`` (emergency numbers first), ``refused`` (injection,
off-topic, a greeting), ``referred`` (one person's own case: who decides it,
and what the plans say on the topic), ``answered`` (statements from the plans,
each cited) and ``not_found`` (the plans do not answer it, and what they do cover).

No language model is needed (``answer_mode="composed"``). ``answer_mode="llm"``
asks an OpenAI-compatible model through LangChain to write from the same
numbered passages; if that fails or cites badly, the composed answer is used.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from assistant.analysis import Analyser, QuestionAnalysis, QuestionError
from assistant.cache import AnswerCache, cache_key
from assistant.compose import Composer
from assistant.config import Settings
from assistant.contract import Answer, Citation, Language, Status
from assistant.decide import AnswerThresholds, LexicalEvidence, Selection, choose_statements
from assistant.embeddings import VectorCache
from assistant.knowledge import prompt
from assistant.privacy import redact
from assistant.retrieve import Retrieval, Retriever
from assistant.translations import TranslationMemory, TranslationVectors

log = logging.getLogger(__name__)

__all__ = ["Assistant", "QuestionError", "Trace"]

WARM_UP_QUESTION = "Hvilken hjælp kan pårørende til ældre med demens få?"  # answered once at start-up, never shown


@dataclass
class Trace:
    """Why an answer came out as it did (shown in the staff console)."""

    analysis: QuestionAnalysis | None = None
    retrieval: Retrieval | None = None
    selection: Selection | None = None
    reason: str = ""

    @property
    def intent(self) -> str:
        return self.analysis.decision.intent if self.analysis else ""


class Assistant:
    """Holds the loaded retriever, intent model and translations; answers many questions."""

    def __init__(self, settings: Settings, retriever: Retriever | None = None) -> None:
        self.settings = settings
        self.retriever = retriever or Retriever(settings)
        self.analyser = Analyser(settings, self.retriever)
        self.memory = TranslationMemory(settings.translations_dir)
        answer_thresholds = self.analyser.thresholds.answer
        self.composer = Composer(
            settings,
            self.memory,
            {c.id: c.terms for c in self.retriever.glossary.concepts},
            home_country_bonus=answer_thresholds["home_country_bonus"],
        )
        self._answer_thresholds = AnswerThresholds.from_mapping(answer_thresholds)
        self._lexicon: LexicalEvidence | None = None
        self._translated: TranslationVectors | None = None
        self.cache = AnswerCache(
            settings.answer_cache_size if settings.answer_cache else 0, settings.answer_cache_generation_path
        )

    def warm_up(self) -> None:
        """Load what the first question would otherwise wait for (the language detector, the
        lexical evidence of the index, the intent model): the service does this before it
        says it is ready."""
        self.answer(WARM_UP_QUESTION)

    def analyse(self, question: str, **kwargs: Any) -> QuestionAnalysis:
        """Stage 1 alone (the staff console and the retrieval evals use it)."""
        return self.analyser.analyse(question, **kwargs)

    def retrieve(self, analysis: QuestionAnalysis, settings: Settings | None = None, k: int | None = None) -> Retrieval:
        """Stage 2: search within the question's scope with its one embedding."""
        cfg = settings or self.settings
        return self.retriever.search(
            analysis.search_text,
            k=k,
            municipality=analysis.municipality,
            country=analysis.country if not analysis.municipality and analysis.country else None,
            language=analysis.language,
            settings=settings,
            vector=analysis.vector,
            concepts=list(analysis.concepts) if cfg.use_glossary else [],
        )

    def answer(
        self,
        question: str,
        municipality: str | None = None,
        history: list[dict[str, Any]] | None = None,
        settings: Settings | None = None,
        page_language: Language | None = None,
    ) -> Answer:
        """Answer one question. See :meth:`answer_with_trace`."""
        return self.answer_with_trace(question, municipality, history, settings, page_language=page_language)[0]

    def answer_with_trace(
        self,
        question: str,
        municipality: str | None = None,
        history: list[dict[str, Any]] | None = None,
        settings: Settings | None = None,
        language: Language | None = None,
        page_language: Language | None = None,
    ) -> tuple[Answer, Trace]:
        """Answer one question and say why.

        Args:
            question: what the citizen typed (personal data is removed before anything else).
            municipality: the municipality chosen on the page (a municipality named in the question wins).
            history: earlier turns ``[{"role", "content"}]``; a short fragment borrows the previous question.
            settings: per-call overrides (the staff console's comparisons).
            language: answer in this language whatever the question's (staff testing).
            page_language: the language chosen on the page; the answer language unless the
                question is clearly in another.

        Raises:
            QuestionError: the question is empty or too long.
        """
        cfg = settings or self.settings
        started = time.perf_counter()
        key = None
        generation = self.cache.generation()
        if not history and settings is None and len((question or "").strip()) <= cfg.max_question_chars:
            # The embedding dominates an answer's cost; a repeated question skips it.
            self.retriever.refresh()
            version = (self.retriever.snapshot.version, self.memory.version, self._manifest_version(cfg))
            key = cache_key(question, municipality, page_language, language, version)
            cached = self.cache.get(key)
            if cached is not None:
                latency = round((time.perf_counter() - started) * 1000, 2)
                update = {"id": uuid.uuid4().hex, "question": redact(question)[0].strip(), "latency_ms": latency}
                return cached.model_copy(update=update), Trace(reason="cached")
        analysis = self.analyser.analyse(
            question, municipality=municipality, history=history, page_language=page_language, language=language
        )
        trace = Trace(analysis=analysis)
        status, body, citations = self._respond(analysis, cfg, trace)
        lang = analysis.language
        if analysis.decision.safety_note and status != "crisis":
            body = self.composer.safety_note(lang, analysis.home_country) + "\n\n" + body
        if analysis.pii:
            body = prompt(cfg, lang, "pii_warning") + "\n\n" + body
        answer = Answer(
            id=uuid.uuid4().hex,
            question=analysis.question,
            status=status,
            intent=analysis.decision.intent,
            language=lang,
            answer=body,
            citations=citations,
            municipality=analysis.municipality,
            office_country=self._office_country(status, analysis, citations),
            pii_detected=analysis.pii,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        if not analysis.pii:
            self.cache.put(key, answer, generation)
        return answer, trace

    def _respond(self, analysis: QuestionAnalysis, cfg: Settings, trace: Trace) -> tuple[Status, str, list[Citation]]:
        decision, lang, compose = analysis.decision, analysis.language, self.composer
        if decision.route == "crisis":
            trace.reason = f"crisis ({decision.crisis_kind}, {decision.crisis_about})"
            if decision.crisis_sentence:  # staff see which sentence of a longer message it was
                trace.reason += f", in the sentence {decision.crisis_sentence!r}"
            kind, about = decision.crisis_kind or "medical", decision.crisis_about or "other"
            return "crisis", compose.crisis(lang, kind, about, analysis.home_country), []
        if decision.route == "refused":
            trace.reason = decision.intent
            return "refused", compose.refused(lang), []
        if decision.route == "greeting":
            trace.reason = "greeting"
            return "refused", prompt(cfg, lang, "small_talk"), []
        if decision.route == "about":
            trace.reason = "a question about the assistant itself"
            return "about", compose.about_assistant(lang), []
        if analysis.unknown_place:
            trace.reason = f"names {analysis.unknown_place!r}, which no document covers"
            if decision.route == "own_case":
                body, _ = compose.own_case(lang, [], None, analysis.home_country, analysis.concepts)
                return "referred", compose.not_found(lang, analysis.unknown_place) + "\n\n" + body, []
            return "not_found", compose.not_found(lang, analysis.unknown_place), []

        trace.retrieval = self.retrieve(analysis, cfg)
        trace.selection = choose_statements(
            analysis,
            trace.retrieval.passages,
            self.retriever.snapshot,
            self._lexical_evidence(),
            self._answer_thresholds,
            cfg.max_statements,
            self._translation_vectors(),
        )
        trace.reason = trace.selection.reason
        statements = trace.selection.statements
        if decision.route == "own_case":
            body, citations = compose.own_case(
                lang, statements, analysis.municipality, analysis.home_country, analysis.concepts
            )
            return "referred", body, citations
        if not statements:
            return "not_found", compose.not_found(lang, None), []
        body, citations = compose.answer_body(statements, lang, analysis.home_country, trace.selection.closest_only)
        if cfg.answer_mode == "llm":
            body = self._llm_body(cfg, lang, analysis.text, citations) or body
        closing = compose.closing(lang, citations, analysis.municipality, analysis.home_country)
        return "answered", f"{body}\n\n{closing}", citations

    def _office_country(self, status: Status, analysis: QuestionAnalysis, citations: list[Citation]) -> Any:
        """The country whose municipal office the citizen should turn to (the page's "talk to a person" card).

        As the answer's own pointer names it: the country in scope or the asker's likely home
        country, else the citations' only country. None for crises and refusals, and when no one
        country is in play.
        """
        if status in ("answered", "referred", "not_found"):
            return self.composer.office_country(citations, analysis.home_country)
        return None

    @staticmethod
    def _manifest_version(cfg: Settings) -> int:
        """Changes when staff edit the manifest (a document removed or restored, a contact added),
        so the answer cache never serves an answer made before."""
        try:
            return cfg.manifest_path.stat().st_mtime_ns
        except OSError:
            return 0

    def _lexical_evidence(self) -> LexicalEvidence:
        """Word and concept evidence for the current index snapshot (built once per snapshot)."""
        snapshot = self.retriever.snapshot
        lexicon = self._lexicon
        if lexicon is None or lexicon.version != snapshot.version:
            lexicon = LexicalEvidence(snapshot, self.retriever.glossary, self.analyser.is_place_word)
            self._lexicon = lexicon  # one assignment: a concurrent reader sees the old or the new, never a mix
        return lexicon

    def _translation_vectors(self) -> TranslationVectors:
        """The translations' vectors for the current translation memory (from the vector cache the
        index build filled; a translation approved since is embedded here, once)."""
        translated = self._translated
        if translated is None or translated.version != self.memory.version:
            cache = VectorCache(self.settings.vector_cache_path, self.retriever.embedder)
            translated = TranslationVectors(self.memory, cache)
            self._translated = translated
        return translated

    def _llm_body(self, cfg: Settings, language: str, question: str, citations: list[Citation]) -> str | None:
        from assistant.llm import write_answer

        try:
            return write_answer(cfg, prompt(cfg, language, "llm_system_prompt"), question, citations)
        except Exception as exc:  # any backend failure falls back to the composed answer
            log.warning("LLM answer failed, using the composed answer: %s", type(exc).__name__)
            return None
