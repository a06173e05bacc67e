"""Read the vital signs in a care worker's note: how many figures are usual and how many acute.

Public entry point: :func:`read_vitals`.

Why hand-written: a routine note ("BT 128/76, puls 72, sat 96, åt bra") and a note of an
acute deterioration ("BT 70/45, puls 120, kall") share their words; only the numbers
differ, and neither the embedding nor the n-grams of the urgency model compare numbers.
Before this reader, 30 of 48 routine notes (``n14-``) got the crisis answer. The ranges and
labels are data, in ``policy/vitals.yaml``.

A figure told with a time before now in its sentence ("BT 78/46 og lungebetennelse forrige
uke, nå er han hjemme og BT er 122/74") is history, not a reading: it is not counted. The
words for "before now" and "now" are the safety floor's (``policy/safety_floor.yaml``,
``words``), so both read time alike; the reader adds earlier days ("i torsdags", "yesterday",
``days_before_today`` in ``policy/vitals.yaml``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from assistant.knowledge import load_yaml
from assistant.lexical import normalise

POLICY = Path(__file__).resolve().parent / "policy" / "vitals.yaml"
TIME_WORDS = Path(__file__).resolve().parent / "policy" / "safety_floor.yaml"
# Where a sentence of a message ends, for the time of a figure.
_SENTENCE_END = re.compile(r"[.!?]+(?:\s+|$)|\n+")
# After a figure, these make it something else: more digits, a duration, an age, a weight, a price.
_NOT_A_READING = (
    r"[.,]?\d|min\b|minut|timer?\b|timmar|tim\b|hours?\b|år\b|years?\b|dage|dagar|dager|days?\b|uger|veckor|uker"
    r"|weeks?\b|kg\b|kr\b|mg\b|stk\b|st\b|piller|tabletter|pills|tablets"
)
# Between a label and its figure: ':', '=' or ',', or a small verb ("sat er 96", "BS was 2.1",
# "smartwatchen advarede om lav puls, 31"), also with "on" or "at" ("pulsen ligger på 48", "heart rate
# is at 49").
_LINK = (
    r"(?:[:=,]|(?:(?:ligger|ligg|låg|lå|står|stod|er|var|är|is|was|runs|sits)\s+)?(?:på|paa|pa|at|on)"
    r"|of|is|er|är|var|was|nu|now|lige nu)?"
)
# Between a home device and its reading: a verb that tells a reading, then small words
# ("blodtryksmåleren viser nu 72/40", "oximeteret står på 84", "the meter says just 2.1").
_DEVICE_LINK = (
    r"(?:viser|visar|vise|viste|visade|shows?|showed|showing|says?|said|reads?|siger|sagde|sier|sa|säger|sade"
    r"|står|stod|star|ligger|låg|lå|er|var|är|is|was|displays?|gives|giver|gir|ger|målte|mätte|measured)"
    r"(?:\s+(?:nu|nå|now|kun|bare|bara|only|just|helt|nede|nere|down|to|at|på|paa|pa|on|:))*"
)


@dataclass(frozen=True)
class Vitals:
    """How many figures of a message are in the usual range and how many in the acute range."""

    usual: int
    acute: int

    def features(self) -> list[float]:
        """The urgency model's inputs: only usual figures; some acute figure; how many (up to 4, scaled)."""
        return [float(self.usual > 0 and self.acute == 0), float(self.acute > 0), min(self.usual + self.acute, 4) / 4]


@dataclass(frozen=True)
class _Measure:
    name: str
    pattern: re.Pattern[str]
    acute_below: float | None
    acute_from: float | None
    plausible: tuple[float, float]

    def reading(self, value: float) -> str | None:
        """'acute', 'usual', or None for a figure this measure cannot have."""
        if not self.plausible[0] <= value <= self.plausible[1]:
            return None
        low = self.acute_below is not None and value < self.acute_below
        high = self.acute_from is not None and value >= self.acute_from
        return "acute" if low or high else "usual"


@lru_cache(maxsize=1)
def _policy() -> dict[str, Any]:
    """``policy/vitals.yaml``, read once: the measures and the words for earlier days."""
    policy: dict[str, Any] = load_yaml(POLICY.read_text(encoding="utf-8"))
    return policy


@lru_cache(maxsize=1)
def _measures() -> tuple[_Measure, ...]:
    data = _policy()
    figure = rf"(\d{{1,3}}(?:[.,]\d)?)(?!\s*(?:{_NOT_A_READING}))"
    measures = []
    for name, spec in data["measures"].items():
        labels = "|".join(spec["labels"])
        # "sat 96", "BS: 2,1", "puls er 130", or the figure first: "31 i blodsocker", "39,9 i feber".
        forms = [rf"(?:{labels})\s*{_LINK}\s*{figure}", rf"{figure}\s+(?:i|in)\s+(?:{labels})\b"]
        if spec.get("devices"):
            forms.append(rf"(?:{'|'.join(spec['devices'])})\s+{_DEVICE_LINK}\s*:?\s*{figure}")
        pattern = re.compile(rf"(?<![\w/])(?:{'|'.join(forms)})", re.IGNORECASE)
        low, high = spec["plausible"]
        measures.append(_Measure(name, pattern, spec.get("acute_below"), spec.get("acute_from"), (low, high)))
    return tuple(measures)


@lru_cache(maxsize=1)
def _floor_words() -> dict[str, str]:
    """The safety floor's shared words (``before_now``, ``no_now_between``), read once."""
    words: dict[str, str] = load_yaml(TIME_WORDS.read_text(encoding="utf-8"))["words"]
    return words


@lru_cache(maxsize=1)
def _time_before_now() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Patterns over a normalised stretch of a sentence: a time before now, and no "now" after it.

    An earlier day counts only within a few words of the figure: in "NEWS 8, står på
    blodfortynnende og slo hodet i går" yesterday is when he fell, not when the score was taken.
    """
    words = _floor_words()
    days = _policy()["days_before_today"]
    before_now, no_now = words["before_now"], words["no_now_between"]
    if not no_now.endswith(")*"):
        raise ValueError("safety_floor.yaml: no_now_between must end in ')*' (a repeated character)")
    near = no_now[:-1] + "{0,30}"
    ends_in_the_past = re.compile(rf"(?:\b{before_now}\b{no_now}|\b{days}\b{near})$")
    then_the_past = re.compile(rf"^(?:{no_now}\b{before_now}\b|{near}\b{days}\b)")
    return ends_in_the_past, then_the_past


@lru_cache(maxsize=1)
def _usual_for_the_person() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Patterns over a normalised stretch of a sentence: words that tell a figure is the person's
    usual, before it or after it, with no "now" between."""
    no_now = _floor_words()["no_now_between"]
    usual = _policy()["usual_for_the_person"]
    return re.compile(rf"\b{usual}\b{no_now}$"), re.compile(rf"^{no_now}\b{usual}\b")


def _told_as_usual(sentence: str, start: int, end: int) -> bool:
    """Whether the figure at ``sentence[start:end]`` is told as the person's usual, with no "now" between."""
    before, after = _usual_for_the_person()
    return bool(before.search(normalise(sentence[:start])) or after.search(normalise(sentence[end:])))


def _told_as_history(sentence: str, start: int, end: int) -> bool:
    """Whether the figure at ``sentence[start:end]`` has a time before now beside it, with no "now" between."""
    ends_in_the_past, then_the_past = _time_before_now()
    return bool(ends_in_the_past.search(normalise(sentence[:start])) or then_the_past.search(normalise(sentence[end:])))


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s.strip()]


def reading_policy() -> str:
    """A hash of what the reader reads by (ranges, labels, time words): the urgency model is
    trained on its features, so a change to them retrains the model at the next index build."""
    ends_in_the_past, then_the_past = _time_before_now()
    usual_before, usual_after = _usual_for_the_person()
    parts = [POLICY.read_text(encoding="utf-8"), ends_in_the_past.pattern, then_the_past.pattern]
    parts += [usual_before.pattern, usual_after.pattern]
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def read_vitals(text: str) -> Vitals:
    """Count the figures of ``text`` that a care worker would read as usual or as acute now.

    Args:
        text: a message, as typed.
    """
    counts = {"usual": 0, "acute": 0}
    for sentence in _sentences(text):
        for measure in _measures():
            for match in measure.pattern.finditer(sentence):
                value = float(next(g for g in match.groups() if g).replace(",", "."))
                reading = measure.reading(value)
                if not reading or _told_as_history(sentence, match.start(), match.end()):
                    continue
                if reading == "acute" and _told_as_usual(sentence, match.start(), match.end()):
                    reading = "usual"
                counts[reading] += 1
    return Vitals(counts["usual"], counts["acute"])
