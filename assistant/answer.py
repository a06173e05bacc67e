"""Answer: a grounded, cited answer in the asker's language, or an honest refusal.

Public entry point: :class:`Assistant` and its :meth:`Assistant.answer`, which the
CLI, the web service, the staff console and the evals all call.

The order of decisions, each a reason not to go further:

1. personal data is redacted first, so nothing after this step sees it;
2. crisis (emergency numbers first), prompt injection and off-topic requests;
3. retrieval, then *answerability*: a question asking for a fact plans never
   hold (a price, a waiting time, a phone number) is answered only if a passage
   holds such a fact; a question naming a place the knowledge base does not know,
   or whose informative words no passage covers, gets ``not_found``;
4. composition: the most relevant sentences or list items, wording kept as in
   the source, each with its citation marker, grouped under the plan and period
   they come from; then the sources and the pointer to the municipality.

No language model is needed (``answer_mode="composed"``). ``answer_mode="llm"``
asks an OpenAI-compatible model through LangChain to write from the same
numbered passages; if that fails, the composed answer is returned.
"""

from __future__ import annotations

import logging
import math
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from assistant import privacy, safety
from assistant.config import Settings
from assistant.contract import Answer, Chunk, Citation, Language, Passage, UserFacingError
from assistant.knowledge import prompt
from assistant.language import detect_language, has_language_markers
from assistant.lexical import LANGUAGES, Glossary, content_words, fold, stems, words
from assistant.retrieve import Retrieval, Retriever

log = logging.getLogger(__name__)

LEXICON_DIR = Path(__file__).parent / "lexicons"
COUNTRY_OF_LANGUAGE = {"da": "DK", "sv": "SE", "nb": "NO"}
LEADING_PASSAGES = 5
# Page furniture, not plan content: photo credits, "read more" links, copyright lines, table labels.
_NOT_A_STATEMENT = re.compile(
    r"\(Foto:|Foto:|Copyright|published by|Kortlink|^Læs (mere|den)|^Läs mer|^Les mer|^Read more|^Senast uppdaterad|"
    r"^(Finansiering|År):|nyhedsmeddelelse|PM/roke|^Øverst:",
    re.IGNORECASE,
)
LEADER_MIN_SHARE = 0.5  # a passage's best statement leads only if it is this close to the best overall
LONG_STATEMENT = 260
TRUSTED_PASSAGES = 2
FOLLOW_UP_MAX_WORDS = 4
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZÆØÅÄÖ0-9“\"(])")


class QuestionError(UserFacingError, ValueError):
    """The question cannot be processed (empty or too long); the message says why."""


@dataclass
class _Statement:
    text: str
    passage: Passage
    score: float
    order: int


@dataclass
class Trace:
    """Why an answer came out as it did (shown in the staff console)."""

    retrieval: Retrieval | None = None
    intent: str = ""
    relevance: float = 0.0
    reason: str = ""


class Assistant:
    """Holds the loaded retriever; answers many questions."""

    def __init__(self, settings: Settings, retriever: Retriever | None = None) -> None:
        self.settings = settings
        self.retriever = retriever or Retriever(settings)
        self._answerability = _load_answerability()
        self._statement_cache: dict[tuple[str, str], list[tuple[str, frozenset[str]]]] = {}
        self._corpus_stats: _CorpusStats | None = None

    def answer(
        self,
        question: str,
        municipality: str | None = None,
        history: list[dict[str, Any]] | None = None,
        settings: Settings | None = None,
    ) -> Answer:
        """Answer one question. See :meth:`answer_with_trace`."""
        return self.answer_with_trace(question, municipality, history, settings)[0]

    def answer_with_trace(
        self,
        question: str,
        municipality: str | None = None,
        history: list[dict[str, Any]] | None = None,
        settings: Settings | None = None,
        language: Language | None = None,
    ) -> tuple[Answer, Trace]:
        """Answer one question and say why.

        Args:
            question: what the citizen typed (personal data is removed before anything else).
            municipality: restrict the sources to this municipality's documents.
            history: earlier turns ``[{"role", "content"}]``; used only to resolve a short follow-up.
            settings: per-call overrides (the staff console's comparisons).
            language: answer in this language instead of the detected one (staff testing).
        """
        cfg = settings or self.settings
        started = time.perf_counter()
        trace = Trace()
        # The length limit applies to what the person typed: a placeholder can be longer than the number it hides.
        if len((question or "").strip()) > cfg.max_question_chars:
            raise QuestionError(f"The question is longer than {cfg.max_question_chars} characters.")
        redacted, matches = privacy.redact(question or "")
        text = redacted.strip()
        if not text:
            raise QuestionError("The question is empty.")
        text = self.retriever.restorer.restore(text)
        language = language or _follow_up_language(text, history) or detect_language(_without_placeholders(text))
        pii = bool(matches)
        trace.intent = safety.classify(text)

        def finish(status: str, body: str, citations: list[Citation]) -> tuple[Answer, Trace]:
            if pii:
                body = prompt(cfg, language, "pii_warning") + "\n\n" + body
            answer = Answer(
                id=uuid.uuid4().hex,
                question=redacted,
                status=status,  # type: ignore[arg-type]
                language=language,
                answer=body,
                citations=citations,
                pii_detected=pii,
                latency_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            return answer, trace

        if trace.intent == "crisis":
            return finish("crisis", self._crisis_text(cfg, language, municipality), [])
        if trace.intent in ("injection", "off_topic"):
            return finish("refused", prompt(cfg, language, "refused"), [])
        if trace.intent == "small_talk":
            return finish("refused", prompt(cfg, language, "small_talk"), [])

        search_text = _with_follow_up_context(text, history)
        alternatives = self.retriever.restorer.alternatives(search_text)
        if alternatives:
            search_text = f"{search_text} {' '.join(alternatives)}"
        retrieval = self.retriever.search(
            _without_placeholders(search_text), municipality=municipality, language=language, settings=cfg
        )
        trace.retrieval = retrieval
        verdict = self._answerability_verdict(search_text, language, retrieval.passages, retrieval.concepts, cfg)
        trace.relevance, trace.reason = verdict.relevance, verdict.reason
        if not verdict.answerable:
            return finish("not_found", prompt(cfg, language, "not_found"), [])

        statements = self._select_statements(search_text, language, retrieval.passages, retrieval.concepts, cfg)
        if not statements:
            trace.reason = "no statement in the passages matches the question"
            return finish("not_found", prompt(cfg, language, "not_found"), [])
        body, citations = self._compose(cfg, language, statements, municipality)
        if cfg.answer_mode == "llm":
            body = self._llm_body(cfg, language, text, citations) or body
        return finish("answered", body + "\n\n" + self._closing(cfg, language, municipality, citations), citations)

    # -- decisions ---------------------------------------------------------

    def _answerability_verdict(
        self, question: str, language: str, passages: list[Passage], concepts: list[str], cfg: Settings
    ) -> _Verdict:
        if not passages:
            return _Verdict(False, 0.0, "no passage retrieved")
        # "Ring mig på [phone]" shares the asker's contact details; it does not ask for ours.
        folded = fold(_without_shared_contact(question))
        # A fact only counts in plan content about the question's topic: the phone number in a
        # newspaper article's copyright line is not the phone number of a care home.
        wanted = {"§" + c for c in concepts}
        on_topic = [
            statement
            for p in passages[:3]
            for statement, units in self._statements(p)
            if not wanted or wanted & units or wanted & self._passage_units(p)
        ]
        for name, rule in self._answerability["fact_requests"].items():
            if rule.cue.search(folded) and not any(rule.evidence.search(fold(t)) for t in on_topic):
                return _Verdict(False, 0.0, f"asks for a {name.replace('_', ' ')}, which the plans do not give")
        unknown_place = self._unknown_place(question)
        if unknown_place:
            return _Verdict(False, 0.0, f"names {unknown_place!r}, which no document mentions")
        relevance = self._relevance(question, language, passages[:3], concepts)
        if relevance < cfg.min_relevance:
            return _Verdict(False, relevance, f"relevance {relevance:.2f} below {cfg.min_relevance}")
        return _Verdict(True, relevance, "answerable")

    def _unknown_place(self, question: str) -> str | None:
        """A capitalised name after a preposition ('i Malmö', 'in Stockholm') that no document mentions."""
        vocabulary = self._vocabulary()
        known = self._answerability["known_place_words"]
        after_preposition = r"\b(?:i|in|på|for|för|from|fra|från|til|till|at)\s+([A-ZÆØÅÄÖ][\w-]{2,})"
        before_municipality = r"\b([A-ZÆØÅÄÖ][\w-]{2,})(?:s)?\s+(?:[Kk]ommune|[Kk]ommun|[Mm]unicipality|[Cc]ouncil)\b"
        names = [
            m.group(1) for pattern in (after_preposition, before_municipality) for m in re.finditer(pattern, question)
        ]
        unknown = [n for n in names if not self._is_known_name(n.lower(), vocabulary, known)]
        # "my brother lives in Jylland, can he get a place in Slagelse?" names a known place too.
        if unknown and len(unknown) == len(names):
            return unknown[0]
        return None

    @staticmethod
    def _is_known_name(name: str, vocabulary: frozenset[str], known: set[str]) -> bool:
        if name in vocabulary or name in known or fold(name) in known:
            return True
        stem = name[:-1] if name.endswith("s") else name  # genitive: "Slagelses", "Östersunds"
        return len(stem) >= 4 and any(word.startswith(stem) for word in vocabulary)

    def _vocabulary(self) -> frozenset[str]:
        return self._corpus().vocabulary

    def _relevance(self, question: str, language: str, passages: list[Passage], concepts: list[str]) -> float:
        """Share of the question's informative, known units found in the best passage (IDF-weighted).

        Units are the question's stems that occur somewhere in the knowledge base
        plus its glossary concepts. Words the knowledge base never uses are
        left out: in a cross-language question they are usually just the asker's
        language, not the topic.
        """
        units = self._question_units(question, language, concepts)
        if not units:
            return 0.0
        best = 0.0
        for passage in passages:
            passage_units = self._passage_units(passage)
            covered = sum(weight for unit, weight in units.items() if unit & passage_units)
            best = max(best, covered / sum(units.values()))
        return round(best, 3)

    def _question_units(self, question: str, language: str, concepts: Iterable[str]) -> dict[frozenset[str], float]:
        idf = self._idf()
        units: dict[frozenset[str], float] = {}
        concept_set = set(concepts)
        for concept in concept_set:
            weight = idf.get("§" + concept, 0.0)
            if weight > 0:
                units[frozenset({"§" + concept})] = weight
        for word in content_words(question, language):
            if self.retriever.glossary.find(word) & concept_set:
                continue  # the concept already stands for this word, in every language
            if self.retriever.is_place_word(word):
                continue  # where the asker lives steers retrieval; it is not the topic
            forms = frozenset(stems([word], lang)[0] for lang in LANGUAGES)
            weight = max((idf.get(f, 0.0) for f in forms), default=0.0)
            if weight > 0:
                units[forms] = max(units.get(forms, 0.0), weight)
        return units

    def _passage_units(self, passage: Passage) -> frozenset[str]:
        return self._chunk_units().get(passage.chunk_id, frozenset())

    def _corpus(self) -> _CorpusStats:
        """Per-chunk units, IDF and vocabulary for the retriever's current snapshot (built once per snapshot)."""
        snapshot = self.retriever.snapshot
        stats = self._corpus_stats
        if stats is None or stats.version != snapshot.version:
            stats = _CorpusStats.build(snapshot.version, snapshot.chunks, self.retriever.glossary)
            self._corpus_stats = stats  # one assignment: a concurrent reader sees the old or the new, never a mix
        return stats

    def _chunk_units(self) -> dict[str, frozenset[str]]:
        return self._corpus().units

    def _idf(self) -> dict[str, float]:
        return self._corpus().idf

    # -- composition -------------------------------------------------------

    def _select_statements(
        self, question: str, language: str, passages: list[Passage], concepts: list[str], cfg: Settings
    ) -> list[_Statement]:
        units = self._question_units(question, language, concepts)
        # A statement that uses the asker's own word, not only its concept, fits a little better.
        idf = self._idf()
        for word in content_words(question, language):
            if self.retriever.is_place_word(word):
                continue
            forms = frozenset(stems([word], lang)[0] for lang in LANGUAGES)
            if forms not in units:
                units[forms] = 0.5 * max((idf.get(f, 0.0) for f in forms), default=0.0)
        topic = {"§" + c for c in concepts}
        total = sum(units.values()) or 1.0
        candidates: list[_Statement] = []
        order = 0
        for rank, passage in enumerate(passages, start=1):
            for statement, statement_units in self._statements(passage):
                order += 1
                overlap = sum(weight for unit, weight in units.items() if unit & statement_units)
                if overlap <= 0:
                    continue
                if rank > TRUSTED_PASSAGES and not (topic & statement_units or overlap >= 0.5 * total):
                    continue  # from lower-ranked passages, quote only what is about the question's topic
                # Earlier passages ranked better; a small prior keeps their statements first on ties.
                score = overlap + 0.15 / rank
                candidates.append(_Statement(statement, passage, score, order))
        best = max((c.score for c in candidates), default=0.0)
        chosen: list[_Statement] = []
        seen: set[str] = set()
        # Retrieval's ranking is the better judge of which passages matter, so the best
        # statement of each of the top passages comes first; the rest fill by score.
        leaders: dict[str, _Statement] = {}
        for candidate in candidates:
            chunk_id = candidate.passage.chunk_id
            if candidate.passage.rank <= LEADING_PASSAGES and (
                chunk_id not in leaders or candidate.score > leaders[chunk_id].score
            ):
                leaders[chunk_id] = candidate
        ordered = sorted(leaders.values(), key=lambda c: c.passage.rank) + sorted(
            candidates, key=lambda c: (-c.score, c.order)
        )
        for candidate in ordered:
            key = re.sub(r"\W+", " ", candidate.text.casefold()).strip()
            is_leader = (
                leaders.get(candidate.passage.chunk_id) is candidate and candidate.score >= LEADER_MIN_SHARE * best
            )
            if key in seen or (candidate.score < 0.35 * best and not is_leader):
                continue
            seen.add(key)
            chosen.append(candidate)
            if len(chosen) >= cfg.max_statements:
                break
        return chosen

    def _statements(self, passage: Passage) -> list[tuple[str, frozenset[str]]]:
        """A passage's statements with their units, computed once per chunk (passages repeat across questions)."""
        key = (passage.chunk_id, passage.text)
        cached = self._statement_cache.get(key)
        if cached is None:
            glossary = self.retriever.glossary
            cached = []
            for statement in split_statements(passage.text):
                content = content_words(statement, passage.language)
                units = {s for lang in LANGUAGES for s in stems(content, lang)}
                units |= {"§" + cid for cid in glossary.find(statement)}
                cached.append((statement, frozenset(units)))
            self._statement_cache[key] = cached
        return cached

    def _compose(
        self, cfg: Settings, language: Language, statements: list[_Statement], municipality: str | None
    ) -> tuple[str, list[Citation]]:
        numbers: dict[str, int] = {}
        citations: list[Citation] = []
        for statement in statements:
            passage = statement.passage
            if passage.chunk_id not in numbers:
                numbers[passage.chunk_id] = len(numbers) + 1
                citations.append(
                    Citation(
                        n=numbers[passage.chunk_id],
                        document=passage.document,
                        title=passage.title,
                        municipality=passage.municipality,
                        section=passage.section,
                        period=passage.period,
                        url=passage.url,
                        text=passage.text,
                    )
                )
        by_document: dict[str, list[_Statement]] = {}
        for statement in statements:
            by_document.setdefault(statement.passage.document, []).append(statement)
        parts = [prompt(cfg, language, "lead_answered")]
        for group in by_document.values():
            first = group[0].passage
            title = first.title
            key = "source_says" if first.period else "source_says_no_period"
            lines = [prompt(cfg, language, key, title=title, period=first.period or "")]
            for statement in sorted(group, key=lambda s: s.order):
                lines.append(f"- {_strip_marker(statement.text)} [{numbers[statement.passage.chunk_id]}]")
            parts.append("\n".join(lines))
        return "\n\n".join(parts), citations

    def _closing(self, cfg: Settings, language: str, municipality: str | None, citations: list[Citation]) -> str:
        """What every answer ends with: plans are intentions, the sources, the way to the municipality."""
        source_lines = [prompt(cfg, language, "sources_heading") + ":"]
        source_lines += [_source_line(cfg, language, citation) for citation in citations]
        return "\n\n".join(
            [
                prompt(cfg, language, "intentions_note"),
                "\n".join(source_lines),
                self._pointer(cfg, language, municipality, citations),
            ]
        )

    def _pointer(self, cfg: Settings, language: str, municipality: str | None, citations: list[Citation]) -> str:
        named = municipality or next(iter({c.municipality for c in citations if c.municipality}), None)
        if named and len({c.municipality for c in citations}) == 1:
            return prompt(cfg, language, "municipality_pointer_named", municipality=named)
        return prompt(cfg, language, "municipality_pointer")

    def _crisis_text(self, cfg: Settings, language: str, municipality: str | None) -> str:
        country = None
        if municipality:
            country = next(
                (
                    c.country
                    for c in self.retriever.chunks
                    if (c.municipality or "").casefold() == municipality.casefold()
                ),
                None,
            )
        country = country or COUNTRY_OF_LANGUAGE.get(language)
        return prompt(cfg, language, f"crisis_{country}" if country else "crisis_all")

    def _llm_body(self, cfg: Settings, language: str, question: str, citations: list[Citation]) -> str | None:
        from assistant.llm import write_answer

        try:
            return write_answer(cfg, prompt(cfg, language, "llm_system_prompt"), question, citations)
        except Exception as exc:  # any backend failure falls back to the composed answer
            log.warning("LLM answer failed, using the composed answer: %s", type(exc).__name__)
            return None


@dataclass(frozen=True)
class _CorpusStats:
    version: int
    units: dict[str, frozenset[str]]
    idf: dict[str, float]
    vocabulary: frozenset[str]

    @classmethod
    def build(cls, version: int, chunks: list[Chunk], glossary: Glossary) -> _CorpusStats:
        units = {
            c.id: frozenset(
                {s for lang in LANGUAGES for s in stems(content_words(c.search_text, c.language), lang)}
                | {"§" + cid for cid in glossary.find(c.search_text)}
            )
            for c in chunks
        }
        counts: dict[str, int] = {}
        for chunk_units in units.values():
            for unit in chunk_units:
                counts[unit] = counts.get(unit, 0) + 1
        n = max(len(units), 1)
        idf = {u: math.log(1 + n / c) for u, c in counts.items()}
        vocabulary = frozenset(w for c in chunks for w in words(c.search_text))
        return cls(version, units, idf, vocabulary)


@dataclass
class _Verdict:
    answerable: bool
    relevance: float
    reason: str


@dataclass
class _FactRule:
    cue: re.Pattern[str]
    evidence: re.Pattern[str]


def _load_answerability() -> dict[str, Any]:
    raw = yaml.safe_load((LEXICON_DIR / "answerability.yaml").read_text(encoding="utf-8"))
    rules = {
        name: _FactRule(
            cue=re.compile(r"\b(?:" + "|".join(fold(c) for c in spec["cues"]) + r")\b"),
            evidence=re.compile("|".join(fold(e) for e in spec["evidence"])),
        )
        for name, spec in raw["fact_requests"].items()
    }
    return {"fact_requests": rules, "known_place_words": {fold(w) for w in raw["known_place_words"]}}


def split_statements(text: str) -> list[str]:
    """Sentences and list items of a passage, each verbatim."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.endswith(":"):
            continue
        if out and line[:1].islower():
            # A table cell continued after a page break: one statement, not a fragment.
            out[-1] = f"{out[-1]} {line}"
            continue
        is_item = line.startswith("• ") or re.match(r"^\d{1,2}\. ", line)
        if is_item and len(line) <= LONG_STATEMENT:
            if not _NOT_A_STATEMENT.search(line):
                out.append(line)
            continue
        # Long paragraphs and long list items are quoted a sentence at a time.
        out.extend(
            part.strip()
            for part in _SENTENCE_END.split(line)
            if len(part.strip()) > 15 and not _NOT_A_STATEMENT.search(part)
        )
    return out


def _strip_marker(statement: str) -> str:
    return re.sub(r"^•\s+", "", statement)


def _without_shared_contact(text: str) -> str:
    """Drop the clause in which the asker gives their own phone number or e-mail."""
    if not re.search(r"\[(phone|email)\]", text):
        return text
    return re.sub(r"[^.?!:;]*\[(?:phone|email)\][^.?!:;,]*", " ", text)


def _without_placeholders(text: str) -> str:
    return re.sub(r"\[[a-z_]+\]", " ", text)


def _previous_question(question: str, history: list[dict[str, Any]] | None) -> str | None:
    """The last user question of the conversation, redacted, if ``question`` is a short follow-up to it."""
    if len(words(question)) > FOLLOW_UP_MAX_WORDS:
        return None
    previous = [t.get("content", "") for t in history or [] if t.get("role") == "user" and t.get("content")]
    return privacy.redact(str(previous[-1]))[0] if previous else None


def _follow_up_language(question: str, history: list[dict[str, Any]] | None) -> Language | None:
    """A short follow-up ('og i Sverige?') is in the language of the conversation."""
    previous = _previous_question(question, history)
    if previous is None or has_language_markers(question):
        return None  # the follow-up's own words say which language it is in
    return detect_language(_without_placeholders(previous))


def _with_follow_up_context(question: str, history: list[dict[str, Any]] | None) -> str:
    """A very short follow-up ('and in Sweden?') borrows the previous user question's words."""
    previous = _previous_question(question, history)
    return question if previous is None else f"{previous} {question}"


def _source_line(cfg: Settings, language: str, citation: Citation) -> str:
    parts = [
        citation.title,
        citation.municipality or prompt(cfg, language, "municipality_unknown"),
        citation.section,
        citation.period or prompt(cfg, language, "period_unknown"),
    ]
    if citation.url:
        parts.append(citation.url)
    return f"[{citation.n}] " + " — ".join(p for p in parts if p)
