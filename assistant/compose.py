"""Compose: the words the citizen reads, from the chosen statements and the fixed texts.

Public entry point: :class:`Composer`.

Every sentence that is not a plan's own statement comes from
``prompts/<language>.yaml``; every phone number from ``knowledge/helplines.yaml``.
A plan statement is shown in the asker's language when the translation memory
has it (marked as a translation; the verbatim original stays in the citation),
else in the original with a short note.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.contract import Citation, CitationTranslation, DocumentMeta
from assistant.decide import ScoredStatement
from assistant.knowledge import load_manifest, load_yaml, prompt
from assistant.statements import Unit, join_units, text_units
from assistant.translations import TranslationMemory

COUNTRIES = ("DK", "SE", "NO")
COUNTRY_OF_LANGUAGE = {"da": "DK", "sv": "SE", "nb": "NO"}
_YEAR = re.compile(r"(?:19|20)\d\d")
# Topics named when a question is not answered, by glossary concept (the asker's own words for them).
COVERED_TOPICS = ("dementia", "relatives_carers", "home_care", "nursing_home", "disability", "rehabilitation")


@dataclass(frozen=True)
class Helpline:
    name: str
    number: str
    kinds: tuple[str, ...]
    day_and_night: bool


@lru_cache(maxsize=4)
def load_helplines(path: Path) -> dict[str, Any]:
    """``knowledge/helplines.yaml``: numbers by country, and which office decides a person's own case."""
    data: dict[str, Any] = load_yaml(path.read_text(encoding="utf-8")) or {}
    return dict(data.get("countries") or {})


def period_ended(period: str | None, today: date | None = None) -> bool:
    """Whether a plan's period ('2020-2023') ended before this year."""
    years = [int(y) for y in _YEAR.findall(period or "")]
    return bool(years) and max(years) < (today or date.today()).year


class Composer:
    """Writes answers in four languages.

    Args:
        settings: where the prompts and the knowledge base are.
        memory: the translation memory.
        glossary_terms: concept id -> its words per language (to name covered topics).
        home_country_bonus: how much a statement from the asker's own country gains in the
            order of the answer (``policy/thresholds.yaml``, ``answer.home_country_bonus``).
    """

    def __init__(
        self,
        settings: Settings,
        memory: TranslationMemory,
        glossary_terms: dict[str, dict[str, tuple[str, ...]]],
        home_country_bonus: float = 0.0,
    ) -> None:
        self.settings = settings
        self.home_country_bonus = home_country_bonus
        self.memory = memory
        self.helplines = load_helplines(settings.knowledge_dir / "helplines.yaml")
        self._glossary_terms = glossary_terms
        self._manifest: tuple[int, dict[str, DocumentMeta]] = (-1, {})

    @property
    def documents(self) -> dict[str, DocumentMeta]:
        """The manifest's documents (titles, municipalities, periods, contacts), re-read when it changes."""
        path = self.settings.manifest_path
        version = path.stat().st_mtime_ns if path.exists() else 0
        if version != self._manifest[0]:
            self._manifest = (version, {d.id: d for d in load_manifest(self.settings)})
        return self._manifest[1]

    def say(self, language: str, key: str, **values: Any) -> str:
        return prompt(self.settings, language, key, **values)

    # -- answers from the plans ------------------------------------------------------

    def citations(self, statements: list[ScoredStatement], language: str) -> tuple[list[Citation], dict[str, int]]:
        """One citation per passage, numbered in the order the statements are shown."""
        numbers: dict[str, int] = {}
        citations: list[Citation] = []
        for statement in statements:
            passage = statement.passage
            if passage.chunk_id in numbers:
                continue
            numbers[passage.chunk_id] = len(numbers) + 1
            citations.append(
                Citation(
                    n=numbers[passage.chunk_id],
                    document=passage.document,
                    title=passage.title,
                    municipality=passage.municipality,
                    country=passage.country,
                    language=passage.language,
                    section=passage.section,
                    period=passage.period,
                    period_ended=period_ended(passage.period),
                    url=passage.url,
                    text=passage.text,
                    translation=self._passage_translation(passage.text, passage.language, language),
                )
            )
        return citations, numbers

    def _passage_translation(self, text: str, source: str, language: str) -> CitationTranslation | None:
        if source == language:
            return None
        units = _units(text)
        found = [self.memory.get(unit.key, language) for unit in units]
        if not units or any(t is None for t in found):
            return None
        status = "reviewed" if all(t is not None and t.status == "reviewed" for t in found) else "draft"
        joined = join_units([(unit, t.text) for unit, t in zip(units, found, strict=True) if t is not None])
        return CitationTranslation.model_validate({"language": language, "text": joined, "status": status})

    def statement_groups(
        self, statements: list[ScoredStatement], home_country: str | None
    ) -> list[list[ScoredStatement]]:
        """The statements best first, in runs of one plan each (a heading starts each run).

        The answering line leads, so statements are not regrouped by plan: a plan
        whose second statement is weaker than another plan's best comes back
        later under its heading again. The asker's own country wins a near tie,
        so a Danish asker reads the Danish plan first when it answers about as well.
        """

        def key(statement: ScoredStatement) -> float:
            return statement.score + (self.home_country_bonus if statement.passage.country == home_country else 0.0)

        runs: list[list[ScoredStatement]] = []
        for statement in sorted(statements, key=lambda s: -key(s)):
            if runs and runs[-1][0].passage.document == statement.passage.document:
                runs[-1].append(statement)
            else:
                runs.append([statement])
        return runs

    def answer_body(
        self, statements: list[ScoredStatement], language: str, home_country: str | None, closest_only: bool = False
    ) -> tuple[str, list[Citation]]:
        """The lead sentence and the quoted statements, best first, each with its marker.

        With ``closest_only`` the lead says the plans may not answer the question directly.
        """
        runs = self.statement_groups(statements, home_country)
        citations, numbers = self.citations([s for run in runs for s in run], language)
        plans: list[str] = list(dict.fromkeys(run[0].passage.document for run in runs))
        parts = [self._lead(plans, language, closest_only)]
        for run in runs:
            parts.append("\n".join([self._group_heading(run[0], language), *self._lines(run, numbers, language)]))
        return "\n\n".join(parts), citations

    def _lead(self, documents: list[str], language: str, closest_only: bool = False) -> str:
        plans = [self._plan_reference(document, language) for document in documents]
        prefix = "lead_closest" if closest_only else "lead"
        if len(plans) == 1:
            return self.say(language, f"{prefix}_one", plan=plans[0])
        return self.say(language, f"{prefix}_many", plans=self._join(plans, language))

    def _plan_reference(self, document: str, language: str) -> str:
        meta = self.documents.get(document)
        if meta is None:
            return document
        title = self._title(meta, language)
        period = self._period(meta.period, language)
        if meta.municipality:
            return self.say(language, "plan_named", title=title, municipality=meta.municipality, period=period)
        return self.say(language, "plan_unnamed", title=title, period=period)

    def _title(self, meta: DocumentMeta, language: str) -> str:
        if meta.language == language:
            return meta.title
        units = _units(meta.title)
        translated = self.memory.get(units[0].key, language) if len(units) == 1 else None
        return translated.text if translated else meta.title

    def _period(self, period: str | None, language: str) -> str:
        if not period:
            return self.say(language, "period_unknown")
        return self.say(language, "period_ended", period=period) if period_ended(period) else period

    def _group_heading(self, first: ScoredStatement, language: str) -> str:
        passage = first.passage
        meta = self.documents.get(passage.document)
        title = self._title(meta, language) if meta else passage.title
        place = passage.municipality or self.say(language, "municipality_unknown")
        heading = self.say(
            language, "group_heading", title=title, place=place, period=self._period(passage.period, language)
        )
        if passage.language != language:
            source = self.say(language, f"language_{passage.language}")
            heading = f"{heading.rstrip(':')} ({self.say(language, 'translated_from', source_language=source)}):"
        return heading

    def _lines(self, group: list[ScoredStatement], numbers: dict[str, int], language: str) -> list[str]:
        lines = []
        for statement in group:
            text = statement.unit.text
            source = statement.passage.language
            if source != language:
                translation = self.memory.get(statement.unit.key, language)
                if translation is not None:
                    text = translation.text
                else:
                    note = self.say(language, "untranslated", source_language=self.say(language, f"language_{source}"))
                    text = f"{text} ({note})"
            lines.append(f"- {text} [{numbers[statement.passage.chunk_id]}]")
        return lines

    def closing(self, language: str, citations: list[Citation], scope: str | None, country: str | None) -> str:
        """Plans are intentions for their periods; who to turn to for one's own case."""
        periods = sorted({c.period for c in citations if c.period})
        if periods:
            note = self.say(language, "intentions_note", periods=self._join(periods, language))
        else:
            note = self.say(language, "intentions_note_no_period")
        return f"{note}\n\n{self.pointer(language, citations, scope, country)}"

    def pointer(self, language: str, citations: list[Citation], scope: str | None, country: str | None) -> str:
        """'Contact X' only when exactly one municipality is in scope; the office by its national name."""
        named = {c.municipality for c in citations if c.municipality}
        unnamed = any(not c.municipality for c in citations)
        municipality = scope or (next(iter(named)) if len(named) == 1 and not unnamed else None)
        office = self._office(language, self.office_country(citations, country))
        if municipality:
            return self.say(language, "pointer_named", municipality=municipality, office=office)
        return self.say(language, "pointer_general", office=office)

    @staticmethod
    def office_country(citations: list[Citation], country: str | None) -> str | None:
        """The country whose office the pointer names: the one in scope, else the citations' only country."""
        countries = {c.country for c in citations} if not country else {country}
        found = next(iter(countries)) if len(countries) == 1 else None
        return found if found in COUNTRIES else None

    def _office(self, language: str, country: str | None) -> str:
        if country in COUNTRIES:
            return self.say(language, f"office_{country}")
        return self.say(language, "office_any")

    # -- a person's own case -------------------------------------------------------------

    def own_case(
        self,
        language: str,
        statements: list[ScoredStatement],
        scope: str | None,
        country: str | None,
        concepts: Iterable[str],
    ) -> tuple[str, list[Citation]]:
        """Plans do not decide one person's case: who does, what the plans say on the topic, a support line."""
        countries = [country] if country else ([c for c in {s.passage.country for s in statements}] or [])
        office_country = countries[0] if len(countries) == 1 else None
        parts = [self.say(language, "own_case_intro"), self._office_paragraph(language, office_country, scope)]
        citations: list[Citation] = []
        if statements:
            body, citations = self.answer_body(statements, language, office_country)
            parts.append(self.say(language, "own_case_plans") + "\n\n" + body.split("\n\n", 1)[1])
        else:
            parts.append(self.say(language, "own_case_nothing"))
        support = self._support_lines(language, office_country, set(concepts))
        if support:
            parts.append(support)
        return "\n\n".join(parts), citations

    def _office_paragraph(self, language: str, country: str | None, scope: str | None) -> str:
        text = self.say(language, f"own_case_office_{country}" if country in COUNTRIES else "own_case_office_any")
        contact = self._contact(scope)
        if contact:
            text += "\n" + self.say(language, "own_case_contact", municipality=scope, contact=contact)
        return text

    def _contact(self, municipality: str | None) -> str | None:
        """The municipality's own contact, only as staff entered it in the manifest (never guessed)."""
        if not municipality:
            return None
        for meta in self.documents.values():
            if meta.municipality == municipality and meta.contact:
                return ", ".join(v for v in (meta.contact.office, meta.contact.phone, meta.contact.url) if v)
        return None

    def _support_lines(self, language: str, country: str | None, concepts: set[str]) -> str | None:
        kinds = [("dementia", "dementia"), ("domestic_violence", "violence")]
        for concept, kind in kinds:
            if concept in concepts:
                lines = self._lines_for(kind, [country] if country else list(COUNTRIES))
                if lines:
                    return self.say(language, f"support_{kind}", lines=self._join(lines, language))
        return None

    # -- refused, not found, crisis ----------------------------------------------------

    def refused(self, language: str) -> str:
        """What the assistant answers about, and the plans it answers from, with their periods.

        A question about its sources ("which documents are your answers based on?") often reads
        as an attempt on its instructions; refused either way, it still learns the answer.
        """
        return self.say(language, "refused", plans=self._plan_list(language))

    def about_assistant(self, language: str) -> str:
        """What the assistant is, the plans it answers from, what it keeps and for how long, and its limits.

        The retention figure is the configured one, the same that ``GET /api/privacy`` states.
        """
        return self.say(
            language,
            "about_assistant",
            plans=self._plan_list(language),
            office=self.say(language, "office_any"),
            days=self.settings.retention_days,
        )

    def _plan_list(self, language: str) -> str:
        """Every plan with its municipality and period, one per line, those in the asker's language first."""
        documents = sorted(self.documents.values(), key=lambda meta: meta.language != language)
        return "\n".join(f"- {self._plan_reference(meta.id, language)}" for meta in documents)

    def not_found(self, language: str, unknown_place: str | None) -> str:
        places = self._join(self._covered_places(language), language)
        if unknown_place:
            return self.say(language, "not_covered_place", place=unknown_place, places=places)
        topics = self._join(self._topic_names(language), language)
        return (
            self.say(language, "not_found")
            + "\n\n"
            + self.say(language, "not_found_covers", places=places, topics=topics)
        )

    def _covered_places(self, language: str) -> list[str]:
        named = sorted({d.municipality for d in self.documents.values() if d.municipality})
        unnamed = sorted({d.country for d in self.documents.values() if not d.municipality})
        return named + [self.say(language, f"place_unnamed_{country}") for country in unnamed]

    def _topic_names(self, language: str) -> list[str]:
        names = []
        for concept in COVERED_TOPICS:
            terms = self._glossary_terms.get(concept, {}).get(language) or ()
            if terms:
                names.append(terms[0].lstrip("="))
        return names

    def crisis(self, language: str, kind: str, about: str, country: str | None) -> str:
        """Emergency number first, then the lines for this kind of crisis, for one country or all three."""
        parts = [
            self.say(language, f"crisis_heading_{kind}_{about}" if kind == "suicide" else f"crisis_heading_{kind}")
        ]
        if country in COUNTRIES:
            number = self.helplines[country]["emergency"][kind]["number"]
            parts.append(self.say(language, f"crisis_call_{kind}", number=number))
            lines = self._lines_for(kind, [country])
            if lines:
                parts.append(self.say(language, f"crisis_lines_{kind}", lines=self._join(lines, language)))
        else:
            for code in COUNTRIES:
                number = self.helplines[code]["emergency"][kind]["number"]
                lines = self._lines_for(kind, [code])
                text = self.say(
                    language, f"crisis_country_{kind}", country=self.say(language, f"country_{code}"), number=number
                )
                if lines:
                    text += " " + self.say(language, f"crisis_lines_{kind}", lines=self._join(lines, language))
                parts.append("- " + text)
        parts.append(self.say(language, "crisis_closing"))
        return "\n\n".join(parts)

    def safety_note(self, language: str, country: str | None) -> str:
        """One line before a care answer the urgency model is unsure about: the emergency number first."""
        countries = [country] if country in COUNTRIES else list(COUNTRIES)
        numbers: dict[str, list[str]] = {}
        for code in countries:
            number = self.helplines[code]["emergency"]["medical"]["number"]
            numbers.setdefault(number, []).append(self.say(language, f"country_{code}"))
        if len(countries) == 1:
            return self.say(language, "safety_note", number=next(iter(numbers)))
        listed = [f"{number} ({', '.join(names)})" for number, names in numbers.items()]
        return self.say(language, "safety_note", number=self._join(listed, language, "list_or"))

    def _lines_for(self, kind: str, countries: list[str]) -> list[str]:
        out = []
        for country in countries:
            for line in self.helplines.get(country, {}).get("lines") or []:
                if kind in (line.get("for") or []):
                    out.append(f"{line['name']}, {line['number']}")
        return out

    # -- helpers --------------------------------------------------------------------

    def _join(self, items: list[str], language: str, key: str = "list_and") -> str:
        if len(items) <= 1:
            return "".join(items)
        return self.say(language, key, rest=", ".join(items[:-1]), last=items[-1])


@lru_cache(maxsize=4096)
def _units(text: str) -> tuple[Unit, ...]:
    """A cited text's units, cut once: every answer cuts the same statements again to find their
    translations (measured: 2.6 ms of CPU per answer uncut)."""
    return tuple(text_units(text))
